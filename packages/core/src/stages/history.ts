import { sql, type SQL } from 'drizzle-orm';
import { actorColumns } from '../actor';
import { useTenantId, useTransaction } from '../drizzle/transaction';
import { UserError } from '../errors';
import { isUuid, uuidv7 } from '../ids';
import { decodeCursor, descendingPage, encodeCursor, firstPageJson, rowsByParty, rowsFromJson, type CorrelatedParty, type PageRequest, type PartyRows } from '../pagination';
import { forwardStages, stages, type Stage } from './enums';
import { stageTransitions } from './stage-transitions.sql';

export type StageTransitionRow = typeof stageTransitions.$inferSelect;

// Raw statements bypass drizzle's column mapping: columns as text in fixed formats.
const transitionColumns = sql.raw(`t.tenant_id::text as tenant_id, t.id::text as id, t.party_id::text as party_id,
  t.from_stage::text as from_stage, t.to_stage::text as to_stage,
  to_char(t.at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as at,
  t.actor_kind::text as actor_kind, t.actor_id, t.reason, t.seconds_in_previous::text as seconds_in_previous,
  t.automatic, t.rule`);

function toTransition(row: Record<string, unknown>): StageTransitionRow {
  return {
    tenantId: String(row.tenant_id),
    id: String(row.id),
    partyId: String(row.party_id),
    fromStage: (row.from_stage as Stage | null) ?? null,
    toStage: row.to_stage as Stage,
    at: new Date(String(row.at)),
    actorKind: row.actor_kind as StageTransitionRow['actorKind'],
    actorId: (row.actor_id as string | null) ?? null,
    reason: (row.reason as string | null) ?? null,
    secondsInPrevious: row.seconds_in_previous === null ? null : Number(row.seconds_in_previous),
    automatic: row.automatic === true || row.automatic === 't',
    rule: (row.rule as string | null) ?? null,
  };
}

export function transitionCursor(row: StageTransitionRow): string {
  return encodeCursor([row.at.toISOString(), row.id]);
}

/** Each party's history, newest first, one statement for a whole page of parties. */
export async function stageHistoryPages(partyIds: readonly string[], page: PageRequest): Promise<PartyRows<StageTransitionRow>[]> {
  if (partyIds.length === 0) return [];
  const { bound, direction } = descendingPage(page, sql`(t.at, t.id)`, (cursor) => {
    const [at, id] = decodeCursor(cursor, 2);
    if (typeof at !== 'string' || typeof id !== 'string' || !isUuid(id) || Number.isNaN(Date.parse(at))) {
      throw UserError.of('VALIDATION', 'The cursor is not one this list handed out', []);
    }
    return sql`(${at}::timestamptz, ${id}::uuid)`;
  });
  const { rows } = await useTransaction().execute<Record<string, unknown> & { n: number }>(sql`
    select * from (
      select ${transitionColumns}, row_number() over (partition by t.party_id order by t.at ${direction}, t.id ${direction}) as n
      from stage_transitions t
      where t.tenant_id = ${useTenantId()}
        and t.party_id in (${sql.join(partyIds.map((id) => sql`${id}::uuid`), sql`, `)})
        and ${bound}
    ) ranked
    where n <= ${page.limit}
    order by party_id, n`);
  const transitions = rows.map(toTransition);
  return rowsByParty(partyIds, transitions.map((row) => [row.partyId, row]));
}

/**
 * A party's first page of history (`stageHistoryPages` without a cursor) as JSON, correlated with
 * a parties row, for a party's own statement to carry along; decode it with `transitionsFromJson`.
 */
export function stageHistoryPageJson(party: CorrelatedParty, limit: number, properties?: readonly string[]): SQL<unknown[]> {
  return firstPageJson({
    columns: transitionColumns,
    from: sql`stage_transitions t`,
    where: sql`t.tenant_id = ${party.tenantId} and t.party_id = ${party.id}`,
    order: sql`t.at desc, t.id desc`,
    limit,
    // Only what is asked, with the cursor's keys (every edge's cursor is computed).
    properties: properties && ['id', 'at', ...properties],
  });
}

export function transitionsFromJson(json: unknown): StageTransitionRow[] {
  return rowsFromJson(json, toTransition);
}

