import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runTenantScoring } from '@guanxi/core/loyalty';
import { execInTransaction, tenantExec, tenantRows, usingPostgres } from '@guanxi/core/test';
import { allowInsecureWebhookTargets } from '../webhooks/webhook';
import { createStatementCounter, createTestApi, postGraphQL, type TenantClient, type TestApi } from '../../test/helpers';

let api: TestApi;
const counter = createStatementCounter();
beforeAll(async () => {
  api = await createTestApi({ rateLimits: null }, { logger: counter.logger });
  allowInsecureWebhookTargets(api.handle.db);
});
afterAll(() => api.close());

const day = 86_400_000;
const daysAgo = (days: number) => new Date(Date.now() - days * day).toISOString();

const points = /* GraphQL */ `
  query ($id: ID!) {
    party(id: $id) {
      points { available pending lifetimeEarned debt balance expiringSoon(days: 3650) { points expiresAt } }
      pointsLedger(first: 50) { totalCount edges { node { kind points source reason order { id } referral { id } availableAt expiresAt idempotencyKey actor { kind } } } }
    }
  }
`;

async function newParty(tenant: TenantClient, name = 'Member'): Promise<string> {
  const { createParty } = await tenant.query(`mutation ($input: CreatePartyInput!) { createParty(input: $input) { party { id } } }`, {
    input: { kind: 'CUSTOMER', displayName: name },
  });
  return createParty.party.id;
}

async function order(tenant: TenantClient, partyId: string, amount: string, placedAt?: string): Promise<string> {
  const { recordOrder } = await tenant.query(
    `mutation ($input: RecordOrderInput!) { recordOrder(input: $input) { order { id } userErrors { message } } }`,
    { input: { partyId, amount, ...(placedAt ? { placedAt } : {}) } },
  );
  expect(recordOrder.userErrors).toEqual([]);
  return recordOrder.order.id;
}

const redeem = /* GraphQL */ `
  mutation ($input: RedeemPointsInput!) {
    redeemPoints(input: $input) { entry { id kind points reason } party { points { available } } userErrors { code field message } }
  }
`;
const adjust = /* GraphQL */ `
  mutation ($input: AdjustPointsInput!) {
    adjustPoints(input: $input) { entry { id kind points reason availableAt expiresAt } party { points { available balance } } userErrors { code field message } }
  }
`;

const pointsOf = async (tenant: TenantClient, id: string) => (await tenant.query(points, { id })).party;

