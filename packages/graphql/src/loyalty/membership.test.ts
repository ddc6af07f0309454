import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { tenantExec } from '@guanxi/core/test';
import { allowInsecureWebhookTargets } from '../webhooks/webhook';
import { createTestApi, type TenantClient, type TestApi } from '../../test/helpers';

let api: TestApi;
beforeAll(async () => {
  api = await createTestApi({ rateLimits: null });
  allowInsecureWebhookTargets(api.handle.db);
});
afterAll(() => api.close());

const day = 86_400_000;
const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const partyUuid = (globalId: string) => Buffer.from(globalId, 'base64').toString('utf8').split(':')[1]!;

/** A tenant whose tiers go by net spend in a 30-day window: SILVER 100, GOLD 500, PLATINUM 1000. */
async function spendTenant(downgradeGraceDays: number): Promise<TenantClient> {
  const tenant = await api.newTenant();
  const { updateTenantSettings } = await tenant.query(
    `mutation ($input: UpdateTenantSettingsInput!) { updateTenantSettings(input: $input) { userErrors { field message } } }`,
    {
      input: {
        scoring: { windowDays: 30 },
        membership: { basis: 'SPEND', thresholds: { silver: '100', gold: '500', platinum: '1000' }, downgradeGraceDays },
      },
    },
  );
  expect(updateTenantSettings.userErrors).toEqual([]);
  return tenant;
}

async function member(tenant: TenantClient, orders: [placedAt: number, amount: string][]): Promise<string> {
  const { createParty } = await tenant.query(`mutation { createParty(input: { kind: CUSTOMER, displayName: "Member" }) { party { id } } }`);
  for (const [at, amount] of orders) {
    await tenant.query(`mutation ($input: RecordOrderInput!) { recordOrder(input: $input) { userErrors { message } } }`, {
      input: { partyId: createParty.party.id, amount, placedAt: new Date(at).toISOString() },
    });
  }
  return createParty.party.id;
}

const score = async (tenant: TenantClient, asOf: string) => {
  const { runScoring } = await tenant.query(`mutation ($asOf: Date!) { runScoring(input: { asOf: $asOf }) { runs { status error } } }`, { asOf });
  expect(runScoring.runs[0]).toMatchObject({ status: 'SUCCEEDED' });
};

const read = async (tenant: TenantClient, id: string) =>
  (
    await tenant.query(
      `query ($id: ID!) { party(id: $id) {
        membership { tier qualifyingTier override { tier reason until } benefits { code } multiplier }
        loyalty { asOf tier qualifyingTier }
        tierHistory(first: 20) { edges { node { from to rule asOf automatic reason } } }
      } }`,
      { id },
    )
  ).party;

const rules = (party: Awaited<ReturnType<typeof read>>) =>
  party.tierHistory.edges.map((e: any) => `${e.node.asOf} ${e.node.rule} ${e.node.from ?? '-'}→${e.node.to ?? '-'}`).reverse();

// Days far in the past, so every one can be scored.
const start = Date.parse('2025-03-01T00:00:00Z');
const D = (n: number) => dayOf(start + n * day);

