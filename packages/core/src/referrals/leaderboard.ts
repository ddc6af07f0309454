import { and, eq, inArray, sql, type SQL } from 'drizzle-orm';
import { currentTenant } from '../access';
import { useTenantId, useTransaction } from '../drizzle/transaction';
import { UserError } from '../errors';
import { minorUnitDigits } from '../money';
import { orders } from '../network/orders.sql';
import { parentOf } from './graph';
import { uuidList } from '../pagination';
import { referrals, referralSubtreeSizes } from './referrals.sql';

export interface Period {
  since?: Date | null;
  until?: Date | null;
}

function checkPeriod(period: Period): void {
  if (period.since && period.until && period.since.getTime() > period.until.getTime()) {
    throw UserError.of('VALIDATION', 'until must not be before since', ['until']);
  }
}

/** domain: the half-open period [since, until) of referral creation; no bound, all time. */
function inPeriod(period: Period, column: SQL = sql`f.created_at`): SQL {
  const parts: SQL[] = [];
  if (period.since) parts.push(sql`${column} >= ${period.since.toISOString()}::timestamptz`);
  if (period.until) parts.push(sql`${column} < ${period.until.toISOString()}::timestamptz`);
  return parts.length ? sql.join(parts, sql` and `) : sql`true`;
}

/**
 * Runs the leaderboard and metric statements without JIT compilation. A recursive walk is costed
 * as if each step multiplied the rows, which puts it above jit_above_cost: on a tenant of a
 * million parties the compilation took ~0.9 s for a walk that ran in 0.2 s. The setting is local
 * to the transaction and put back afterwards.
 */
async function withoutJit<T>(work: () => Promise<T>): Promise<T> {
  const tx = useTransaction();
  const { rows } = await tx.execute<{ jit: string }>(sql`select current_setting('jit') as jit, set_config('jit', 'off', true)`);
  try {
    return await work();
  } finally {
    await tx.execute(sql`select set_config('jit', ${rows[0]?.jit ?? 'on'}, true)`);
  }
}

export const referrerRankings = ['CONVERSIONS', 'REVENUE', 'SUBTREE_SIZE'] as const;
export type ReferrerRanking = (typeof referrerRankings)[number];

export interface TopReferrer {
  partyId: string;
  conversions: number;
  /** Exact decimal text in the tenant's currency. */
  revenue: string;
  subtreeSize: number;
}

/**
 * The leaderboard (domain §3, top referrers). The period selects referrals by creation time, as
 * for referralStats, and every number counts only those referrals:
 * - the ranked parties are the referrers of the period's referrals (as `referrers` in the stats);
 * - conversions: their referrals that are now CONVERTED or REWARDED;
 * - revenue: the amounts of their referees' orders placed at or after the referral (the orders
 *   the referral brought), whatever the referral's status;
 * - subtreeSize: their descendants at any depth whose own referral is in the period — without
 *   bounds, all descendants (read from the materialised counts, referral_subtree_sizes).
 * Ranked by the chosen number, largest first, ties by party id.
 */
export async function topReferrers(options: Period & { by: ReferrerRanking; first?: number | null }): Promise<TopReferrer[]> {
  checkPeriod(options);
  const first = options.first ?? 10;
  if (!Number.isInteger(first) || first < 0 || first > 100) {
    throw UserError.of('VALIDATION', 'first is 0 to 100', ['first']);
  }
  if (first === 0) return [];
  return withoutJit(() => rankReferrers(options, first));
}

