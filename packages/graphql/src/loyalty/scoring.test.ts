import { randomUUID } from 'node:crypto';
import {
  runNightlyScoring,
  runTenantScoring,
  scoreTenant,
  segments as allSegments,
  type ScoringRunResult,
} from '@guanxi/core/loyalty';
import { applyStagePolicy } from '@guanxi/core/stages';
import { tenantExec, tenantRows, usingPostgres } from '@guanxi/core/test';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApi, postGraphQL, type TenantClient, type TestApi } from '../../test/helpers';

let api: TestApi;
beforeAll(async () => {
  api = await createTestApi();
});
afterAll(() => api.close());

// ---------------------------------------------------------------------------------------------
// Exact rationals, for a reference computation that shares nothing with the SQL.

const abs = (v: bigint) => (v < 0n ? -v : v);
const gcd = (a: bigint, b: bigint): bigint => (b === 0n ? a : gcd(b, a % b));

class Q {
  readonly n: bigint;
  readonly d: bigint;
  constructor(n: bigint | number, d: bigint | number = 1n) {
    let num = BigInt(n);
    let den = BigInt(d);
    if (den < 0n) [num, den] = [-num, -den];
    const g = gcd(abs(num), den) || 1n;
    this.n = num / g;
    this.d = den / g;
  }
  /** "25.50" → 51/2; a JSON weight such as 0.15 is taken as the decimal it is written as. */
  static dec(text: string | number): Q {
    const [whole, fraction = ''] = String(text).split('.');
    return new Q(BigInt(`${whole}${fraction}`), 10n ** BigInt(fraction.length));
  }
  add(o: Q) {
    return new Q(this.n * o.d + o.n * this.d, this.d * o.d);
  }
  sub(o: Q) {
    return new Q(this.n * o.d - o.n * this.d, this.d * o.d);
  }
  mul(o: Q | number) {
    const q = typeof o === 'number' ? new Q(o) : o;
    return new Q(this.n * q.n, this.d * q.d);
  }
  div(o: Q | number) {
    const q = typeof o === 'number' ? new Q(o) : o;
    return new Q(this.n * q.d, this.d * q.n);
  }
  cmp(o: Q): number {
    const diff = this.n * o.d - o.n * this.d;
    return diff < 0n ? -1 : diff > 0n ? 1 : 0;
  }
  min(o: Q) {
    return this.cmp(o) <= 0 ? this : o;
  }
  /** Rounded half away from zero (values here are never negative) to `digits` decimals, as text. */
  fixed(digits: number): string {
    const scale = 10n ** BigInt(digits);
    const units = (2n * this.n * scale + this.d) / (2n * this.d);
    const text = units.toString().padStart(digits + 1, '0');
    return digits === 0 ? text : `${text.slice(0, -digits)}.${text.slice(-digits)}`;
  }
  valueOf() {
    return Number(this.n) / Number(this.d);
  }
}

// ---------------------------------------------------------------------------------------------
// Fixtures: rows written straight into the tables as the tenant's application role.

/** Refunds of an order: when each was made and how much. */
type RefundSpec = [createdAt: string, amount: string];
type OrderSpec = [placedAt: string, amount: string, satisfaction?: number | null, refunds?: RefundSpec[]];
interface PartySpec {
  key: string;
  archived?: boolean;
  orders?: OrderSpec[];
  interactions?: string[];
}
interface ReferralSpec {
  referrer: string;
  referee: string;
  status: 'PENDING' | 'CONVERTED' | 'REWARDED' | 'REJECTED';
  convertedAt?: string;
}

async function load(tenantId: string, parties: PartySpec[], referrals: ReferralSpec[] = []): Promise<Map<string, string>> {
  const all = [...parties];
  for (const r of referrals) {
    for (const key of [r.referrer, r.referee]) if (!all.some((p) => p.key === key)) all.push({ key });
  }
  const ids = new Map(all.map((p) => [p.key, randomUUID()]));
  // The sql tag comes from the fixture helper: this package does not depend on drizzle itself.
  type Fragment = ReturnType<Parameters<typeof tenantExec>[2]>;
  const exec = (build: (tag: Parameters<Parameters<typeof tenantExec>[2]>[0]) => Fragment) => tenantExec(api.handle, tenantId, build);
  // Created long before the days scored, as customers with a history are (the stage policy only
  // considers parties that existed on the day).
  await exec((sql) => sql`insert into parties (tenant_id, id, kind, display_name, archived_at, created_at, stage_changed_at) values ${sql.join(
    all.map((p) => sql`(${tenantId}::uuid, ${ids.get(p.key)}::uuid, 'CUSTOMER', ${p.key}, ${p.archived ? sql`now()` : sql`null`}, '2023-01-01T00:00:00Z', '2023-01-01T00:00:00Z')`),
    sql`, `,
  )}`);
  const orders = all.flatMap((p) => (p.orders ?? []).map((o) => ({ party: ids.get(p.key)!, o, id: randomUUID() })));
  if (orders.length) {
    await exec((sql) => sql`insert into orders (tenant_id, id, party_id, amount, currency, placed_at, satisfaction) values ${sql.join(
      orders.map(({ party, o, id }) => sql`(${tenantId}::uuid, ${id}::uuid, ${party}::uuid, ${o[1]}::numeric, 'CNY', ${o[0]}::timestamptz, ${o[2] ?? null}::smallint)`),
      sql`, `,
    )}`);
  }
  const refunds = orders.flatMap(({ o, id }) => (o[3] ?? []).map(([at, amount]) => ({ order: id, at, amount })));
  if (refunds.length) {
    await exec((sql) => sql`insert into order_refunds (tenant_id, id, order_id, amount, currency, actor_kind, actor_id, created_at) values ${sql.join(
      refunds.map((f) => sql`(${tenantId}::uuid, gen_random_uuid(), ${f.order}::uuid, ${f.amount}::numeric, 'CNY', 'SYSTEM', 'test', ${f.at}::timestamptz)`),
      sql`, `,
    )}`);
  }
  const touches = all.flatMap((p) => (p.interactions ?? []).map((at) => ({ party: ids.get(p.key)!, at })));
  if (touches.length) {
    await exec((sql) => sql`insert into interactions (tenant_id, id, party_id, kind, occurred_at, actor_kind, actor_id) values ${sql.join(
      touches.map(({ party, at }) => sql`(${tenantId}::uuid, gen_random_uuid(), ${party}::uuid, 'CALL', ${at}::timestamptz, 'SYSTEM', 'test')`),
      sql`, `,
    )}`);
  }
  for (const r of referrals) {
    const converted = r.convertedAt ?? null;
    await exec((sql) => sql`insert into referrals (tenant_id, id, referrer_id, referee_id, status, created_at, converted_at, rewarded_at, rejected_at, rejected_reason)
      values (${tenantId}::uuid, gen_random_uuid(), ${ids.get(r.referrer)}::uuid, ${ids.get(r.referee)}::uuid, ${r.status}::referral_status,
              '2023-01-01T00:00:00Z'::timestamptz, ${converted}::timestamptz,
              ${r.status === 'REWARDED' ? converted : null}::timestamptz,
              ${r.status === 'REJECTED' ? '2023-02-01T00:00:00Z' : null}::timestamptz,
              ${r.status === 'REJECTED' ? 'test' : null})`);
  }
  return ids;
}