describe('membership tiers', () => {
  test('first evaluation, upgrade at once, and with a grace of 2 days a downgrade one level at a time', async () => {
    const tenant = await spendTenant(2);
    const id = await member(tenant, [
      [start - 2 * day, '600.00'],
      [start + day + 3_600_000, '500.00'],
    ]);
    await score(tenant, D(0)); // 600: GOLD
    await score(tenant, D(1)); // 1100: PLATINUM
    // Both orders leave the 30-day window after day 28 and 31: qualifying BRONZE from day 32.
    for (const n of [32, 33, 34, 35, 36, 37, 38]) await score(tenant, D(n));
    const party = await read(tenant, id);
    expect(rules(party)).toEqual([
      `${D(0)} FIRST -→GOLD`,
      `${D(1)} UPGRADE GOLD→PLATINUM`,
      // Below on 32, 33 and 34: the third day below (2 days of grace before it) drops one level.
      `${D(34)} DOWNGRADE PLATINUM→GOLD`,
      `${D(37)} DOWNGRADE GOLD→SILVER`,
    ]);
    expect(party.membership).toMatchObject({ tier: 'SILVER', qualifyingTier: 'BRONZE', override: null, multiplier: '1.2' });
    expect(party.loyalty).toEqual({ asOf: D(38), tier: 'SILVER', qualifyingTier: 'BRONZE' });
  });

  test('with no grace (the default) a party drops straight to its qualifying tier; re-running a day replaces its rows', async () => {
    const tenant = await spendTenant(0);
    const id = await member(tenant, [[start - 2 * day, '1200.00']]);
    await score(tenant, D(0));
    await score(tenant, D(40));
    await score(tenant, D(40));
    const party = await read(tenant, id);
    expect(rules(party)).toEqual([`${D(0)} FIRST -→PLATINUM`, `${D(40)} DOWNGRADE PLATINUM→BRONZE`]);
    expect(party.membership.tier).toBe('BRONZE');
  });

  test("a party not scored on the tenant's previous day takes its tier and grace count from its own latest day", async () => {
    const tenant = await spendTenant(2);
    const id = await member(tenant, [[start - 2 * day, '1200.00']]);
    await member(tenant, [[start + 39 * day, '50.00']]);
    await score(tenant, D(0)); // PLATINUM
    await score(tenant, D(40)); // qualifying BRONZE: the first day below
    await tenant.query(`mutation ($id: ID!) { archiveParty(input: { id: $id }) { userErrors { message } } }`, { id });
    await score(tenant, D(41)); // the other party only
    // No mutation restores an archived party: as an operator would, in SQL.
    await tenantExec(api.handle, tenant.tenantId, (sql) => sql`update parties set archived_at = null where id = ${partyUuid(id)}`);
    await score(tenant, D(42)); // the second day below (day 40 was the first): still PLATINUM
    await score(tenant, D(43)); // the third: one level down
    const party = await read(tenant, id);
    expect(rules(party)).toEqual([`${D(0)} FIRST -→PLATINUM`, `${D(43)} DOWNGRADE PLATINUM→GOLD`]);
    expect(party.loyalty).toEqual({ asOf: D(43), tier: 'GOLD', qualifyingTier: 'BRONZE' });
  });

  test('setMembershipTier holds a tier at once and until a day; after it the rules go on from the held tier', async () => {
    const tenant = await spendTenant(0);
    await tenant.query(
      `mutation { updateTenantSettings(input: { membership: { benefits: { gold: [{ code: "TEA", description: "A pot of tea on each visit" }] } } }) { userErrors { message } } }`,
    );
    const id = await member(tenant, [[Date.now() - 3 * day, '50.00']]);
    const today = dayOf(Date.now());
    await score(tenant, today);
    expect((await read(tenant, id)).membership).toMatchObject({ tier: 'BRONZE', qualifyingTier: 'BRONZE' });

    const set = `mutation ($input: SetMembershipTierInput!) { setMembershipTier(input: $input) { party { membership { tier override { tier until } benefits { code } } } change { rule from to } userErrors { code field message } } }`;
    const held = (await tenant.query(set, { input: { partyId: id, tier: 'GOLD', reason: 'Opening of the new shop', until: today } })).setMembershipTier;
    expect(held.userErrors).toEqual([]);
    expect(held.change).toEqual({ rule: 'OVERRIDE', from: 'BRONZE', to: 'GOLD' });
    expect(held.party.membership).toEqual({ tier: 'GOLD', override: { tier: 'GOLD', until: today }, benefits: [{ code: 'TEA' }] });
    // The nightly rules leave it alone while it holds. Scoring the day again replaces that day's
    // rows of the rules: under the override, the day's evaluation writes none.
    await score(tenant, today);
    const during = await read(tenant, id);
    expect(during.loyalty).toMatchObject({ tier: 'GOLD', qualifyingTier: 'BRONZE' });
    expect(rules(during)).toEqual([`${today} OVERRIDE BRONZE→GOLD`]);

    const cleared = (await tenant.query(set, { input: { partyId: id, tier: null, reason: 'Promotion over' } })).setMembershipTier;
    expect(cleared.change).toMatchObject({ rule: 'OVERRIDE_ENDED', from: 'GOLD' });
    const again = (await tenant.query(set, { input: { partyId: id, tier: null, reason: 'Again' } })).setMembershipTier;
    expect(again.userErrors[0]).toMatchObject({ code: 'CONFLICT' });
    for (const input of [{ tier: 'GOLD', reason: ' ' }, { tier: 'GOLD', reason: 'x', until: '2020-01-01' }]) {
      expect((await tenant.query(set, { input: { partyId: id, ...input } })).setMembershipTier.userErrors[0].code).toBe('VALIDATION');
    }
  });

  test('an override that ran out: the next evaluated day says OVERRIDE_ENDED and applies the rules from the held tier', async () => {
    const tenant = await spendTenant(1);
    const id = await member(tenant, [[start - 2 * day, '150.00']]);
    await score(tenant, D(0)); // SILVER
    // Held PLATINUM on days 1 and 2 (as setMembershipTier on day 1 with until day 2 would have).
    await tenantExec(api.handle, tenant.tenantId, (sql) => sql`
      update party_loyalty set override_tier = 'PLATINUM', override_reason = 'VIP', override_from = ${D(1)}::date, override_until = ${D(2)}::date
      where party_id = ${partyUuid(id)}`);
    for (const n of [1, 2, 3, 4]) await score(tenant, D(n));
    const party = await read(tenant, id);
    // Day 3: the override ended; qualifying SILVER is below the held PLATINUM, one day of grace;
    // day 4: second day below, one level down.
    expect(rules(party)).toEqual([`${D(0)} FIRST -→SILVER`, `${D(3)} OVERRIDE_ENDED PLATINUM→PLATINUM`, `${D(4)} DOWNGRADE PLATINUM→GOLD`]);
  });

  test('the tier multiplies what an order earns, and loyalty.tier_changed is queued', async () => {
    const tenant = await spendTenant(0);
    await tenant.query(`mutation { createWebhook(input: { url: "http://127.0.0.1:9/hook", events: ["loyalty.tier_changed"] }) { secret } }`);
    const id = await member(tenant, [[Date.now() - 3 * day, '1000.00']]);
    await score(tenant, dayOf(Date.now()));
    expect((await read(tenant, id)).membership).toMatchObject({ tier: 'PLATINUM', multiplier: '2' });
    await tenant.query(`mutation ($input: RecordOrderInput!) { recordOrder(input: $input) { userErrors { message } } }`, { input: { partyId: id, amount: '10.00' } });
    const { party } = await tenant.query(`query ($id: ID!) { party(id: $id) { points { pending } } }`, { id });
    expect(party.points.pending).toBe(1000 + 20);
    const events = await tenantExec<{ n: number }>(api.handle, tenant.tenantId, (sql) => sql`select count(*)::int as n from webhook_deliveries where event = 'loyalty.tier_changed'`);
    expect(events).toEqual([{ n: 1 }]);
  });
});
