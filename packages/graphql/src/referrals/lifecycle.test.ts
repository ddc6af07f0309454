import { randomUUID } from 'node:crypto';
import { tenantRows } from '@guanxi/core/test';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApi, type TenantClient, type TestApi } from '../../test/helpers';
import { hour, minute, party, refer, referral, referralFields, referralTables, transition, uuidOf } from '../../test/referrals';

let api: TestApi;
beforeAll(async () => {
  api = await createTestApi({ rateLimits: null });
});
afterAll(() => api.close());
const { run, settings, orderWithHook, state, refused } = referralTables(() => api);

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

describe('the order hook in recordOrder', () => {
  const recordOrder = `mutation ($input: RecordOrderInput!) {
    recordOrder(input: $input) { order { id amount { amount currency } } referral { ${referralFields} } userErrors { code field message } }
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
