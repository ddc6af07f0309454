import { asc, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database, DatabaseHandle, Transaction } from '../drizzle/client';
import { withTenant } from '../drizzle/transaction';
import { interactions } from '../network/interactions.sql';
import { orders } from '../network/orders.sql';
import { parties } from '../network/parties.sql';
import { relationships } from '../network/relationships.sql';
import { referralCodes, referrals } from '../referrals/referrals.sql';
import { stageTransitions } from '../stages/stage-transitions.sql';
import { createTestDatabase } from '../test';
import { seedDemoTenant } from './index';
import { DAY_MS, replayStages, type SeedStagePolicy } from './policy';

// Node 20 has no Map.groupBy.
function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return groups;
}

/** Every seeded table of one tenant, in a stable order, without the tenant id. */
// Read through the tenant's scope, as the application does: row-level security shows the owner
// nothing outside it (on Postgres; PGlite's superuser would see everything).
function dumpTenant(db: Database, tenantId: string) {
  return withTenant(db, tenantId, (tx) => dumpTenantRows(tx, tenantId));
}

async function dumpTenantRows(db: Transaction, tenantId: string) {
  const strip = <Row extends { tenantId: string }>(rows: Row[]) =>
    rows.map(({ tenantId: _tenant, ...rest }) => rest);
  const rows = {
    parties: await db.select().from(parties).where(eq(parties.tenantId, tenantId)).orderBy(asc(parties.id)),
    relationships: await db
      .select()
      .from(relationships)
      .where(eq(relationships.tenantId, tenantId))
      .orderBy(asc(relationships.id)),
    orders: await db.select().from(orders).where(eq(orders.tenantId, tenantId)).orderBy(asc(orders.id)),
    interactions: await db
      .select()
      .from(interactions)
      .where(eq(interactions.tenantId, tenantId))
      .orderBy(asc(interactions.id)),
    referrals: await db
      .select()
      .from(referrals)
      .where(eq(referrals.tenantId, tenantId))
      .orderBy(asc(referrals.id)),
    // referral_codes is keyed by party, not by an id of its own.
    referralCodes: await db
      .select()
      .from(referralCodes)
      .where(eq(referralCodes.tenantId, tenantId))
      .orderBy(asc(referralCodes.partyId)),
    stageTransitions: await db
      .select()
      .from(stageTransitions)
      .where(eq(stageTransitions.tenantId, tenantId))
      .orderBy(asc(stageTransitions.id)),
  };
  return {
    parties: strip(rows.parties),
    relationships: strip(rows.relationships),
    orders: strip(rows.orders),
    interactions: strip(rows.interactions),
    referrals: strip(rows.referrals),
    referralCodes: strip(rows.referralCodes),
    stageTransitions: strip(rows.stageTransitions),
  };
}

describe('seedDemoTenant determinism', () => {
  let first: DatabaseHandle;
  let second: DatabaseHandle;
  beforeAll(async () => {
    [first, second] = await Promise.all([createTestDatabase(), createTestDatabase()]);
  });
  afterAll(async () => {
    await Promise.all([first?.close(), second?.close()]);
  });

  it('writes the same rows for the same options, and other rows for another seed', async () => {
    const options = { parties: 120, asOf: '2026-06-30' };
    const a = await seedDemoTenant(first.db, options);
    const b = await seedDemoTenant(second.db, options);
    expect(a.tenantId).not.toBe(b.tenantId);
    expect(b.counts).toEqual(a.counts);

    const dumpA = await dumpTenant(first.db, a.tenantId);
    const dumpB = await dumpTenant(second.db, b.tenantId);
    expect(dumpA.parties).toHaveLength(120);
    for (const [table, rows] of Object.entries(dumpA)) {
      expect(rows.length, table).toBe(a.counts[table]);
    }
    expect(dumpB).toEqual(dumpA);

    const other = await seedDemoTenant(first.db, { ...options, seed: 7 });
    const dumpOther = await dumpTenant(first.db, other.tenantId);
    expect(dumpOther.parties.map((p) => p.id)).not.toEqual(dumpA.parties.map((p) => p.id));
    expect(dumpOther.parties.map((p) => p.displayName)).not.toEqual(dumpA.parties.map((p) => p.displayName));
  });
});

