import { sql } from 'drizzle-orm';
import { actorColumns } from '../actor';
import { useTenantId, useTransaction } from '../drizzle/transaction';
import { listeningWebhooks } from '../webhooks';
import { settleDebt } from './lots';
import { pointsDraws, pointsEntries } from './points.sql';

/** Since when a night's expiry looks: what the tenant's previous successful run already covered. */
export interface ExpiryWindow {
  /** The previous run's day: lots that expired before it were written off then. */
  previousAsOf: string | null;
  /** When the previous run started: lots written since (a backdated order's) are looked at too. */
  previousStartedAt: Date | null;
}

/**
 * The nightly expiry for day `asOf` (domain: member points), in the scoring run's transaction:
 * per party, one `EXPIRE` entry for what remains of its lots that expired on or before `asOf`
 * (UTC), drawing each of them to 0. Running a day again writes nothing: those lots have nothing
 * left. Open debts are settled first, so points that paid a debt are not written off as expired.
 * Returns the points written off.
 *
 * It looks at lots that expired since the previous run's day, and at lots written since that run
 * (an imported order's points may be expired already), so a night's work does not grow with the
 * ledger's age; without a previous run, at every lot.
 */
export async function expirePoints(asOf: string, window: ExpiryWindow, now: Date = new Date()): Promise<number> {
  const tx = useTransaction();
  const tenantId = useTenantId();
  const { rows: indebted } = await tx.execute<{ party_id: string }>(sql`
    select distinct e.party_id::text as party_id
    from ${pointsEntries} e
    where e.tenant_id = ${tenantId} and e.kind in ('REVERSE', 'TRANSFER') and e.points < 0
      and -e.points > coalesce((select sum(x.points) from ${pointsDraws} x where x.tenant_id = e.tenant_id and x.entry_id = e.id), 0)
    order by 1`);
  for (const { party_id: partyId } of indebted) {
    // As every writer of a party's ledger does: the party's row, locked.
    await tx.execute(sql`select 1 from parties where tenant_id = ${tenantId} and id = ${partyId} for update`);
    await settleDebt(partyId, now);
  }
  // Instants of UTC midnights, whatever the session's time zone (a date cast to timestamptz would
  // take the session's), compared with expires_at as the same type, which the expiry index serves.
  const end = sql`((${asOf}::date + 1)::timestamp at time zone 'UTC')`;
  const since = window.previousAsOf ? sql`(${window.previousAsOf}::date::timestamp at time zone 'UTC')` : null;
  const writtenSince = window.previousStartedAt?.toISOString() ?? null;
  const actor = actorColumns();
  const reason = `Expired on or before ${asOf}`;
  const { rows } = await tx.execute<{ points: string | null }>(sql`
    with candidates as (
      -- Two index range scans (an OR of the two would scan the whole ledger): lots by expiry
      -- (points_lots_expiry_idx), and lots written since the previous run (points_lots_written_idx).
      select l.id from ${pointsEntries} l
      where l.tenant_id = ${tenantId} and l.points > 0 and l.expires_at is not null and l.expires_at < ${end}
        ${since === null ? sql`` : sql`and l.expires_at >= ${since}`}
      union
      select l.id from ${pointsEntries} l
      where l.tenant_id = ${tenantId} and l.at >= ${writtenSince}::timestamptz and l.points > 0 and l.expires_at is not null and l.expires_at < ${end}
    ), ended_lots as (
      select l.id as lot_id, l.party_id,
        l.points - coalesce((select sum(x.points) from ${pointsDraws} x where x.tenant_id = l.tenant_id and x.lot_id = l.id), 0) as remaining
      from candidates c join ${pointsEntries} l on l.tenant_id = ${tenantId} and l.id = c.id
    ), left_over as (
      select * from ended_lots where remaining > 0
    ), entries as (
      insert into ${pointsEntries} (tenant_id, id, party_id, kind, points, at, source, actor_kind, actor_id, reason)
      select ${tenantId}, gen_random_uuid(), party_id, 'EXPIRE', -sum(remaining)::int, ${now.toISOString()}::timestamptz, 'JOB',
        ${actor.actorKind}, ${actor.actorId}, ${reason}
      from left_over group by party_id
      returning id, party_id, -points as expired
    ), draws as (
      insert into ${pointsDraws} (tenant_id, id, party_id, entry_id, lot_id, points, at)
      select ${tenantId}, gen_random_uuid(), o.party_id, e.id, o.lot_id, o.remaining, ${now.toISOString()}::timestamptz
      from left_over o join entries e on e.party_id = o.party_id
    ), events as (
      -- The outbox (emitEvent), one row per party and subscribed webhook, in the same statement.
      insert into webhook_deliveries (tenant_id, id, webhook_id, event, payload)
      select w.tenant_id, gen_random_uuid(), w.id, 'points.expired',
        json_build_object('party', json_build_object('id', e.party_id), 'entry', json_build_object('id', e.id, 'points', -e.expired), 'asOf', ${asOf}::text)::jsonb
      from entries e cross join ${listeningWebhooks(tenantId, 'points.expired')} w
    )
    select sum(expired)::text as points from entries`);
  return Number(rows[0]?.points ?? 0);
}
