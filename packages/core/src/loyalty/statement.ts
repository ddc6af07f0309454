import { getTableName, sql, type SQL } from 'drizzle-orm';
import { currentTenant } from '../access';
import { membershipSettings, type MembershipSettings, type TenantSettings } from '../access/settings';
import { actorColumns } from '../actor';
import { refreshStatistics } from '../drizzle/statistics';
import { afterCommit, useTenantId, useTransaction } from '../drizzle/transaction';
import { UserError } from '../errors';
import { calendarDate } from '../validation';
import { loyaltySnapshots, partyLoyalty } from './loyalty.sql';
import { hasSubscribers, listeningWebhooks, webhookDeliveries, type WebhookEvent } from '../webhooks';

/** Refusal to score a tenant whose scoring another run is doing right now (the tenant's lock). */
export class ScoringAlreadyRunningError extends Error {
  constructor(tenantId: string) {
    super(`Scoring of tenant ${tenantId} is already running in another run; this run did not score`);
    this.name = 'ScoringAlreadyRunningError';
  }
}

/** Memory per sort or hash of the scoring statement (about 200 bytes per scored party). */
export const scoringWorkMem = '256MB';
/** Postgres's default: the scoring statement is the one whole-tenant scan worth sharing. */
const scoringParallelWorkers = '2';

export interface ScoreOptions {
  /** The scoring_runs row this scoring belongs to, stored on every snapshot row. */
  runId?: string | null;
  /**
   * Called inside the scoring transaction once the day's rows are written, before anything
   * commits. Tests throw from it to interrupt a run half-way.
   */
  afterWrite?: () => Promise<void> | void;
}

export interface ScoreResult {
  asOf: string;
  /** Snapshot rows written: the scored population of the day. */
  partiesScored: number;
  /** Rows of the same day that an earlier run had written and this one replaced. */
  replaced: number;
  ruleVersion: number;
}

export function assertCalendarDate(asOf: string, field: string | string[] = 'asOf'): void {
  if (!calendarDate().safeParse(asOf).success) throw UserError.of('VALIDATION', 'asOf is a date, YYYY-MM-DD', field);
}

/**
 * Takes the tenant's scoring lock for the rest of the current transaction, or throws
 * ScoringAlreadyRunningError when another transaction holds it. A transaction-level advisory lock
 * needs no session of its own (pooled connections, Lambda) and cannot outlive a killed run: it ends
 * with the transaction. Keyed by a 64-bit hash of the tenant id, namespaced so that no other use of
 * advisory locks collides with it.
 */
export async function lockTenantScoring(): Promise<void> {
  const tenantId = useTenantId();
  const { rows } = await useTransaction().execute<{ locked: boolean }>(
    sql`select pg_try_advisory_xact_lock(hashtextextended(${`guanxi:scoring:${tenantId}`}, 0)) as locked`,
  );
  if (!rows[0]?.locked) throw new ScoringAlreadyRunningError(tenantId);
}

/**
 * The six weights as exact integers over a common power of ten: weights are decimals (0.15 is
 * read as the text it was written as, not as a binary float), so `w = units / 10^scale` exactly.
 * With at most 6 decimals (settings are validated in millionths) the score's weighted sum fits a
 * bigint for any party (≤ 2.4·10⁴ · q · 10⁶ with q < 10⁸ rated orders), which is several times
 * faster than numeric; more decimals fall back to numeric, with the same formula.
 */