describe('seedDemoTenant shape (300 parties)', () => {
  let handle: DatabaseHandle;
  let dump: Awaited<ReturnType<typeof dumpTenant>>;
  const asOf = Date.parse('2026-06-30T00:00:00Z');

  beforeAll(async () => {
    handle = await createTestDatabase();
    const result = await seedDemoTenant(handle.db, { asOf: '2026-06-30' });
    dump = await dumpTenant(handle.db, result.tenantId);
  });
  afterAll(async () => {
    await handle?.close();
  });

  it('has every kind of party and every type of relationship', () => {
    expect(dump.parties).toHaveLength(300);
    expect(new Set(dump.parties.map((p) => p.kind))).toEqual(
      new Set(['CUSTOMER', 'PROSPECT', 'PARTNER', 'SOCIAL_CONTACT']),
    );
    expect(new Set(dump.relationships.map((r) => r.type))).toEqual(
      new Set(['REFERRED', 'COLLEAGUE', 'FAMILY', 'FRIEND', 'PARTNER_OF', 'FOLLOWS', 'OTHER']),
    );
    const archived = dump.parties.filter((p) => p.archivedAt !== null).length;
    expect(archived).toBeGreaterThan(0);
    expect(archived).toBeLessThan(15);
    // domain: prospects have not bought anything.
    const prospects = new Set(dump.parties.filter((p) => p.kind === 'PROSPECT').map((p) => p.id));
    expect(dump.orders.filter((o) => prospects.has(o.partyId))).toEqual([]);
  });

  it('grows a referral forest five levels deep, one referrer per referee', () => {
    const referrerOf = new Map<string, string>();
    for (const r of dump.referrals) {
      // domain: one referrer per referee.
      expect(referrerOf.has(r.refereeId)).toBe(false);
      referrerOf.set(r.refereeId, r.referrerId);
    }
    let maxDepth = 0;
    for (const referee of referrerOf.keys()) {
      let depth = 0;
      for (let node: string | undefined = referee; node !== undefined; node = referrerOf.get(node)) {
        if (node !== referee) depth++;
        expect(depth).toBeLessThanOrEqual(referrerOf.size); // no cycle
      }
      maxDepth = Math.max(maxDepth, depth);
    }
    expect(maxDepth).toBe(5);

    const referred = dump.relationships.filter((r) => r.type === 'REFERRED');
    expect(new Set(referred.map((r) => `${r.fromPartyId}>${r.toPartyId}`))).toEqual(
      new Set(dump.referrals.map((r) => `${r.referrerId}>${r.refereeId}`)),
    );
    expect(referred).toHaveLength(dump.referrals.length);

    const codes = new Map(dump.referralCodes.map((c) => [c.partyId, c.code]));
    for (const r of dump.referrals) expect(r.code).toBe(codes.get(r.referrerId));
    for (const code of codes.values()) expect(code).toMatch(/^[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{8}$/);

    const ordersByParty = groupBy(dump.orders, (o) => o.partyId);
    const statuses = new Set(dump.referrals.map((r) => r.status));
    expect(statuses).toEqual(new Set(['PENDING', 'CONVERTED', 'REWARDED', 'REJECTED']));
    for (const r of dump.referrals) {
      const placed = (ordersByParty.get(r.refereeId) ?? [])
        .map((o) => o.placedAt.getTime())
        .sort((x, y) => x - y);
      // domain: a referee has no order before its referral.
      expect(placed.every((t) => t > r.createdAt.getTime())).toBe(true);
      if (r.status === 'CONVERTED' || r.status === 'REWARDED') {
        expect(r.convertedAt?.getTime()).toBe(placed[0]);
        expect(r.convertingOrderId).not.toBeNull();
      }
      if (r.status === 'PENDING') expect(placed).toEqual([]);
    }
  });

  it('keeps every party stage in line with its history', () => {
    const stages = new Set(dump.parties.map((p) => p.stage));
    for (const stage of ['DORMANT', 'CHURNED', 'LOYALTY_GROWTH', 'TRUST_BUILDING', 'LONG_TERM_PARTNERSHIP']) {
      expect(stages.has(stage as (typeof dump.parties)[number]['stage'])).toBe(true);
    }
    const history = groupBy(
      [...dump.stageTransitions].sort((a, b) => a.at.getTime() - b.at.getTime()),
      (t) => t.partyId,
    );
    for (const party of dump.parties) {
      const moves = history.get(party.id) ?? [];
      expect(moves.length).toBeGreaterThan(0);
      expect(moves[0]!.fromStage).toBeNull();
      expect(moves[0]!.toStage).toBe('INITIAL_CONTACT');
      expect(moves[0]!.at).toEqual(party.createdAt);
      for (let k = 1; k < moves.length; k++) {
        expect(moves[k]!.fromStage).toBe(moves[k - 1]!.toStage);
        expect(moves[k]!.at.getTime()).toBeGreaterThan(moves[k - 1]!.at.getTime());
      }
      const last = moves[moves.length - 1]!;
      expect(last.at.getTime()).toBeLessThanOrEqual(asOf);
      expect(party.stage).toBe(last.toStage);
      expect(party.stageChangedAt).toEqual(last.at);
      expect(party.dormantFromStage !== null).toBe(party.stage === 'DORMANT');
    }
    const rules = new Set(dump.stageTransitions.map((t) => t.rule));
    const automaticRules = [
      'FIRST_SATISFYING_ORDER',
      'LOYAL_AFTER',
      'LONG_TERM',
      'DORMANT_AFTER',
      'CHURNED_AFTER',
      'DORMANT_WAKE_UP',
    ];
    for (const rule of automaticRules) expect(rules.has(rule), rule).toBe(true);
    expect(dump.stageTransitions.some((t) => !t.automatic && t.fromStage !== null && t.reason)).toBe(true);
  });
});

describe('replayStages', () => {
  const policy: SeedStagePolicy = {
    loyalAfter: 3,
    dormantAfterDays: 90,
    churnedAfterDays: 180,
    longTermAfterDays: 365,
    longTermMinOrders: 6,
  };
  const day = (n: number) => n * DAY_MS;

  it('goes dormant after 90 silent days and an order brings the party back to the stage it left', () => {
    const replay = replayStages(
      0,
      [
        { at: day(1), kind: 'ORDER', satisfaction: 5 },
        { at: day(150), kind: 'ORDER', satisfaction: 2 },
      ],
      day(230),
      policy,
    );
    expect(replay.moves.map((m) => [m.to, m.rule, m.at])).toEqual([
      ['INITIAL_CONTACT', null, 0],
      ['TRUST_BUILDING', 'FIRST_SATISFYING_ORDER', day(1)],
      ['DORMANT', 'DORMANT_AFTER', day(91)],
      ['TRUST_BUILDING', 'DORMANT_WAKE_UP', day(150)],
    ]);
    expect(replay.stage).toBe('TRUST_BUILDING');
    expect(replay.dormantFromStage).toBeNull();
  });

  it('churns after 180 silent days and stops there', () => {
    const replay = replayStages(0, [{ at: day(10), kind: 'INTERACTION' }], day(400), policy);
    expect(replay.moves.map((m) => m.to)).toEqual(['INITIAL_CONTACT', 'DORMANT', 'CHURNED']);
    expect(replay.churnedAt).toBe(day(190));
  });

  it('reaches LONG_TERM_PARTNERSHIP on the first order’s anniversary, with no new order', () => {
    const events = [0, 40, 80, 120, 160, 200, 240, 280, 320].map((d) => ({
      at: day(d + 1),
      kind: 'ORDER' as const,
      satisfaction: null,
    }));
    const replay = replayStages(0, events, day(380), policy);
    expect(replay.moves.map((m) => m.rule)).toEqual([
      null,
      'FIRST_SATISFYING_ORDER',
      'LOYAL_AFTER',
      'LONG_TERM',
    ]);
    expect(replay.stageChangedAt).toBe(day(366));
  });
});

describe('the demo tenant on its first start', () => {
  let handle: DatabaseHandle;
  beforeAll(async () => {
    handle = await createTestDatabase();
  });
  afterAll(() => handle.close());

  it('has member points earned, redeemed and expired, and is scored for yesterday and today', async () => {
    const result = await seedDemoTenant(handle.db, { parties: 60 });
    expect(result.counts.pointsEarned).toBe(result.counts.orders);
    expect(result.counts.pointsRedemptions).toBeGreaterThan(0);
    expect(result.counts.pointsExpired).toBeGreaterThan(0);
    expect(result.counts.refunds).toBeGreaterThan(0);
    const rows = await withTenant(handle.db, result.tenantId, async (tx) => ({
      kinds: (await tx.execute<{ kind: string; n: number }>(sql`select kind::text, count(*)::int as n from points_entries group by 1 order by 1`)).rows,
      days: (await tx.execute<{ as_of: string; n: number }>(sql`select as_of::text, count(*)::int as n from loyalty_snapshots group by 1 order by 1`)).rows,
      tiers: (await tx.execute<{ n: number }>(sql`select count(*)::int as n from party_loyalty where tier is not null`)).rows[0]!.n,
      firstTiers: (await tx.execute<{ n: number }>(sql`select count(*)::int as n from tier_history where rule = 'FIRST'`)).rows[0]!.n,
    }));
    expect(rows.kinds.map((k) => k.kind)).toEqual(['EARN', 'EXPIRE', 'REDEEM', 'REVERSE']);
    const today = new Date().toISOString().slice(0, 10);
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    expect(rows.days.map((d) => d.as_of)).toEqual([yesterday, today]);
    expect(rows.days[1]!.n).toBeGreaterThan(0);
    expect(rows.tiers).toBe(rows.days[1]!.n);
    expect(rows.firstTiers).toBeGreaterThan(0);
  });
});
