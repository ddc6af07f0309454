import { sql } from 'drizzle-orm';
import type { Database, Transaction } from '../drizzle/client';
import { asApplication } from '../drizzle/transaction';
import { rateLimitCounters } from './rate-limit.sql';

export interface RateLimits {
  /** Requests per window for one tenant, all callers together. */
  perTenant: number;
  /** Requests per window for one caller (API key or signed-in user). */
  perCaller: number;
  windowSeconds: number;
}

export const defaultRateLimits: RateLimits = { perTenant: 1200, perCaller: 600, windowSeconds: 60 };

export type RateLimitVerdict =
  | { allowed: true }
  | { allowed: false; retryAfterSeconds: number; limit: 'tenant' | 'caller' };

/** The window a request at `now` falls in. */
export function windowStartOf(limits: RateLimits, now: Date = new Date()): Date {
  if (limits.windowSeconds * 1000 > rateLimitCounterRetentionMs) {
    throw new Error(`A rate-limit window is at most ${rateLimitCounterRetentionMs / 1000} s (counters are pruned after that)`);
  }
  const windowMs = limits.windowSeconds * 1000;
  return new Date(Math.floor(now.getTime() / windowMs) * windowMs);
}

/** What the admission and `guanxi_count_request` (migration 0009) answer: the window's counts, this request included. */
export type RequestCounts = {
  tenant_requests: number | null;
  caller_requests: number | null;
};

/** Whether a request may proceed, given the window's counts including itself (always, without limits). */
export function rateLimitVerdict(counts: RequestCounts, limits: RateLimits | null, now: Date = new Date()): RateLimitVerdict {
  if (!limits) return { allowed: true };
  const windowStart = windowStartOf(limits, now);
  const retryAfterSeconds = Math.max(1, Math.ceil((windowStart.getTime() + limits.windowSeconds * 1000 - now.getTime()) / 1000));
  if (Number(counts.tenant_requests ?? 0) > limits.perTenant) return { allowed: false, retryAfterSeconds, limit: 'tenant' };
  if (Number(counts.caller_requests ?? 0) > limits.perCaller) return { allowed: false, retryAfterSeconds, limit: 'caller' };
  return { allowed: true };
}

/**
 * Counts one request against the tenant's and the caller's window, in one statement
 * (`guanxi_count_request`, migration 0009, which the request admission uses too), and says
 * whether it may proceed; null when the tenant does not exist. Runs in the caller's tenant
 * transaction (row-level security applies).
 */
export async function consumeRateLimit(
  tx: Transaction,
  tenantId: string,
  callerSubject: string,
  limits: RateLimits,
  now: Date = new Date(),
): Promise<RateLimitVerdict | null> {
  const windowStart = windowStartOf(limits, now);
  const { rows } = await tx.execute<RequestCounts>(
    sql`select * from guanxi_count_request(${tenantId}::uuid, ${callerSubject}, ${windowStart.toISOString()}::timestamptz)`,
  );
  return rows[0] ? rateLimitVerdict(rows[0], limits, now) : null;
}

/**
 * How long a counter is kept after its window starts. A finished window's counter is worthless,
 * but the database refuses to delete one younger than this (migration 0008's policy on
 * rate_limit_counters), so neither a job whose clock runs ahead of the database's nor a pruning
 * bug can reset a window still being counted. It is therefore also the longest window allowed.
 */
export const rateLimitCounterRetentionMs = 3600_000;

export interface PruneRateLimitOptions {
  /** Counters whose window started before this go; default: `rateLimitCounterRetentionMs` ago. */
  olderThan?: Date;
  /** Only these tenants' counters (tests sharing one database); default every tenant. */
  tenantIds?: readonly string[] | null;
  /** Rows per statement (and per transaction), so a backlog never makes one huge delete. */
  batchSize?: number;
  /** No new batch is started after this instant (the job's time budget). */
  deadline?: number;
}

/**
 * Drops the counters of finished windows, every tenant's at once: the maintenance job switches
 * `app.maintenance` on in its own transaction, which the policies of migration 0008 require.
 * Returns how many went, and whether the backlog is gone (false when the deadline stopped it).
 */
export async function pruneRateLimitCounters(
  db: Database,
  options: PruneRateLimitOptions = {},
): Promise<{ deleted: number; complete: boolean }> {
  const olderThan = options.olderThan ?? new Date(Date.now() - rateLimitCounterRetentionMs);
  const batchSize = options.batchSize ?? 5000;
  const tenantFilter = options.tenantIds ? sql`and tenant_id = any(${sql.param([...options.tenantIds])}::uuid[])` : sql``;
  let deleted = 0;
  for (;;) {
    if (options.deadline !== undefined && Date.now() >= options.deadline) return { deleted, complete: false };
    const removed = await asApplication(db, { 'app.maintenance': 'on' }, async (tx) => {
      const { rows } = await tx.execute<{ n: number }>(sql`
        with gone as (
          delete from ${rateLimitCounters}
          where (tenant_id, subject, window_start, slot) in (
            select tenant_id, subject, window_start, slot from ${rateLimitCounters}
            where window_start < ${olderThan.toISOString()} ${tenantFilter}
            limit ${batchSize}
          )
          returning 1
        )
        select count(*)::int as n from gone`);
      return Number(rows[0]?.n ?? 0);
    });
    deleted += removed;
    if (removed < batchSize) return { deleted, complete: true };
  }
}