function weightUnits(weights: TenantSettings['scoring']['weights']): {
  units: Record<keyof TenantSettings['scoring']['weights'], SQL>;
  /** 10^scale, in the same type. */
  scale: SQL;
  /** ⌊a / b⌋ for non-negative a, b of that type. */
  floorDiv: (a: SQL, b: SQL) => SQL;
} {
  const texts = Object.entries(weights).map(([name, value]) => {
    // String() gives the shortest text that reads back as the same number: what was typed.
    const text = String(value);
    if (!Number.isFinite(value) || value < 0 || !/^\d+(\.\d+)?$/.test(text)) throw new Error(`Not a weight: ${name} = ${value}`);
    return [name, text] as const;
  });
  const digits = Math.max(...texts.map(([, text]) => text.split('.')[1]?.length ?? 0));
  const type = digits <= 6 ? 'bigint' : 'numeric';
  const units = Object.fromEntries(
    texts.map(([name, text]) => {
      const [whole, fraction = ''] = text.split('.');
      return [name, sql.raw(`${BigInt(`${whole}${fraction.padEnd(digits, '0')}`).toString()}::${type}`)];
    }),
  ) as Record<keyof TenantSettings['scoring']['weights'], SQL>;
  return {
    units,
    scale: sql.raw(`${(10n ** BigInt(digits)).toString()}::${type}`),
    // bigint division truncates, which is the floor for non-negative operands; numeric's "/"
    // would not, div() does.
    floorDiv: type === 'bigint' ? (a, b) => sql`(${a}) / (${b})` : (a, b) => sql`div(${a}, ${b})`,
  };
}

/**
 * Scores the current tenant as of `asOf` (domain §4) inside the current transaction: takes the
 * tenant's lock, then one statement replaces the day's snapshots and refreshes the parties' copies
 * of their latest snapshot (party_loyalty). Nothing is visible to others until the caller's
 * transaction commits, so a run killed half-way leaves the day as it was, and a re-run replaces
 * the day exactly.
 */
export async function scoreCurrentTenant(asOf: string, options: ScoreOptions = {}): Promise<ScoreResult> {
  assertCalendarDate(asOf);
  await lockTenantScoring();
  // For the rest of this transaction: the statement's row estimates are rough (CTEs, aggregates
  // of aggregates), which can make JIT compile for seconds for nothing; and a tenant's parties
  // are aggregated, sorted and hashed in memory rather than spilled to disk. The scan of the
  // tenant's orders may use the parallel workers request transactions go without.
  await useTransaction().execute(
    sql`select set_config('jit', 'off', true), set_config('work_mem', ${scoringWorkMem}, true),
               set_config('max_parallel_workers_per_gather', ${scoringParallelWorkers}, true)`,
  );
  const tenant = await currentTenant();
  const result = await writeSnapshots({
    tenantId: useTenantId(),
    asOf,
    settings: tenant.settings,
    ruleVersion: tenant.ruleVersion,
    runId: options.runId ?? null,
    segmentEvents: await hasSubscribers('loyalty.segment_changed'),
    tierEvents: await hasSubscribers('loyalty.tier_changed'),
  });
  if (options.afterWrite) await options.afterWrite();
  // Once the day commits, the planner samples what it rewrote: a tenant's first run would
  // otherwise leave page queries on a whole-tenant plan until autovacuum comes by.
  afterCommit((db) =>
    refreshStatistics(db, {
      [getTableName(partyLoyalty)]: result.partiesScored,
      [getTableName(loyaltySnapshots)]: result.partiesScored + result.replaced,
    }),
  );
  return { asOf, ...result, ruleVersion: tenant.ruleVersion };
}

export interface StatementInput {
  tenantId: string;
  asOf: string;
  settings: TenantSettings;
  ruleVersion: number;
  runId: string | null;
  /**
   * Queue a `loyalty.segment_changed` webhook event for every party whose latest segment this run
   * changes (including its first segment), in the same statement. Off when no webhook listens:
   * reading the parties' previous copy costs an index probe per changed party.
   */
  segmentEvents?: boolean;
  /**
   * The tenant's latest scored day before `asOf` (null: none). Every party's latest snapshot before
   * `asOf` is of that day or earlier, so most parties' previous tier is read by one hash join with
   * that day's rows, and only the others are looked up one by one.
   */
  previousDay?: string | null;
  /** Queue `loyalty.tier_changed` for every tier history row the run writes (off when no webhook listens). */
  tierEvents?: boolean;
}

