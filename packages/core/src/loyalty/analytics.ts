import { sql, type SQL } from 'drizzle-orm';
import { useTenantId, useTransaction } from '../drizzle/transaction';
import { UserError } from '../errors';
import { isUuid } from '../ids';
import { calendarDate } from '../validation';
import { decodeCursor, descendingPage, encodeCursor, rowsByParty, type CorrelatedParty, type PageRequest, type PartyRows } from '../pagination';
import { segments, type Segment, type Tier } from './enums';
import { loyaltySnapshots } from './loyalty.sql';
import { assertCalendarDate } from './statement';

export type LoyaltySnapshotRow = typeof loyaltySnapshots.$inferSelect;

/**
 * The columns of `loyalty_snapshots s`, each with its SQL in a fixed text format (raw statements
 * bypass drizzle's column mapping, and drivers differ in how they return dates, numerics and
 * bigints) and how its value becomes the row's property.
 */
const text = (value: unknown) => String(value);
const int = (value: unknown) => Number(value);
const nullableText = (value: unknown) => (value as string | null) ?? null;
const snapshotFields: readonly { property: keyof LoyaltySnapshotRow; column: string; sql: string; decode: (value: unknown) => unknown }[] = [
  { property: 'tenantId', column: 'tenant_id', sql: 's.tenant_id::text', decode: text },
  { property: 'partyId', column: 'party_id', sql: 's.party_id::text', decode: text },
  { property: 'asOf', column: 'as_of', sql: 's.as_of::text', decode: text },
  { property: 'runId', column: 'run_id', sql: 's.run_id::text', decode: nullableText },
  { property: 'recencyDays', column: 'recency_days', sql: 's.recency_days::int', decode: int },
  { property: 'frequency', column: 'frequency', sql: 's.frequency::int', decode: int },
  { property: 'monetary', column: 'monetary', sql: 's.monetary::text', decode: text },
  { property: 'satisfactionMean', column: 'satisfaction_mean', sql: 's.satisfaction_mean::text', decode: nullableText },
  { property: 'satisfyingOrders', column: 'satisfying_orders', sql: 's.satisfying_orders::int', decode: int },
  { property: 'convertedReferrals', column: 'converted_referrals', sql: 's.converted_referrals::int', decode: int },
  { property: 'interactions', column: 'interactions', sql: 's.interactions::int', decode: int },
  { property: 'typicalGapDays', column: 'typical_gap_days', sql: 's.typical_gap_days::text', decode: text },
  { property: 'r', column: 'r', sql: 's.r::int', decode: int },
  { property: 'f', column: 'f', sql: 's.f::int', decode: int },
  { property: 'm', column: 'm', sql: 's.m::int', decode: int },
  { property: 'segment', column: 'segment', sql: 's.segment::text', decode: text },
  { property: 'recencyComponent', column: 'recency_component', sql: 's.recency_component::text', decode: text },
  { property: 'frequencyComponent', column: 'frequency_component', sql: 's.frequency_component::text', decode: text },
  { property: 'monetaryComponent', column: 'monetary_component', sql: 's.monetary_component::text', decode: text },
  { property: 'satisfactionComponent', column: 'satisfaction_component', sql: 's.satisfaction_component::text', decode: text },
  { property: 'referralsComponent', column: 'referrals_component', sql: 's.referrals_component::text', decode: text },
  { property: 'engagementComponent', column: 'engagement_component', sql: 's.engagement_component::text', decode: text },
  { property: 'score', column: 'score', sql: 's.score::text', decode: text },
  { property: 'tier', column: 'tier', sql: 's.tier::text', decode: text },
  { property: 'qualifyingTier', column: 'qualifying_tier', sql: 's.qualifying_tier::text', decode: nullableText },
  { property: 'belowDays', column: 'below_days', sql: 's.below_days::int', decode: int },
  { property: 'overridden', column: 'overridden', sql: 's.overridden', decode: (value) => value === true || value === 't' },
  { property: 'churnRisk', column: 'churn_risk', sql: 's.churn_risk::text', decode: text },
  { property: 'loyal', column: 'loyal', sql: 's.loyal', decode: (value) => value === true || value === 't' },
  { property: 'ruleVersion', column: 'rule_version', sql: 's.rule_version::int', decode: int },
];

