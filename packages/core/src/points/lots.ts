import { sql } from 'drizzle-orm';
import { actorColumns } from '../actor';
import { useTenantId, useTransaction } from '../drizzle/transaction';
import { uuidv7 } from '../ids';
import { pointsDraws, pointsEntries, type PointsEntryKind, type PointsSource } from './points.sql';

export type PointsEntryRow = typeof pointsEntries.$inferSelect;

/** The largest number of points one entry holds (a Postgres integer). */
export const maxEntryPoints = 2_147_483_647;

export interface Lot {
  id: string;
  remaining: number;
  availableAt: Date;
  expiresAt: Date | null;
}

/**
 * A party's lots that still hold points, in the spending order (domain): earliest expiry first,
 * never-expiring last, ties by entry id. `usableAt` limits them to the lots available at that
 * instant, `unexpiredAt` to those not expired then (pending ones included); without either,
 * every lot (a refund takes back its order's lot even while pending).
 * The party must be locked by the caller (its row, `for update`): the remainders read here stay
 * true until the draws are written.
 */
export async function lotsOf(partyId: string, filter: { usableAt?: Date; unexpiredAt?: Date; lotId?: string }): Promise<Lot[]> {
  const at = filter.usableAt?.toISOString() ?? null;
  const unexpiredAt = filter.unexpiredAt?.toISOString() ?? null;
  const { rows } = await useTransaction().execute<{ id: string; remaining: number; available_at: string; expires_at: string | null }>(sql`
    select l.id::text as id, (l.points - coalesce(d.drawn, 0))::int as remaining,
      to_char(l.available_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as available_at,
      to_char(l.expires_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as expires_at
    from ${pointsEntries} l
    left join lateral (
      select sum(x.points) as drawn from ${pointsDraws} x where x.tenant_id = l.tenant_id and x.lot_id = l.id
    ) d on true
    where l.tenant_id = ${useTenantId()} and l.party_id = ${partyId} and l.points > 0
      and l.points > coalesce(d.drawn, 0)
      and (${at}::timestamptz is null or (l.available_at <= ${at}::timestamptz and (l.expires_at is null or l.expires_at > ${at}::timestamptz)))
      and (${unexpiredAt}::timestamptz is null or l.expires_at is null or l.expires_at > ${unexpiredAt}::timestamptz)
      and (${filter.lotId ?? null}::uuid is null or l.id = ${filter.lotId ?? null}::uuid)
    order by l.expires_at asc nulls last, l.id`);
  return rows.map((row) => ({
    id: row.id,
    remaining: Number(row.remaining),
    availableAt: new Date(row.available_at),
    expiresAt: row.expires_at === null ? null : new Date(row.expires_at),
  }));
}

/** Takes up to `points` from `lots` in their order: the draws, and what could not be taken. */
function plan(lots: readonly Lot[], points: number): { draws: { lotId: string; points: number }[]; short: number } {
  const draws: { lotId: string; points: number }[] = [];
  let left = points;
  for (const lot of lots) {
    if (left === 0) break;
    const take = Math.min(lot.remaining, left);
    draws.push({ lotId: lot.id, points: take });
    left -= take;
  }
  return { draws, short: left };
}

async function writeDraws(partyId: string, entryId: string, draws: readonly { lotId: string; points: number }[], at: Date): Promise<void> {
  if (draws.length === 0) return;
  const tenantId = useTenantId();
  await useTransaction()
    .insert(pointsDraws)
    .values(draws.map((draw) => ({ tenantId, id: uuidv7(at.getTime()), partyId, entryId, lotId: draw.lotId, points: draw.points, at })));
}

/**
 * The party's open debt, by entry, oldest first: what a spending entry took beyond what it could
 * draw. Only a `REVERSE` (a refund) and a `TRANSFER` (a merged party's debt) may draw less.
 */
export async function openDebts(partyId: string): Promise<{ entryId: string; open: number }[]> {
  const { rows } = await useTransaction().execute<{ id: string; open: number }>(sql`
    select r.id::text as id, (-r.points - coalesce(d.drawn, 0))::int as open
    from ${pointsEntries} r
    left join lateral (
      select sum(x.points) as drawn from ${pointsDraws} x where x.tenant_id = r.tenant_id and x.entry_id = r.id
    ) d on true
    where r.tenant_id = ${useTenantId()} and r.party_id = ${partyId} and r.points < 0 and -r.points > coalesce(d.drawn, 0)
    order by r.at, r.id`);
  return rows.map((row) => ({ entryId: row.id, open: Number(row.open) }));
}

