import { randomUUID } from 'node:crypto';
import { useTransaction } from '@guanxi/core';
import { convertReferralForOrder, referralCodeAlphabet } from '@guanxi/core/referrals';
import { asTenant, tenantRows, usingPostgres } from '@guanxi/core/test';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createStatementCounter, createTestApi, type TenantClient, type TestApi } from '../../test/helpers';

let api: TestApi;
beforeAll(async () => {
  // The concurrency test and the forest make a few hundred requests per tenant.
  api = await createTestApi({ rateLimits: null });
});
afterAll(() => api.close());

const minute = 60 * 1000;
const hour = 60 * minute;

/** A party as the API names it (global id) and as the tables do (uuid). */
interface Ref {
  id: string;
  uuid: string;
}

const uuidOf = (globalId: string) => Buffer.from(globalId, 'base64').toString().split(':')[1]!;

async function party(tenant: TenantClient, displayName: string, extra: Record<string, unknown> = {}): Promise<Ref> {
  const { createParty } = await tenant.query(
    `mutation ($input: CreatePartyInput!) { createParty(input: $input) { party { id } userErrors { message } } }`,
    { input: { kind: 'PROSPECT', displayName, ...extra } },
  );
  expect(createParty.userErrors).toEqual([]);
  return { id: createParty.party.id, uuid: uuidOf(createParty.party.id) };
}

const referralFields = `id status code channel createdAt convertedAt rewardedAt rejectedAt rejectedReason
  reward { amount currency } referrer { id } referee { id } convertingOrder { id } fraudSignals { kind evidence }`;

const createMutation = `mutation ($input: CreateReferralInput!) {
  createReferral(input: $input) { referral { ${referralFields} } userErrors { code field message } }
}`;

async function create(tenant: TenantClient, input: Record<string, unknown>) {
  return (await tenant.query(createMutation, { input })).createReferral;
}

/** A referral that must succeed; returns it. */
async function refer(tenant: TenantClient, referrer: Ref, referee: Ref, extra: Record<string, unknown> = {}) {
  const payload = await create(tenant, { referrerId: referrer.id, refereeId: referee.id, ...extra });
  expect(payload.userErrors).toEqual([]);
  return payload.referral;
}

async function transition(tenant: TenantClient, name: 'convertReferral' | 'rewardReferral' | 'rejectReferral', input: Record<string, unknown>) {
  const inputType = { convertReferral: 'ConvertReferralInput', rewardReferral: 'RewardReferralInput', rejectReferral: 'RejectReferralInput' }[name];
  const data = await tenant.query(
    `mutation ($input: ${inputType}!) { ${name}(input: $input) { referral { ${referralFields} } userErrors { code field message } } }`,
    { input },
  );
  return data[name];
}

async function referral(tenant: TenantClient, id: string) {
  return (await tenant.query(`query ($id: ID!) { node(id: $id) { ... on Referral { ${referralFields} } } }`, { id })).node;
}

/** Statements as the tenant's application role (values are made by the test itself). */
function run(tenant: TenantClient, statement: string) {
  return asTenant(api.handle, tenant.tenantId, async () => {
    await useTransaction().execute(statement);
  });
}

/** Changes the tenant's referral settings in place (settings.referrals ∪ patch). */
function settings(tenant: TenantClient, patch: Record<string, unknown>) {
  return run(
    tenant,
    `update tenants set settings = jsonb_set(settings, '{referrals}', (settings -> 'referrals') || '${JSON.stringify(patch)}'::jsonb)
     where id = '${tenant.tenantId}'`,
  );
}

/**
 * An order row written with SQL, then the order hook called in the same transaction — what
 * recordOrder does, but with any placedAt (recordOrder refuses one in the future, and these tests
 * place orders minutes after a referral made just now). recordOrder itself: 'the order hook'.
 */
function orderWithHook(tenant: TenantClient, who: Ref, amount: string, placedAt: Date) {
  return asTenant(api.handle, tenant.tenantId, async () => {
    const id = randomUUID();
    await useTransaction().execute(
      `insert into orders (tenant_id, id, party_id, amount, currency, placed_at)
       values ('${tenant.tenantId}', '${id}', '${who.uuid}', ${amount}, 'CNY', '${placedAt.toISOString()}')`,
    );
    const converted = await convertReferralForOrder({ id, partyId: who.uuid, amount, placedAt });
    return { orderId: id, referral: converted };
  });
}

/** What a refused mutation must leave untouched, counted in the database. */
async function state(tenant: TenantClient) {
  const [row] = await tenantRows(
    api.handle,
    tenant.tenantId,
    `select
       (select count(*)::int from referrals) as referrals,
       (select coalesce(string_agg(id || ':' || status || ':' || coalesce(reward_amount::text, '') || ':' || coalesce(rejected_reason, ''), ',' order by id), '') from referrals) as referral_state,
       (select count(*)::int from relationships) as relationships,
       (select count(*)::int from audit_log) as audits,
       (select coalesce(string_agg(party_id || '=' || descendants, ',' order by party_id), '') from referral_subtree_sizes) as sizes`,
  );
  return row;
}

async function refused(tenant: TenantClient, work: () => Promise<{ userErrors: unknown[]; referral?: unknown }>, expected: Record<string, unknown>) {
  const before = await state(tenant);
  const payload = await work();
  expect(payload.userErrors).toEqual([expect.objectContaining(expected)]);
  expect(payload.referral).toBeNull();
  expect(await state(tenant)).toEqual(before);
}

describe('referral codes', () => {
  test('made on first request: 8 readable random characters, stable, unique, usable case- and dash-insensitively', async () => {
    const tenant = await api.newTenant();
    const parties = [];
    for (let i = 0; i < 6; i++) parties.push(await party(tenant, `P${i}`));
    const page = `{ parties(first: 10) { edges { node { id referralCode } } } }`;
    const first = (await tenant.query(page)).parties.edges.map((e: any) => e.node);
    const codes = first.map((n: any) => n.referralCode as string);
    for (const code of codes) {
      expect(code).toHaveLength(8);
      expect([...code].every((c) => referralCodeAlphabet.includes(c))).toBe(true);
    }
    expect(referralCodeAlphabet).not.toMatch(/[0O1IL]/);
    expect(new Set(codes).size).toBe(codes.length);
    // Asked again: the same codes, no new rows.
    const again = (await tenant.query(page)).parties.edges.map((e: any) => e.node.referralCode);
    expect(again).toEqual(codes);
    const stored = await tenantRows<{ n: number }>(api.handle, tenant.tenantId, `select count(*)::int as n from referral_codes`);
    expect(stored[0]!.n).toBe(6);

    // Referring by code, written the way people type it back.
    const [referrer, referee] = [first[0], parties[1]!];
    const typed = `${referrer.referralCode.slice(0, 4).toLowerCase()}-${referrer.referralCode.slice(4)}`;
    const made = await create(tenant, { referralCode: typed, refereeId: referee.id, channel: 'WECHAT' });
    expect(made.userErrors).toEqual([]);
    expect(made.referral).toMatchObject({ code: referrer.referralCode, channel: 'WECHAT', status: 'PENDING', referrer: { id: referrer.id } });
  });
});