const snapshotColumns = sql.raw(snapshotFields.map((field) => `${field.sql} as ${field.column}`).join(', '));

/**
 * A snapshot from a row of `snapshotColumns` (or a JSON object with some of them: only the
 * properties whose columns are present are set, see `latestSnapshotJson`).
 */
function toSnapshotRow(row: Record<string, unknown>): LoyaltySnapshotRow {
  const snapshot: Record<string, unknown> = {};
  for (const field of snapshotFields) if (field.column in row) snapshot[field.property] = field.decode(row[field.column]);
  return snapshot as LoyaltySnapshotRow;
}

const uuidList = (ids: readonly string[]) => sql.join(ids.map((id) => sql`${id}::uuid`), sql`, `);

/** domain: Party.loyalty is the party's snapshot with the most recent D. One statement for all. */
export async function latestSnapshots(partyIds: readonly string[]): Promise<Map<string, LoyaltySnapshotRow>> {
  const ids = partyIds.filter(isUuid);
  if (ids.length === 0) return new Map();
  const { rows } = await useTransaction().execute<Record<string, unknown>>(sql`
    select distinct on (s.party_id) ${snapshotColumns}
    from loyalty_snapshots s
    where s.tenant_id = ${useTenantId()} and s.party_id in (${uuidList(ids)})
    order by s.party_id, s.as_of desc`);
  return new Map(rows.map((row) => [String(row.party_id), toSnapshotRow(row)]));
}

/**
 * A party's latest snapshot as one JSON value (null before its first scoring), for a page of
 * parties that fetches it in its own statement (`PartyPageExtras`): correlated with the page's
 * parties row, one index probe per party. With `properties`, only those are read (what the caller
 * will use: Postgres builds and the server parses a fraction of the value); the snapshot decoded
 * from it has only them. Decode it with `snapshotFromJson`.
 */
export function latestSnapshotJson(
  party: CorrelatedParty,
  properties?: readonly (keyof LoyaltySnapshotRow)[],
): SQL<Record<string, unknown> | null> {
  const fields = properties ? snapshotFields.filter((field) => properties.includes(field.property)) : snapshotFields;
  const pairs = sql.raw(fields.map((field) => `'${field.column}', ${field.sql}`).join(', '));
  return sql<Record<string, unknown> | null>`(select json_build_object(${pairs}) from loyalty_snapshots s
    where s.tenant_id = ${party.tenantId} and s.party_id = ${party.id}
    order by s.as_of desc limit 1)`;
}

/** A snapshot from `latestSnapshotJson`'s value (its columns are toSnapshotRow's). */
export function snapshotFromJson(json: unknown): LoyaltySnapshotRow | null {
  return json && typeof json === 'object' ? toSnapshotRow(json as Record<string, unknown>) : null;
}

/**
 * A snapshot's key as text, `<party id>:<YYYY-MM-DD>`: a snapshot is one row per party and day
 * (its primary key, with the tenant), so it needs no surrogate id to be named.
 */
export function snapshotKey(row: Pick<LoyaltySnapshotRow, 'partyId' | 'asOf'>): string {
  return `${row.partyId}:${row.asOf}`;
}

export function parseSnapshotKey(key: string): { partyId: string; asOf: string } | null {
  const [partyId, asOf, ...rest] = key.split(':');
  if (rest.length > 0 || !partyId || !asOf || !isUuid(partyId) || !calendarDate().safeParse(asOf).success) return null;
  return { partyId: partyId.toLowerCase(), asOf };
}

/** The current tenant's snapshots with these keys (`snapshotKey`); unknown or malformed keys are left out. */
export async function findSnapshots(keys: readonly string[]): Promise<LoyaltySnapshotRow[]> {
  const parsed = keys.map(parseSnapshotKey).filter((key) => key !== null);
  if (parsed.length === 0) return [];
  const { rows } = await useTransaction().execute<Record<string, unknown>>(sql`
    select ${snapshotColumns} from loyalty_snapshots s
    where s.tenant_id = ${useTenantId()}
      and (s.party_id, s.as_of) in (${sql.join(parsed.map((key) => sql`(${key.partyId}::uuid, ${key.asOf}::date)`), sql`, `)})`);
  return rows.map(toSnapshotRow);
}