/**
 * The scoring statement. Every rule of domain §4 is one expression below; the comments cite them.
 *
 * Exactness: counts, sums and means are compared in integers or numerics (never floats); the
 * score's one division is done so that its rounding is exact (see `score_tenths`). The one
 * irrational value, churn risk (an exponential), is computed in float8 and stored rounded to five
 * decimals, far coarser than a double's precision.
 */
async function writeSnapshots(input: StatementInput): Promise<{ partiesScored: number; replaced: number }> {
  const tx = useTransaction();
  const { rows: before } = await tx.execute<{ day: string | null }>(sql`
    select max(s.as_of)::text as day from loyalty_snapshots s where s.tenant_id = ${input.tenantId} and s.as_of < ${input.asOf}::date`);
  const { rows } = await tx.execute<{ scored: number; replaced: number }>(scoringStatement({ ...input, previousDay: before[0]?.day ?? null }));
  const row = rows[0];
  return { partiesScored: Number(row?.scored ?? 0), replaced: Number(row?.replaced ?? 0) };
}

/** The statement itself (exported for EXPLAIN in benchmarks). */
export function scoringStatement(input: StatementInput): SQL {
  const { tenantId, asOf, settings, ruleVersion, runId, segmentEvents = false, tierEvents = false, previousDay = null } = input;
  const membership = membershipSettings(settings);
  const grace = membership.downgradeGraceDays;
  const actor = actorColumns();
  const windowDays = settings.scoring.windowDays;
  const { weights, tiers } = settings.scoring;
  const { units: w, scale, floorDiv } = weightUnits(weights);
  const loyalAfter = settings.stagePolicy.loyalAfter;
  if (!Number.isInteger(windowDays) || windowDays < 1) throw new Error(`Not a window: ${windowDays}`);
  const day = sql`${asOf}::date`;
  // domain: an order's date is the UTC date of placedAt; the window is the windowDays days ending
  // on D, D included. As instants: [start of D − (windowDays − 1), start of D + 1), UTC, which the
  // (tenant, party, placed_at) index serves without a function on the column.
  const cutoff = sql`((${day} + 1)::timestamp at time zone 'UTC')`;
  const windowStart = sql`((${day} - ${windowDays - 1}::int)::timestamp at time zone 'UTC')`;
  const inWindow = sql`o.placed_at >= ${windowStart}`;
  const utcDate = (column: SQL) => sql`(${column} at time zone 'UTC')::date`;

  return sql`
    with refunds_by_order as (
      -- domain (refunds): the refunds made on or before D, per order.
      select f.order_id, sum(f.amount) as refunded
      from order_refunds f
      where f.tenant_id = ${tenantId} and f.created_at < ${cutoff}
      group by f.order_id
    ),
    orders_by_party as (
      -- Each order's window test feeds plain aggregates through CASE (cheaper than a FILTER
      -- clause per aggregate): null or 0 outside the window. domain (refunds): monetary sums net
      -- amounts, and a fully refunded order counts nowhere (so a party whose orders up to D are
      -- all refunded is not scored).
      select o.party_id,
             max(o.placed_at) as last_at,
             min(case when ${inWindow} then o.placed_at end) as first_in_window,
             sum(case when ${inWindow} then 1 else 0 end) as frequency,
             coalesce(sum(case when ${inWindow} then o.amount - coalesce(f.refunded, 0) end), 0) as monetary,
             count(case when ${inWindow} then o.satisfaction end) as rated,
             coalesce(sum(case when ${inWindow} then o.satisfaction end), 0) as rating_sum,
             -- domain §2: an order is satisfying when rated ≥ 4 or not rated at all.
             sum(case when ${inWindow} and (o.satisfaction is null or o.satisfaction >= 4) then 1 else 0 end) as satisfying
      from orders o
      left join refunds_by_order f on f.order_id = o.id
      where o.tenant_id = ${tenantId} and o.placed_at < ${cutoff} and (f.refunded is null or f.refunded < o.amount)
      group by o.party_id
    ),
    contacts_by_party as (
      -- Interactions and converted referrals in the window, in one aggregate: joining the
      -- parties to two aggregates of unknown size made the planner misjudge the joins badly.
      select c.party_id, sum(c.interaction) as interactions, sum(c.conversion) as converted
      from (
        select i.party_id, 1 as interaction, 0 as conversion
        from interactions i
        where i.tenant_id = ${tenantId} and i.occurred_at >= ${windowStart} and i.occurred_at < ${cutoff}
        union all
        -- domain: converted referrals in the window, counted for the referrer; by the UTC date
        -- of the conversion, and only those still converted (or since rewarded).
        select r.referrer_id, 0, 1
        from referrals r
        where r.tenant_id = ${tenantId} and r.status in ('CONVERTED', 'REWARDED')
          and r.converted_at >= ${windowStart} and r.converted_at < ${cutoff}
      ) c
      group by c.party_id
    ),
    inputs as (
      -- domain: the population is every party unarchived now with an order dated D or earlier.
      select a.party_id,
             (${day} - ${utcDate(sql`a.last_at`)})::int as recency_days,
             a.frequency::int as frequency,
             a.monetary,
             a.rated::int as rated,
             a.rating_sum::int as rating_sum,
             a.satisfying::int as satisfying,
             coalesce(c.interactions, 0)::int as interactions,
             coalesce(c.converted, 0)::int as converted,
             ${membership.basis === 'POINTS' ? sql`coalesce((
               select sum(e.points) from points_entries e
               where e.tenant_id = ${tenantId} and e.party_id = a.party_id and e.kind = 'EARN'
                 and e.at >= ${windowStart} and e.at < ${cutoff}), 0)` : sql`0`}::bigint as points_earned,
             -- domain: typicalGap = max(1, mean days between consecutive orders in the window), or
             -- windowDays / 2 with fewer than 2 orders there. The consecutive gaps of n sorted
             -- dates add up to last − first, so their mean is (last − first) / (n − 1); with at
             -- least one order in the window the last order overall is in it.
             case when a.frequency >= 2
                  then greatest(1::numeric,
                                (${utcDate(sql`a.last_at`)} - ${utcDate(sql`a.first_in_window`)})::numeric / (a.frequency - 1))
                  else ${windowDays}::numeric / 2
             end as typical_gap
      from orders_by_party a
      join parties p on p.tenant_id = ${tenantId} and p.id = a.party_id and p.archived_at is null
      left join contacts_by_party c on c.party_id = a.party_id
    ),
    ranked as (
      -- domain: r, f, m = ⌈5k/n⌉ where k counts the parties at or before this party's peer group
      -- in the ordering (ties included): the default window frame, RANGE up to the current row's
      -- last peer, counts exactly those. Integer division of (5k + n − 1) by n is that ceiling.
      select x.*,
             count(*) over () as n,
             count(*) over (order by x.recency_days desc) as k_recency,
             count(*) over (order by x.frequency) as k_frequency,
             count(*) over (order by x.monetary) as k_monetary,
             sum(x.recency_days) over () as sum_recency,
             sum(x.frequency) over () as sum_frequency,
             sum(x.monetary) over () as sum_monetary
      from inputs x
    ),
    rfm as (
      select x.*,
             ((5 * x.k_recency + x.n - 1) / x.n)::int as r,
             ((5 * x.k_frequency + x.n - 1) / x.n)::int as f,
             ((5 * x.k_monetary + x.n - 1) / x.n)::int as m,
             -- domain: high ⇔ strictly better than the population mean. value < sum/n is
             -- compared as value·n < sum, exactly, so a value equal to the mean is always low.
             x.recency_days * x.n < x.sum_recency as r_high,
             x.frequency * x.n > x.sum_frequency as f_high,
             x.monetary * x.n > x.sum_monetary as m_high,
             -- The score's common denominator 12·q (q = rated orders, at least 1): every
             -- component is an integer over it, so the weighted sum is one exact integer over it.
             greatest(x.rated, 1) as q
      from ranked x
    ),
    weighted as (
      select x.*,
             -- 100 × Σ weight·component, times 12q and 10^scale (weights as integers): (r−1)/4 =
             -- 3q(r−1)/12q; satisfaction (mean − 1)/4 = 3(Σrating − rated)/12q, or 0.5 = 6/12
             -- without a rating; min(1, c/3) = 4q·min(3, c)/12q; min(1, i/12) = q·min(12, i)/12q.
             100 * (${w.recency} * 3 * x.q * (x.r - 1)
                  + ${w.frequency} * 3 * x.q * (x.f - 1)
                  + ${w.monetary} * 3 * x.q * (x.m - 1)
                  + ${w.satisfaction} * case when x.rated > 0 then 3 * (x.rating_sum - x.rated) else 6 end
                  + ${w.referrals} * 4 * x.q * least(x.converted, 3)
                  + ${w.engagement} * x.q * least(x.interactions, 12)) as score_numerator
      from rfm x
    ),
    scored as (
      select x.*,
             -- domain: the score rounded to one decimal, half away from zero: for
             -- s = N/(12q·10^scale) ≥ 0 the tenths are ⌊10s + ½⌋ = ⌊(20N + 12q·10^scale) / (24q·10^scale)⌋,
             -- an exact integer division (of non-negative integers, so truncation is the floor).
             (${floorDiv(sql`20 * x.score_numerator + 12 * x.q * ${scale}`, sql`24 * x.q * ${scale}`)})::int as score_tenths,
             -- domain: churnRisk = 1 − exp(−recency / (2·typicalGap)). Beyond a ratio of 20 the
             -- value is within 3·10⁻⁹ of 1, i.e. 1 at the stored five decimals; exp() of a
             -- larger ratio would underflow a double.
             x.recency_days / (2 * x.typical_gap::float8) as silence_ratio
      from weighted x
    ),
    snapshot as (
      select x.party_id,
             x.recency_days, x.frequency, x.monetary,
             case when x.rated > 0 then x.rating_sum::numeric / x.rated end as satisfaction_mean,
             x.satisfying, x.converted, x.interactions, x.typical_gap,
             x.r, x.f, x.m,
             (case
                when x.r_high and x.f_high and x.m_high then 'IMPORTANT_VALUE'
                when x.r_high and not x.f_high and x.m_high then 'IMPORTANT_DEVELOP'
                when not x.r_high and x.f_high and x.m_high then 'IMPORTANT_RETAIN'
                when not x.r_high and not x.f_high and x.m_high then 'IMPORTANT_WIN_BACK'
                when x.r_high and x.f_high then 'GENERAL_VALUE'
                when x.r_high then 'GENERAL_DEVELOP'
                when x.f_high then 'GENERAL_RETAIN'
                else 'GENERAL_WIN_BACK'
              end)::segment as segment,
             -- Components are stored at the column's five decimals (rounded half away from zero);
             -- the score above uses their exact values.
             (x.r - 1) * 0.25 as recency_component,
             (x.f - 1) * 0.25 as frequency_component,
             (x.m - 1) * 0.25 as monetary_component,
             case when x.rated > 0 then (x.rating_sum - x.rated)::numeric / (4 * x.rated) else 0.5 end as satisfaction_component,
             least(x.converted, 3)::numeric / 3 as referrals_component,
             least(x.interactions, 12)::numeric / 12 as engagement_component,
             x.score_tenths * 0.1 as score,
             -- domain (membership tiers): the qualifying tier, what the day's value alone gives:
             -- by the (rounded) score (≥ platinum, ≥ gold, ≥ silver, else bronze), the net spend
             -- or the points earned in the window, as the tenant's basis says.
             ${qualifyingTier(membership, tiers)} as qualifying_tier,
             case when x.silence_ratio >= 20 then 1::numeric
                  else (1 - exp(-x.silence_ratio))::numeric end as churn_risk,
             -- domain: loyal ⇔ satisfying orders in the window ≥ loyalAfter.
             x.satisfying >= ${loyalAfter} as loyal
      from scored x
    ),
    previous as (
      -- domain (membership tiers): each party's tier before D is that of its latest evaluated day
      -- before D; an override holds from its day through its until (inclusive). That day is the
      -- tenant's previous scored day for nearly every party (\`last\`, hash-joined); a party
      -- scored before but not on it is looked up by the (tenant, party, day) key (\`prev\`, which
      -- the one-time filter skips for the others: a probe per party cost a tenth of the run). A
      -- party whose copy has no tier was never scored. Narrow on purpose: the tiers and their
      -- history both read it, so it is materialized, where the scored rows with every column
      -- were not (at 1,000,000 parties those spilled 430 MB to disk).
      select o.party_id,
             case when last.party_id is not null then last.tier else prev.tier end as prev_tier,
             case when last.party_id is not null then last.below_days else prev.below_days end as prev_below,
             coalesce(case when last.party_id is not null then last.overridden else prev.overridden end, false) as prev_overridden,
             o.override_tier,
             o.override_tier is not null and o.override_from <= ${day} and (o.override_until is null or ${day} <= o.override_until) as overridden
      from party_loyalty o
      left join loyalty_snapshots last on last.tenant_id = ${tenantId} and last.as_of = ${previousDay}::date and last.party_id = o.party_id
      left join lateral (
        select s.tier, s.below_days, s.overridden from loyalty_snapshots s
        where last.party_id is null and o.tier is not null
          and s.tenant_id = ${tenantId} and s.party_id = o.party_id and s.as_of < ${day}
        order by s.as_of desc limit 1
      ) prev on true
      where o.tenant_id = ${tenantId}
    ),
    tiered as (
      -- Upgrade at once; below the current tier on D and on each of the downgradeGraceDays
      -- evaluated days before it, one level down (0 days: straight to the qualifying tier), and
      -- the count starts again. The count is kept on each snapshot (below_days).
      select x.*, coalesce(p.overridden, false) as overridden,
             (case
                when p.overridden then p.override_tier
                when p.prev_tier is null then x.qualifying_tier
                when ${atLeast(sql`x.qualifying_tier`, sql`p.prev_tier`)} then x.qualifying_tier
                when ${grace}::int = 0 then x.qualifying_tier
                when coalesce(p.prev_below, 0) + 1 > ${grace}::int then ${oneLevelBelow(sql`p.prev_tier`)}
                else p.prev_tier
              end)::tier as tier,
             (case
                when p.overridden or p.prev_tier is null or ${atLeast(sql`x.qualifying_tier`, sql`p.prev_tier`)} or ${grace}::int = 0 then 0
                when coalesce(p.prev_below, 0) + 1 > ${grace}::int then 0
                else coalesce(p.prev_below, 0) + 1
              end)::smallint as below_days
      from snapshot x
      left join previous p on p.party_id = x.party_id
    ),
    deleted as (
      delete from loyalty_snapshots s
      where s.tenant_id = ${tenantId} and s.as_of = ${day}
      returning s.party_id
    ),
    cleared as (
      -- Reading every deleted row before the insert below yields its first row makes the delete
      -- complete first: the new rows reuse the deleted rows' keys.
      select count(*) as replaced from deleted
    ),
    inserted as (
      insert into loyalty_snapshots (
        tenant_id, party_id, as_of, run_id, recency_days, frequency, monetary, satisfaction_mean,
        satisfying_orders, converted_referrals, interactions, typical_gap_days, r, f, m, segment,
        recency_component, frequency_component, monetary_component, satisfaction_component,
        referrals_component, engagement_component, score, tier, qualifying_tier, below_days, overridden, churn_risk, loyal, rule_version)
      select ${tenantId}, x.party_id, ${day}, ${runId}::uuid, x.recency_days, x.frequency, x.monetary, x.satisfaction_mean,
             x.satisfying, x.converted, x.interactions, x.typical_gap, x.r, x.f, x.m, x.segment,
             x.recency_component, x.frequency_component, x.monetary_component, x.satisfaction_component,
             x.referrals_component, x.engagement_component, x.score, x.tier, x.qualifying_tier, x.below_days, x.overridden,
             x.churn_risk, x.loyal, ${ruleVersion}::int
      from tiered x cross join cleared
      -- In key order: the primary key and the foreign-key checks then walk their indexes
      -- in order instead of at random.
      order by x.party_id
      returning party_id, score, segment, tier, overridden
    ),
    history_cleared as (
      delete from tier_history h where h.tenant_id = ${tenantId} and h.as_of = ${day} and h.automatic
      returning 1
    ),
    history as (
      insert into tier_history (tenant_id, id, party_id, as_of, at, from_tier, to_tier, rule, automatic, actor_kind, actor_id)
      select ${tenantId}, gen_random_uuid(), c.party_id, ${day}, now(), c.from_tier, c.to_tier, c.rule, true, ${actor.actorKind}, ${actor.actorId}
      from (
        select i.party_id, p.prev_tier as from_tier, i.tier as to_tier,
               (case
                  when i.overridden then null
                  -- An override that ran out (a cleared one wrote its own OVERRIDE_ENDED row).
                  when p.prev_overridden and p.override_tier is not null then 'OVERRIDE_ENDED'
                  when p.prev_tier is null then 'FIRST'
                  when not ${atLeast(sql`p.prev_tier`, sql`i.tier`)} then 'UPGRADE'
                  when not ${atLeast(sql`i.tier`, sql`p.prev_tier`)} then 'DOWNGRADE'
                end)::tier_rule as rule
        from inserted i
        left join previous p on p.party_id = i.party_id
      ) c
      -- The day's rows of the rules, before this run (history_cleared), are not among these: a
      -- statement's parts all see the rows as they were when it started.
      where c.rule is not null
      returning party_id, from_tier, to_tier, rule
    ),${tierEvents ? tierEventsCte(tenantId, day) : sql``}
    dropped as (
      -- Parties scored for this day before but not now (archived since, say): their copy falls
      -- back to their latest other snapshot, earlier than this day (or to none). EXCEPT hashes
      -- or sorts; an anti-join between two CTE scans could be planned as a nested loop.
      select x.party_id, prev.as_of, prev.score, prev.segment, prev.tier
      from (select party_id from deleted except select party_id from inserted) x
      left join lateral (
        select s.as_of, s.score, s.segment, s.tier from loyalty_snapshots s
        where s.tenant_id = ${tenantId} and s.party_id = x.party_id and s.as_of < ${day}
        order by s.as_of desc limit 1
      ) prev on true
    ),
    latest as (
      select i.party_id, ${day} as as_of, i.score, i.segment, i.tier from inserted i
      union all
      select d.party_id, d.as_of, d.score, d.segment, d.tier from dropped d
    ),
    newer as (
      -- Whether the tenant has a day scored after this one (an older day scored again): then a
      -- party's latest snapshot may be newer than this day's, and its copy must not go back.
      select exists (select 1 from loyalty_snapshots s where s.tenant_id = ${tenantId} and s.as_of > ${day}) as found
    ),
    updated as (
      -- The party's copy of its latest snapshot (party_loyalty), for lists that filter and sort by
      -- it. Only copies that change are written: from one night to the next most parties keep
      -- their score, segment and tier (1.6 % changed between two nights of the benchmark), and
      -- each write is a new row version plus three index entries.
      update party_loyalty p
      set score = l.score, segment = l.segment, tier = l.tier
      from latest l${segmentEvents ? sql`
      -- The same row as it was before this statement: its segment before the update.
      join party_loyalty before on before.tenant_id = ${tenantId} and before.party_id = l.party_id` : sql``}
      where p.tenant_id = ${tenantId} and p.party_id = l.party_id
        and (p.score, p.segment, p.tier) is distinct from (l.score, l.segment, l.tier)
        and (not (select n.found from newer n)
             or not exists (select 1 from loyalty_snapshots s
                            where s.tenant_id = ${tenantId} and s.party_id = l.party_id and s.as_of > ${day}))
      returning ${segmentEvents ? sql`p.party_id as id, before.segment as from_segment, l.segment, l.as_of, l.score, l.tier` : sql`1`}
    )${segmentEvents ? segmentEventsCte(tenantId, day) : sql``}
    select (select count(*) from inserted)::int as scored,
           (select replaced from cleared)::int as replaced,
           (select count(*) from updated)::int as updated`;
}

