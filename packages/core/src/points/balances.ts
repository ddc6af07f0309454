import { sql } from 'drizzle-orm';
import { useTenantId, useTransaction } from '../drizzle/transaction';
import { isUuid } from '../ids';
import { uuidList } from '../pagination';
import { pointsDraws, pointsEntries } from './points.sql';

/** A party's points at an instant, derived from its ledger (domain: member points). */
export interface PointsBalance {
  /** What the party can spend: available lots' remainders after any open debt. */
  available: number;
  /** Points of orders still in their return window. */
  pending: number;
  /** What refunds took back beyond what was available, not yet paid by new points. */
  debt: number;
  /** available − debt: negative while a debt is open. */
  balance: number;
  /** Every point ever earned (EARN entries, before any spending, expiry or reversal). */
  lifetimeEarned: number;
}

const empty: PointsBalance = { available: 0, pending: 0, debt: 0, balance: 0, lifetimeEarned: 0 };

/**
 * The remainder of each of `entries e`: a lot's points less its draws, a `REVERSE`'s or a negative
 * `TRANSFER`'s points less what it drew (its open debt; the other kinds always draw all they take);
 * each read through its own index, only for the rows that need it.
 */
const remainder = sql`case
  when e.points > 0 then e.points - coalesce((select sum(x.points) from ${pointsDraws} x where x.tenant_id = e.tenant_id and x.lot_id = e.id), 0)
  when e.kind in ('REVERSE', 'TRANSFER') then -e.points - coalesce((select sum(x.points) from ${pointsDraws} x where x.tenant_id = e.tenant_id and x.entry_id = e.id), 0)
  else 0 end`;

/**
 * The balances of many parties at `at` in one statement (a page of parties costs one read); a
 * party without entries has zeros. An expired lot stops counting at the instant it expires,
 * whether or not the nightly job has written its `EXPIRE` entry yet.
 */
export async function pointsBalances(partyIds: readonly string[], at: Date = new Date()): Promise<Map<string, PointsBalance>> {
  const ids = [...new Set(partyIds.filter(isUuid))];
  const balances = new Map<string, PointsBalance>(partyIds.map((id) => [id, empty]));
  if (ids.length === 0) return balances;
  const instant = at.toISOString();
  const { rows } = await useTransaction().execute<{ party_id: string; usable: string; pending: string; owed: string; earned: string }>(sql`
    select r.party_id::text as party_id,
      coalesce(sum(r.remaining) filter (where r.points > 0 and r.available_at <= ${instant}::timestamptz
        and (r.expires_at is null or r.expires_at > ${instant}::timestamptz)), 0)::text as usable,
      coalesce(sum(r.remaining) filter (where r.points > 0 and r.available_at > ${instant}::timestamptz), 0)::text as pending,
      coalesce(sum(r.remaining) filter (where r.points < 0), 0)::text as owed,
      coalesce(sum(r.points) filter (where r.kind = 'EARN'), 0)::text as earned
    from (
      select e.party_id, e.kind, e.points, e.available_at, e.expires_at, ${remainder} as remaining
      from ${pointsEntries} e
      where e.tenant_id = ${useTenantId()} and e.party_id in ${uuidList(ids)}
    ) r
    group by r.party_id`);
  for (const row of rows) {
    const usable = Number(row.usable);
    const owed = Number(row.owed);
    balances.set(row.party_id, {
      available: Math.max(usable - owed, 0),
      pending: Number(row.pending),
      debt: Math.max(owed - usable, 0),
      balance: usable - owed,
      lifetimeEarned: Number(row.earned),
    });
  }
  return balances;
}

export interface ExpiringPoints {
  points: number;
  expiresAt: Date;
}

/**
 * Per party, the points that expire after `at` and no later than `until`, by expiry instant,
 * soonest first. An open debt is paid by the soonest-expiring points first (the spending order),
 * so what it will take is not shown as expiring.
 */
export async function expiringPoints(partyIds: readonly string[], at: Date, until: Date): Promise<Map<string, ExpiringPoints[]>> {
  const ids = [...new Set(partyIds.filter(isUuid))];
  const result = new Map<string, ExpiringPoints[]>(partyIds.map((id) => [id, []]));
  if (ids.length === 0) return result;
  const { rows } = await useTransaction().execute<{ party_id: string; kind: string; points: number; remaining: number; expires_at: string | null }>(sql`
    select e.party_id::text as party_id, e.kind::text as kind, e.points, (${remainder})::int as remaining,
      to_char(e.expires_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as expires_at
    from ${pointsEntries} e
    where e.tenant_id = ${useTenantId()} and e.party_id in ${uuidList(ids)}
      and ((e.points < 0 and e.kind in ('REVERSE', 'TRANSFER')) or (e.points > 0 and (e.expires_at is null or e.expires_at > ${at.toISOString()}::timestamptz)))
    order by e.party_id, e.expires_at asc nulls last, e.id`);
  const debts = new Map<string, number>();
  for (const row of rows) if (Number(row.points) < 0) debts.set(row.party_id, (debts.get(row.party_id) ?? 0) + Number(row.remaining));
  for (const row of rows) {
    if (Number(row.points) <= 0) continue;
    let remaining = Number(row.remaining);
    const owed = debts.get(row.party_id) ?? 0;
    const paid = Math.min(owed, remaining);
    debts.set(row.party_id, owed - paid);
    remaining -= paid;
    if (remaining <= 0 || row.expires_at === null) continue;
    const expiresAt = new Date(row.expires_at);
    if (expiresAt.getTime() > until.getTime()) continue;
    const list = result.get(row.party_id)!;
    const last = list.at(-1);
    if (last && last.expiresAt.getTime() === expiresAt.getTime()) last.points += remaining;
    else list.push({ points: remaining, expiresAt });
  }
  return result;
}