describe('createReferral', () => {
  test('creates the referral, its REFERRED edge (reusing one that exists) and an audit entry; referredBy and referrals read it back', async () => {
    const tenant = await api.newTenant();
    const [a, b, c] = [await party(tenant, 'A'), await party(tenant, 'B'), await party(tenant, 'C')];
    const ab = await refer(tenant, a, b, { channel: 'EVENT' });
    expect(ab).toMatchObject({ status: 'PENDING', referrer: { id: a.id }, referee: { id: b.id }, fraudSignals: [], reward: null, convertedAt: null });
    const edges = await tenantRows<{ type: string; from_party_id: string; to_party_id: string; id: string }>(
      api.handle,
      tenant.tenantId,
      `select id::text, type::text, from_party_id::text, to_party_id::text from relationships`,
    );
    expect(edges).toEqual([{ id: expect.any(String), type: 'REFERRED', from_party_id: a.uuid, to_party_id: b.uuid }]);
    const [audit] = await tenantRows<{ entity_ids: string[]; details: any }>(
      api.handle,
      tenant.tenantId,
      `select entity_ids, details from audit_log where operation = 'createReferral'`,
    );
    expect(audit!.entity_ids).toEqual([uuidOf(ab.id), a.uuid, b.uuid]);
    expect(audit!.details).toMatchObject({ relationshipId: edges[0]!.id, edgeReused: false });

    // A REFERRED edge that already joins the pair (history brought in by an import) is reused.
    const edgeId = randomUUID();
    await run(tenant, `insert into relationships (tenant_id, id, type, from_party_id, to_party_id) values ('${tenant.tenantId}', '${edgeId}', 'REFERRED', '${a.uuid}', '${c.uuid}')`);
    await refer(tenant, a, c);
    const count = await tenantRows<{ n: number }>(api.handle, tenant.tenantId, `select count(*)::int as n from relationships`);
    expect(count[0]!.n).toBe(2);
    const [reuse] = await tenantRows<{ details: any }>(
      api.handle,
      tenant.tenantId,
      `select details from audit_log where operation = 'createReferral' and '${c.uuid}' = any(entity_ids)`,
    );
    expect(reuse!.details).toMatchObject({ relationshipId: edgeId, edgeReused: true });

    const read = await tenant.query(
      `query ($a: ID!, $b: ID!) {
        a: party(id: $a) { referredBy { id } referrals(first: 1) { totalCount pageInfo { hasNextPage endCursor } edges { node { referee { id } } } } }
        b: party(id: $b) { referredBy { id } referrals { totalCount edges { node { id } } } }
      }`,
      { a: a.id, b: b.id },
    );
    expect(read.a.referredBy).toBeNull();
    expect(read.b.referredBy).toEqual({ id: a.id });
    expect(read.b.referrals).toEqual({ totalCount: 0, edges: [] });
    // Newest first.
    expect(read.a.referrals.totalCount).toBe(2);
    expect(read.a.referrals.edges.map((e: any) => e.node.referee.id)).toEqual([c.id]);
    expect(read.a.referrals.pageInfo.hasNextPage).toBe(true);
    const next = await tenant.query(
      `query ($a: ID!, $after: String) { party(id: $a) { referrals(first: 5, after: $after) { pageInfo { hasNextPage } edges { node { referee { id } } } } } }`,
      { a: a.id, after: read.a.referrals.pageInfo.endCursor },
    );
    expect(next.party.referrals.edges.map((e: any) => e.node.referee.id)).toEqual([b.id]);
    expect(next.party.referrals.pageInfo.hasNextPage).toBe(false);
  });

  test('every refusal names its field and changes nothing', async () => {
    const tenant = await api.newTenant();
    const [a, b, c, d] = [await party(tenant, 'A'), await party(tenant, 'B'), await party(tenant, 'C'), await party(tenant, 'D')];
    const { party: codeOfA } = await tenant.query(`query ($id: ID!) { party(id: $id) { referralCode } }`, { id: a.id });
    await refer(tenant, a, b);
    await refer(tenant, b, c);

    // Exactly one of referrerId / referralCode.
    await refused(tenant, () => create(tenant, { refereeId: d.id }), { code: 'VALIDATION', field: ['input', 'referrerId'] });
    await refused(tenant, () => create(tenant, { referrerId: a.id, referralCode: codeOfA.referralCode, refereeId: d.id }), {
      code: 'VALIDATION',
      field: ['input', 'referralCode'],
    });
    // Nobody refers themself, by id or by their own code.
    await refused(tenant, () => create(tenant, { referrerId: d.id, refereeId: d.id }), { code: 'VALIDATION', field: ['input', 'refereeId'] });
    await refused(tenant, () => create(tenant, { referralCode: codeOfA.referralCode, refereeId: a.id }), {
      code: 'VALIDATION',
      field: ['input', 'refereeId'],
    });
    // Unknown code, party of another tenant.
    await refused(tenant, () => create(tenant, { referralCode: 'ZZZZZZZZ', refereeId: d.id }), { code: 'NOT_FOUND', field: ['input', 'referralCode'] });
    const other = await api.newTenant();
    const foreign = await party(other, 'Foreign');
    await refused(tenant, () => create(tenant, { referrerId: foreign.id, refereeId: d.id }), { code: 'NOT_FOUND', field: ['input', 'referrerId'] });
    await refused(tenant, () => create(tenant, { referrerId: a.id, refereeId: foreign.id }), { code: 'NOT_FOUND', field: ['input', 'refereeId'] });
    // One referrer per referee.
    await refused(tenant, () => create(tenant, { referrerId: d.id, refereeId: b.id }), { code: 'CONFLICT', field: ['input', 'refereeId'] });
    // Cycles: direct (B→A after A→B) and longer (C→A after A→B→C).
    await refused(tenant, () => create(tenant, { referrerId: b.id, refereeId: a.id }), { code: 'CONFLICT', field: ['input', 'refereeId'] });
    await refused(tenant, () => create(tenant, { referrerId: c.id, refereeId: a.id }), { code: 'CONFLICT', field: ['input', 'refereeId'] });
    // A referee with orders is no new customer.
    await run(tenant, `insert into orders (tenant_id, party_id, amount, currency) values ('${tenant.tenantId}', '${d.uuid}', 10, 'CNY')`);
    await refused(tenant, () => create(tenant, { referrerId: a.id, refereeId: d.id }), { code: 'CONFLICT', field: ['input', 'refereeId'] });
    // An archived party takes no new referral until restored.
    const e = await party(tenant, 'E');
    await tenant.query(`mutation ($id: ID!) { archiveParty(input: { id: $id }) { userErrors { code } } }`, { id: e.id });
    await refused(tenant, () => create(tenant, { referrerId: a.id, refereeId: e.id }), { code: 'CONFLICT', field: ['input', 'refereeId'] });
    await refused(tenant, () => create(tenant, { referrerId: e.id, refereeId: c.id }), { code: 'CONFLICT' });
    // Channel too long.
    await refused(tenant, () => create(tenant, { referrerId: a.id, refereeId: e.id, channel: 'x'.repeat(51) }), {
      code: 'VALIDATION',
      field: ['input', 'channel'],
    });
  });
});

