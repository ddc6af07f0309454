import { and, eq, inArray, lte, sql } from 'drizzle-orm';
import { listTenants } from '../access';
import type { Database } from '../drizzle/client';
import { withTenant } from '../drizzle/transaction';
import { webhookDeliveries } from './deliveries.sql';
import { createDeliveryClient, type DeliveryClient } from './dispatcher';
import { deliveryHeaders } from './signature';
import { refuseUrl, TargetRefusedError, type TargetPolicy } from './targets';
import { webhooks } from './webhooks.sql';

export interface DeliverOptions extends TargetPolicy {
  /** What counts as due (tests move the clock forward); default: now. */
  now?: Date;
  /** At most this many deliveries per run, across tenants (default 100). */
  limit?: number;
  /** A receiver that has not answered after this long counts as failed (default 10 s). */
  timeoutMs?: number;
  /** For tests: the jitter's random source, in [0, 1). */
  random?: () => number;
  /** Only these tenants' deliveries (a per-tenant worker; tests sharing one database). */
  tenantIds?: string[];
}

export interface DeliveryRunSummary {
  attempted: number;
  delivered: number;
  retrying: number;
  failed: number;
}

/**
 * After this many failed attempts a delivery is FAILED: with the backoff below, the last attempt
 * comes about 32 h after the first, so a receiver down for a day and a night still gets it.
 */
export const maxDeliveryAttempts = 15;
const baseDelayMs = 30_000;
const maxDelayMs = 6 * 3600_000;

/**
 * Exponential backoff after the n-th failed attempt: 30 s, 1 min, 2 min … capped at 6 h, with ±25 %
 * jitter so the retries of a receiver that came back up do not all arrive in the same second.
 */
export function retryDelayMs(failedAttempts: number, random: () => number = Math.random): number {
  const delay = Math.min(baseDelayMs * 2 ** Math.max(0, failedAttempts - 1), maxDelayMs);
  return Math.round(delay * (0.75 + random() * 0.5));
}

interface Claimed {
  id: string;
  event: string;
  payload: Record<string, unknown>;
  attempts: number;
  createdAt: Date;
  url: string;
  secret: string;
}

interface Outcome {
  ok: boolean;
  statusCode: number | null;
  error: string | null;
}

/**
 * Sends every due delivery, tenant by tenant (row security allows no cross-tenant query), and
 * records each outcome. Safe to run from several workers at once: a claim locks rows with
 * `for update skip locked` and moves their next attempt past the send's time-out (a lease) before
 * committing, so another worker skips them, and a worker that dies mid-send leaves them to be
 * retried once the lease ends. Delivery is therefore at least once: receivers dedupe by id.
 */
export async function deliverDueWebhooks(db: Database, options: DeliverOptions = {}): Promise<DeliveryRunSummary> {
  const summary: DeliveryRunSummary = { attempted: 0, delivered: 0, retrying: 0, failed: 0 };
  let remaining = options.limit ?? 100;
  const tenants = options.tenantIds
    ? options.tenantIds.map((id) => ({ id }))
    : await listTenants(db);
  // One client per run: connections to a receiver are reused within the run, and each run
  // resolves (and checks) its hosts afresh.
  const client = await createDeliveryClient(options);
  try {
    for (const tenant of tenants) {
      if (remaining <= 0) break;
      const claimed = await claim(db, tenant.id, remaining, options);
      remaining -= claimed.length;
      if (claimed.length === 0) continue;
      // No transaction is open while waiting on receivers: a slow partner holds no locks.
      const outcomes = await Promise.all(claimed.map((row) => send(row, client, options)));
      await record(db, tenant.id, claimed, outcomes, options, summary);
    }
  } finally {
    await client.close();
  }
  return summary;
}

