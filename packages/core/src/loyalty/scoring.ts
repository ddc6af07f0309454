/**
 * Loyalty scoring (domain §4): each night, per tenant, a snapshot of every scored party as of a
 * day D — RFM inputs and quintiles, the 8 segments, six components, the score, tier, churn risk
 * and loyal flag — written by one set-based statement (`./statement`), run and recorded by
 * `./runs`, read by `./analytics`.
 */
import type { Database } from '../drizzle/client';
import { withActor } from '../actor';
import { withTenant } from '../drizzle/transaction';
import { scoreCurrentTenant, type ScoreOptions, type ScoreResult } from './statement';

export * from './statement';
export * from './runs';
export * from './analytics';

/**
 * Scores one tenant as of `asOf` (YYYY-MM-DD) in a transaction of its own: the tenant's lock, then
 * the day's snapshots replaced and the parties' latest-snapshot copies refreshed, all committed
 * together. No run row: `runTenantScoring` / `runNightlyScoring` record runs around this same work.
 */
export async function scoreTenant(
  db: Database,
  tenantId: string,
  asOf: string,
  options: ScoreOptions = {},
): Promise<ScoreResult> {
  return withActor({ kind: 'SYSTEM', tenantId, name: 'scoring' }, () =>
    withTenant(db, tenantId, () => scoreCurrentTenant(asOf, options)),
  );
}
