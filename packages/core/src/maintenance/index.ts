import { sql } from 'drizzle-orm';
import { listTenants } from '../access';
import { pruneRateLimitCounters, rateLimitCounterRetentionMs } from '../access/rate-limit';
import { retentionSettings } from '../access/settings';
import { pruneAuditLog } from '../audit';
import type { Database } from '../drizzle/client';
import { withTenant } from '../drizzle/transaction';
import { closeExpiredRuns, describeError, scoringRunLeaseMs } from '../loyalty/runs';
import { pruneWebhookDeliveries } from '../webhooks/retention';

export interface MaintenanceOptions {
  /** The job's clock for every cutoff (default: now). The database never lets it reach further. */
  now?: Date;
  /** Only these tenants (tests sharing one database); default every tenant. */
  tenantIds?: readonly string[] | null;
  /** Rows per delete statement, each in its own transaction (default 5,000). */
  batchSize?: number;
  /** No new batch is started after this long (default 4 minutes: the Lambda has 5). */
  timeBudgetMs?: number;
  /** A RUNNING scoring run silent for longer is closed (default `scoringRunLeaseMs`). */
  runLeaseMs?: number;
}

/** What one maintenance run did: rows removed per table, scoring runs closed. */
export interface MaintenanceResult {
  rateLimitCounters: number;
  webhookDeliveries: number;
  auditLog: number;
  /** RUNNING runs whose lease had expired, now FAILED (none is deleted: runs are history). */
  abandonedScoringRuns: number;
  tenants: number;
  /** False when the time budget stopped it; the next run carries on where this one stopped. */
  complete: boolean;
  /** A tenant (or, with a null tenant, the counters) that failed; the others still ran. */
  failures: { tenantId: string | null; error: string }[];
  durationMs: number;
}

/**
 * Keeps the tables that grow without bound bounded (README, "Retention"): rate-limit counters
 * after an hour, every tenant's at once; per tenant, finished webhook deliveries and audit rows
 * older than the tenant's retention settings, and scoring runs killed before reporting (closed,
 * not deleted). Deletes go in batches, each its own short transaction, so a backlog never holds
 * locks or grows one transaction; the time budget leaves the rest to the next run. One tenant's
 * failure is reported and does not stop the others. Safe to run twice at once: a second run finds
 * less to delete.
 */
export async function runMaintenance(db: Database, options: MaintenanceOptions = {}): Promise<MaintenanceResult> {
  const started = performance.now();
  const now = options.now ?? new Date();
  const batchSize = options.batchSize ?? 5000;
  const deadline = Date.now() + (options.timeBudgetMs ?? 4 * 60_000);
  const result: MaintenanceResult = {
    rateLimitCounters: 0,
    webhookDeliveries: 0,
    auditLog: 0,
    abandonedScoringRuns: 0,
    tenants: 0,
    complete: true,
    failures: [],
    durationMs: 0,
  };
  const ago = (ms: number) => new Date(now.getTime() - ms);

  try {
    const counters = await pruneRateLimitCounters(db, {
      olderThan: ago(rateLimitCounterRetentionMs),
      tenantIds: options.tenantIds ?? null,
      batchSize,
      deadline,
    });
    result.rateLimitCounters = counters.deleted;
    if (!counters.complete) result.complete = false;
  } catch (error) {
    result.failures.push({ tenantId: null, error: describeError(error) });
  }

  const only = options.tenantIds ? new Set(options.tenantIds) : null;
  const tenants = (await listTenants(db)).filter((tenant) => !only || only.has(tenant.id));
  /** One short tenant transaction in which the database lets the job prune (app.maintenance). */
  const inMaintenance = <T>(tenantId: string, fn: () => Promise<T>) =>
    withTenant(db, tenantId, async (tx) => {
      await tx.execute(sql`select set_config('app.maintenance', 'on', true)`);
      return fn();
    });
  /** Batch after batch until one comes back short, or the budget is spent. */
  const drain = async (tenantId: string, step: () => Promise<number>): Promise<number> => {
    let total = 0;
    for (;;) {
      if (Date.now() >= deadline) {
        result.complete = false;
        return total;
      }
      const removed = await inMaintenance(tenantId, step);
      total += removed;
      if (removed < batchSize) return total;
    }
  };

  for (const tenant of tenants) {
    if (Date.now() >= deadline) {
      result.complete = false;
      break;
    }
    try {
      const retention = retentionSettings(tenant.settings);
      result.abandonedScoringRuns += await inMaintenance(tenant.id, () =>
        closeExpiredRuns(ago(options.runLeaseMs ?? scoringRunLeaseMs)),
      );
      const deliveriesBefore = ago(retention.webhookDeliveryRetentionDays * 86_400_000);
      result.webhookDeliveries += await drain(tenant.id, () => pruneWebhookDeliveries(deliveriesBefore, batchSize));
      // auditLogRetentionDays 0 keeps the log forever (settings.ts): nothing to ask the database.
      if (retention.auditLogRetentionDays > 0) {
        const auditBefore = ago(retention.auditLogRetentionDays * 86_400_000);
        result.auditLog += await drain(tenant.id, () => pruneAuditLog(auditBefore, batchSize));
      }
      result.tenants++;
    } catch (error) {
      result.failures.push({ tenantId: tenant.id, error: describeError(error) });
    }
  }
  result.durationMs = Math.round(performance.now() - started);
  return result;
}
