import { and, count, eq, inArray, sql, type SQL } from 'drizzle-orm';
import { useTenantId, useTransaction } from '../drizzle/transaction';
import { UserError } from '../errors';
import { isUuid } from '../ids';
import { decodeCursor, descendingPage, encodeCursor, firstPageJson, rowsByParty, rowsFromJson, uuidList, type CorrelatedParty, type PageRequest, type PartyRows } from '../pagination';
import { parties } from '../network/parties.sql';
import { partyColumnName, type PartyRow } from '../network/parties';
import { referrals, type FraudSignal, type ReferralStatus } from './referrals.sql';

export type ReferralRow = typeof referrals.$inferSelect;

export async function findReferrals(ids: readonly string[]): Promise<ReferralRow[]> {
  const valid = ids.filter(isUuid);
  if (valid.length === 0) return [];
  return useTransaction()
    .select()
    .from(referrals)
    .where(and(eq(referrals.tenantId, useTenantId()), inArray(referrals.id, valid)));
}

export async function requireReferral(id: string, field = 'id'): Promise<ReferralRow> {
  if (!isUuid(id)) throw UserError.of('NOT_FOUND', 'No such referral', field);
  // Locked: every transition reads the status and then writes it.
  const [row] = await useTransaction()
    .select()
    .from(referrals)
    .where(and(eq(referrals.tenantId, useTenantId()), eq(referrals.id, id)))
    .for('update');
  if (!row) throw UserError.of('NOT_FOUND', 'No such referral', field);
  return row;
}

/**
 * The columns of `referrals f` as text in fixed formats, for raw statements (which bypass
 * drizzle's mapping): money stays text so no digit passes through a float.
 */
