import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApi, type TestApi } from '../../test/helpers';
import { hour, referralTables } from '../../test/referrals';

let api: TestApi;
beforeAll(async () => {
  // The forest makes a few hundred requests per tenant.
  api = await createTestApi({ rateLimits: null });
});
afterAll(() => api.close());
const { forest } = referralTables(() => api);

const cents = (amount: string) => {
  const [whole, fraction = ''] = amount.split('.');
  return BigInt(whole! + fraction.padEnd(2, '0').slice(0, 2));
};
const money = (value: bigint) => `${value / 100n}.${String(value % 100n).padStart(2, '0')}`;

describe('leaderboard and stats', () => {
  test('topReferrers and referralStats match sums over the rows read back, all time and over periods', async () => {
    const tenant = await api.newTenant();
    const { base, rows, orderRows, chainOf, partyId } = await forest(tenant);

    // Leaderboard and stats over all time and over periods.
    const periods: { since?: number; until?: number }[] = [{}, { since: base + 8 * hour, until: base + 20 * hour }, { since: base + 25 * hour }, { until: base + 6 * hour }, { since: base + 5 * hour, until: base + 5 * hour }];
    for (const period of periods) {
      const inPeriod = (ms: number | null) => ms !== null && (period.since === undefined || ms >= period.since) && (period.until === undefined || ms < period.until);
      const chosen = rows.filter((r) => inPeriod(Number(r.created_ms)));
      const referrers = [...new Set(chosen.map((r) => r.referrer_id))];
      const numbers = referrers.map((referrer) => {
        const own = chosen.filter((r) => r.referrer_id === referrer);
        const conversions = own.filter((r) => r.status === 'CONVERTED' || r.status === 'REWARDED').length;
        const revenue = own.reduce(
          (sum, r) =>
            sum + orderRows.filter((o) => o.party_id === r.referee_id && Number(o.placed_ms) >= Number(r.created_ms)).reduce((s, o) => s + cents(o.amount), 0n),
          0n,
        );
        const subtreeSize = chosen.filter((r) => chainOf(r.referee_id).includes(referrer)).length;
        return { party: referrer, conversions, revenue, subtreeSize };
      });
      const args = { since: period.since === undefined ? null : new Date(period.since).toISOString(), until: period.until === undefined ? null : new Date(period.until).toISOString() };
      for (const by of ['CONVERSIONS', 'REVENUE', 'SUBTREE_SIZE'] as const) {
        const key = (n: (typeof numbers)[number]) => (by === 'CONVERSIONS' ? BigInt(n.conversions) : by === 'REVENUE' ? n.revenue : BigInt(n.subtreeSize));
        const expected = [...numbers]
          .sort((x, y) => (key(y) > key(x) ? 1 : key(y) < key(x) ? -1 : x.party < y.party ? -1 : 1))
          .slice(0, 5)
          .map((n) => ({ party: { id: partyId(n.party) }, conversions: n.conversions, revenue: { amount: money(n.revenue), currency: 'CNY' }, subtreeSize: n.subtreeSize }));
        const { topReferrers } = await tenant.query(
          `query ($since: DateTime, $until: DateTime, $by: ReferrerRanking!) { topReferrers(since: $since, until: $until, by: $by, first: 5) { party { id } conversions revenue { amount currency } subtreeSize } }`,
          { ...args, by },
        );
        expect(topReferrers).toEqual(expected);
      }

      const convertedCount = chosen.filter((r) => r.status === 'CONVERTED' || r.status === 'REWARDED').length;
      const conversionRate = chosen.length === 0 ? 0 : convertedCount / chosen.length;
      const rewardsPaid = rows
        .filter((r) => r.status === 'REWARDED' && inPeriod(r.rewarded_ms === null ? null : Number(r.rewarded_ms)))
        .reduce((sum, r) => sum + cents(r.reward_amount!), 0n);
      const { referralStats } = await tenant.query(
        `query ($since: DateTime, $until: DateTime) { referralStats(since: $since, until: $until) { referrals converted conversionRate referrers kFactor rewardsPaid { amount currency } } }`,
        args,
      );
      expect(referralStats).toEqual({
        referrals: chosen.length,
        converted: convertedCount,
        conversionRate,
        referrers: referrers.length,
        kFactor: referrers.length === 0 ? 0 : (chosen.length / referrers.length) * conversionRate,
        rewardsPaid: { amount: money(rewardsPaid), currency: 'CNY' },
      });
    }
  });

  test('limits, and zeros for a tenant without referrals', async () => {
    const tenant = await api.newTenant();
    const top = await tenant.request(`{ topReferrers(by: REVENUE, first: 101) { subtreeSize } }`);
    expect(top.errors?.[0]?.extensions?.code).toBe('VALIDATION');
    const backwards = await tenant.request(`{ referralStats(since: "2025-02-01T00:00:00Z", until: "2025-01-01T00:00:00Z") { referrals } }`);
    expect(backwards.errors?.[0]?.extensions?.code).toBe('VALIDATION');
    // An empty tenant: zeros, not NaN.
    expect((await tenant.query(`{ referralStats { referrals converted conversionRate referrers kFactor rewardsPaid { amount currency } } topReferrers(by: SUBTREE_SIZE) { subtreeSize } }`))).toEqual({
      referralStats: { referrals: 0, converted: 0, conversionRate: 0, referrers: 0, kFactor: 0, rewardsPaid: { amount: '0.00', currency: 'CNY' } },
      topReferrers: [],
    });
  });
});