/**
 * The outbox rows of `loyalty.segment_changed` (see `emitEvent`): one per party scored this day
 * whose segment differs from its copy before the run, per webhook listening: ids, segments, tier
 * and the score (a decimal as text, as the API writes it), no personal field.
 */
function segmentEventsCte(tenantId: string, day: SQL): SQL {
  const event: WebhookEvent = 'loyalty.segment_changed';
  return sql`,
    segment_events as (
      insert into ${webhookDeliveries} (tenant_id, id, webhook_id, event, payload)
      select w.tenant_id, gen_random_uuid(), w.id, ${event},
             jsonb_build_object('party', jsonb_build_object('id', u.id), 'from', u.from_segment, 'to', u.segment,
                                'asOf', u.as_of, 'score', u.score::text, 'tier', u.tier)
      from updated u cross join ${listeningWebhooks(tenantId, event)} w
      where u.as_of = ${day} and u.segment is distinct from u.from_segment
      returning 1
    )`;
}

/**
 * Whether tier `a` is the same as or above tier `b`, compared as the enum: its values are declared
 * PLATINUM first, so a higher tier sorts lower (an enum compares by its declared order, without
 * the casts to text a lookup of the level would cost per row).
 */
function atLeast(a: SQL, b: SQL): SQL {
  return sql`(${a} <= ${b})`;
}