export function snapshotCursor(row: LoyaltySnapshotRow): string {
  return encodeCursor([row.asOf]);
}

/** A page of each party's snapshots, newest day first, for many parties in one statement. */
export async function snapshotHistoryPages(partyIds: readonly string[], page: PageRequest): Promise<PartyRows<LoyaltySnapshotRow>[]> {
  const ids = partyIds.filter(isUuid);
  const { bound, direction } = descendingPage(page, sql`s.as_of`, (cursor) => {
    const [asOf] = decodeCursor(cursor, 1);
    if (typeof asOf !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(asOf)) {
      throw UserError.of('VALIDATION', 'The cursor is not one this list handed out', []);
    }
    return sql`${asOf}::date`;
  });
  if (ids.length === 0) return rowsByParty(partyIds, []);
  const { rows } = await useTransaction().execute<Record<string, unknown>>(sql`
    select * from (
      select ${snapshotColumns}, row_number() over (partition by s.party_id order by s.as_of ${direction}) as n
      from loyalty_snapshots s
      where s.tenant_id = ${useTenantId()} and s.party_id in (${uuidList(ids)}) and ${bound}
    ) ranked
    where n <= ${page.limit}
    order by party_id, n`);
  return rowsByParty(partyIds, rows.map((row) => [String(row.party_id), toSnapshotRow(row)]));
}

export async function snapshotCounts(partyIds: readonly string[]): Promise<Map<string, number>> {
  const ids = partyIds.filter(isUuid);
  if (ids.length === 0) return new Map();
  const { rows } = await useTransaction().execute<{ party_id: string; n: number }>(sql`
    select s.party_id::text as party_id, count(*)::int as n from loyalty_snapshots s
    where s.tenant_id = ${useTenantId()} and s.party_id in (${uuidList(ids)})
    group by s.party_id`);
  return new Map(rows.map((row) => [row.party_id, Number(row.n)]));
}

/** The tenant's latest scored day, or null before its first scoring. */
export async function latestScoredDay(): Promise<string | null> {
  const { rows } = await useTransaction().execute<{ as_of: string | null }>(sql`
    select max(s.as_of)::text as as_of from loyalty_snapshots s where s.tenant_id = ${useTenantId()}`);
  return rows[0]?.as_of ?? null;
}

/** The day an analytics query reads: the one asked for, else the latest scored day. */
async function dayOrLatest(asOf: string | null | undefined, field: string): Promise<string | null> {
  if (asOf === null || asOf === undefined) return latestScoredDay();
  assertCalendarDate(asOf, [field]);
  return asOf;
}

export interface SegmentShare {
  segment: Segment;
  count: number;
  /** count ÷ scored parties of the day; 0 when none were scored. */
  share: number;
  /** Sum of the segment's monetary (exact decimal). */
  monetary: string;
}

/** domain: all 8 segments of day D (default: the latest scored day), zeros included. */
export async function segmentDistribution(asOf?: string | null): Promise<{ asOf: string | null; segments: SegmentShare[] }> {
  const day = await dayOrLatest(asOf, 'asOf');
  const found = new Map<string, { n: number; monetary: string }>();
  if (day) {
    const { rows } = await useTransaction().execute<{ segment: string; n: number; monetary: string }>(sql`
      select s.segment::text as segment, count(*)::int as n, sum(s.monetary)::text as monetary
      from loyalty_snapshots s
      where s.tenant_id = ${useTenantId()} and s.as_of = ${day}::date
      group by s.segment`);
    for (const row of rows) found.set(row.segment, { n: Number(row.n), monetary: row.monetary });
  }
  const total = [...found.values()].reduce((sum, row) => sum + row.n, 0);
  return {
    asOf: day,
    segments: segments.map((segment) => {
      const row = found.get(segment);
      const count = row?.n ?? 0;
      return { segment, count, share: total === 0 ? 0 : count / total, monetary: row?.monetary ?? '0' };
    }),
  };
}

export interface SegmentMove {
  from: Segment;
  to: Segment;
  count: number;
}