/** The current tenant's transitions with these ids (unknown ids are left out). */
export async function findStageTransitions(ids: readonly string[]): Promise<StageTransitionRow[]> {
  if (ids.length === 0) return [];
  const { rows } = await useTransaction().execute<Record<string, unknown>>(sql`
    select ${transitionColumns} from stage_transitions t
    where t.tenant_id = ${useTenantId()} and t.id in (${sql.join(ids.map((id) => sql`${id}::uuid`), sql`, `)})`);
  return rows.map(toTransition);
}

export async function stageHistoryCounts(partyIds: readonly string[]): Promise<Map<string, number>> {
  if (partyIds.length === 0) return new Map();
  const { rows } = await useTransaction().execute<{ party_id: string; n: number }>(sql`
    select t.party_id::text as party_id, count(*)::int as n from stage_transitions t
    where t.tenant_id = ${useTenantId()} and t.party_id in (${sql.join(partyIds.map((id) => sql`${id}::uuid`), sql`, `)})
    group by t.party_id`);
  return new Map(rows.map((row) => [row.party_id, Number(row.n)]));
}

export interface Period {
  since?: Date | null;
  until?: Date | null;
}

function periodBounds(period: Period): { since: Date; until: Date } {
  const since = period.since ?? new Date('1970-01-01T00:00:00Z');
  const until = period.until ?? new Date(Date.now() + 1000);
  if (since >= until) throw UserError.of('VALIDATION', 'since must be before until', ['since']);
  return { since, until };
}

export interface FunnelRow {
  stage: Stage;
  entered: number;
  advanced: number;
  /** advanced ÷ entered; null for a stage with no next forward stage or no entries. */
  conversionRate: number | null;
  medianDaysInStage: number | null;
}

/**
 * For each stage: entries in [since, until); of those, how many moved next to the following
 * forward stage before `until`; and the median days spent in the stage by the moves out of it in
 * the period.
 */
export async function stageFunnel(period: Period): Promise<FunnelRow[]> {
  const { since, until } = periodBounds(period);
  const { rows } = await useTransaction().execute<{
    stage: Stage;
    entered: number;
    advanced: number;
    median_days: string | null;
  }>(sql`
    with ordered as (
      select t.party_id, t.to_stage, t.from_stage, t.at, t.seconds_in_previous,
             lead(t.to_stage) over (partition by t.party_id order by t.at, t.id) as next_stage,
             lead(t.at) over (partition by t.party_id order by t.at, t.id) as next_at
      from stage_transitions t
      where t.tenant_id = ${useTenantId()}
    ),
    entries as (
      select to_stage as stage, count(*)::int as entered,
             count(*) filter (where next_at < ${until.toISOString()}::timestamptz and next_stage = (
               case to_stage when 'INITIAL_CONTACT' then 'TRUST_BUILDING'::stage
                             when 'TRUST_BUILDING' then 'LOYALTY_GROWTH'::stage
                             when 'LOYALTY_GROWTH' then 'LONG_TERM_PARTNERSHIP'::stage end))::int as advanced
      from ordered
      where at >= ${since.toISOString()}::timestamptz and at < ${until.toISOString()}::timestamptz
      group by to_stage
    ),
    stays as (
      select from_stage as stage,
             percentile_cont(0.5) within group (order by seconds_in_previous / 86400.0) as median_days
      from ordered
      where from_stage is not null and seconds_in_previous is not null
        and at >= ${since.toISOString()}::timestamptz and at < ${until.toISOString()}::timestamptz
      group by from_stage
    )
    select s.stage::text as stage, coalesce(e.entered, 0) as entered, coalesce(e.advanced, 0) as advanced,
           st.median_days::text as median_days
    from unnest(enum_range(null::stage)) as s(stage)
    left join entries e on e.stage = s.stage
    left join stays st on st.stage = s.stage`);
  const byStage = new Map(rows.map((row) => [row.stage, row]));
  return stages.map((stage) => {
    const row = byStage.get(stage);
    const entered = Number(row?.entered ?? 0);
    const advanced = Number(row?.advanced ?? 0);
    const hasNext = (forwardStages as readonly string[]).indexOf(stage) >= 0 && stage !== 'LONG_TERM_PARTNERSHIP';
    return {
      stage,
      entered,
      advanced,
      conversionRate: hasNext && entered > 0 ? advanced / entered : null,
      medianDaysInStage: row?.median_days == null ? null : Number(row.median_days),
    };
  });
}

