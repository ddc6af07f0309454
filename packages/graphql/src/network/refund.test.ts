import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApi, type TenantClient, type TestApi } from '../../test/helpers';

let api: TestApi;
beforeAll(async () => {
  api = await createTestApi({ rateLimits: null });
});
afterAll(() => api.close());

const day = 86_400_000;
const daysAgo = (days: number) => new Date(Date.now() - days * day).toISOString();

async function newParty(tenant: TenantClient, name = 'Buyer'): Promise<string> {
  const { createParty } = await tenant.query(`mutation ($input: CreatePartyInput!) { createParty(input: $input) { party { id } } }`, {
    input: { kind: 'CUSTOMER', displayName: name },
  });
  return createParty.party.id;
}

async function order(tenant: TenantClient, partyId: string, amount: string, placedAt?: string) {
  const { recordOrder } = await tenant.query(
    `mutation ($input: RecordOrderInput!) { recordOrder(input: $input) { order { id } referral { id status } userErrors { message } } }`,
    { input: { partyId, amount, ...(placedAt ? { placedAt } : {}) } },
  );
  expect(recordOrder.userErrors).toEqual([]);
  return recordOrder as { order: { id: string }; referral: { id: string; status: string } | null };
}

const refund = /* GraphQL */ `
  mutation ($input: RefundOrderInput!) {
    refundOrder(input: $input) {
      order { id amount { amount } refunded { amount } netAmount { amount currency } refunds { amount { amount } reason } }
      refund { id amount { amount currency } reason actor { kind } }
      reversedPoints
      referral { id status fraudSignals { kind } }
      userErrors { code field message }
    }
  }
`;
const points = /* GraphQL */ `query ($id: ID!) { party(id: $id) { points { available pending debt balance } } }`;