/**
 * The from → to matrix between two scored days: for every pair of segments (all 64, zeros
 * included, in the enum's order), the parties in `from`'s segment on day `from` and in `to`'s on
 * day `to`. Parties scored on only one of the two days are in no cell.
 */
export async function segmentMigration(from: string, to: string): Promise<SegmentMove[]> {
  assertCalendarDate(from, ['from']);
  assertCalendarDate(to, ['to']);
  const { rows } = await useTransaction().execute<{ from_segment: string; to_segment: string; n: number }>(sql`
    select a.segment::text as from_segment, b.segment::text as to_segment, count(*)::int as n
    from loyalty_snapshots a
    join loyalty_snapshots b on b.tenant_id = a.tenant_id and b.party_id = a.party_id and b.as_of = ${to}::date
    where a.tenant_id = ${useTenantId()} and a.as_of = ${from}::date
    group by a.segment, b.segment`);
  const counts = new Map(rows.map((row) => [`${row.from_segment}>${row.to_segment}`, Number(row.n)]));
  return segments.flatMap((fromSegment) =>
    segments.map((toSegment) => ({ from: fromSegment, to: toSegment, count: counts.get(`${fromSegment}>${toSegment}`) ?? 0 })),
  );
}

export interface Pareto {
  asOf: string | null;
  topShare: number;
  /** The top parties' share of the day's total monetary; 0 when the total is 0. */
  revenueShare: number;
  /** k = ⌈topShare · n⌉: how many parties the top share holds. */
  parties: number;
  /** n: the day's scored parties. */
  population: number;
}

/**
 * domain (二八法则): the k = ⌈topShare·n⌉ parties with the largest monetary (ties by id) and their
 * share of the total monetary of day D (default: the latest scored day). k is computed in numeric,
 * so 0.2 × 10 is exactly 2.
 */
export async function pareto(asOf?: string | null, topShare = 0.2): Promise<Pareto> {
  if (!Number.isFinite(topShare) || topShare <= 0 || topShare > 1) {
    throw UserError.of('VALIDATION', 'topShare is a share: greater than 0, at most 1', ['topShare']);
  }
  const day = await dayOrLatest(asOf, 'asOf');
  if (!day) return { asOf: null, topShare, revenueShare: 0, parties: 0, population: 0 };
  const { rows } = await useTransaction().execute<{ n: number; k: number; share: string | null }>(sql`
    with ranked as (
      select s.monetary,
             row_number() over (order by s.monetary desc, s.party_id) as rank,
             count(*) over () as n
      from loyalty_snapshots s
      where s.tenant_id = ${useTenantId()} and s.as_of = ${day}::date
    ),
    cut as (select coalesce(max(n), 0) as n, ceil(${String(topShare)}::numeric * coalesce(max(n), 0))::int as k from ranked),
    sums as (
      select coalesce(sum(r.monetary), 0) as total, coalesce(sum(r.monetary) filter (where r.rank <= cut.k), 0) as top
      from ranked r, cut
    )
    select cut.n::int as n, cut.k as k,
           (case when sums.total = 0 then 0 else sums.top / sums.total end)::text as share
    from cut, sums`);
  const row = rows[0];
  const population = Number(row?.n ?? 0);
  return { asOf: day, topShare, revenueShare: Number(row?.share ?? 0), parties: Number(row?.k ?? 0), population };
}

/**
 * The parties to call first: the latest scored day's snapshots by churn risk × monetary, largest
 * first (ties by party id). Parties archived since are left out: there is no one to follow up.
 */
export async function atRiskParties(first: number): Promise<LoyaltySnapshotRow[]> {
  const tenantId = useTenantId();
  const { rows } = await useTransaction().execute<Record<string, unknown>>(sql`
    select ${snapshotColumns}
    from loyalty_snapshots s
    join parties p on p.tenant_id = s.tenant_id and p.id = s.party_id and p.archived_at is null
    where s.tenant_id = ${tenantId}
      and s.as_of = (select max(l.as_of) from loyalty_snapshots l where l.tenant_id = ${tenantId})
    order by s.churn_risk * s.monetary desc, s.party_id
    limit ${first}`);
  return rows.map(toSnapshotRow);
}