describe('no cycle under concurrent requests', () => {
  /** Two createReferral requests sent at the same moment; exactly one may win. */
  async function together(tenant: TenantClient, first: [Ref, Ref], second: [Ref, Ref]) {
    const responses = await Promise.all(
      [first, second].map(([referrer, referee]) => tenant.request(createMutation, { input: { referrerId: referrer.id, refereeId: referee.id } })),
    );
    for (const response of responses) expect(response.errors).toBeUndefined();
    const payloads = responses.map((response) => response.data.createReferral);
    const won = payloads.filter((p) => p.userErrors.length === 0);
    const lost = payloads.filter((p) => p.userErrors.length > 0);
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0].userErrors).toEqual([expect.objectContaining({ code: 'CONFLICT', field: ['input', 'refereeId'] })]);
  }

  /** The referral graph read back is a forest: every walk up ends at a root. */
  async function expectForest(tenant: TenantClient) {
    const rows = await tenantRows<{ referrer_id: string; referee_id: string }>(api.handle, tenant.tenantId, `select referrer_id::text, referee_id::text from referrals`);
    const parentOf = new Map(rows.map((r) => [r.referee_id, r.referrer_id]));
    expect(parentOf.size).toBe(rows.length);
    for (const start of parentOf.keys()) {
      const seen = new Set([start]);
      for (let at = parentOf.get(start); at; at = parentOf.get(at)) {
        expect(seen.has(at)).toBe(false);
        seen.add(at);
      }
    }
    const edges = await tenantRows<{ n: number }>(api.handle, tenant.tenantId, `select count(*)::int as n from relationships where type = 'REFERRED'`);
    expect(edges[0]!.n).toBe(rows.length);
  }

  /**
   * 20 rounds over fresh parties: A→B against B→A (the two requests also lock the same party
   * rows), and, after A→B and C→D, B→C against D→A — no party in common, so only the tenant's
   * graph lock can keep the cycle A→B→C→D→A out.
   */
  async function race() {
    const tenant = await api.newTenant();
    for (let round = 0; round < 20; round++) {
      const [a, b] = [await party(tenant, `A${round}`), await party(tenant, `B${round}`)];
      await together(tenant, [a, b], [b, a]);
      const [e, f, g, h] = [await party(tenant, `E${round}`), await party(tenant, `F${round}`), await party(tenant, `G${round}`), await party(tenant, `H${round}`)];
      await refer(tenant, e, f);
      await refer(tenant, g, h);
      await together(tenant, [f, g], [h, e]);
    }
    await expectForest(tenant);
  }

  test.runIf(usingPostgres())('on Postgres: of two referrals that would close a cycle together, one succeeds and one gets CONFLICT', race);
  // PGlite has a single connection, so the two transactions run one after the other anyway.
  test.runIf(!usingPostgres())('on PGlite: of two referrals that would close a cycle together, one succeeds and one gets CONFLICT', race);
});

/** The percentage of an amount in exact decimal arithmetic, rounded half up to cents. */
function percentOf(amount: string, percent: string): string {
  const [whole, fraction = ''] = amount.split('.');
  const cents = BigInt(whole! + fraction.padEnd(2, '0'));
  const [pWhole, pFraction = ''] = percent.split('.');
  const numerator = cents * BigInt(pWhole! + pFraction);
  const denominator = 100n * 10n ** BigInt(pFraction.length);
  const rounded = (2n * numerator + denominator) / (2n * denominator);
  return `${rounded / 100n}.${String(rounded % 100n).padStart(2, '0')}`;
}