describe('refundOrder', () => {
  test('partial refunds lower the net amount and take back points in proportion, never beyond the order', async () => {
    const tenant = await api.newTenant();
    const party = await newParty(tenant);
    const { order: placed } = await order(tenant, party, '100.00');
    const first = (await tenant.query(refund, { input: { orderId: placed.id, amount: '30', reason: 'Damaged box' } })).refundOrder;
    expect(first.userErrors).toEqual([]);
    expect(first.order).toMatchObject({ refunded: { amount: '30' }, netAmount: { amount: '70.00', currency: 'CNY' } });
    expect(first.refund).toMatchObject({ amount: { amount: '30', currency: 'CNY' }, reason: 'Damaged box', actor: { kind: 'API_KEY' } });
    expect(first.reversedPoints).toBe(30);
    expect((await tenant.query(points, { id: party })).party.points).toMatchObject({ pending: 70, available: 0 });

    const tooMuch = (await tenant.query(refund, { input: { orderId: placed.id, amount: '70.01' } })).refundOrder;
    expect(tooMuch.userErrors).toEqual([{ code: 'VALIDATION', field: ['input', 'amount'], message: 'The refunds of an order never exceed it: 70.00 is left to refund' }]);
    for (const amount of ['0', '-1', '1.001']) {
      expect((await tenant.query(refund, { input: { orderId: placed.id, amount } })).refundOrder.userErrors[0]).toMatchObject({ code: 'VALIDATION' });
    }
    // Without an amount: what is left.
    const rest = (await tenant.query(refund, { input: { orderId: placed.id } })).refundOrder;
    expect(rest.order.netAmount.amount).toBe('0.00');
    expect(rest.order.refunds.map((r: any) => r.amount.amount)).toEqual(['30', '70.00']);
    expect(rest.reversedPoints).toBe(70);
    const again = (await tenant.query(refund, { input: { orderId: placed.id } })).refundOrder;
    expect(again.userErrors).toEqual([{ code: 'VALIDATION', field: ['input', 'orderId'], message: 'The order is already fully refunded' }]);
    expect((await tenant.query(points, { id: party })).party.points).toMatchObject({ pending: 0, available: 0, debt: 0 });
  });

  test('reversed points are ⌊earned × refunded ÷ amount⌋ in all, each refund writing the difference', async () => {
    const tenant = await api.newTenant();
    const party = await newParty(tenant);
    const { order: placed } = await order(tenant, party, '10.01'); // earns 10
    const take = async (amount: string) => (await tenant.query(refund, { input: { orderId: placed.id, amount } })).refundOrder.reversedPoints;
    expect(await take('3.00')).toBe(2); // ⌊10 × 3 / 10.01⌋ = 2
    expect(await take('3.00')).toBe(3); // ⌊10 × 6 / 10.01⌋ = 5
    expect(await take('4.00')).toBe(4); // ⌊10 × 10 / 10.01⌋ = 9
    expect(await take('0.01')).toBe(1); // all 10
  });

  test('points already spent become debt: the balance goes negative, redemptions are refused, new points pay it first', async () => {
    const tenant = await api.newTenant();
    const party = await newParty(tenant);
    const { order: placed } = await order(tenant, party, '100', daysAgo(10));
    await tenant.query(`mutation ($id: ID!) { redeemPoints(input: { partyId: $id, points: 90 }) { userErrors { code } } }`, { id: party });
    const refunded = (await tenant.query(refund, { input: { orderId: placed.id } })).refundOrder;
    expect(refunded.reversedPoints).toBe(100);
    expect((await tenant.query(points, { id: party })).party.points).toEqual({ available: 0, pending: 0, debt: 90, balance: -90 });
    const refused = await tenant.query(`mutation ($id: ID!) { redeemPoints(input: { partyId: $id, points: 1 }) { userErrors { code } } }`, { id: party });
    expect(refused.redeemPoints.userErrors).toEqual([{ code: 'CONFLICT' }]);
    await tenant.query(`mutation ($id: ID!) { adjustPoints(input: { partyId: $id, points: 100, reason: "Goodwill" }) { userErrors { code } } }`, { id: party });
    expect((await tenant.query(points, { id: party })).party.points).toEqual({ available: 10, pending: 0, debt: 0, balance: 10 });
  });

  test('a full refund of a converting order rejects a CONVERTED referral and flags a REWARDED one', async () => {
    const tenant = await api.newTenant();
    const make = async (minMinutesToConvert: number) => {
      await tenant.query(`mutation ($m: Int!) { updateTenantSettings(input: { referrals: { minMinutesToConvert: $m } }) { userErrors { message } } }`, { m: minMinutesToConvert });
      const referrer = await newParty(tenant, `Referrer ${minMinutesToConvert}`);
      const referee = await newParty(tenant, `Referee ${minMinutesToConvert}`);
      await tenant.query(`mutation ($a: ID!, $b: ID!) { createReferral(input: { referrerId: $a, refereeId: $b }) { userErrors { message } } }`, { a: referrer, b: referee });
      return order(tenant, referee, '50.00');
    };
    // Converted within minMinutesToConvert: flagged FAST_CONVERSION, so not rewarded automatically.
    const flagged = await make(2);
    expect(flagged.referral?.status).toBe('CONVERTED');
    const partly = (await tenant.query(refund, { input: { orderId: flagged.order.id, amount: '10' } })).refundOrder;
    expect(partly.referral).toBeNull();
    const rejected = (await tenant.query(refund, { input: { orderId: flagged.order.id } })).refundOrder;
    expect(rejected.referral).toMatchObject({ id: flagged.referral!.id, status: 'REJECTED' });
    const { node } = await tenant.query(`query ($id: ID!) { node(id: $id) { ... on Referral { rejectedReason } } }`, { id: flagged.referral!.id });
    expect(node.rejectedReason).toBe('converting order refunded');

    const rewarded = await make(0);
    expect(rewarded.referral?.status).toBe('REWARDED');
    const kept = (await tenant.query(refund, { input: { orderId: rewarded.order.id } })).refundOrder;
    expect(kept.referral).toMatchObject({ status: 'REWARDED', fraudSignals: [{ kind: 'REFUNDED_AFTER_REWARD' }] });
  });

  test('the stage policy counts a fully refunded order as no order', async () => {
    const tenant = await api.newTenant();
    const kept = await newParty(tenant, 'Kept');
    const returned = await newParty(tenant, 'Returned');
    // Rated 5: a first satisfying order moves a party on (FIRST_SATISFYING_ORDER).
    const satisfied = async (party: string) =>
      (
        await tenant.query(`mutation ($input: RecordOrderInput!) { recordOrder(input: $input) { order { id } } }`, {
          input: { partyId: party, amount: '60.00', satisfaction: 5, placedAt: daysAgo(3) },
        })
      ).recordOrder.order as { id: string };
    await satisfied(kept);
    const placed = await satisfied(returned);
    await tenant.query(refund, { input: { orderId: placed.id } });
    const { applyStagePolicy } = await tenant.query(`mutation { applyStagePolicy(input: {}) { run { parties } userErrors { message } } }`);
    expect(applyStagePolicy.userErrors).toEqual([]);
    const stageOf = async (id: string) => (await tenant.query(`query ($id: ID!) { party(id: $id) { stage } }`, { id })).party.stage;
    expect(await stageOf(kept)).toBe('TRUST_BUILDING');
    expect(await stageOf(returned)).toBe('INITIAL_CONTACT');
  });

  test('an unknown order is NOT_FOUND; a key without network:write may not refund', async () => {
    const tenant = await api.newTenant();
    const unknown = Buffer.from('Order:00000000-0000-4000-8000-000000000000').toString('base64');
    expect((await tenant.query(refund, { input: { orderId: unknown } })).refundOrder.userErrors[0]).toMatchObject({ code: 'NOT_FOUND' });
    const { createApiKey } = await tenant.query(`mutation { createApiKey(input: { name: "reader", scopes: [NETWORK_READ, LOYALTY_WRITE] }) { secret } }`);
    const { postGraphQL } = await import('../../test/helpers');
    const response = await postGraphQL(api.server, refund, { input: { orderId: unknown } }, { authorization: `ApiKey ${createApiKey.secret}` });
    expect(response.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});