export const churnGroupings = ['STAGE', 'KIND', 'SEGMENT', 'TIER'] as const;
export type ChurnGrouping = (typeof churnGroupings)[number];

export interface ChurnRow {
  /** The stage, kind, segment or tier; `NO_SNAPSHOT` for parties never scored before `since`. */
  group: string;
  partiesAtStart: number;
  churned: number;
  rate: number;
}

/**
 * 流失率分布: per group, the parties present and not churned at `since`, how many of them moved
 * to CHURNED in [since, until), and the rate. STAGE is the stage held at `since`; SEGMENT and
 * TIER come from each party's latest loyalty snapshot on or before `since`.
 */
/** A churn rate needs parties present at its start: without one, the last quarter is measured. */
export const defaultChurnPeriodDays = 90;

export async function churnRates(groupBy: ChurnGrouping, period: Period): Promise<ChurnRow[]> {
  const end = period.until ?? new Date(Date.now() + 1000);
  const { since, until } = periodBounds({
    since: period.since ?? new Date(end.getTime() - defaultChurnPeriodDays * 86_400_000),
    until: end,
  });
  const tenantId = useTenantId();
  const group =
    groupBy === 'STAGE'
      ? sql`start.stage::text`
      : groupBy === 'KIND'
        ? sql`p.kind::text`
        : groupBy === 'SEGMENT'
          ? sql`coalesce(snap.segment::text, 'NO_SNAPSHOT')`
          : sql`coalesce(snap.tier::text, 'NO_SNAPSHOT')`;
  const { rows } = await useTransaction().execute<{ grp: string; parties: number; churned: number }>(sql`
    with start as (
      select distinct on (t.party_id) t.party_id, t.to_stage as stage
      from stage_transitions t
      where t.tenant_id = ${tenantId} and t.at < ${since.toISOString()}::timestamptz
      order by t.party_id, t.at desc, t.id desc
    ),
    present as (
      select p.id, p.kind, start.stage from parties p join start on start.party_id = p.id
      where p.tenant_id = ${tenantId} and start.stage <> 'CHURNED'
    ),
    snap as (
      select distinct on (s.party_id) s.party_id, s.segment, s.tier
      from loyalty_snapshots s
      where s.tenant_id = ${tenantId} and s.as_of <= (${since.toISOString()}::timestamptz at time zone 'UTC')::date
      order by s.party_id, s.as_of desc
    ),
    churned as (
      select distinct t.party_id from stage_transitions t
      where t.tenant_id = ${tenantId} and t.to_stage = 'CHURNED'
        and t.at >= ${since.toISOString()}::timestamptz and t.at < ${until.toISOString()}::timestamptz
    )
    select ${group} as grp, count(*)::int as parties, count(churned.party_id)::int as churned
    from present p
    join start on start.party_id = p.id
    left join snap on snap.party_id = p.id
    left join churned on churned.party_id = p.id
    group by 1
    order by 1`);
  return rows.map((row) => ({
    group: row.grp,
    partiesAtStart: Number(row.parties),
    churned: Number(row.churned),
    rate: Number(row.parties) > 0 ? Number(row.churned) / Number(row.parties) : 0,
  }));
}

/** How many active parties hold each stage now (zeros included). */
export async function stageCounts(): Promise<{ stage: Stage; count: number }[]> {
  const { rows } = await useTransaction().execute<{ stage: Stage; n: number }>(sql`
    select stage::text as stage, count(*)::int as n from parties
    where tenant_id = ${useTenantId()} and archived_at is null group by stage`);
  const counts = new Map(rows.map((row) => [row.stage, Number(row.n)]));
  return stages.map((stage) => ({ stage, count: counts.get(stage) ?? 0 }));
}

/** domain: a party's first history row records its starting stage (from = null). */
export async function recordInitialStage(partyId: string, stage: Stage, at: Date): Promise<void> {
  await useTransaction()
    .insert(stageTransitions)
    .values({
      tenantId: useTenantId(),
      id: uuidv7(at.getTime()),
      partyId,
      fromStage: null,
      toStage: stage,
      at,
      ...actorColumns(),
      reason: null,
      secondsInPrevious: null,
      automatic: false,
    });
}