describe('lifecycle and rewards', () => {
  test('the first order converts and, clean, rewards at once: FIXED policy', async () => {
    const tenant = await api.newTenant();
    const [a, b] = [await party(tenant, 'A'), await party(tenant, 'B')];
    const made = await refer(tenant, a, b);
    const createdAt = new Date(made.createdAt);
    // An order placed before the referral was made converts nothing.
    expect((await orderWithHook(tenant, b, '50.00', new Date(createdAt.getTime() - minute))).referral).toBeNull();
    const placedAt = new Date(createdAt.getTime() + 10 * minute);
    const { orderId, referral: converted } = await orderWithHook(tenant, b, '199.90', placedAt);
    expect(converted).toMatchObject({ status: 'REWARDED', rewardAmount: '20.00', rewardCurrency: 'CNY', convertingOrderId: orderId });
    expect(converted!.convertedAt!.toISOString()).toBe(placedAt.toISOString());
    const read = await referral(tenant, made.id);
    expect(read).toMatchObject({
      status: 'REWARDED',
      reward: { amount: '20.00', currency: 'CNY' },
      convertedAt: placedAt.toISOString(),
      fraudSignals: [],
    });
    expect(uuidOf(read.convertingOrder.id)).toBe(orderId);
    // The second order converts nothing.
    expect((await orderWithHook(tenant, b, '10.00', new Date(placedAt.getTime() + hour))).referral).toBeNull();
    // A paid reward cannot be rejected, nor paid twice, nor converted again.
    await refused(tenant, () => transition(tenant, 'rejectReferral', { id: made.id, reason: 'late' }), { code: 'CONFLICT', field: ['input', 'id'] });
    await refused(tenant, () => transition(tenant, 'rewardReferral', { id: made.id }), { code: 'CONFLICT' });
    await refused(tenant, () => transition(tenant, 'convertReferral', { id: made.id }), { code: 'CONFLICT' });
  });

  test('PERCENT policy: exact percentage of the converting order, rounded to cents', async () => {
    const tenant = await api.newTenant();
    await settings(tenant, { reward: { kind: 'PERCENT', amount: '7.5' } });
    const cases = ['123.45', '99.99', '0.10', '100000.01'];
    for (const amount of cases) {
      const [a, b] = [await party(tenant, `A ${amount}`), await party(tenant, `B ${amount}`)];
      const made = await refer(tenant, a, b);
      const { referral: converted } = await orderWithHook(tenant, b, amount, new Date(Date.parse(made.createdAt) + 5 * minute));
      expect(converted).toMatchObject({ status: 'REWARDED', rewardAmount: percentOf(amount, '7.5'), rewardCurrency: 'CNY' });
    }
    expect(percentOf('123.45', '7.5')).toBe('9.26');
  });

  test('autoReward off: converted only; rewardReferral pays, rejectReferral needs a reason', async () => {
    const tenant = await api.newTenant();
    await settings(tenant, { autoReward: false, reward: { kind: 'PERCENT', amount: '10' } });
    const [a, b, c] = [await party(tenant, 'A'), await party(tenant, 'B'), await party(tenant, 'C')];
    const ab = await refer(tenant, a, b);
    const ac = await refer(tenant, a, c);
    // PENDING cannot be rewarded.
    await refused(tenant, () => transition(tenant, 'rewardReferral', { id: ab.id }), { code: 'CONFLICT' });
    const { referral: converted } = await orderWithHook(tenant, b, '88.88', new Date(Date.parse(ab.createdAt) + 3 * minute));
    expect(converted).toMatchObject({ status: 'CONVERTED', rewardAmount: null });
    const paid = await transition(tenant, 'rewardReferral', { id: ab.id });
    expect(paid.userErrors).toEqual([]);
    expect(paid.referral).toMatchObject({ status: 'REWARDED', reward: { amount: '8.89', currency: 'CNY' } });

    await orderWithHook(tenant, c, '10.00', new Date(Date.parse(ac.createdAt) + 3 * minute));
    await refused(tenant, () => transition(tenant, 'rejectReferral', { id: ac.id, reason: '   ' }), { code: 'VALIDATION', field: ['input', 'reason'] });
    const rejected = await transition(tenant, 'rejectReferral', { id: ac.id, reason: 'Referee is an employee' });
    expect(rejected.userErrors).toEqual([]);
    expect(rejected.referral).toMatchObject({ status: 'REJECTED', rejectedReason: 'Referee is an employee', convertedAt: null, reward: null });
    expect(rejected.referral.rejectedAt).toEqual(expect.any(String));
    await refused(tenant, () => transition(tenant, 'rejectReferral', { id: ac.id, reason: 'again' }), { code: 'CONFLICT' });
    await refused(tenant, () => transition(tenant, 'rewardReferral', { id: ac.id }), { code: 'CONFLICT' });
    await refused(tenant, () => transition(tenant, 'convertReferral', { id: ac.id }), { code: 'CONFLICT' });
    // An id that is no referral.
    const missing = Buffer.from(`Referral:${randomUUID()}`).toString('base64');
    await refused(tenant, () => transition(tenant, 'convertReferral', { id: missing }), { code: 'NOT_FOUND', field: ['input', 'id'] });
  });

  test('manual conversion: the first order since the referral converts it; without one, now', async () => {
    const tenant = await api.newTenant();
    const [a, b, c] = [await party(tenant, 'A'), await party(tenant, 'B'), await party(tenant, 'C')];
    const ab = await refer(tenant, a, b);
    const ac = await refer(tenant, a, c);
    // Orders written before the hook existed: the earliest one since the referral converts it.
    const t0 = Date.parse(ab.createdAt);
    const later = randomUUID();
    const first = randomUUID();
    await run(
      tenant,
      `insert into orders (tenant_id, id, party_id, amount, currency, placed_at) values
        ('${tenant.tenantId}', '${later}', '${b.uuid}', 30, 'CNY', '${new Date(t0 + 2 * hour).toISOString()}'),
        ('${tenant.tenantId}', '${first}', '${b.uuid}', 20, 'CNY', '${new Date(t0 + hour).toISOString()}'),
        ('${tenant.tenantId}', gen_random_uuid(), '${b.uuid}', 5, 'CNY', '${new Date(t0 - hour).toISOString()}')`,
    );
    const converted = await transition(tenant, 'convertReferral', { id: ab.id });
    expect(converted.userErrors).toEqual([]);
    // Manual handling: converted, not rewarded (autoReward is for the order hook).
    expect(converted.referral).toMatchObject({ status: 'CONVERTED', convertedAt: new Date(t0 + hour).toISOString(), reward: null });
    expect(uuidOf(converted.referral.convertingOrder.id)).toBe(first);
    const before = Date.now();
    const noOrder = await transition(tenant, 'convertReferral', { id: ac.id });
    expect(noOrder.referral.convertingOrder).toBeNull();
    expect(Date.parse(noOrder.referral.convertedAt)).toBeGreaterThanOrEqual(before - 1000);

    // The hook does not convert with an order when an earlier one since the referral exists.
    const [d, e] = [await party(tenant, 'D'), await party(tenant, 'E')];
    const de = await refer(tenant, d, e);
    await run(
      tenant,
      `insert into orders (tenant_id, party_id, amount, currency, placed_at) values ('${tenant.tenantId}', '${e.uuid}', 1, 'CNY', '${new Date(Date.parse(de.createdAt) + minute).toISOString()}')`,
    );
    expect((await orderWithHook(tenant, e, '50.00', new Date(Date.parse(de.createdAt) + hour))).referral).toBeNull();
    expect((await referral(tenant, de.id)).status).toBe('PENDING');
  });
});

const kinds = (r: { fraudSignals: { kind: string }[] }) => r.fraudSignals.map((s) => s.kind);