/** The tier one level below (BRONZE stays BRONZE). */
function oneLevelBelow(value: SQL): SQL {
  return sql`(case ${value} when 'PLATINUM' then 'GOLD' when 'GOLD' then 'SILVER' else 'BRONZE' end)::tier`;
}

/** domain (membership tiers): the qualifying tier of `scored x` on the tenant's basis. */
function qualifyingTier(membership: MembershipSettings, scoreTiers: TenantSettings['scoring']['tiers']): SQL {
  const by = (value: SQL, at: { platinum: SQL; gold: SQL; silver: SQL }) => sql`(case
                when ${value} >= ${at.platinum} then 'PLATINUM'
                when ${value} >= ${at.gold} then 'GOLD'
                when ${value} >= ${at.silver} then 'SILVER'
                else 'BRONZE'
              end)::tier`;
  const levels = membership.thresholds;
  switch (membership.basis) {
    case 'SCORE':
      return by(sql`x.score_tenths`, { platinum: sql`${scoreTiers.platinum * 10}`, gold: sql`${scoreTiers.gold * 10}`, silver: sql`${scoreTiers.silver * 10}` });
    case 'SPEND':
      return by(sql`x.monetary`, { platinum: sql`${levels.platinum}::numeric`, gold: sql`${levels.gold}::numeric`, silver: sql`${levels.silver}::numeric` });
    case 'POINTS':
      return by(sql`x.points_earned`, { platinum: sql`${levels.platinum}::numeric`, gold: sql`${levels.gold}::numeric`, silver: sql`${levels.silver}::numeric` });
  }
}

/** The outbox rows of `loyalty.tier_changed`: one per tier history row the run writes, per webhook listening. */
function tierEventsCte(tenantId: string, day: SQL): SQL {
  const event: WebhookEvent = 'loyalty.tier_changed';
  return sql`
    tier_events as (
      insert into ${webhookDeliveries} (tenant_id, id, webhook_id, event, payload)
      select w.tenant_id, gen_random_uuid(), w.id, ${event},
             jsonb_build_object('party', jsonb_build_object('id', h.party_id), 'from', h.from_tier, 'to', h.to_tier, 'rule', h.rule, 'asOf', ${day}::text)
      from history h cross join ${listeningWebhooks(tenantId, event)} w
      returning 1
    ),`;
}