/**
 * Pays the party's open debt from its available lots (domain: points that become available pay
 * an open debt first), as draws of the entries that made it. Balances read the same
 * result without it (available − debt); writing it keeps each lot's remainder true before anything
 * else spends or expires it. Called by every write that spends, and by the nightly job. Returns
 * what the party has available afterwards and the debt still open.
 */
export async function settleDebt(partyId: string, now: Date): Promise<{ usable: number; owed: number }> {
  const debts = await openDebts(partyId);
  let lots = await lotsOf(partyId, { usableAt: now });
  let owed = 0;
  for (const debt of debts) {
    const { draws, short } = plan(lots, debt.open);
    await writeDraws(partyId, debt.entryId, draws, now);
    const taken = new Map(draws.map((draw) => [draw.lotId, draw.points]));
    lots = lots.map((lot) => ({ ...lot, remaining: lot.remaining - (taken.get(lot.id) ?? 0) })).filter((lot) => lot.remaining > 0);
    owed += short;
  }
  return { usable: lots.reduce((sum, lot) => sum + lot.remaining, 0), owed };
}

/** Points the party can spend at `now`: its available lots after its open debt (0 or less while in debt). */
export async function spendable(partyId: string, now: Date): Promise<number> {
  const { usable, owed } = await settleDebt(partyId, now);
  return usable - owed;
}

export interface EntryFields {
  kind: PointsEntryKind;
  source: PointsSource;
  reason?: string | null;
  orderId?: string | null;
  referralId?: string | null;
  idempotencyKey?: string | null;
}

/**
 * Writes a spending entry of `points` (> 0, written negative) and its draws from the party's
 * available lots, or from `from.lots` as given. The caller has checked that they hold enough
 * (`spendable`); a `REVERSE` instead takes from `from.firstLotId` (its order's lot, even pending)
 * first and leaves what it cannot take as debt, and so does a `TRANSFER` of a merged party's debt.
 */
export async function spend(
  partyId: string,
  points: number,
  fields: EntryFields,
  now: Date,
  from: { firstLotId?: string; lots?: readonly Lot[] } = {},
): Promise<PointsEntryRow> {
  const [entry] = await useTransaction()
    .insert(pointsEntries)
    .values({
      tenantId: useTenantId(),
      id: uuidv7(now.getTime()),
      partyId,
      points: -points,
      at: now,
      ...actorColumns(),
      ...fields,
    })
    .returning();
  let taken: { draws: { lotId: string; points: number }[]; short: number };
  if (from.lots) {
    taken = plan(from.lots, points);
  } else {
    const first = plan(from.firstLotId ? await lotsOf(partyId, { lotId: from.firstLotId }) : [], points);
    const rest = first.short > 0 ? plan((await lotsOf(partyId, { usableAt: now })).filter((lot) => lot.id !== from.firstLotId), first.short) : { draws: [], short: 0 };
    taken = { draws: [...first.draws, ...rest.draws], short: rest.short };
  }
  if (taken.short > 0 && fields.kind !== 'REVERSE' && fields.kind !== 'TRANSFER') throw new Error(`Spending ${points} points overdraws party ${partyId}`);
  await writeDraws(partyId, entry!.id, taken.draws, now);
  return entry!;
}

/** Writes a lot: `points` (> 0) available from `availableAt` until `expiresAt` (null: never). */
export async function addLot(
  partyId: string,
  points: number,
  fields: EntryFields,
  dates: { at: Date; availableAt: Date; expiresAt: Date | null },
): Promise<PointsEntryRow> {
  const [entry] = await useTransaction()
    .insert(pointsEntries)
    .values({
      tenantId: useTenantId(),
      id: uuidv7(dates.at.getTime()),
      partyId,
      points,
      at: dates.at,
      availableAt: dates.availableAt,
      expiresAt: dates.expiresAt,
      ...actorColumns(),
      ...fields,
    })
    .returning();
  return entry!;
}

/** When a lot that becomes available at `availableAt` expires under the tenant's `expiryDays` (0: never). */
export function expiryOf(availableAt: Date, expiryDays: number): Date | null {
  return expiryDays === 0 ? null : new Date(availableAt.getTime() + expiryDays * 86_400_000);
}