describe('earning', () => {
  test('an order earns ⌊amount × pointsPerUnit⌋, pending for 7 days after it was placed, expiring 365 days after that', async () => {
    const tenant = await api.newTenant();
    const party = await newParty(tenant);
    const placedAt = daysAgo(2);
    const orderId = await order(tenant, party, '199.90', placedAt);
    const read = await pointsOf(tenant, party);
    expect(read.points).toMatchObject({ available: 0, pending: 199, lifetimeEarned: 199, debt: 0, balance: 0 });
    const [entry] = read.pointsLedger.edges.map((e: any) => e.node);
    expect(entry).toMatchObject({ kind: 'EARN', points: 199, source: 'ORDER', order: { id: orderId }, actor: { kind: 'API_KEY' } });
    expect(Date.parse(entry.availableAt)).toBe(Date.parse(placedAt) + 7 * day);
    expect(Date.parse(entry.expiresAt)).toBe(Date.parse(placedAt) + 372 * day);
  });

  test('pending turns available when the return window ends, and an expired lot no longer counts', async () => {
    const tenant = await api.newTenant();
    const party = await newParty(tenant);
    await order(tenant, party, '10.00', daysAgo(6));
    await order(tenant, party, '20.00', daysAgo(8));
    await order(tenant, party, '40.00', daysAgo(400));
    const read = await pointsOf(tenant, party);
    expect(read.points).toMatchObject({ pending: 10, available: 20, lifetimeEarned: 70, balance: 20 });
    // Soonest first; the pending lot is listed too (it expires within the 10 years asked).
    expect(read.points.expiringSoon.map((e: any) => e.points)).toEqual([20, 10]);
  });

  test('tier multipliers and pointsPerUnit from the settings, rounded down in exact decimal; 0 turns earning off', async () => {
    const tenant = await api.newTenant();
    const party = await newParty(tenant);
    const { updateTenantSettings } = await tenant.query(
      `mutation ($input: UpdateTenantSettingsInput!) { updateTenantSettings(input: $input) { tenant { settings } userErrors { field message } } }`,
      { input: { points: { pointsPerUnit: '2.5', tierMultipliers: { gold: '1.5' } } } },
    );
    expect(updateTenantSettings.userErrors).toEqual([]);
    expect(updateTenantSettings.tenant.settings.points).toEqual({
      pointsPerUnit: '2.5',
      pendingDays: 7,
      expiryDays: 365,
      tierMultipliers: { bronze: '1', silver: '1.2', gold: '1.5', platinum: '2' },
    });
    // No tier yet: × 1. 10.01 × 2.5 = 25.025 → 25.
    await order(tenant, party, '10.01');
    // GOLD: 10.01 × 2.5 × 1.5 = 37.5375 → 37.
    await tenantExec(api.handle, tenant.tenantId, (sql) => sql`update party_loyalty set score = 75, segment = 'IMPORTANT_VALUE', tier = 'GOLD' where party_id = ${partyUuid(party)}`);
    await order(tenant, party, '10.01');
    expect((await pointsOf(tenant, party)).points.pending).toBe(25 + 37);

    await tenant.query(`mutation { updateTenantSettings(input: { points: { pointsPerUnit: "0" } }) { userErrors { message } } }`);
    await order(tenant, party, '500.00');
    const read = await pointsOf(tenant, party);
    expect(read.points.pending).toBe(62);
    expect(read.pointsLedger.totalCount).toBe(2);
  });

  test('settings out of range are VALIDATION and change nothing', async () => {
    const tenant = await api.newTenant();
    const { updateTenantSettings } = await tenant.query(
      `mutation { updateTenantSettings(input: { points: { pointsPerUnit: "1.23456", pendingDays: 400, expiryDays: -1, tierMultipliers: { gold: "11" } } }) { tenant { id } userErrors { field message } } }`,
    );
    expect(updateTenantSettings.tenant).toBeNull();
    expect(updateTenantSettings.userErrors.map((e: any) => e.field.join('.')).sort()).toEqual([
      'input.points.expiryDays',
      'input.points.pendingDays',
      'input.points.pointsPerUnit',
      'input.points.tierMultipliers.gold',
    ]);
    const { viewer } = await tenant.query(`{ viewer { tenant { settings } } }`);
    expect(viewer.tenant.settings.points.pointsPerUnit).toBe('1');
  });
});

// The uuid inside a Party global id.
const partyUuid = (globalId: string) => Buffer.from(globalId, 'base64').toString('utf8').split(':')[1]!;