export const referralColumns = sql.raw(`f.tenant_id::text as tenant_id, f.id::text as id,
  f.referrer_id::text as referrer_id, f.referee_id::text as referee_id, f.code, f.channel,
  f.status::text as status, f.reward_amount::text as reward_amount, f.reward_currency::text as reward_currency,
  f.reward_points, f.converting_order_id::text as converting_order_id, f.fraud_signals,
  ${['created_at', 'converted_at', 'rewarded_at', 'rejected_at']
    .map((c) => `to_char(f.${c} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as ${c}`)
    .join(', ')},
  f.rejected_reason`);

const dateOrNull = (value: unknown) => (value === null || value === undefined ? null : new Date(String(value)));
const textOrNull = (value: unknown) => (value === null || value === undefined ? null : String(value));

export function toReferralRow(row: Record<string, unknown>): ReferralRow {
  const signals = typeof row.fraud_signals === 'string' ? JSON.parse(row.fraud_signals) : row.fraud_signals;
  return {
    tenantId: String(row.tenant_id),
    id: String(row.id),
    referrerId: String(row.referrer_id),
    refereeId: String(row.referee_id),
    code: textOrNull(row.code),
    channel: textOrNull(row.channel),
    status: row.status as ReferralStatus,
    rewardAmount: textOrNull(row.reward_amount),
    rewardCurrency: textOrNull(row.reward_currency),
    rewardPoints: row.reward_points === null || row.reward_points === undefined ? null : Number(row.reward_points),
    convertingOrderId: textOrNull(row.converting_order_id),
    fraudSignals: (signals ?? []) as FraudSignal[],
    createdAt: new Date(String(row.created_at)),
    convertedAt: dateOrNull(row.converted_at),
    rewardedAt: dateOrNull(row.rewarded_at),
    rejectedAt: dateOrNull(row.rejected_at),
    rejectedReason: textOrNull(row.rejected_reason),
  };
}

/** Keyset of lists of referrals, newest first: (createdAt, id). */
export function referralCursor(row: ReferralRow): string {
  return encodeCursor([row.createdAt.toISOString(), row.id]);
}

export function decodeReferralCursor(cursor: string): { at: string; id: string } {
  const [at, id] = decodeCursor(cursor, 2);
  if (typeof at !== 'string' || typeof id !== 'string' || !isUuid(id) || Number.isNaN(Date.parse(at))) {
    throw UserError.of('VALIDATION', 'The cursor is not one this list handed out', []);
  }
  return { at, id };
}

/**
 * One page of the referrals each party made, newest first (ties by id): one statement for the
 * whole batch, a window function numbering each referrer's referrals.
 */
export async function referralPages(partyIds: readonly string[], page: PageRequest): Promise<PartyRows<ReferralRow>[]> {
  const ids = [...new Set(partyIds.filter(isUuid))];
  if (ids.length === 0) return rowsByParty(partyIds, []);
  const { bound, direction } = descendingPage(page, sql`(f.created_at, f.id)`, (cursor) => {
    const { at, id } = decodeReferralCursor(cursor);
    return sql`(${at}::timestamptz, ${id}::uuid)`;
  });
  const { rows } = await useTransaction().execute<Record<string, unknown>>(sql`
    select * from (
      select ${referralColumns}, row_number() over (partition by f.referrer_id order by f.created_at ${direction}, f.id ${direction}) as n
      from ${referrals} f
      where f.tenant_id = ${useTenantId()} and f.referrer_id in ${uuidList(ids)} and ${bound}
    ) ranked
    where n <= ${page.limit}
    order by referrer_id, n`);
  const found = rows.map(toReferralRow);
  return rowsByParty(partyIds, found.map((row) => [row.referrerId, row]));
}

/**
 * A party's first page of the referrals it made (`referralPages` without a cursor) as JSON,
 * correlated with a parties row, for a party's own statement to carry along; decode it with
 * `referralsFromJson`.
 */
export function referralPageJson(party: CorrelatedParty, limit: number, properties?: readonly string[]): SQL<unknown[]> {
  return firstPageJson({
    columns: referralColumns,
    from: sql`${referrals} f`,
    where: sql`f.tenant_id = ${party.tenantId} and f.referrer_id = ${party.id}`,
    order: sql`f.created_at desc, f.id desc`,
    limit,
    // Only what is asked, with the cursor's keys (every edge's cursor is computed).
    properties: properties && ['id', 'createdAt', ...properties],
  });
}

export function referralsFromJson(json: unknown): ReferralRow[] {
  return rowsFromJson(json, toReferralRow);
}

/** How many referrals each party made (for `totalCount`), one statement. */
export async function referralCounts(partyIds: readonly string[]): Promise<Map<string, number>> {
  const ids = [...new Set(partyIds.filter(isUuid))];
  if (ids.length === 0) return new Map();
  const rows = await useTransaction()
    .select({ partyId: referrals.referrerId, n: count() })
    .from(referrals)
    .where(and(eq(referrals.tenantId, useTenantId()), inArray(referrals.referrerId, ids)))
    .groupBy(referrals.referrerId);
  return new Map(rows.map((row) => [row.partyId, Number(row.n)]));
}

/**
 * The referrer of each party that has one (api: `Party.referredBy`), whole rows, one statement.
 * The referral graph is structure: a REJECTED referral still names the referee's referrer (one
 * per referee).
 */
export async function referrersOf(partyIds: readonly string[]): Promise<Map<string, PartyRow>> {
  const ids = [...new Set(partyIds.filter(isUuid))];
  if (ids.length === 0) return new Map();
  const rows = await useTransaction()
    .select({ refereeId: referrals.refereeId, referrer: parties })
    .from(referrals)
    .innerJoin(parties, and(eq(parties.tenantId, referrals.tenantId), eq(parties.id, referrals.referrerId)))
    .where(and(eq(referrals.tenantId, useTenantId()), inArray(referrals.refereeId, ids)));
  return new Map(rows.map((row) => [row.refereeId, row.referrer]));
}

/**
 * A party's referrer as one JSON value (its parties row; null when nobody referred it), for a
 * page of parties that fetches it in its own statement (`PartyPageExtras`). With `properties`,
 * only those columns are read (the row decoded from it has only them). Decode it with
 * `partyFromColumns`.
 */
export function referrerJson(party: CorrelatedParty, properties?: readonly (keyof PartyRow)[]): SQL<Record<string, unknown> | null> {
  const value = properties
    ? sql.raw(`json_build_object(${properties.map((property) => `'${partyColumnName(property)}', referrer.${partyColumnName(property)}`).join(', ')})`)
    : sql.raw('row_to_json(referrer)');
  return sql<Record<string, unknown> | null>`(select ${value} from ${referrals} r
    join ${parties} referrer on referrer.tenant_id = r.tenant_id and referrer.id = r.referrer_id
    where r.tenant_id = ${party.tenantId} and r.referee_id = ${party.id})`;
}
