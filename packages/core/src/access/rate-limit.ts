import { sql } from 'drizzle-orm';
import type { Transaction } from '../drizzle/client';
import { rateLimitCounters } from './rate-limit.sql';
import { tenants } from './tenants.sql';

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

/**
 * Counts one request against the tenant's and the caller's window, in one statement, and says
 * whether it may proceed; null when the tenant does not exist (a validly signed token can name
 * any id: it counts nothing and is refused, not a foreign-key failure). Runs in the caller's
 * tenant transaction (row-level security applies).
 */
export async function consumeRateLimit(
  tx: Transaction,
  tenantId: string,
  callerSubject: string,
  limits: RateLimits,
  now: Date = new Date(),
): Promise<RateLimitVerdict | null> {
  const windowMs = limits.windowSeconds * 1000;
  const windowStart = new Date(Math.floor(now.getTime() / windowMs) * windowMs);
  const { rows } = await tx.execute<{ subject: string; count: number }>(sql`
    insert into ${rateLimitCounters} (tenant_id, subject, window_start, count)
    select ${tenants.id}, counted.subject, ${windowStart.toISOString()}, 1
    from ${tenants} cross join (values ('tenant'), (${callerSubject})) as counted (subject)
    where ${tenants.id} = ${tenantId}
    on conflict (tenant_id, subject, window_start)
    do update set count = ${rateLimitCounters}.count + 1
    returning subject, count
  `);
  if (rows.length === 0) return null;
  const retryAfterSeconds = Math.max(1, Math.ceil((windowStart.getTime() + windowMs - now.getTime()) / 1000));
  for (const row of rows) {
    const count = Number(row.count);
    if (row.subject === 'tenant' && count > limits.perTenant) {
      return { allowed: false, retryAfterSeconds, limit: 'tenant' };
    }
    if (row.subject !== 'tenant' && count > limits.perCaller) {
      return { allowed: false, retryAfterSeconds, limit: 'caller' };
    }
  }
  return { allowed: true };
}

/** Drops the counters of finished windows (the nightly job calls it; they are worthless after). */
export async function pruneRateLimitCounters(tx: Transaction, olderThan: Date): Promise<number> {
  const { rows } = await tx.execute<{ n: number }>(
    sql`with gone as (delete from ${rateLimitCounters} where window_start < ${olderThan.toISOString()} returning 1) select count(*)::int as n from gone`,
  );
  return rows[0]?.n ?? 0;
}