async function rankReferrers(options: Period & { by: ReferrerRanking }, first: number): Promise<TopReferrer[]> {
  const tx = useTransaction();
  const tenantId = useTenantId();
  const digits = minorUnitDigits((await currentTenant()).currency);
  const allTime = !options.since && !options.until;
  const period = inPeriod(options);

  // The period's subtree sizes: every referral of the period counts once for each of its
  // ancestors. Walks up from the period's referrals only, so it costs what the period holds.
  const periodSubtrees = sql`
    with recursive up(ancestor, n) as (
      select f.referrer_id, 1 from ${referrals} f where f.tenant_id = ${tenantId} and ${period}
      union all
      select f.referrer_id, up.n + 1 from up cross join lateral (${parentOf(sql`up.ancestor`)}) f
      where up.n < 100000
    )
    select ancestor as party_id, count(*)::int as size from up group by ancestor`;

  // 1. The ranking: ids in order.
  let ranked: string[];
  if (options.by === 'SUBTREE_SIZE' && allTime) {
    const rows = await tx
      .select({ partyId: referralSubtreeSizes.partyId })
      .from(referralSubtreeSizes)
      .where(eq(referralSubtreeSizes.tenantId, tenantId))
      // As the index sorts (descendants DESC NULLS LAST): a plain DESC means NULLS FIRST and sorts the tenant.
      .orderBy(sql`${referralSubtreeSizes.descendants} desc nulls last`, referralSubtreeSizes.partyId)
      .limit(first);
    ranked = rows.map((row) => row.partyId);
  } else if (options.by === 'SUBTREE_SIZE') {
    const { rows } = await tx.execute<{ id: string }>(sql`
      with sizes as (${periodSubtrees})
      select s.party_id::text as id from sizes s
      where s.party_id in (select f.referrer_id from ${referrals} f where f.tenant_id = ${tenantId} and ${period})
      order by s.size desc, s.party_id
      limit ${first}::int`);
    ranked = rows.map((row) => row.id);
  } else {
    const metric =
      options.by === 'CONVERSIONS'
        ? sql`count(*) filter (where f.status in ('CONVERTED', 'REWARDED'))`
        : sql`coalesce(sum(o.amount), 0)`;
    const { rows } = await tx.execute<{ id: string }>(sql`
      select f.referrer_id::text as id from ${referrals} f
      ${options.by === 'REVENUE' ? revenueJoin(tenantId) : sql``}
      where f.tenant_id = ${tenantId} and ${period}
      group by f.referrer_id
      order by ${metric} desc, f.referrer_id
      limit ${first}::int`);
    ranked = rows.map((row) => row.id);
  }
  if (ranked.length === 0) return [];

  // 2. Every number for the ranked parties. Conversions and revenue are summed per referral
  // first, so one referee's many orders never count its referral twice.
  const ids = uuidList(ranked);
  const { rows: numbers } = await tx.execute<{ id: string; conversions: number; revenue: string }>(sql`
    select f.referrer_id::text as id,
      count(*) filter (where f.status in ('CONVERTED', 'REWARDED'))::int as conversions,
      round(coalesce(sum(rev.amount), 0), ${digits}::int)::text as revenue
    from ${referrals} f
    left join lateral (
      select sum(o.amount) as amount from ${orders} o
      where o.tenant_id = f.tenant_id and o.party_id = f.referee_id and o.placed_at >= f.created_at
    ) rev on true
    where f.tenant_id = ${tenantId} and f.referrer_id in ${ids} and ${period}
    group by f.referrer_id`);
  const sizes = new Map<string, number>();
  if (allTime) {
    const rows = await tx
      .select({ partyId: referralSubtreeSizes.partyId, descendants: referralSubtreeSizes.descendants })
      .from(referralSubtreeSizes)
      .where(and(eq(referralSubtreeSizes.tenantId, tenantId), inArray(referralSubtreeSizes.partyId, ranked)));
    for (const row of rows) sizes.set(row.partyId, row.descendants);
  } else {
    const { rows } = await tx.execute<{ id: string; size: number }>(sql`
      with sizes as (${periodSubtrees})
      select party_id::text as id, size from sizes where party_id in ${ids}`);
    for (const row of rows) sizes.set(row.id, Number(row.size));
  }
  const byId = new Map(numbers.map((row) => [row.id, row]));
  const zero = (0).toFixed(digits);
  return ranked.map((partyId) => ({
    partyId,
    conversions: Number(byId.get(partyId)?.conversions ?? 0),
    revenue: byId.get(partyId)?.revenue ?? zero,
    subtreeSize: sizes.get(partyId) ?? 0,
  }));
}

function revenueJoin(tenantId: string): SQL {
  return sql`left join ${orders} o on o.tenant_id = ${tenantId} and o.party_id = f.referee_id and o.placed_at >= f.created_at`;
}

export interface ReferralStats {
  referrals: number;
  converted: number;
  conversionRate: number;
  referrers: number;
  kFactor: number;
  /** Exact decimal text in the tenant's currency. */
  rewardsPaid: string;
  /** Member points paid as rewards (reward policy POINTS), by the same period rule. */
  rewardPointsPaid: number;
}

/**
 * domain §3 metrics over [since, until) of creation time, unrounded: referrals, converted (now
 * CONVERTED or REWARDED), conversion rate = converted ÷ referrals (0 without referrals), referrers
 * (distinct), k-factor = (referrals ÷ referrers) × conversion rate (0 without referrers). Rewards
 * paid: the rewards of referrals rewarded in the period, i.e. whose `rewardedAt` lies in
 * [since, until) — money paid out in the period, whenever the referral was made.
 */
export async function referralStats(period: Period = {}): Promise<ReferralStats> {
  checkPeriod(period);
  const tenantId = useTenantId();
  const digits = minorUnitDigits((await currentTenant()).currency);
  const { rows } = await withoutJit(() => useTransaction().execute<{ referrals: number; converted: number; referrers: number; rewards_paid: string; reward_points_paid: string }>(sql`
    select
      (select count(*)::int from ${referrals} f where f.tenant_id = ${tenantId} and ${inPeriod(period)}) as referrals,
      (select count(*)::int from ${referrals} f where f.tenant_id = ${tenantId} and ${inPeriod(period)}
         and f.status in ('CONVERTED', 'REWARDED')) as converted,
      (select count(distinct f.referrer_id)::int from ${referrals} f where f.tenant_id = ${tenantId} and ${inPeriod(period)}) as referrers,
      (select round(coalesce(sum(f.reward_amount), 0), ${digits}::int)::text from ${referrals} f
         where f.tenant_id = ${tenantId} and f.status = 'REWARDED' and ${inPeriod(period, sql`f.rewarded_at`)}) as rewards_paid,
      (select coalesce(sum(f.reward_points), 0)::text from ${referrals} f
         where f.tenant_id = ${tenantId} and f.status = 'REWARDED' and ${inPeriod(period, sql`f.rewarded_at`)}) as reward_points_paid`));
  const row = rows[0]!;
  const made = Number(row.referrals);
  const converted = Number(row.converted);
  const referrers = Number(row.referrers);
  const conversionRate = made === 0 ? 0 : converted / made;
  const kFactor = referrers === 0 ? 0 : (made / referrers) * conversionRate;
  return { referrals: made, converted, conversionRate, referrers, kFactor, rewardsPaid: String(row.rewards_paid), rewardPointsPaid: Number(row.reward_points_paid) };
}