async function claim(db: Database, tenantId: string, limit: number, options: DeliverOptions): Promise<Claimed[]> {
  const now = options.now ?? new Date();
  const leaseMs = (options.timeoutMs ?? 10_000) + 60_000;
  return withTenant(db, tenantId, async (tx) => {
    const rows = await tx
      .select({
        id: webhookDeliveries.id,
        event: webhookDeliveries.event,
        payload: webhookDeliveries.payload,
        attempts: webhookDeliveries.attempts,
        createdAt: webhookDeliveries.createdAt,
        url: webhooks.url,
        secret: webhooks.secret,
        deletedAt: webhooks.deletedAt,
      })
      .from(webhookDeliveries)
      .innerJoin(webhooks, and(eq(webhooks.tenantId, webhookDeliveries.tenantId), eq(webhooks.id, webhookDeliveries.webhookId)))
      .where(
        and(
          eq(webhookDeliveries.tenantId, tenantId),
          eq(webhookDeliveries.status, 'PENDING'),
          lte(webhookDeliveries.nextAttemptAt, now),
        ),
      )
      .orderBy(webhookDeliveries.nextAttemptAt, webhookDeliveries.id)
      .limit(limit)
      .for('update', { of: webhookDeliveries, skipLocked: true });
    if (rows.length === 0) return [];
    const gone = rows.filter((row) => row.deletedAt).map((row) => row.id);
    const live = rows.filter((row) => !row.deletedAt);
    if (gone.length) {
      // The partner unsubscribed after the event was queued: nothing to send it to.
      await tx
        .update(webhookDeliveries)
        .set({ status: 'FAILED', nextAttemptAt: null, lastError: 'The webhook was deleted' })
        .where(and(eq(webhookDeliveries.tenantId, tenantId), inArray(webhookDeliveries.id, gone)));
    }
    if (live.length) {
      await tx
        .update(webhookDeliveries)
        .set({ nextAttemptAt: new Date(now.getTime() + leaseMs) })
        .where(and(eq(webhookDeliveries.tenantId, tenantId), inArray(webhookDeliveries.id, live.map((row) => row.id))));
    }
    return live;
  });
}

async function send(row: Claimed, client: DeliveryClient, options: DeliverOptions): Promise<Outcome> {
  // The URL's own rules again (the policy may be stricter than where it was created); its host's
  // addresses are checked by the client as it connects.
  const refusal = refuseUrl(row.url, options);
  if (refusal) return { ok: false, statusCode: null, error: `Target refused: ${refusal}` };
  const body = JSON.stringify({ id: row.id, event: row.event, createdAt: row.createdAt.toISOString(), data: row.payload });
  const timestamp = Math.floor(Date.now() / 1000);
  try {
    const response = await client.post(row.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'guanxi-webhooks/1',
        ...deliveryHeaders(row.secret, { id: row.id, event: row.event, timestamp, body }),
      },
      body,
      // A redirect could lead to an address the target check refused: not followed, a failure.
      redirect: 'manual',
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
    // The answer's body is not needed; drop it rather than buffer whatever the receiver sends.
    await response.body?.cancel().catch(() => undefined);
    const ok = response.status >= 200 && response.status < 300;
    return { ok, statusCode: response.status, error: ok ? null : `HTTP ${response.status}` };
  } catch (error) {
    return { ok: false, statusCode: null, error: failure(error, options) };
  }
}

/** What a failed send records: fetch wraps the connection's error as its cause. */
function failure(error: unknown, options: DeliverOptions): string {
  const name = error instanceof Error ? error.name : '';
  if (name === 'TimeoutError' || name === 'AbortError') return `No answer within ${options.timeoutMs ?? 10_000} ms`;
  const cause = error instanceof Error ? error.cause : undefined;
  if (cause instanceof TargetRefusedError) return `Target refused: ${cause.message}`;
  const message = error instanceof Error ? error.message : String(error);
  return (cause instanceof Error ? `${message}: ${cause.message}` : message).slice(0, 500);
}

async function record(
  db: Database,
  tenantId: string,
  rows: Claimed[],
  outcomes: Outcome[],
  options: DeliverOptions,
  summary: DeliveryRunSummary,
): Promise<void> {
  const now = options.now ?? new Date();
  await withTenant(db, tenantId, async (tx) => {
    for (const [index, row] of rows.entries()) {
      const outcome = outcomes[index]!;
      const attempts = row.attempts + 1;
      summary.attempted++;
      const where = and(
        eq(webhookDeliveries.tenantId, tenantId),
        eq(webhookDeliveries.id, row.id),
        eq(webhookDeliveries.status, 'PENDING'),
      );
      if (outcome.ok) {
        summary.delivered++;
        await tx
          .update(webhookDeliveries)
          .set({
            status: 'DELIVERED',
            attempts,
            nextAttemptAt: null,
            lastStatusCode: outcome.statusCode,
            lastError: null,
            deliveredAt: sql`now()`,
          })
          .where(where);
      } else if (attempts >= maxDeliveryAttempts) {
        summary.failed++;
        await tx
          .update(webhookDeliveries)
          .set({ status: 'FAILED', attempts, nextAttemptAt: null, lastStatusCode: outcome.statusCode, lastError: outcome.error })
          .where(where);
      } else {
        summary.retrying++;
        await tx
          .update(webhookDeliveries)
          .set({
            attempts,
            nextAttemptAt: new Date(now.getTime() + retryDelayMs(attempts, options.random)),
            lastStatusCode: outcome.statusCode,
            lastError: outcome.error,
          })
          .where(where);
      }
    }
  });
}