describe('redeemPoints', () => {
  test('takes from the lots that expire first, and refuses more than available without writing', async () => {
    const tenant = await api.newTenant();
    const party = await newParty(tenant);
    await order(tenant, party, '100', daysAgo(300)); // expires in 72 days
    await order(tenant, party, '50', daysAgo(100)); // expires in 272 days
    const { redeemPoints } = await tenant.query(redeem, { input: { partyId: party, points: 120, reason: 'Gift card' } });
    expect(redeemPoints.userErrors).toEqual([]);
    expect(redeemPoints.entry).toMatchObject({ kind: 'REDEEM', points: -120, reason: 'Gift card' });
    expect(redeemPoints.party.points.available).toBe(30);
    // The older lot is spent whole; 30 are left of the newer one.
    const read = await pointsOf(tenant, party);
    expect(read.points.expiringSoon.map((e: any) => e.points)).toEqual([30]);
    expect(Date.parse(read.points.expiringSoon[0].expiresAt)).toBeGreaterThan(Date.now() + 270 * day);

    const refused = await tenant.query(redeem, { input: { partyId: party, points: 31 } });
    expect(refused.redeemPoints).toMatchObject({ entry: null, party: null, userErrors: [{ code: 'CONFLICT', field: ['input', 'points'] }] });
    expect(refused.redeemPoints.userErrors[0].message).toContain('30');
    expect((await pointsOf(tenant, party)).pointsLedger.totalCount).toBe(3);
  });

  test('an idempotency key makes a retry safe, and the same key for another request is a CONFLICT', async () => {
    const tenant = await api.newTenant();
    const party = await newParty(tenant);
    await order(tenant, party, '100', daysAgo(10));
    const input = { partyId: party, points: 40, idempotencyKey: 'till-7-receipt-1001' };
    const first = (await tenant.query(redeem, { input })).redeemPoints;
    const retry = (await tenant.query(redeem, { input })).redeemPoints;
    expect(retry.userErrors).toEqual([]);
    expect(retry.entry.id).toBe(first.entry.id);
    expect(retry.party.points.available).toBe(60);
    const other = (await tenant.query(redeem, { input: { ...input, points: 41 } })).redeemPoints;
    expect(other.userErrors).toEqual([{ code: 'CONFLICT', field: ['input', 'idempotencyKey'], message: 'This idempotency key was already used for a different request' }]);
    // A key is the tenant's: an adjustment may not reuse it either.
    const adjusted = (await tenant.query(adjust, { input: { ...input, points: 5, reason: 'Goodwill' } })).adjustPoints;
    expect(adjusted.userErrors[0].code).toBe('CONFLICT');
    const read = await pointsOf(tenant, party);
    expect(read.pointsLedger.totalCount).toBe(2);
    expect(read.pointsLedger.edges[0].node.idempotencyKey).toBe('till-7-receipt-1001');
  });

  test('bad input is VALIDATION or NOT_FOUND, and needs the loyalty write right', async () => {
    const tenant = await api.newTenant();
    const party = await newParty(tenant);
    for (const [pointsAsked, code] of [[0, 'VALIDATION'], [-5, 'VALIDATION']] as const) {
      const { redeemPoints } = await tenant.query(redeem, { input: { partyId: party, points: pointsAsked } });
      expect(redeemPoints.userErrors[0]).toMatchObject({ code, field: ['input', 'points'] });
    }
    const unknown = Buffer.from('Party:00000000-0000-4000-8000-000000000000').toString('base64');
    expect((await tenant.query(redeem, { input: { partyId: unknown, points: 1 } })).redeemPoints.userErrors[0].code).toBe('NOT_FOUND');

    for (const scopes of ['[NETWORK_WRITE, LOYALTY_READ]', '[LOYALTY_WRITE]']) {
      const { createApiKey } = await tenant.query(`mutation { createApiKey(input: { name: "k", scopes: ${scopes} }) { secret } }`);
      const response = await postGraphQL(api.server, redeem, { input: { partyId: party, points: 1 } }, { authorization: `ApiKey ${createApiKey.secret}` });
      if (scopes === '[LOYALTY_WRITE]') {
        expect(response.errors).toBeUndefined();
        expect(response.data.redeemPoints.userErrors[0].code).toBe('CONFLICT');
      } else {
        expect(response.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      }
    }
  });
});

describe('adjustPoints', () => {
  test('adds points available at once, takes them like a redemption, and needs a reason', async () => {
    const tenant = await api.newTenant();
    const party = await newParty(tenant);
    const added = (await tenant.query(adjust, { input: { partyId: party, points: 25, reason: 'Apology for a late delivery' } })).adjustPoints;
    expect(added.userErrors).toEqual([]);
    expect(added.entry).toMatchObject({ kind: 'ADJUST', points: 25, reason: 'Apology for a late delivery' });
    expect(Date.parse(added.entry.expiresAt) - Date.parse(added.entry.availableAt)).toBe(365 * day);
    expect(added.party.points).toEqual({ available: 25, balance: 25 });

    const tooMuch = (await tenant.query(adjust, { input: { partyId: party, points: -26, reason: 'Correction' } })).adjustPoints;
    expect(tooMuch.userErrors[0]).toMatchObject({ code: 'CONFLICT', field: ['input', 'points'] });
    const taken = (await tenant.query(adjust, { input: { partyId: party, points: -5, reason: 'Correction' } })).adjustPoints;
    expect(taken.party.points).toEqual({ available: 20, balance: 20 });

    const noReason = (await tenant.query(adjust, { input: { partyId: party, points: 5, reason: '  ' } })).adjustPoints;
    expect(noReason.userErrors[0]).toMatchObject({ code: 'VALIDATION', field: ['input', 'reason'] });
    const zero = (await tenant.query(adjust, { input: { partyId: party, points: 0, reason: 'x' } })).adjustPoints;
    expect(zero.userErrors[0]).toMatchObject({ code: 'VALIDATION', field: ['input', 'points'] });
  });
});

describe('reading', () => {
  test("a page of parties' points costs one statement, whatever its size", async () => {
    const tenant = await api.newTenant();
    for (let i = 0; i < 6; i++) await order(tenant, await newParty(tenant, `P${i}`), `${10 * (i + 1)}`, daysAgo(10));
    const page = (first: number) => tenant.query(`{ parties(first: ${first}) { edges { node { points { available balance } } } } }`);
    counter.reset();
    const small = await page(2);
    const smallCount = counter.count;
    counter.reset();
    const large = await page(6);
    expect(counter.count).toBe(smallCount);
    expect(large.parties.edges.map((e: any) => e.node.points.available).sort((a: number, b: number) => a - b)).toEqual([10, 20, 30, 40, 50, 60]);
    expect(small.parties.edges).toHaveLength(2);
  });

  test('the ledger is append-only, even for the database owner', async () => {
    const tenant = await api.newTenant();
    const party = await newParty(tenant);
    await order(tenant, party, '10', daysAgo(10));
    await expect(tenantExec(api.handle, tenant.tenantId, (sql) => sql`update points_entries set points = 1000`)).rejects.toThrow();
    await expect(tenantExec(api.handle, tenant.tenantId, (sql) => sql`delete from points_entries`)).rejects.toThrow();
    expect((await pointsOf(tenant, party)).points.available).toBe(10);
  });
});

describe('referral rewards in points', () => {
  test('a POINTS policy pays the referrer an EARN entry available at once, counted in rewardPointsPaid', async () => {
    const tenant = await api.newTenant();
    const refused = await tenant.query(`mutation { updateTenantSettings(input: { referrals: { reward: { kind: POINTS, amount: "1.5" } } }) { userErrors { field } } }`);
    expect(refused.updateTenantSettings.userErrors).toEqual([{ field: ['input', 'referrals', 'reward', 'amount'] }]);
    await tenant.query(`mutation { updateTenantSettings(input: { referrals: { reward: { kind: POINTS, amount: "500" }, minMinutesToConvert: 0 } }) { userErrors { field } } }`);
    const referrer = await newParty(tenant, 'Referrer');
    const referee = await newParty(tenant, 'Referee');
    const { createReferral } = await tenant.query(`mutation ($a: ID!, $b: ID!) { createReferral(input: { referrerId: $a, refereeId: $b }) { referral { id } } }`, { a: referrer, b: referee });
    await order(tenant, referee, '30.00');
    const { node } = await tenant.query(`query ($id: ID!) { node(id: $id) { ... on Referral { status reward { amount } rewardPoints } } }`, { id: createReferral.referral.id });
    expect(node).toEqual({ status: 'REWARDED', reward: null, rewardPoints: 500 });
    const read = await pointsOf(tenant, referrer);
    expect(read.points).toMatchObject({ available: 500, lifetimeEarned: 500 });
    expect(read.pointsLedger.edges[0].node).toMatchObject({ kind: 'EARN', points: 500, source: 'REFERRAL' });
    const { referralStats } = await tenant.query(`{ referralStats { rewardsPaid { amount } rewardPointsPaid } }`);
    expect(referralStats).toEqual({ rewardsPaid: { amount: '0.00' }, rewardPointsPaid: 500 });
  });
});

describe('the nightly expiry', () => {
  const runScoring = `mutation ($asOf: Date!) { runScoring(input: { asOf: $asOf }) { runs { status pointsExpired } userErrors { message } } }`;
  const utcDay = (at: Date) => at.toISOString().slice(0, 10);

  test('writes one EXPIRE entry per party for lots expired on or before the day, once, and queues points.expired', async () => {
    const tenant = await api.newTenant();
    await tenant.query(`mutation { createWebhook(input: { url: "http://127.0.0.1:9/hook", events: ["points.*"] }) { secret } }`);
    const party = await newParty(tenant);
    const now = new Date();
    const startOfToday = Date.parse(`${utcDay(now)}T00:00:00.000Z`);
    // Two lots that expired today (before now), one long ago, one still good.
    const expiresToday = new Date(startOfToday + (now.getTime() - startOfToday) / 2);
    await order(tenant, party, '10', new Date(expiresToday.getTime() - 372 * day).toISOString());
    await order(tenant, party, '5', new Date(expiresToday.getTime() - 372 * day - 1000).toISOString());
    await order(tenant, party, '40', daysAgo(500));
    await order(tenant, party, '3', daysAgo(20));
    await tenant.query(redeem, { input: { partyId: party, points: 2 } });

    const yesterday = utcDay(new Date(startOfToday - day));
    const first = (await tenant.query(runScoring, { asOf: yesterday })).runScoring.runs[0];
    expect(first).toEqual({ status: 'SUCCEEDED', pointsExpired: 40 });
    const second = (await tenant.query(runScoring, { asOf: utcDay(now) })).runScoring.runs[0];
    expect(second).toEqual({ status: 'SUCCEEDED', pointsExpired: 15 });
    const again = (await tenant.query(runScoring, { asOf: utcDay(now) })).runScoring.runs[0];
    expect(again).toEqual({ status: 'SUCCEEDED', pointsExpired: 0 });

    const read = await pointsOf(tenant, party);
    const expiries = read.pointsLedger.edges.map((e: any) => e.node).filter((n: any) => n.kind === 'EXPIRE');
    // Written by whoever ran the day: here the API key that called runScoring (the nightly job: SYSTEM).
    expect(expiries.map((n: any) => [n.points, n.source, n.actor.kind, n.reason])).toEqual([
      [-15, 'JOB', 'API_KEY', `Expired on or before ${utcDay(now)}`],
      [-40, 'JOB', 'API_KEY', `Expired on or before ${yesterday}`],
    ]);
    // The balance never counted them; it is unchanged by writing them off.
    expect(read.points).toMatchObject({ available: 1, pending: 0, lifetimeEarned: 58 });
    const events = await tenantRows<{ payload: { entry: { points: number } } }>(
      api.handle,
      tenant.tenantId,
      `select payload from webhook_deliveries where event = 'points.expired' order by created_at`,
    );
    expect(events.map((e) => e.payload.entry.points).sort()).toEqual([-15, -40]);
  });

  test("a lot expires on its UTC day whatever the session's time zone", async () => {
    const tenant = await api.newTenant();
    const party = await newParty(tenant);
    const expiryDay = utcDay(new Date(Date.now() - 3 * day));
    // Expires at 00:30 UTC on that day (placed 372 days before: 7 pending, 365 to expire).
    await order(tenant, party, '10', new Date(Date.parse(`${expiryDay}T00:30:00.000Z`) - 372 * day).toISOString());
    // The session 14 hours ahead of UTC, set inside the run's transaction before the expiry.
    const inKiritimati = { afterWrite: () => execInTransaction(`set local timezone = 'Pacific/Kiritimati'`) };
    const before = await runTenantScoring(api.handle.db, tenant.tenantId, utcDay(new Date(Date.parse(expiryDay) - day)), inKiritimati);
    expect(before).toMatchObject({ status: 'SUCCEEDED', pointsExpired: 0 });
    const on = await runTenantScoring(api.handle.db, tenant.tenantId, expiryDay, inKiritimati);
    expect(on).toMatchObject({ status: 'SUCCEEDED', pointsExpired: 10 });
  });
});

describe('merging parties', () => {
  const merge = `mutation ($keepId: ID!, $mergeId: ID!) { mergeParties(input: { keepId: $keepId, mergeId: $mergeId }) { party { id } userErrors { message } } }`;

  test('moves every unexpired lot with its dates, leaves expired ones behind, and balances add up', async () => {
    const tenant = await api.newTenant();
    const keep = await newParty(tenant, 'Kept');
    const dup = await newParty(tenant, 'Duplicate');
    await order(tenant, keep, '10', daysAgo(20));
    await order(tenant, dup, '30', daysAgo(20)); // available
    await order(tenant, dup, '5', daysAgo(2)); // pending
    await order(tenant, dup, '7', daysAgo(500)); // expired
    await tenant.query(redeem, { input: { partyId: dup, points: 10 } });
    const before = (await pointsOf(tenant, dup)).pointsLedger.edges.map((e: any) => e.node).filter((n: any) => n.points > 0);
    const { mergeParties } = await tenant.query(merge, { keepId: keep, mergeId: dup });
    expect(mergeParties.userErrors).toEqual([]);

    const kept = await pointsOf(tenant, keep);
    expect(kept.points).toMatchObject({ available: 10 + 20, pending: 5, debt: 0 });
    const transfers = kept.pointsLedger.edges.map((e: any) => e.node).filter((n: any) => n.kind === 'TRANSFER');
    expect(transfers.map((n: any) => [n.points, n.source])).toEqual(expect.arrayContaining([[20, 'MERGE'], [5, 'MERGE']]));
    // Each moved lot keeps the dates of the lot it came from.
    for (const moved of transfers) {
      const origin = before.find((n: any) => n.availableAt === moved.availableAt && n.expiresAt === moved.expiresAt);
      expect(origin).toBeDefined();
    }
    const left = await pointsOf(tenant, dup);
    expect(left.points).toMatchObject({ available: 0, pending: 0, debt: 0, balance: 0 });
    expect(left.pointsLedger.edges[0].node).toMatchObject({ kind: 'TRANSFER', points: -25 });
  });

  test("an open debt moves too: what the kept party has pays it, and the rest stays its debt", async () => {
    const tenant = await api.newTenant();
    const keep = await newParty(tenant, 'Kept');
    const dup = await newParty(tenant, 'Duplicate');
    await order(tenant, keep, '30', daysAgo(20));
    const orderId = await order(tenant, dup, '10', daysAgo(20));
    // A refund that took back 60 points of a lot of 10: 50 owed (as the refund rules write it).
    await tenantExec(api.handle, tenant.tenantId, (sql) => sql`
      with reverse as (
        insert into points_entries (tenant_id, party_id, kind, points, source, order_id, actor_kind, actor_id)
        values (${tenant.tenantId}, ${partyUuid(dup)}, 'REVERSE', -60, 'ORDER', ${partyUuid(orderId)}, 'SYSTEM', 'test')
        returning id)
      insert into points_draws (tenant_id, party_id, entry_id, lot_id, points)
      select ${tenant.tenantId}, ${partyUuid(dup)}, reverse.id, lot.id, 10
      from reverse, points_entries lot where lot.party_id = ${partyUuid(dup)} and lot.kind = 'EARN'`);
    expect((await pointsOf(tenant, dup)).points).toMatchObject({ available: 0, debt: 50, balance: -50 });
    await tenant.query(merge, { keepId: keep, mergeId: dup });
    expect((await pointsOf(tenant, keep)).points).toMatchObject({ available: 0, debt: 20, balance: -20 });
    expect((await pointsOf(tenant, dup)).points).toMatchObject({ available: 0, debt: 0, balance: 0 });
    // In debt, nothing can be redeemed; new points pay the debt first.
    expect((await tenant.query(redeem, { input: { partyId: keep, points: 1 } })).redeemPoints.userErrors[0].code).toBe('CONFLICT');
    await tenant.query(adjust, { input: { partyId: keep, points: 25, reason: 'Goodwill' } });
    expect((await pointsOf(tenant, keep)).points).toMatchObject({ available: 5, debt: 0, balance: 5 });
    expect((await tenant.query(redeem, { input: { partyId: keep, points: 5 } })).redeemPoints.party.points.available).toBe(0);
  });
});

describe.runIf(usingPostgres())('concurrent redemptions', () => {
  test('20 at once on one balance: none overdraws, and what succeeded fits the balance', async () => {
    const tenant = await api.newTenant();
    const party = await newParty(tenant);
    await order(tenant, party, '200', daysAgo(10));
    const results = await Promise.all(
      Array.from({ length: 20 }, () => tenant.query(redeem, { input: { partyId: party, points: 30 } }).then((r) => r.redeemPoints)),
    );
    const succeeded = results.filter((r) => r.userErrors.length === 0);
    expect(succeeded).toHaveLength(6);
    expect(results.filter((r) => r.userErrors[0]?.code === 'CONFLICT')).toHaveLength(14);
    const read = await pointsOf(tenant, party);
    expect(read.points.available).toBe(200 - 6 * 30);
    expect(read.points.balance).toBeGreaterThanOrEqual(0);
  });
});