function mulberry32(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const DAY = 86_400_000;
const dayNumber = (date: string) => Date.parse(`${date}T00:00:00Z`) / DAY;
const isoAt = (day: number, ms = 0) => new Date(day * DAY + ms).toISOString();

/** Random parties around day D: ties on purpose (few amounts), rated and unrated, some archived. */
function randomParties(asOf: string, count: number, seed: number): PartySpec[] {
  const random = mulberry32(seed);
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
  const d = dayNumber(asOf);
  return withRandomRefunds(asOf, seed, Array.from({ length: count }, (_, i) => ({
    key: `random-${i}`,
    archived: random() < 0.08,
    orders: Array.from({ length: Math.floor(random() * 7) }, () => [
      isoAt(d - Math.floor(random() * 520) + (random() < 0.05 ? 400 : 0), Math.floor(random() * DAY)),
      pick(['10.00', '25.50', '25.50', '99.99', '100.00', '0.00', '1234.56']),
      pick([null, null, 1, 2, 3, 4, 5, 5]),
    ] as OrderSpec),
    interactions: Array.from({ length: Math.floor(random() * 16) }, () => isoAt(d - Math.floor(random() * 420) + 10, Math.floor(random() * DAY))),
  })));
}

/**
 * About one order in six gets refunds, from a generator of its own: all of it (in one or two
 * refunds), or 1.00 of it; some refunds come after D, some orders are refunded in full by D.
 */
function withRandomRefunds(asOf: string, seed: number, parties: PartySpec[]): PartySpec[] {
  const random = mulberry32(seed ^ 0x5eed);
  const d = dayNumber(asOf);
  for (const party of parties) {
    party.orders = party.orders?.map((o): OrderSpec => {
      if (o[1] === '0.00' || random() >= 0.17) return o;
      const placed = Math.floor(Date.parse(o[0]) / DAY);
      const at = () => isoAt(Math.min(placed + Math.floor(random() * 40), d + 5), Math.floor(random() * DAY));
      const kind = random();
      const amount = Q.dec(o[1]);
      const refunds: RefundSpec[] =
        kind < 0.4 ? [[at(), o[1]]] : kind < 0.7 ? [[at(), '1.00'], [at(), amount.sub(new Q(1)).fixed(2)]] : [[at(), '1.00']];
      return [o[0], o[1], o[2], refunds];
    });
  }
  return parties;
}

const D = '2025-06-30';

/**
 * The hand-made cases (window with the default 365 days: 2024-07-01 … 2025-06-30): ties,
 * single-order customers, orders outside the window and after D (a time-zone trap included), an
 * archived party, rated and unrated orders, interactions and referrals in and out of the window.
 */
function handMade(): { parties: PartySpec[]; referrals: ReferralSpec[] } {
  const heavyOrders: OrderSpec[] = Array.from({ length: 9 }, (_, i) => [isoAt(dayNumber(D) - 7 * i, 3_600_000), '5000.00', 5]);
  return {
    parties: [
      { key: 'tieA', orders: [['2025-06-01T10:00:00Z', '100.00']] },
      { key: 'tieB', orders: [['2025-06-01T23:00:00Z', '100.00']] },
      { key: 'single', orders: [['2025-03-15T12:00:00Z', '40.00', 5]] },
      { key: 'outside', orders: [['2023-05-01T08:00:00Z', '500.00', 5], ['2024-06-30T23:59:59.999Z', '500.00', 2]] },
      {
        key: 'edge',
        orders: [
          ['2024-07-01T00:00:00.000Z', '10.00'],
          ['2025-06-30T23:59:59.999Z', '20.00', 4],
          ['2025-07-01T00:00:00.000Z', '1000.00', 1],
          // 22:00 in New York on D is already D + 1 in UTC: not an order of D.
          ['2025-06-30T22:00:00-05:00', '1000.00', 1],
        ],
      },
      { key: 'archived', archived: true, orders: [['2025-06-29T10:00:00Z', '9999.00', 5]] },
      { key: 'future', orders: [['2025-07-02T10:00:00Z', '50.00', 5]] },
      {
        key: 'sameDay',
        orders: [['2025-06-20T01:00:00Z', '5.00', 4], ['2025-06-20T09:00:00Z', '5.00', 4], ['2025-06-20T20:00:00Z', '5.00']],
      },
      { key: 'rated', orders: [['2025-01-10T10:00:00Z', '30.00', 1], ['2025-02-10T10:00:00Z', '30.00', 2], ['2025-04-10T10:00:00Z', '30.00', 3]] },
      { key: 'referrer', orders: [['2024-12-24T10:00:00Z', '60.00', 4]] },
      { key: 'bigReferrer', orders: [['2024-11-11T11:11:11Z', '11.11']] },
      {
        key: 'engaged',
        orders: [['2025-05-05T05:05:05Z', '70.00', null], ['2025-05-25T05:05:05Z', '70.00', 5]],
        interactions: [
          ...Array.from({ length: 13 }, (_, i) => isoAt(dayNumber(D) - 20 * i, 1000)),
          '2024-06-30T23:00:00Z',
          '2025-07-01T00:00:00Z',
        ],
      },
      { key: 'someEngaged', orders: [['2025-06-25T10:00:00Z', '15.00', 3]], interactions: ['2025-01-01T00:00:00Z', '2025-02-01T00:00:00Z', '2025-03-01T00:00:00Z', '2025-04-01T00:00:00Z', '2025-06-30T23:59:00Z'] },
      { key: 'noOrders', interactions: ['2025-06-01T00:00:00Z'] },
      // domain (refunds): all refunded by D: not scored; refunded after D: counts on D.
      { key: 'refundedAll', orders: [['2025-06-10T10:00:00Z', '80.00', 5, [['2025-06-11T10:00:00Z', '30.00'], ['2025-06-30T23:00:00Z', '50.00']]]] },
      { key: 'refundedLater', orders: [['2025-06-10T10:00:00Z', '80.00', 5, [['2025-07-01T00:00:00Z', '80.00']]]] },
      // A partly refunded order counts at its net amount; a fully refunded one leaves recency.
      {
        key: 'refundedPartly',
        orders: [
          ['2025-03-01T10:00:00Z', '100.00', 2, [['2025-03-05T10:00:00Z', '30.00']]],
          ['2025-06-28T10:00:00Z', '20.00', 5, [['2025-06-29T10:00:00Z', '20.00']]],
        ],
      },
      // Every order rated 5, most frequent, most spent, bought on D: 100·(0.25+0.25+0.2+0.15) = 85.0.
      { key: 'heavy', orders: heavyOrders },
    ],
    referrals: [
      { referrer: 'referrer', referee: 'ref-1', status: 'CONVERTED', convertedAt: '2025-06-30T23:59:59Z' },
      { referrer: 'referrer', referee: 'ref-2', status: 'REWARDED', convertedAt: '2024-07-01T00:00:00Z' },
      { referrer: 'referrer', referee: 'ref-3', status: 'CONVERTED', convertedAt: '2024-06-30T23:59:59Z' },
      { referrer: 'referrer', referee: 'ref-4', status: 'CONVERTED', convertedAt: '2025-07-01T00:00:00Z' },
      { referrer: 'referrer', referee: 'ref-5', status: 'PENDING' },
      { referrer: 'referrer', referee: 'ref-6', status: 'REJECTED' },
      ...[1, 2, 3, 4].map((i) => ({ referrer: 'bigReferrer', referee: `big-ref-${i}`, status: 'REWARDED' as const, convertedAt: `2025-0${i}-15T12:00:00Z` })),
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// The reference: domain §4 computed in TypeScript from the raw rows.

interface Expected {
  recencyDays: number;
  frequency: number;
  monetary: Q;
  satisfactionMean: Q | null;
  satisfyingOrders: number;
  convertedReferrals: number;
  interactions: number;
  typicalGap: number;
  r: number;
  f: number;
  m: number;
  segment: string;
  components: Record<'recency' | 'frequency' | 'monetary' | 'satisfaction' | 'referrals' | 'engagement', Q>;
  score: string;
  tier: string;
  churnRisk: number;
  loyal: boolean;
  ruleVersion: number;
}

async function reference(tenantId: string, asOf: string): Promise<Map<string, Expected>> {
  const read = <T extends Record<string, unknown>>(query: string) => tenantRows<T>(api.handle, tenantId, query);
  const [tenant] = await read<{ settings: any; rule_version: number }>('select settings, rule_version from tenants');
  const { windowDays, weights, tiers } = tenant!.settings.scoring;
  const loyalAfter: number = tenant!.settings.stagePolicy.loyalAfter;
  const parties = await read<{ id: string; archived: boolean }>('select id::text as id, archived_at is not null as archived from parties');
  const ms = (column: string) => `(extract(epoch from ${column}) * 1000)::bigint::text`;
  const allOrders = await read<{ id: string; party_id: string; amount: string; at: string; satisfaction: number | null }>(
    `select id::text as id, party_id::text as party_id, amount::text as amount, ${ms('placed_at')} as at, satisfaction from orders`,
  );
  const refunds = await read<{ order_id: string; amount: string; at: string }>(
    `select order_id::text as order_id, amount::text as amount, ${ms('created_at')} as at from order_refunds`,
  );
  const touches = await read<{ party_id: string; at: string }>(`select party_id::text as party_id, ${ms('occurred_at')} as at from interactions`);
  const referrals = await read<{ referrer_id: string; status: string; at: string | null }>(
    `select referrer_id::text as referrer_id, status::text as status, ${ms('converted_at')} as at from referrals`,
  );
  const dayOf = (msText: string) => Math.floor(Number(msText) / DAY);
  const d = dayNumber(asOf);
  const first = d - (windowDays - 1);
  const inWindow = (day: number) => day >= first && day <= d;
  // domain (refunds): the refunds made on or before D. A fully refunded order counts nowhere; the
  // others count at their net amount.
  const orders = allOrders
    .map((o) => {
      const refunded = refunds.filter((f) => f.order_id === o.id && dayOf(f.at) <= d).reduce((sum, f) => sum.add(Q.dec(f.amount)), new Q(0));
      const amount = Q.dec(o.amount);
      return { ...o, net: amount.sub(refunded), full: refunded.cmp(new Q(0)) > 0 && refunded.cmp(amount) >= 0 };
    })
    .filter((o) => !o.full);

  const rows = parties
    .filter((p) => !p.archived)
    .map((p) => {
      const mine = orders.filter((o) => o.party_id === p.id && dayOf(o.at) <= d);
      const window = mine.filter((o) => inWindow(dayOf(o.at)));
      const rated = window.filter((o) => o.satisfaction !== null);
      const days = window.map((o) => dayOf(o.at)).sort((a, b) => a - b);
      let typicalGap = windowDays / 2;
      if (days.length >= 2) {
        let gaps = 0;
        for (let i = 1; i < days.length; i++) gaps += days[i]! - days[i - 1]!;
        typicalGap = Math.max(1, gaps / (days.length - 1));
      }
      return {
        id: p.id,
        any: mine.length > 0,
        recencyDays: mine.length ? d - Math.max(...mine.map((o) => dayOf(o.at))) : 0,
        frequency: window.length,
        monetary: window.reduce((sum, o) => sum.add(o.net), new Q(0)),
        ratingSum: rated.reduce((sum, o) => sum + o.satisfaction!, 0),
        rated: rated.length,
        satisfyingOrders: window.filter((o) => o.satisfaction === null || o.satisfaction >= 4).length,
        interactions: touches.filter((t) => t.party_id === p.id && inWindow(dayOf(t.at))).length,
        convertedReferrals: referrals.filter(
          (r) => r.referrer_id === p.id && ['CONVERTED', 'REWARDED'].includes(r.status) && r.at !== null && inWindow(dayOf(r.at)),
        ).length,
        typicalGap,
      };
    })
    .filter((p) => p.any);

  const n = rows.length;
  const quintile = (k: number) => Math.floor((5 * k + n - 1) / n);
  const sumRecency = rows.reduce((s, p) => s + p.recencyDays, 0);
  const sumFrequency = rows.reduce((s, p) => s + p.frequency, 0);
  const sumMonetary = rows.reduce((s, p) => s.add(p.monetary), new Q(0));
  const segmentOf: Record<string, string> = {
    HHH: 'IMPORTANT_VALUE',
    HLH: 'IMPORTANT_DEVELOP',
    LHH: 'IMPORTANT_RETAIN',
    LLH: 'IMPORTANT_WIN_BACK',
    HHL: 'GENERAL_VALUE',
    HLL: 'GENERAL_DEVELOP',
    LHL: 'GENERAL_RETAIN',
    LLL: 'GENERAL_WIN_BACK',
  };
  const expected = new Map<string, Expected>();
  for (const p of rows) {
    const r = quintile(rows.filter((o) => o.recencyDays >= p.recencyDays).length);
    const f = quintile(rows.filter((o) => o.frequency <= p.frequency).length);
    const m = quintile(rows.filter((o) => o.monetary.cmp(p.monetary) <= 0).length);
    const high = [
      p.recencyDays * n < sumRecency,
      p.frequency * n > sumFrequency,
      p.monetary.mul(n).cmp(sumMonetary) > 0,
    ].map((h) => (h ? 'H' : 'L'));
    const mean = p.rated ? new Q(p.ratingSum, p.rated) : null;
    const components = {
      recency: new Q(r - 1, 4),
      frequency: new Q(f - 1, 4),
      monetary: new Q(m - 1, 4),
      satisfaction: mean ? mean.sub(new Q(1)).div(4) : new Q(1, 2),
      referrals: new Q(p.convertedReferrals, 3).min(new Q(1)),
      engagement: new Q(p.interactions, 12).min(new Q(1)),
    };
    const score = (Object.keys(components) as (keyof typeof components)[])
      .reduce((sum, c) => sum.add(Q.dec(weights[c]).mul(components[c])), new Q(0))
      .mul(100);
    const rounded = score.fixed(1);
    const tier =
      Q.dec(rounded).cmp(new Q(tiers.platinum)) >= 0
        ? 'PLATINUM'
        : Q.dec(rounded).cmp(new Q(tiers.gold)) >= 0
          ? 'GOLD'
          : Q.dec(rounded).cmp(new Q(tiers.silver)) >= 0
            ? 'SILVER'
            : 'BRONZE';
    expected.set(p.id, {
      recencyDays: p.recencyDays,
      frequency: p.frequency,
      monetary: p.monetary,
      satisfactionMean: mean,
      satisfyingOrders: p.satisfyingOrders,
      convertedReferrals: p.convertedReferrals,
      interactions: p.interactions,
      typicalGap: p.typicalGap,
      r,
      f,
      m,
      segment: segmentOf[high.join('')]!,
      components,
      score: rounded,
      tier,
      churnRisk: 1 - Math.exp(-p.recencyDays / (2 * p.typicalGap)),
      loyal: p.satisfyingOrders >= loyalAfter,
      ruleVersion: tenant!.rule_version,
    });
  }
  return expected;
}

interface StoredRow extends Record<string, unknown> {
  party_id: string;
  run_id: string | null;
  recency_days: number;
  frequency: number;
  monetary: string;
  satisfaction_mean: string | null;
  satisfying_orders: number;
  converted_referrals: number;
  interactions: number;
  typical_gap_days: string;
  r: number;
  f: number;
  m: number;
  segment: string;
  recency_component: string;
  frequency_component: string;
  monetary_component: string;
  satisfaction_component: string;
  referrals_component: string;
  engagement_component: string;
  score: string;
  tier: string;
  churn_risk: string;
  loyal: boolean;
  rule_version: number;
}

const storedColumns = `party_id::text as party_id, run_id::text as run_id, recency_days, frequency, monetary::text as monetary,
  satisfaction_mean::text as satisfaction_mean, satisfying_orders, converted_referrals, interactions,
  typical_gap_days::text as typical_gap_days, r::int as r, f::int as f, m::int as m, segment::text as segment,
  recency_component::text as recency_component, frequency_component::text as frequency_component,
  monetary_component::text as monetary_component, satisfaction_component::text as satisfaction_component,
  referrals_component::text as referrals_component, engagement_component::text as engagement_component,
  score::text as score, tier::text as tier, churn_risk::text as churn_risk, loyal, rule_version`;

function stored(tenantId: string, asOf: string): Promise<StoredRow[]> {
  return tenantRows<StoredRow>(api.handle, tenantId, `select ${storedColumns} from loyalty_snapshots where as_of = '${asOf}' order by party_id`);
}

/** Every stored row of the day against the reference, field by field. */
async function expectMatchesReference(tenantId: string, asOf: string): Promise<Map<string, Expected>> {
  const expected = await reference(tenantId, asOf);
  const rows = await stored(tenantId, asOf);
  expect(rows.map((row) => row.party_id).sort()).toEqual([...expected.keys()].sort());
  for (const row of rows) {
    const e = expected.get(row.party_id)!;
    const exact = {
      party: row.party_id,
      recencyDays: row.recency_days,
      frequency: row.frequency,
      monetary: Q.dec(row.monetary).cmp(e.monetary),
      satisfyingOrders: row.satisfying_orders,
      convertedReferrals: row.converted_referrals,
      interactions: row.interactions,
      rfm: [row.r, row.f, row.m],
      segment: row.segment,
      components: [
        row.recency_component,
        row.frequency_component,
        row.monetary_component,
        row.satisfaction_component,
        row.referrals_component,
        row.engagement_component,
      ],
      score: row.score,
      tier: row.tier,
      loyal: row.loyal,
      ruleVersion: row.rule_version,
    };
    expect(exact).toEqual({
      party: row.party_id,
      recencyDays: e.recencyDays,
      frequency: e.frequency,
      monetary: 0,
      satisfyingOrders: e.satisfyingOrders,
      convertedReferrals: e.convertedReferrals,
      interactions: e.interactions,
      rfm: [e.r, e.f, e.m],
      segment: e.segment,
      components: Object.values(e.components).map((c) => c.fixed(5)),
      score: e.score,
      tier: e.tier,
      loyal: e.loyal,
      ruleVersion: e.ruleVersion,
    });
    // Stored at five decimals: within half a unit of the fifth decimal of the exact value.
    expect(Math.abs(Number(row.churn_risk) - e.churnRisk)).toBeLessThanOrEqual(0.000005 + 1e-12);
    expect(Number(row.typical_gap_days)).toBeCloseTo(e.typicalGap, 9);
    if (e.satisfactionMean === null) expect(row.satisfaction_mean).toBeNull();
    else expect(Number(row.satisfaction_mean)).toBeCloseTo(e.satisfactionMean.valueOf(), 12);
  }
  return expected;
}

/** The day's rows without the run id, for "identical" comparisons between runs. */
async function dayRows(tenantId: string, asOf: string) {
  return (await stored(tenantId, asOf)).map(({ run_id: _runId, ...row }) => row);
}

async function partyLoyaltyColumns(tenantId: string) {
  return tenantRows(
    api.handle,
    tenantId,
    `select party_id::text as id, score::text as score, segment::text as segment, tier::text as tier
       from party_loyalty order by party_id`,
  );
}

const runs = (tenantId: string) =>
  tenantRows<{ id: string; status: string; parties_scored: number | null; error: string | null; stage_moves: unknown; as_of: string; rule_version: number | null; finished_at: string | null }>(
    api.handle,
    tenantId,
    `select id::text as id, status::text as status, parties_scored, error, stage_moves, as_of::text as as_of, rule_version,
            finished_at::text as finished_at from scoring_runs order by started_at, id`,
  );

// ---------------------------------------------------------------------------------------------

describe('scoreTenant: domain §4 against an independent computation', () => {
  test('hand-made cases and random parties with ties, default settings', async () => {
    const tenant = await api.newTenant();
    const { parties, referrals } = handMade();
    const ids = await load(tenant.tenantId, [...parties, ...randomParties(D, 70, 7)], referrals);
    const result = await runTenantScoring(api.handle.db, tenant.tenantId, D);
    expect(result).toMatchObject({ status: 'SUCCEEDED', error: null, ruleVersion: 1 });
    const expected = await expectMatchesReference(tenant.tenantId, D);
    expect(result.partiesScored).toBe(expected.size);

    // A few cases spelled out, so the reference itself is checked against the rules.
    const of = (key: string) => expected.get(ids.get(key)!);
    for (const key of ['archived', 'future', 'noOrders', 'ref-1', 'refundedAll']) expect([key, of(key)]).toEqual([key, undefined]);
    expect(of('refundedLater')).toMatchObject({ frequency: 1, recencyDays: 20, satisfyingOrders: 1 });
    expect(of('refundedLater')!.monetary.fixed(2)).toBe('80.00');
    expect(of('refundedPartly')).toMatchObject({ frequency: 1, recencyDays: 121, satisfyingOrders: 0 });
    expect(of('refundedPartly')!.monetary.fixed(2)).toBe('70.00');
    expect(of('tieA')).toEqual(of('tieB'));
    expect(of('outside')).toMatchObject({ frequency: 0, recencyDays: 365, typicalGap: 182.5, satisfyingOrders: 0 });
    expect(of('outside')!.monetary.cmp(new Q(0))).toBe(0);
    expect(of('outside')!.components.satisfaction.fixed(5)).toBe('0.50000');
    expect(of('edge')).toMatchObject({ frequency: 2, recencyDays: 0, typicalGap: 364 });
    expect(of('sameDay')).toMatchObject({ frequency: 3, typicalGap: 1, satisfyingOrders: 3, loyal: true, recencyDays: 10 });
    expect(of('rated')).toMatchObject({ satisfyingOrders: 0, loyal: false });
    expect(of('rated')!.components.satisfaction.fixed(5)).toBe('0.25000');
    expect(of('single')).toMatchObject({ frequency: 1, typicalGap: 182.5, satisfyingOrders: 1 });
    expect(of('referrer')!.convertedReferrals).toBe(2);
    expect(of('referrer')!.components.referrals.fixed(5)).toBe('0.66667');
    expect(of('bigReferrer')!.components.referrals.fixed(5)).toBe('1.00000');
    expect(of('engaged')!.interactions).toBe(13);
    expect(of('someEngaged')!.components.engagement.fixed(5)).toBe('0.41667');
    expect(of('heavy')).toMatchObject({ r: 5, f: 5, m: 5, score: '85.0', tier: 'PLATINUM', segment: 'IMPORTANT_VALUE' });
    // Each quintile score 1–5 is used, and ties share theirs.
    expect(new Set([...expected.values()].map((e) => e.m))).toEqual(new Set([1, 2, 3, 4, 5]));

    // The parties' copy of their latest snapshot, for lists.
    const columns = await partyLoyaltyColumns(tenant.tenantId);
    for (const row of columns as { id: string; score: string | null; segment: string | null; tier: string | null }[]) {
      const e = expected.get(row.id);
      expect(row).toEqual({ id: row.id, score: e?.score ?? null, segment: e?.segment ?? null, tier: e?.tier ?? null });
    }
  });

  test("a tenant's own window, weights, tiers and loyalAfter (and its rule version)", async () => {
    const tenant = await api.newTenant();
    const { updateTenantSettings } = await tenant.query(
      `mutation ($input: UpdateTenantSettingsInput!) { updateTenantSettings(input: $input) { tenant { ruleVersion } userErrors { field } } }`,
      {
        input: {
          stagePolicy: { loyalAfter: 2 },
          scoring: {
            windowDays: 30,
            weights: { recency: 0.1, frequency: 0.2, monetary: 0.3, satisfaction: 0.15, referrals: 0.15, engagement: 0.1 },
            tiers: { platinum: 60, gold: 40, silver: 20 },
          },
        },
      },
    );
    expect(updateTenantSettings).toEqual({ tenant: { ruleVersion: 2 }, userErrors: [] });
    const { parties, referrals } = handMade();
    await load(tenant.tenantId, [...parties, ...randomParties(D, 60, 11)], referrals);
    await scoreTenant(api.handle.db, tenant.tenantId, D);
    const expected = await expectMatchesReference(tenant.tenantId, D);
    expect(new Set([...expected.values()].map((e) => e.ruleVersion))).toEqual(new Set([2]));
    expect(new Set([...expected.values()].map((e) => e.typicalGap))).toContain(15);
  });

  test('weights with more than six decimals (accepted: they sum to 1 in millionths) are exact too', async () => {
    const tenant = await api.newTenant();
    const weights = { recency: 0.2500001, frequency: 0.2499999, monetary: 0.2, satisfaction: 0.15, referrals: 0.1, engagement: 0.05 };
    const { updateTenantSettings } = await tenant.query(
      `mutation ($input: UpdateTenantSettingsInput!) { updateTenantSettings(input: $input) { userErrors { field } } }`,
      { input: { scoring: { weights } } },
    );
    expect(updateTenantSettings.userErrors).toEqual([]);
    const { parties, referrals } = handMade();
    await load(tenant.tenantId, [...parties, ...randomParties(D, 40, 13)], referrals);
    await scoreTenant(api.handle.db, tenant.tenantId, D);
    await expectMatchesReference(tenant.tenantId, D);
  });

  test('a tenant with no orders scores nobody', async () => {
    const tenant = await api.newTenant();
    await load(tenant.tenantId, [{ key: 'p', interactions: ['2025-06-01T00:00:00Z'] }]);
    expect(await runTenantScoring(api.handle.db, tenant.tenantId, D)).toMatchObject({ status: 'SUCCEEDED', partiesScored: 0 });
  });
});

describe('runs: idempotence, interruption, the lock, failures', () => {
  test('scoring the same day twice gives identical rows; an older day does not overwrite the parties copy', async () => {
    const tenant = await api.newTenant();
    await load(tenant.tenantId, randomParties(D, 50, 3));
    const first = await runTenantScoring(api.handle.db, tenant.tenantId, D);
    const rowsBefore = await dayRows(tenant.tenantId, D);
    const columnsBefore = await partyLoyaltyColumns(tenant.tenantId);
    // A copy is written only when it changes: the same day again rewrites none (same row versions).
    const copyVersions = () =>
      tenantRows(api.handle, tenant.tenantId, `select party_id::text as id, xmin::text as version from party_loyalty order by party_id`);
    const versionsBefore = await copyVersions();
    const second = await runTenantScoring(api.handle.db, tenant.tenantId, D);
    expect(second.partiesScored).toBe(first.partiesScored);
    expect(await dayRows(tenant.tenantId, D)).toEqual(rowsBefore);
    expect(await partyLoyaltyColumns(tenant.tenantId)).toEqual(columnsBefore);
    expect(await copyVersions()).toEqual(versionsBefore);
    // Every row now belongs to the second run; no leftovers, no duplicates.
    const [ids] = await tenantRows<{ n: number; runs: string[] }>(
      api.handle,
      tenant.tenantId,
      `select count(*)::int as n, array_agg(distinct run_id::text) as runs from loyalty_snapshots`,
    );
    expect(ids).toEqual({ n: first.partiesScored, runs: [second.runId] });

    // A later day moves the parties' copy on; scoring the earlier day again leaves it there.
    const later = '2025-07-15';
    await runTenantScoring(api.handle.db, tenant.tenantId, later);
    const columnsLater = await partyLoyaltyColumns(tenant.tenantId);
    const laterRows = new Map((await stored(tenant.tenantId, later)).map((row) => [row.party_id, row]));
    expect(laterRows.size).toBeGreaterThan(0);
    for (const column of columnsLater) {
      const row = laterRows.get(column.id as string);
      expect(column).toEqual({ id: column.id, score: row?.score ?? null, segment: row?.segment ?? null, tier: row?.tier ?? null });
    }
    await runTenantScoring(api.handle.db, tenant.tenantId, D);
    expect(await partyLoyaltyColumns(tenant.tenantId)).toEqual(columnsLater);
    expect(await dayRows(tenant.tenantId, D)).toEqual(rowsBefore);
  });

  test('loyalty.segment_changed: one event per party whose latest segment the run changes, none for a re-run or an older day', async () => {
    const tenant = await api.newTenant();
    await load(tenant.tenantId, randomParties(D, 40, 11));
    await tenantRows(
      api.handle,
      tenant.tenantId,
      `insert into webhooks (tenant_id, id, url, events, secret) values ('${tenant.tenantId}', '${randomUUID()}', 'https://partner.example/hook', '{loyalty.*}', 'whsec_test')`,
    );
    const events = () =>
      tenantRows<{ payload: { party: { id: string }; from: string | null; to: string; asOf: string; score: string; tier: string } }>(
        api.handle,
        tenant.tenantId,
        `select payload from webhook_deliveries where event = 'loyalty.segment_changed' order by payload #>> '{party,id}', payload ->> 'asOf'`,
      );
    const segments = async (asOf: string) =>
      new Map(
        (await tenantRows<{ party_id: string; segment: string }>(api.handle, tenant.tenantId, `select party_id::text, segment::text from loyalty_snapshots where as_of = '${asOf}'`)).map(
          (r) => [r.party_id, r.segment],
        ),
      );

    // The first day: every scored party gets its first segment (from null).
    const earlier = '2025-03-31';
    await runTenantScoring(api.handle.db, tenant.tenantId, earlier);
    const first = await segments(earlier);
    expect(first.size).toBeGreaterThan(0);
    const firstEvents = await events();
    expect(firstEvents.map((e) => e.payload)).toEqual(
      [...first].sort(([a], [b]) => a.localeCompare(b)).map(([id, segment]) => ({ party: { id }, from: null, to: segment, asOf: earlier, score: expect.any(String), tier: expect.any(String) })),
    );

    // The next day: only the parties whose segment moved (or who were scored for the first time).
    await runTenantScoring(api.handle.db, tenant.tenantId, D);
    const second = await segments(D);
    const moved = [...second].filter(([id, segment]) => first.get(id) !== segment);
    expect(moved.length).toBeGreaterThan(0);
    expect(moved.length).toBeLessThan(second.size);
    const secondEvents = (await events()).filter((e) => e.payload.asOf === D).map((e) => e.payload);
    expect(secondEvents).toEqual(
      moved.sort(([a], [b]) => a.localeCompare(b)).map(([id, segment]) => expect.objectContaining({ party: { id }, from: first.get(id) ?? null, to: segment })),
    );

    // The same day again and an older day again change no latest segment: no new event.
    const count = (await events()).length;
    await runTenantScoring(api.handle.db, tenant.tenantId, D);
    await runTenantScoring(api.handle.db, tenant.tenantId, earlier);
    expect(await events()).toHaveLength(count);
  });

  test('a party archived since is dropped from the day scored again, and its copy falls back to its previous day', async () => {
    const tenant = await api.newTenant();
    const ids = await load(tenant.tenantId, [
      { key: 'stays', orders: [['2025-06-01T00:00:00Z', '10.00']] },
      { key: 'leaves', orders: [['2025-06-01T00:00:00Z', '20.00']] },
    ]);
    await runTenantScoring(api.handle.db, tenant.tenantId, '2025-06-29');
    await runTenantScoring(api.handle.db, tenant.tenantId, D);
    await tenantRows(api.handle, tenant.tenantId, `update parties set archived_at = now() where id = '${ids.get('leaves')}'`);
    const again = await runTenantScoring(api.handle.db, tenant.tenantId, D);
    expect(again.partiesScored).toBe(1);
    await expectMatchesReference(tenant.tenantId, D);
    const [previous] = await stored(tenant.tenantId, '2025-06-29').then((rows) => rows.filter((r) => r.party_id === ids.get('leaves')));
    const columns = await partyLoyaltyColumns(tenant.tenantId);
    expect(columns.find((c) => c.id === ids.get('leaves'))).toEqual({
      id: ids.get('leaves'),
      score: previous!.score,
      segment: previous!.segment,
      tier: previous!.tier,
    });
    const [today] = (await stored(tenant.tenantId, D)).filter((r) => r.party_id === ids.get('stays'));
    expect(columns.find((c) => c.id === ids.get('stays'))).toEqual({
      id: ids.get('stays'),
      score: today!.score,
      segment: today!.segment,
      tier: today!.tier,
    });
  });

  test('a run interrupted inside its transaction leaves the day as it was; the re-run completes it', async () => {
    const tenant = await api.newTenant();
    const ids = await load(tenant.tenantId, randomParties(D, 40, 5));
    const first = await runTenantScoring(api.handle.db, tenant.tenantId, D);
    const before = await stored(tenant.tenantId, D);
    // New data since the first run, so that a half-applied run would show.
    await load(tenant.tenantId, [{ key: 'late', orders: [['2025-06-30T12:00:00Z', '777.00', 5]] }]);
    await tenantRows(api.handle, tenant.tenantId, `update parties set archived_at = now() where id = '${ids.get('random-0')}'`);
    const columnsBefore = await partyLoyaltyColumns(tenant.tenantId);

    const killed = await runTenantScoring(api.handle.db, tenant.tenantId, D, {
      afterWrite: () => {
        throw new Error('killed half-way (test)');
      },
    });
    expect(killed).toMatchObject({ status: 'FAILED', error: 'killed half-way (test)', partiesScored: null });
    expect(await stored(tenant.tenantId, D)).toEqual(before);
    expect(await partyLoyaltyColumns(tenant.tenantId)).toEqual(columnsBefore);
    expect((await runs(tenant.tenantId)).map((r) => [r.id, r.status, r.error])).toEqual([
      [first.runId, 'SUCCEEDED', null],
      [killed.runId, 'FAILED', 'killed half-way (test)'],
    ]);

    const rerun = await runTenantScoring(api.handle.db, tenant.tenantId, D);
    expect(rerun.status).toBe('SUCCEEDED');
    await expectMatchesReference(tenant.tenantId, D);
    const completed = await dayRows(tenant.tenantId, D);
    await runTenantScoring(api.handle.db, tenant.tenantId, D);
    expect(await dayRows(tenant.tenantId, D)).toEqual(completed);
  });

  test('a run killed before reporting is closed as abandoned by the next run', async () => {
    const tenant = await api.newTenant();
    await load(tenant.tenantId, [{ key: 'p', orders: [['2025-06-01T00:00:00Z', '10.00']] }]);
    const dead = randomUUID();
    await tenantRows(
      api.handle,
      tenant.tenantId,
      `insert into scoring_runs (tenant_id, id, as_of, status, started_at, triggered_by)
       values ('${tenant.tenantId}', '${dead}', '${D}', 'RUNNING', now() - interval '1 hour', 'nightly')`,
    );
    await runTenantScoring(api.handle.db, tenant.tenantId, D);
    const [abandoned] = (await runs(tenant.tenantId)).filter((r) => r.id === dead);
    expect(abandoned).toMatchObject({ status: 'FAILED', error: expect.stringMatching(/^Abandoned/), finished_at: expect.any(String) });
  });

  test('the stage policy after scoring: its moves are recorded; if it fails, the day is not scored', async () => {
    const tenant = await api.newTenant();
    await load(tenant.tenantId, [
      { key: 'loyal', orders: [['2025-05-01T00:00:00Z', '10.00', 5], ['2025-05-10T00:00:00Z', '10.00', 5], ['2025-06-01T00:00:00Z', '10.00']] },
      { key: 'once', orders: [['2025-06-01T00:00:00Z', '10.00', 4]] },
    ]);
    const broken = await runTenantScoring(api.handle.db, tenant.tenantId, D, {
      afterScoring: async () => {
        throw new Error('stage policy failed (test)');
      },
    });
    expect(broken).toMatchObject({ status: 'FAILED', error: 'stage policy failed (test)' });
    expect(await stored(tenant.tenantId, D)).toEqual([]);

    const result = await runTenantScoring(api.handle.db, tenant.tenantId, D, {
      afterScoring: (_tenantId, asOf) => applyStagePolicy(asOf),
    });
    expect(result).toMatchObject({ status: 'SUCCEEDED', partiesScored: 2 });
    expect(result.stageMoves).toMatchObject({ FIRST_SATISFYING_ORDER: 2, LOYAL_AFTER: 1 });
    const last = (await runs(tenant.tenantId)).at(-1)!;
    expect(last).toMatchObject({ status: 'SUCCEEDED', parties_scored: 2, stage_moves: result.stageMoves, rule_version: 1 });
  });

  test('runNightlyScoring: a failing tenant is recorded as FAILED while the others succeed', async () => {
    const tenants = [await api.newTenant(), await api.newTenant(), await api.newTenant()];
    for (const [i, tenant] of tenants.entries()) await load(tenant.tenantId, randomParties(D, 20, 100 + i));
    // Settings broken behind the validation's back: this tenant's scoring statement cannot run.
    await tenantRows(
      api.handle,
      tenants[1]!.tenantId,
      `update tenants set settings = jsonb_set(settings, '{scoring,windowDays}', '0'::jsonb)`,
    );
    const unknown = randomUUID();
    const progress: number[] = [];
    const results = await runNightlyScoring(api.handle.db, {
      asOf: D,
      tenantIds: [...tenants.map((t) => t.tenantId), unknown],
      concurrency: 2,
      onProgress: ({ done, total }) => progress.push(done * 10 + total),
    });
    expect(progress).toEqual([14, 24, 34, 44]);
    expect(results.map((r) => [r.tenantId, r.status])).toEqual([
      [tenants[0]!.tenantId, 'SUCCEEDED'],
      [tenants[1]!.tenantId, 'FAILED'],
      [tenants[2]!.tenantId, 'SUCCEEDED'],
      [unknown, 'FAILED'],
    ]);
    expect(results[1]!.error).toMatch(/window/i);
    expect(results[3]).toMatchObject({ runId: null, error: expect.stringMatching(/tenant/i) });
    expect((await runs(tenants[1]!.tenantId)).map((r) => [r.status, r.error])).toEqual([['FAILED', results[1]!.error]]);
    for (const i of [0, 2]) {
      expect((await runs(tenants[i]!.tenantId)).map((r) => [r.status, r.parties_scored, r.as_of])).toEqual([
        ['SUCCEEDED', results[i]!.partiesScored, D],
      ]);
      await expectMatchesReference(tenants[i]!.tenantId, D);
    }
    await expect(runNightlyScoring(api.handle.db, { asOf: '2999-01-01', tenantIds: [] })).rejects.toThrow(/future/);
  });

  test.runIf(usingPostgres())('the tenant lock: a second run while one is scoring is refused, by the job and by the API', async () => {
    const tenant = await api.newTenant();
    await load(tenant.tenantId, randomParties(D, 30, 9));
    let second: ScoringRunResult | undefined;
    let apiAttempt: any;
    const first = await runTenantScoring(api.handle.db, tenant.tenantId, D, {
      // While the first run holds the lock (inside its transaction), two more try.
      afterWrite: async () => {
        second = await runTenantScoring(api.handle.db, tenant.tenantId, D);
        apiAttempt = await tenant.query(`mutation { runScoring(input: { asOf: "${D}" }) { runs { status } userErrors { code message } } }`);
      },
    });
    expect(first.status).toBe('SUCCEEDED');
    expect(second).toMatchObject({ status: 'FAILED', error: expect.stringMatching(/already running/) });
    expect(apiAttempt.runScoring).toEqual({ runs: null, userErrors: [{ code: 'CONFLICT', message: expect.stringMatching(/already running/) }] });
    expect((await runs(tenant.tenantId)).map((r) => r.status).sort()).toEqual(['FAILED', 'SUCCEEDED']);
    await expectMatchesReference(tenant.tenantId, D);
  });
});

// ---------------------------------------------------------------------------------------------

const snapshotFields = `asOf recencyDays frequency monetary { amount currency } r f m segment score tier churnRisk loyal ruleVersion
  satisfactionMean satisfyingOrders convertedReferrals interactions typicalGapDays
  components { recency frequency monetary satisfaction referrals engagement }`;

const globalId = (uuid: string) => Buffer.from(`Party:${uuid}`).toString('base64');

describe('GraphQL: runScoring, Party.loyalty, analytics, scoringRuns', () => {
  let tenant: TenantClient;
  let ids: Map<string, string>;
  const D1 = '2025-06-01';
  let first: Map<string, Expected>;
  let second: Map<string, Expected>;

  beforeAll(async () => {
    tenant = await api.newTenant();
    const { parties, referrals } = handMade();
    ids = await load(tenant.tenantId, [...parties, ...randomParties(D, 60, 21), { key: 'never' }], referrals);
    for (const asOf of [D1, D]) {
      const { runScoring } = await tenant.query(
        `mutation ($asOf: Date) { runScoring(input: { asOf: $asOf }) { runs { asOf status partiesScored error ruleVersion triggeredBy stageMoves } userErrors { code } } }`,
        { asOf },
      );
      expect(runScoring.userErrors).toEqual([]);
      expect(runScoring.runs).toEqual([
        {
          asOf,
          status: 'SUCCEEDED',
          partiesScored: expect.any(Number),
          error: null,
          ruleVersion: 1,
          triggeredBy: expect.stringMatching(/^API_KEY:/),
          // The stage policy ran after scoring, in the same transaction.
          stageMoves: expect.objectContaining({ FIRST_SATISFYING_ORDER: expect.any(Number), parties: expect.any(Number) }),
        },
      ]);
    }
    first = await expectMatchesReference(tenant.tenantId, D1);
    second = await expectMatchesReference(tenant.tenantId, D);
  });

  test('runScoring refuses a day in the future, a malformed day, and callers without ADMIN', async () => {
    const future = new Date(Date.now() + 2 * DAY).toISOString().slice(0, 10);
    const { runScoring } = await tenant.query(`mutation { runScoring(input: { asOf: "${future}" }) { runs { id } userErrors { code field } } }`);
    expect(runScoring).toEqual({ runs: null, userErrors: [{ code: 'VALIDATION', field: ['input', 'asOf'] }] });
    const malformed = await tenant.request(`mutation { runScoring(input: { asOf: "2025-02-30" }) { runs { id } } }`);
    expect(malformed.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');

    const { createApiKey } = await tenant.query(
      `mutation { createApiKey(input: { name: "reader", scopes: [LOYALTY_READ] }) { secret } }`,
    );
    const reader = (query: string) => postGraphQL(api.server, query, {}, { authorization: `ApiKey ${createApiKey.secret}` });
    expect((await reader(`mutation { runScoring(input: {}) { runs { id } } }`)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await reader(`{ scoringRuns { totalCount } }`)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const allowed = await reader(`{ segmentDistribution { count } atRiskParties(first: 1) { partyId score } pareto { parties } }`);
    expect(allowed.errors).toBeUndefined();
    expect(allowed.data.atRiskParties).toHaveLength(1);
  });

  test('Party.loyalty is the latest snapshot, loyaltyHistory lists them newest first', async () => {
    const heavy = ids.get('heavy')!;
    const query = `query ($ids: [ID!]!, $after: String) { nodes(ids: $ids) { ... on Party {
      loyalty { ${snapshotFields} party { id } }
      loyaltyHistory(first: 1, after: $after) { totalCount edges { cursor node { asOf score } } pageInfo { hasNextPage endCursor } }
    } } }`;
    const { nodes } = await tenant.query(query, { ids: [globalId(heavy), globalId(ids.get('never')!), globalId(ids.get('archived')!)] });
    const e = second.get(heavy)!;
    const [row] = (await stored(tenant.tenantId, D)).filter((r) => r.party_id === heavy);
    expect(nodes[0].loyalty).toEqual({
      asOf: D,
      recencyDays: e.recencyDays,
      frequency: e.frequency,
      monetary: { amount: row!.monetary, currency: 'CNY' },
      r: 5,
      f: 5,
      m: 5,
      segment: 'IMPORTANT_VALUE',
      score: 85,
      tier: 'PLATINUM',
      churnRisk: Number(row!.churn_risk),
      loyal: true,
      ruleVersion: 1,
      satisfactionMean: 5,
      satisfyingOrders: e.satisfyingOrders,
      convertedReferrals: 0,
      interactions: 0,
      typicalGapDays: e.typicalGap,
      components: { recency: 1, frequency: 1, monetary: 1, satisfaction: 1, referrals: 0, engagement: 0 },
      party: { id: globalId(heavy) },
    });
    expect(nodes[1].loyalty).toBeNull();
    expect(nodes[1].loyaltyHistory).toEqual({ totalCount: 0, edges: [], pageInfo: { hasNextPage: false, endCursor: null } });
    // Archived parties keep their history (they are only left out of new days).
    expect(nodes[2].loyalty).toBeNull();

    const history = nodes[0].loyaltyHistory;
    expect(history.totalCount).toBe(2);
    // score is a number with one decimal, like churnRisk a Float: the stored numeric(4, 1), exactly.
    expect(history.edges.map((edge: any) => edge.node)).toEqual([{ asOf: D, score: Number(e.score) }]);
    const scores = [...second.values()].map((x) => Number(x.score));
    expect(scores.some((x) => !Number.isInteger(x))).toBe(true);
    const { atRiskParties } = await tenant.query(`{ atRiskParties(first: 100) { partyId score } }`);
    for (const snapshot of atRiskParties) {
      expect(typeof snapshot.score).toBe('number');
      expect(snapshot.score.toFixed(1)).toBe(second.get(Buffer.from(snapshot.partyId, 'base64').toString().slice('Party:'.length))!.score);
    }
    expect(history.pageInfo.hasNextPage).toBe(true);
    const next = await tenant.query(query, { ids: [globalId(heavy)], after: history.pageInfo.endCursor });
    expect(next.nodes[0].loyaltyHistory.edges.map((edge: any) => edge.node)).toEqual([{ asOf: D1, score: Number(first.get(heavy)!.score) }]);
    expect(next.nodes[0].loyaltyHistory.pageInfo.hasNextPage).toBe(false);
  });

  test('segmentDistribution: all 8 segments with count, share and monetary, for a day or the latest', async () => {
    const query = `query ($asOf: Date) { segmentDistribution(asOf: $asOf) { segment count share monetary { amount currency } } }`;
    for (const [asOf, expected] of [[D1, first], [null, second]] as const) {
      const { segmentDistribution } = await tenant.query(query, { asOf });
      const all = [...expected.values()];
      expect(segmentDistribution.map((row: any) => row.segment)).toEqual([...allSegments]);
      for (const row of segmentDistribution) {
        const members = all.filter((e) => e.segment === row.segment);
        expect(row.count).toBe(members.length);
        expect(row.share).toBeCloseTo(members.length / all.length, 12);
        expect(row.monetary.currency).toBe('CNY');
        expect(Q.dec(row.monetary.amount).cmp(members.reduce((s, e) => s.add(e.monetary), new Q(0)))).toBe(0);
      }
      expect(segmentDistribution.some((row: any) => row.count === 0)).toBe(true);
    }
    // The parties list filters by the same segments (their copy of the latest snapshot).
    const { parties } = await tenant.query(`{ parties(filter: { segments: [IMPORTANT_VALUE, GENERAL_WIN_BACK] }) { totalCount } }`);
    expect(parties.totalCount).toBe([...second.values()].filter((e) => ['IMPORTANT_VALUE', 'GENERAL_WIN_BACK'].includes(e.segment)).length);
    const empty = await api.newTenant();
    const none = await empty.query(query);
    expect(none.segmentDistribution).toHaveLength(8);
    expect(none.segmentDistribution.every((row: any) => row.count === 0 && row.share === 0 && row.monetary.amount === '0')).toBe(true);
  });

  test('segmentMigration: the 8 × 8 matrix of parties scored on both days', async () => {
    const { segmentMigration } = await tenant.query(`query { segmentMigration(from: "${D1}", to: "${D}") { from to count } }`);
    expect(segmentMigration).toHaveLength(64);
    for (const cell of segmentMigration) {
      const count = [...first.entries()].filter(([id, e]) => e.segment === cell.from && second.get(id)?.segment === cell.to).length;
      expect([cell.from, cell.to, cell.count]).toEqual([cell.from, cell.to, count]);
    }
    expect(segmentMigration.reduce((s: number, c: any) => s + c.count, 0)).toBe([...first.keys()].filter((id) => second.has(id)).length);
  });

  test('pareto: the top ⌈topShare · n⌉ parties by monetary and their revenue share', async () => {
    const sorted = [...second.entries()].sort(([a, x], [b, y]) => y.monetary.cmp(x.monetary) || (a < b ? -1 : 1));
    const total = sorted.reduce((s, [, e]) => s.add(e.monetary), new Q(0));
    for (const topShare of [0.2, 0.5, 1, 0.01]) {
      const { pareto } = await tenant.query(`query ($t: Float) { pareto(topShare: $t) { asOf topShare revenueShare parties population } }`, { t: topShare });
      // ⌈topShare · n⌉ in integers: topShare is a whole number of percent here.
      const k = Math.floor((Math.round(topShare * 100) * sorted.length + 99) / 100);
      const top = sorted.slice(0, k).reduce((s, [, e]) => s.add(e.monetary), new Q(0));
      expect(pareto).toEqual({ asOf: D, topShare, revenueShare: expect.any(Number), parties: k, population: sorted.length });
      expect(pareto.revenueShare).toBeCloseTo(top.div(total).valueOf(), 12);
    }
    const bad = await tenant.request(`{ pareto(topShare: 0) { parties } }`);
    expect(bad.errors?.[0]?.extensions?.code).toBe('VALIDATION');
  });

  test('atRiskParties: the latest day by churn risk × monetary, archived parties left out', async () => {
    await tenantRows(api.handle, tenant.tenantId, `update parties set archived_at = now() where id = '${ids.get('outside')}'`);
    const rows = await stored(tenant.tenantId, D);
    const active = new Set(
      (await tenantRows<{ id: string }>(api.handle, tenant.tenantId, `select id::text as id from parties where archived_at is null`)).map((r) => r.id),
    );
    const ranked = rows
      .filter((r) => active.has(r.party_id))
      .map((r) => ({ id: r.party_id, risk: Q.dec(r.churn_risk).mul(Q.dec(r.monetary)) }))
      .sort((a, b) => b.risk.cmp(a.risk) || (a.id < b.id ? -1 : 1));
    const { atRiskParties } = await tenant.query(`{ atRiskParties(first: 10) { partyId asOf party { displayName } } }`);
    expect(atRiskParties.map((s: any) => s.partyId)).toEqual(ranked.slice(0, 10).map((r) => globalId(r.id)));
    expect(new Set(atRiskParties.map((s: any) => s.asOf))).toEqual(new Set([D]));
    const tooMany = await tenant.request(`{ atRiskParties(first: 101) { partyId } }`);
    expect(tooMany.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  test('scoringRuns: newest first, paginated', async () => {
    const query = `query ($after: String) { scoringRuns(first: 1, after: $after) { totalCount edges { node { asOf status partiesScored durationMs finishedAt } } pageInfo { hasNextPage endCursor } } }`;
    const page1 = (await tenant.query(query)).scoringRuns;
    expect(page1.totalCount).toBe(2);
    expect(page1.edges[0].node).toMatchObject({ asOf: D, status: 'SUCCEEDED', partiesScored: second.size, finishedAt: expect.any(String) });
    const page2 = (await tenant.query(query, { after: page1.pageInfo.endCursor })).scoringRuns;
    expect(page2.edges[0].node).toMatchObject({ asOf: D1, partiesScored: first.size });
    expect(page2.pageInfo.hasNextPage).toBe(false);
  });
});