describe('fraud signals', () => {
  test('SAME_CONTACT: email with case, dots and +tag ignored; phone by its digits; fires and not', async () => {
    const tenant = await api.newTenant();
    const referrer = await party(tenant, 'Li Wei', { email: 'Li.Wei+vip@Example.com', phone: '+8613800138000' });
    const sameEmail = await party(tenant, 'Alias', { email: 'liwei@example.com' });
    const samePhone = await party(tenant, 'Phone', { phone: '+8613800138000' });
    const otherDomain = await party(tenant, 'Other', { email: 'liwei@example.org', phone: '+8613800138001' });
    const otherLocal = await party(tenant, 'Other 2', { email: 'li.wei2@example.com' });
    const hit = await refer(tenant, referrer, sameEmail);
    expect(hit.fraudSignals).toEqual([
      { kind: 'SAME_CONTACT', evidence: expect.objectContaining({ fields: ['email'], referrerId: referrer.uuid, refereeId: sameEmail.uuid }) },
    ]);
    expect(kinds(await refer(tenant, referrer, samePhone))).toEqual(['SAME_CONTACT']);
    expect(kinds(await refer(tenant, referrer, otherDomain))).toEqual([]);
    expect(kinds(await refer(tenant, referrer, otherLocal))).toEqual([]);

    // At conversion too: the referee took the referrer's email after being referred; a flagged
    // conversion is held, not rewarded.
    const late = await party(tenant, 'Late');
    const quiet = await party(tenant, 'Quiet referrer', { email: 'quiet@example.com' });
    const made = await refer(tenant, quiet, late);
    expect(kinds(made)).toEqual([]);
    await tenant.query(`mutation ($id: ID!) { updateParty(input: { id: $id, email: "Q.uiet+x@EXAMPLE.com" }) { userErrors { code } } }`, { id: late.id });
    const { referral: converted } = await orderWithHook(tenant, late, '10.00', new Date(Date.parse(made.createdAt) + 10 * minute));
    expect(converted!.status).toBe('CONVERTED');
    expect(converted!.fraudSignals.map((s) => s.kind)).toEqual(['SAME_CONTACT']);
  });

  test('VELOCITY: more than maxReferralsPerHour in the rolling hour', async () => {
    const tenant = await api.newTenant();
    await settings(tenant, { maxReferralsPerHour: 2 });
    const referrer = await party(tenant, 'Busy');
    const referees = [];
    for (let i = 0; i < 4; i++) referees.push(await party(tenant, `R${i}`));
    expect(kinds(await refer(tenant, referrer, referees[0]!))).toEqual([]);
    expect(kinds(await refer(tenant, referrer, referees[1]!))).toEqual([]);
    const third = await refer(tenant, referrer, referees[2]!);
    expect(third.fraudSignals).toEqual([
      { kind: 'VELOCITY', evidence: expect.objectContaining({ referralsInHour: 3, maxReferralsPerHour: 2, referrerId: referrer.uuid }) },
    ]);
    // An hour later the window is empty again.
    await run(tenant, `update referrals set created_at = created_at - interval '61 minutes' where referrer_id = '${referrer.uuid}'`);
    expect(kinds(await refer(tenant, referrer, referees[3]!))).toEqual([]);
    // Another referrer is not counted with this one.
    const calm = await party(tenant, 'Calm');
    expect(kinds(await refer(tenant, calm, await party(tenant, 'R9')))).toEqual([]);
  });

  test('FAST_CONVERSION: sooner than minMinutesToConvert holds the reward; 0 switches it off', async () => {
    const tenant = await api.newTenant();
    const [a, b, c, d] = [await party(tenant, 'A'), await party(tenant, 'B'), await party(tenant, 'C'), await party(tenant, 'D')];
    const fast = await refer(tenant, a, b);
    const { referral: flagged } = await orderWithHook(tenant, b, '10.00', new Date(Date.parse(fast.createdAt) + 30 * 1000));
    expect(flagged).toMatchObject({ status: 'CONVERTED', rewardAmount: null });
    expect(flagged!.fraudSignals).toEqual([
      { kind: 'FAST_CONVERSION', evidence: expect.objectContaining({ minutesToConvert: 0.5, minMinutesToConvert: 2 }) },
    ]);
    // A person decides: a flagged referral may still be rewarded by hand.
    expect((await transition(tenant, 'rewardReferral', { id: fast.id })).referral).toMatchObject({ status: 'REWARDED', reward: { amount: '20.00' } });

    const slow = await refer(tenant, a, c);
    const { referral: clean } = await orderWithHook(tenant, c, '10.00', new Date(Date.parse(slow.createdAt) + 2 * minute));
    expect(clean).toMatchObject({ status: 'REWARDED', fraudSignals: [] });

    await settings(tenant, { minMinutesToConvert: 0 });
    const off = await refer(tenant, a, d);
    const { referral: instant } = await orderWithHook(tenant, d, '10.00', new Date(Date.parse(off.createdAt)));
    expect(instant).toMatchObject({ status: 'REWARDED', fraudSignals: [] });
  });

  test('RING: already tied within 2 hops by other REFERRED edges, either direction; not by other edge types or 3 hops', async () => {
    const tenant = await api.newTenant();
    const p = async (name: string) => party(tenant, name);
    const edge = (from: Ref, to: Ref) =>
      run(tenant, `insert into relationships (tenant_id, type, from_party_id, to_party_id) values ('${tenant.tenantId}', 'REFERRED', '${from.uuid}', '${to.uuid}')`);

    // Two hops: both already "referred" the same party (two accounts of one person, merged data).
    const [a, b, shared] = [await p('A'), await p('B'), await p('Shared')];
    await edge(a, shared);
    await edge(b, shared);
    const two = await refer(tenant, a, b);
    expect(two.fraudSignals).toEqual([{ kind: 'RING', evidence: expect.objectContaining({ hops: 2, via: [shared.uuid] }) }]);

    // One hop, against the direction of the new referral.
    const [c, d] = [await p('C'), await p('D')];
    await edge(d, c);
    expect((await refer(tenant, c, d)).fraudSignals).toEqual([{ kind: 'RING', evidence: expect.objectContaining({ hops: 1 }) }]);

    // Not: three hops apart; tied only by a FRIEND edge; the pair's own REFERRED edge (reused).
    const [e, x, y, f] = [await p('E'), await p('X'), await p('Y'), await p('F')];
    await edge(e, x);
    await edge(y, x);
    await edge(y, f);
    expect(kinds(await refer(tenant, e, f))).toEqual([]);
    const [g, h] = [await p('G'), await p('H')];
    await tenant.query(`mutation ($a: ID!, $b: ID!) { connectParties(input: { fromId: $a, toId: $b, type: FRIEND }) { userErrors { code } } }`, { a: g.id, b: h.id });
    expect(kinds(await refer(tenant, g, h))).toEqual([]);
    const [i, j] = [await p('I'), await p('J')];
    await edge(i, j);
    expect(kinds(await refer(tenant, i, j))).toEqual([]);

    // At conversion: the tie appeared after the referral was made; the reward is held.
    const [k, l, m] = [await p('K'), await p('L'), await p('M')];
    const kl = await refer(tenant, k, l);
    expect(kinds(kl)).toEqual([]);
    await edge(m, k);
    await edge(m, l);
    const { referral: converted } = await orderWithHook(tenant, l, '10.00', new Date(Date.parse(kl.createdAt) + 5 * minute));
    expect(converted).toMatchObject({ status: 'CONVERTED', rewardAmount: null });
    expect(converted!.fraudSignals.map((s) => s.kind)).toEqual(['RING']);
  });

  test('suspiciousReferrals lists flagged referrals newest first, paginated, with totalCount', async () => {
    const tenant = await api.newTenant();
    await settings(tenant, { maxReferralsPerHour: 1 });
    const referrer = await party(tenant, 'Referrer');
    const made = [];
    for (let i = 0; i < 5; i++) made.push(await refer(tenant, referrer, await party(tenant, `R${i}`)));
    const flagged = made.filter((r) => r.fraudSignals.length > 0).map((r) => r.id);
    expect(flagged).toHaveLength(4);
    const query = `query ($first: Int, $after: String) { suspiciousReferrals(first: $first, after: $after) {
      totalCount pageInfo { hasNextPage endCursor } edges { node { id fraudSignals { kind } } } } }`;
    const page1 = (await tenant.query(query, { first: 3 })).suspiciousReferrals;
    expect(page1.totalCount).toBe(4);
    expect(page1.edges.map((e: any) => e.node.id)).toEqual(flagged.slice().reverse().slice(0, 3));
    expect(page1.pageInfo.hasNextPage).toBe(true);
    const page2 = (await tenant.query(query, { first: 3, after: page1.pageInfo.endCursor })).suspiciousReferrals;
    expect(page2.edges.map((e: any) => e.node.id)).toEqual([flagged[0]]);
    expect(page2.pageInfo.hasNextPage).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------
// Graph queries against an independent computation over the rows read back
// ---------------------------------------------------------------------------------------------

type Row = {
  id: string;
  referrer_id: string;
  referee_id: string;
  status: string;
  created_ms: string;
  rewarded_ms: string | null;
  reward_amount: string | null;
};

const cents = (amount: string) => {
  const [whole, fraction = ''] = amount.split('.');
  return BigInt(whole! + fraction.padEnd(2, '0').slice(0, 2));
};
const money = (value: bigint) => `${value / 100n}.${String(value % 100n).padStart(2, '0')}`;

/** A small deterministic generator, so a failure can be replayed. */
function rng(seed: number) {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

describe('chain, tree, leaderboard and stats', () => {
  test('match a BFS and sums over the rows read back', async () => {
    const tenant = await api.newTenant();
    await settings(tenant, { maxReferralsPerHour: 1000 });
    const random = rng(7);
    const people: Ref[] = [];
    for (let i = 0; i < 36; i++) people.push(await party(tenant, `P${String(i).padStart(2, '0')}`));
    // Four roots; everyone else is referred by someone made before them (a forest of depth > 3).
    for (let i = 4; i < people.length; i++) {
      const parent = people[Math.floor(random() * i)]!;
      await refer(tenant, parent, people[i]!);
    }
    // One party referred before the others it now refers (a root that gains a referrer keeps its tree).
    const late = await party(tenant, 'Late');
    const lateChild = await party(tenant, 'Late child');
    await refer(tenant, late, lateChild);
    await refer(tenant, people[5]!, late);
    people.push(late, lateChild);

    // Spread creation times over two days, in creation order, so periods mean something.
    const base = Date.UTC(2025, 0, 1);
    await run(
      tenant,
      `update referrals f set created_at = '${new Date(base).toISOString()}'::timestamptz + (o.n * interval '1 hour')
       from (select id, row_number() over (order by created_at, id) as n from referrals) o where o.id = f.id`,
    );
    const firstRows = await tenantRows<Row>(api.handle, tenant.tenantId, `select id::text, referee_id::text, (extract(epoch from created_at) * 1000)::bigint::text as created_ms from referrals`);
    const createdOf = new Map(firstRows.map((r) => [r.referee_id, Number(r.created_ms)]));
    // Orders: some referees buy (once or twice), one before its referral (not counted); some
    // referrals are rejected or rewarded by hand.
    for (const [index, person] of people.entries()) {
      const created = createdOf.get(person.uuid);
      if (created === undefined) continue;
      const roll = random();
      if (roll < 0.55) {
        const amount = `${Math.floor(random() * 900) + 10}.${String(Math.floor(random() * 100)).padStart(2, '0')}`;
        await orderWithHook(tenant, person, amount, new Date(created + (index % 3 === 0 ? 30 * 1000 : 10 * minute)));
        if (roll < 0.25) await orderWithHook(tenant, person, '12.34', new Date(created + 3 * hour));
      } else if (roll < 0.65) {
        await orderWithHook(tenant, person, '999.99', new Date(created - minute));
      }
    }
    const rowsNow = await tenantRows<{ id: string; status: string }>(api.handle, tenant.tenantId, `select id::text, status::text from referrals order by id`);
    const global = (uuid: string) => Buffer.from(`Referral:${uuid}`).toString('base64');
    const converted = rowsNow.filter((r) => r.status === 'CONVERTED');
    if (converted[0]) await transition(tenant, 'rejectReferral', { id: global(converted[0].id), reason: 'duplicate household' });
    if (converted[1]) await transition(tenant, 'rewardReferral', { id: global(converted[1].id) });
    const pending = rowsNow.filter((r) => r.status === 'PENDING');
    if (pending[0]) await transition(tenant, 'rejectReferral', { id: global(pending[0].id), reason: 'no show' });

    // --- Read everything back and compute independently.
    const statuses = await tenantRows<{ status: string; flagged: boolean }>(
      api.handle,
      tenant.tenantId,
      `select status::text, fraud_signals <> '[]'::jsonb as flagged from referrals`,
    );
    // The data exercises every status and flagged conversions (so the numbers below are not all zero).
    for (const status of ['PENDING', 'CONVERTED', 'REWARDED', 'REJECTED']) expect(statuses.some((r) => r.status === status)).toBe(true);
    expect(statuses.some((r) => r.flagged && r.status === 'CONVERTED')).toBe(true);
    const rows = await tenantRows<Row>(
      api.handle,
      tenant.tenantId,
      `select id::text, referrer_id::text, referee_id::text, status::text,
         (extract(epoch from created_at) * 1000)::bigint::text as created_ms,
         (extract(epoch from rewarded_at) * 1000)::bigint::text as rewarded_ms, reward_amount::text
       from referrals`,
    );
    const orderRows = await tenantRows<{ party_id: string; amount: string; placed_ms: string }>(
      api.handle,
      tenant.tenantId,
      `select party_id::text, amount::text, (extract(epoch from placed_at) * 1000)::bigint::text as placed_ms from orders`,
    );
    const parent = new Map(rows.map((r) => [r.referee_id, r.referrer_id]));
    const byReferee = new Map(rows.map((r) => [r.referee_id, r]));
    const children = new Map<string, Row[]>();
    for (const r of rows) children.set(r.referrer_id, [...(children.get(r.referrer_id) ?? []), r]);
    const byCreation = (x: Row, y: Row) => Number(x.created_ms) - Number(y.created_ms) || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0);
    const chainOf = (uuid: string) => {
      const chain: string[] = [];
      for (let at = parent.get(uuid); at; at = parent.get(at)) chain.push(at);
      return chain;
    };
    const bfs = (root: string, maxDepth: number) => {
      const out: { uuid: string; depth: number }[] = [];
      let level = [root];
      for (let depth = 1; depth <= maxDepth && level.length > 0; depth++) {
        const next = level.flatMap((p) => children.get(p) ?? []).sort(byCreation);
        out.push(...next.map((r) => ({ uuid: r.referee_id, depth })));
        level = next.map((r) => r.referee_id);
      }
      return out;
    };
    const partyId = (uuid: string) => people.find((p) => p.uuid === uuid)!.id;

    // Chains (in groups: the API allows 30 aliases per request).
    for (let start = 0; start < people.length; start += 20) {
      const group = people.slice(start, start + 20);
      const chains = await tenant.query(`query { ${group.map((p, i) => `c${i}: referralChain(partyId: "${p.id}") { id }`).join(' ')} }`);
      group.forEach((p, i) => expect(chains[`c${i}`].map((x: any) => uuidOf(x.id))).toEqual(chainOf(p.uuid)));
    }
    expect(chainOf(people[0]!.uuid)).toEqual([]);

    // Trees: every party, several depths and page sizes.
    const treeQuery = `query ($root: ID!, $depth: Int, $first: Int) { referralTree(rootId: $root, maxDepth: $depth, first: $first) { totalCount nodes { depth party { id } } } }`;
    for (const root of people) {
      for (const [depth, first] of [[10, 100], [1, 100], [2, 3], [3, 0]] as const) {
        const { referralTree } = await tenant.query(treeQuery, { root: root.id, depth, first });
        const expected = bfs(root.uuid, depth);
        expect(referralTree.totalCount).toBe(expected.length);
        expect(referralTree.nodes.map((n: any) => ({ uuid: uuidOf(n.party.id), depth: n.depth }))).toEqual(expected.slice(0, first));
      }
    }
    const deepest = Math.max(...people.map((p) => chainOf(p.uuid).length));
    expect(deepest).toBeGreaterThanOrEqual(3);

    // Subtree counts kept by the triggers equal a count over the rows.
    const descendants = new Map<string, number>();
    for (const r of rows) for (const a of chainOf(r.referee_id)) descendants.set(a, (descendants.get(a) ?? 0) + 1);
    const sizes = await tenantRows<{ party_id: string; descendants: number }>(api.handle, tenant.tenantId, `select party_id::text, descendants from referral_subtree_sizes`);
    expect(new Map(sizes.map((s) => [s.party_id, s.descendants]))).toEqual(descendants);

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
          .map((n) => ({ party: { id: partyId(n.party) }, conversions: n.conversions, revenue: money(n.revenue), subtreeSize: n.subtreeSize }));
        const { topReferrers } = await tenant.query(
          `query ($since: DateTime, $until: DateTime, $by: ReferrerRanking!) { topReferrers(since: $since, until: $until, by: $by, first: 5) { party { id } conversions revenue subtreeSize } }`,
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
        `query ($since: DateTime, $until: DateTime) { referralStats(since: $since, until: $until) { referrals converted conversionRate referrers kFactor rewardsPaid } }`,
        args,
      );
      expect(referralStats).toEqual({
        referrals: chosen.length,
        converted: convertedCount,
        conversionRate,
        referrers: referrers.length,
        kFactor: referrers.length === 0 ? 0 : (chosen.length / referrers.length) * conversionRate,
        rewardsPaid: money(rewardsPaid),
      });
    }
    expect(byReferee.size).toBe(rows.length);
  });

  test('limits and unknown ids', async () => {
    const tenant = await api.newTenant();
    const a = await party(tenant, 'A');
    const treeQuery = `query ($root: ID!, $depth: Int, $first: Int) { referralTree(rootId: $root, maxDepth: $depth, first: $first) { totalCount } }`;
    for (const [depth, first] of [[0, 10], [11, 10], [10, 1001], [10, -1]]) {
      const response = await tenant.request(treeQuery, { root: a.id, depth, first });
      expect(response.errors?.[0]?.extensions?.code).toBe('VALIDATION');
    }
    expect((await tenant.query(treeQuery, { root: a.id, depth: 10, first: 1000 })).referralTree).toEqual({ totalCount: 0 });
    const top = await tenant.request(`{ topReferrers(by: REVENUE, first: 101) { subtreeSize } }`);
    expect(top.errors?.[0]?.extensions?.code).toBe('VALIDATION');
    const backwards = await tenant.request(`{ referralStats(since: "2025-02-01T00:00:00Z", until: "2025-01-01T00:00:00Z") { referrals } }`);
    expect(backwards.errors?.[0]?.extensions?.code).toBe('VALIDATION');
    // An empty tenant: zeros, not NaN.
    expect((await tenant.query(`{ referralStats { referrals converted conversionRate referrers kFactor rewardsPaid } topReferrers(by: SUBTREE_SIZE) { subtreeSize } }`))).toEqual({
      referralStats: { referrals: 0, converted: 0, conversionRate: 0, referrers: 0, kFactor: 0, rewardsPaid: '0.00' },
      topReferrers: [],
    });
    const unknown = Buffer.from(`Party:${randomUUID()}`).toString('base64');
    const other = await api.newTenant();
    const foreign = await party(other, 'Foreign');
    const read = await tenant.query(`query ($u: ID!, $f: ID!) {
      u: referralChain(partyId: $u) { id } f: referralChain(partyId: $f) { id } a: referralChain(partyId: "${a.id}") { id }
      t: referralTree(rootId: $u) { totalCount } tf: referralTree(rootId: $f) { totalCount } }`, { u: unknown, f: foreign.id });
    expect(read).toEqual({ u: null, f: null, a: [], t: null, tf: null });
  });
});

describe('subtree counts follow every write to referrals', () => {
  test('bulk inserts in any order, deletes and re-pointed referrals; a cycle is refused by the database', async () => {
    const tenant = await api.newTenant();
    const p: Ref[] = [];
    for (let i = 0; i < 8; i++) p.push(await party(tenant, `N${i}`));
    const values = (pairs: [number, number][]) =>
      pairs.map(([from, to]) => `('${tenant.tenantId}', '${p[from]!.uuid}', '${p[to]!.uuid}', 'PENDING')`).join(', ');
    const insert = (pairs: [number, number][]) => run(tenant, `insert into referrals (tenant_id, referrer_id, referee_id, status) values ${values(pairs)}`);
    const expectSizes = async () => {
      const rows = await tenantRows<{ referrer_id: string; referee_id: string }>(api.handle, tenant.tenantId, `select referrer_id::text, referee_id::text from referrals`);
      const parentOf = new Map(rows.map((r) => [r.referee_id, r.referrer_id]));
      const expected = new Map<string, number>();
      for (const r of rows) for (let at: string | undefined = r.referrer_id; at; at = parentOf.get(at)) expected.set(at, (expected.get(at) ?? 0) + 1);
      const sizes = await tenantRows<{ party_id: string; descendants: number }>(api.handle, tenant.tenantId, `select party_id::text, descendants from referral_subtree_sizes`);
      expect(new Map(sizes.map((s) => [s.party_id, s.descendants]))).toEqual(expected);
      return expected;
    };
    // Children before parents, in one statement; then a root with a subtree gains a referrer.
    await insert([[2, 3], [1, 2], [3, 4]]);
    await expectSizes();
    await insert([[5, 6]]);
    await insert([[0, 1], [0, 5]]);
    expect((await expectSizes()).get(p[0]!.uuid)).toBe(6);
    // Re-pointing (as a merge does) moves the whole subtree; several rows in one statement.
    await run(tenant, `update referrals set referrer_id = '${p[7]!.uuid}' where referrer_id in ('${p[0]!.uuid}', '${p[2]!.uuid}')`);
    await expectSizes();
    await run(tenant, `update referrals set referee_id = '${p[0]!.uuid}' where referee_id = '${p[6]!.uuid}'`);
    await expectSizes();
    await run(tenant, `delete from referrals where referee_id in ('${p[1]!.uuid}', '${p[3]!.uuid}')`);
    await expectSizes();
    // A cycle written straight into the table is refused (check_violation), and nothing changes:
    // now 7→5→0, so 0→5 (re-pointed) and 0→7 (inserted) each close one.
    const before = await expectSizes();
    const code = (work: Promise<unknown>) => work.then(() => null, (error: any) => error.cause?.code ?? error.code);
    expect(await code(run(tenant, `update referrals set referrer_id = '${p[0]!.uuid}' where referee_id = '${p[5]!.uuid}'`))).toBe('23514');
    expect(await code(run(tenant, `insert into referrals (tenant_id, referrer_id, referee_id, status) values ${values([[0, 7]])}`))).toBe('23514');
    expect(await expectSizes()).toEqual(before);
  });
});

describe('batched reads', () => {
  const counter = createStatementCounter();
  let counted: TestApi;
  beforeAll(async () => {
    counted = await createTestApi({ rateLimits: null }, { logger: counter.logger });
  });
  afterAll(() => counted.close());

  test("a page of parties with referralCode, referredBy and referrals takes as many statements for 12 parties as for 3", async () => {
    const tenant = await counted.newTenant();
    const people: Ref[] = [];
    for (let i = 0; i < 12; i++) people.push(await party(tenant, `P${i}`));
    for (let i = 1; i < 12; i++) await refer(tenant, people[Math.floor((i - 1) / 3)]!, people[i]!);
    const page = `query ($first: Int) { parties(first: $first) { edges { node { id referralCode referredBy { id displayName }
      referrals(first: 2) { totalCount edges { node { status referee { displayName } } } } } } } }`;
    // The first read makes the codes (one insert and one audit entry for the whole page).
    await tenant.query(page, { first: 12 });
    const statements = async (first: number) => {
      counter.reset();
      const data = await tenant.query(page, { first });
      expect(data.parties.edges).toHaveLength(first);
      return counter.count;
    };
    const three = await statements(3);
    const twelve = await statements(12);
    expect(twelve).toBe(three);
    expect(twelve).toBeLessThanOrEqual(12);
  });
});

describe('the order hook in recordOrder', () => {
  const recordOrder = `mutation ($input: RecordOrderInput!) {
    recordOrder(input: $input) { order { id amount } referral { ${referralFields} } userErrors { code field message } }
  }`;

  /** Queued webhook events of the tenant, oldest first: what partners will be sent. */
  async function events(tenant: TenantClient) {
    const rows = await tenantRows<{ event: string; payload: any }>(
      api.handle,
      tenant.tenantId,
      'select event, payload from webhook_deliveries order by created_at, event',
    );
    return rows.map((row) => ({ event: row.event, referral: row.payload.referral }));
  }

  test("the referee's first recorded order converts and rewards in the same mutation; partners get referral.* events", async () => {
    const tenant = await api.newTenant();
    await run(
      tenant,
      `insert into webhooks (tenant_id, id, url, events, secret) values
       ('${tenant.tenantId}', '${randomUUID()}', 'https://partner.example/hook', '{referral.*}', 'whsec_test')`,
    );
    // An order this soon after the referral would be flagged FAST_CONVERSION (and not rewarded).
    await settings(tenant, { minMinutesToConvert: 0 });
    const [a, b] = [await party(tenant, 'A'), await party(tenant, 'B')];
    const made = await refer(tenant, a, b);

    // A refused order (satisfaction out of range) converts nothing and queues nothing.
    const before = await state(tenant);
    const refusedOrder = (await tenant.query(recordOrder, { input: { partyId: b.id, amount: '199.90', satisfaction: 9 } })).recordOrder;
    expect(refusedOrder).toMatchObject({ order: null, referral: null, userErrors: [expect.objectContaining({ code: 'VALIDATION' })] });
    expect(await state(tenant)).toEqual(before);
    expect((await events(tenant)).map((e) => e.event)).toEqual(['referral.created']);

    const { recordOrder: first } = await tenant.query(recordOrder, { input: { partyId: b.id, amount: '199.90' } });
    expect(first.userErrors).toEqual([]);
    expect(first.referral).toMatchObject({ id: made.id, status: 'REWARDED', reward: { amount: '20.00', currency: 'CNY' } });
    expect(first.referral.convertingOrder.id).toBe(first.order.id);
    expect(await referral(tenant, made.id)).toMatchObject({ status: 'REWARDED', convertingOrder: { id: first.order.id } });

    // The second order converts nothing: the payload says so.
    const { recordOrder: second } = await tenant.query(recordOrder, { input: { partyId: b.id, amount: '10.00' } });
    expect(second).toMatchObject({ referral: null, userErrors: [] });

    const queued = await events(tenant);
    expect(queued.map((e) => e.event)).toEqual(['referral.created', 'referral.converted', 'referral.rewarded']);
    const referralUuid = uuidOf(made.id);
    expect(queued[0]!.referral).toMatchObject({ id: referralUuid, status: 'PENDING', referrer: { id: a.uuid }, referee: { id: b.uuid }, reward: null });
    expect(queued[1]!.referral).toMatchObject({ id: referralUuid, status: 'CONVERTED', convertingOrder: { id: uuidOf(first.order.id) } });
    expect(queued[2]!.referral).toMatchObject({ id: referralUuid, status: 'REWARDED', reward: { amount: '20.00', currency: 'CNY' } });
    // Ids and money only: no name of either person travels in the event.
    expect(JSON.stringify(queued)).not.toMatch(/"A"|"B"|displayName/);
  });
});

