import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClientError, GraphQLClient, gql } from 'graphql-request';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createTestDatabase, createTestTenant, usingPostgres } from '../packages/core/src/test/index';
import { root, startServeProcess, type ServeProcess } from './serve-process';

/**
 * The API as a partner meets it: the dev server started the way `pnpm dev` starts it (its own
 * process, an ephemeral port), driven over a real socket by a GraphQL client library. One story,
 * every answer checked: a tenant, an import, a network, referrals, orders, a scoring run, segments.
 */
const operatorKey = `story-operator-${randomBytes(12).toString('hex')}`;
const dir = mkdtempSync(join(tmpdir(), 'guanxi-story-'));

let server: ServeProcess | null = null;
let url: string;
let demoApiKey: string;

/** `pnpm dev` is `tsx packages/functions/src/cli.ts serve`: run that script's command with the local tsx. */
function devCommand(): { command: string; args: string[] } {
  const scripts = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts as Record<string, string>;
  const [bin, ...args] = scripts.dev!.split(/\s+/);
  return { command: join(root, 'node_modules', '.bin', bin!), args };
}

async function databaseUrl(): Promise<string> {
  if (!usingPostgres()) return 'memory://';
  // On the shared test database a first start would seed the demo tenant, or give a tenant of
  // another test file a new key; remembered development credentials of a tenant of our own make
  // the server adopt that one instead, as a restarted `pnpm dev` does.
  const handle = await createTestDatabase();
  try {
    const { tenant, apiKey } = await createTestTenant(handle, 'Story dev tenant');
    const credentials = { tenantId: tenant.id, apiKey, operatorKey };
    writeFileSync(join(dir, 'dev-credentials.json'), JSON.stringify(credentials), { mode: 0o600 });
  } finally {
    await handle.close();
  }
  return process.env.GUANXI_TEST_DATABASE!;
}

async function startServer(env: Record<string, string>): Promise<string> {
  const { command, args } = devCommand();
  server = await startServeProcess({
    command,
    args,
    env,
    timeoutMs: 90_000,
    ready: (output) => /API key:\s+Authorization: ApiKey (\S+)/.test(output),
  });
  demoApiKey = /API key:\s+Authorization: ApiKey (\S+)/.exec(server.output())![1]!;
  return server.url;
}

beforeAll(async () => {
  url = await startServer({
    GUANXI_ENV: 'development',
    PORT: '0',
    DATABASE_URL: await databaseUrl(),
    GUANXI_DATA_DIR: join(dir, 'data'),
    GUANXI_OPERATOR_KEY: operatorKey,
  });
}, 120_000);

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 30_000);

const day = 24 * 60 * 60 * 1000;

/** Noon UTC `days` days before `date` (YYYY-MM-DD): well in the past, on a known calendar day. */
function daysBefore(date: string, days: number): string {
  return new Date(Date.parse(`${date}T12:00:00Z`) - days * day).toISOString();
}

test('a partner story over HTTP with graphql-request', async () => {
  // 1. The operator creates a tenant and receives its first key.
  const operator = new GraphQLClient(url, { headers: { authorization: `Operator ${operatorKey}` } });
  const { createTenant } = await operator.request<any>(
    gql`
      mutation ($input: CreateTenantInput!) {
        createTenant(input: $input) { tenant { id name } apiKey userErrors { code field message } }
      }
    `,
    { input: { name: 'Story Tea House 茶馆', currency: 'CNY' } },
  );
  expect(createTenant.userErrors).toEqual([]);
  expect(createTenant.tenant.name).toBe('Story Tea House 茶馆');
  expect(createTenant.apiKey).toMatch(/^gx_/);

  const client = new GraphQLClient(url, { headers: { authorization: `ApiKey ${createTenant.apiKey}` } });
  const { viewer } = await client.request<any>(gql`{ viewer { kind scopes tenant { id name currency } } }`);
  expect(viewer).toMatchObject({ kind: 'API_KEY', tenant: { id: createTenant.tenant.id, currency: 'CNY' } });
  expect(viewer.scopes).toContain('ADMIN');

  // 2. Import the parties (one bad row is reported, the others applied), then import again: an
  // upsert by externalId.
  const importParties = gql`
    mutation ($input: ImportPartiesInput!) {
      importParties(input: $input) {
        created updated unchanged failed
        results { index externalId status party { id kind displayName } userErrors { code field } }
        userErrors { code message }
      }
    }
  `;
  const rows = [
    { externalId: 'alice', kind: 'CUSTOMER', displayName: 'Alice Wang', email: 'alice@example.com' },
    { externalId: 'bob', kind: 'CUSTOMER', displayName: 'Bob Li' },
    { externalId: 'chen', kind: 'PROSPECT', displayName: '陈静' },
    { externalId: 'dai', kind: 'CUSTOMER', displayName: 'Dai Wei', tags: ['tea'] },
    { externalId: 'eve', kind: 'PROSPECT', displayName: 'Eve Zhou' },
    { externalId: 'bad', kind: 'CUSTOMER', displayName: 'Bad Email', email: 'not-an-email' },
  ];
  const first = (await client.request<any>(importParties, { input: { rows } })).importParties;
  expect(first).toMatchObject({ created: 5, updated: 0, unchanged: 0, failed: 1, userErrors: [] });
  expect(first.results.map((r: any) => r.status)).toEqual(['CREATED', 'CREATED', 'CREATED', 'CREATED', 'CREATED', 'ERROR']);
  expect(first.results[5].userErrors).toEqual([{ code: 'VALIDATION', field: ['input', 'rows', '5', 'email'] }]);
  const id: Record<string, string> = Object.fromEntries(
    first.results.slice(0, 5).map((r: any) => [r.externalId, r.party.id]),
  );

  const second = (
    await client.request<any>(importParties, {
      input: { rows: [rows[0], { externalId: 'bob', company: 'Li & Sons' }] },
    })
  ).importParties;
  expect(second).toMatchObject({ created: 0, updated: 1, unchanged: 1, failed: 0 });
  expect(second.results.map((r: any) => [r.status, r.party.id])).toEqual([
    ['UNCHANGED', id.alice],
    ['UPDATED', id.bob],
  ]);

  // 3. Connect them: Alice – Bob friends, Bob – Dai colleagues; a warm path from Alice to Dai.
  const connect = gql`
    mutation ($input: ConnectPartiesInput!) {
      connectParties(input: $input) { relationship { id type strength from { id } to { id } } userErrors { code message } }
    }
  `;
  const friends = (await client.request<any>(connect, { input: { fromId: id.alice, toId: id.bob, type: 'FRIEND', strength: 4 } }))
    .connectParties;
  expect(friends.userErrors).toEqual([]);
  expect(friends.relationship).toMatchObject({ type: 'FRIEND', strength: 4 });
  const colleagues = (await client.request<any>(connect, { input: { fromId: id.bob, toId: id.dai, type: 'COLLEAGUE' } }))
    .connectParties;
  expect(colleagues.relationship).toMatchObject({ type: 'COLLEAGUE', strength: 3 });

  const { introPath } = await client.request<any>(
    gql`query ($from: ID!, $to: ID!) { introPath(fromId: $from, toId: $to) { id } }`,
    { from: id.alice, to: id.dai },
  );
  expect(introPath.map((p: any) => p.id)).toEqual([id.alice, id.bob, id.dai]);

  // 4. Referrals: the tenant rewards 10 % of the first order at once (no minimum delay), Alice
  // refers Chen with her code and Eve by id.
  const { updateTenantSettings } = await client.request<any>(
    gql`mutation ($input: UpdateTenantSettingsInput!) { updateTenantSettings(input: $input) { userErrors { code message } } }`,
    { input: { referrals: { minMinutesToConvert: 0, autoReward: true, reward: { kind: 'PERCENT', amount: '10' } } } },
  );
  expect(updateTenantSettings.userErrors).toEqual([]);
  const { party: alice } = await client.request<any>(gql`query ($id: ID!) { party(id: $id) { referralCode } }`, { id: id.alice });
  expect(alice.referralCode).toMatch(/^[A-HJKMNP-Z2-9]{8}$/);

  const refer = gql`
    mutation ($input: CreateReferralInput!) {
      createReferral(input: $input) { referral { id status referrer { id } referee { id } } userErrors { code field message } }
    }
  `;
  const byCode = (await client.request<any>(refer, { input: { referralCode: alice.referralCode.toLowerCase(), refereeId: id.chen, channel: 'WECHAT' } }))
    .createReferral;
  expect(byCode.userErrors).toEqual([]);
  expect(byCode.referral).toMatchObject({ status: 'PENDING', referrer: { id: id.alice }, referee: { id: id.chen } });
  const byId = (await client.request<any>(refer, { input: { referrerId: id.alice, refereeId: id.eve } })).createReferral;
  expect(byId.referral.status).toBe('PENDING');
  const self = (await client.request<any>(refer, { input: { referrerId: id.bob, refereeId: id.bob } })).createReferral;
  expect(self.referral).toBeNull();
  expect(self.userErrors.map((e: any) => e.code)).toEqual(['VALIDATION']);

  // 5. Orders. Chen's first order (now) converts the referral and pays the reward; the day it
  // falls on is the day scored.
  const order = gql`
    mutation ($input: RecordOrderInput!) {
      recordOrder(input: $input) {
        order { id amount { amount currency } placedAt party { id kind } }
        referral { id status reward { amount currency } }
        userErrors { code field message }
      }
    }
  `;
  const chenOrder = (await client.request<any>(order, { input: { partyId: id.chen, amount: '300.00', satisfaction: 5 } })).recordOrder;
  expect(chenOrder.userErrors).toEqual([]);
  expect(chenOrder.order).toMatchObject({ amount: { amount: '300.00', currency: 'CNY' }, party: { id: id.chen, kind: 'CUSTOMER' } });
  expect(chenOrder.referral).toMatchObject({ id: byCode.referral.id, status: 'REWARDED', reward: { amount: '30.00', currency: 'CNY' } });
  const asOf = (chenOrder.order.placedAt as string).slice(0, 10);

  // recency / frequency / monetary, chosen so the four buyers land in four segments.
  const history: [string, number, string][] = [
    ['alice', 2, '500.00'],
    ['alice', 10, '500.00'],
    ['alice', 20, '500.00'],
    ['bob', 200, '100.00'],
    ['dai', 100, '50.00'],
    ['dai', 300, '50.00'],
  ];
  for (const [who, daysAgo, amount] of history) {
    const { recordOrder } = await client.request<any>(order, {
      input: { partyId: id[who], amount, placedAt: daysBefore(asOf, daysAgo), currency: 'CNY' },
    });
    expect(recordOrder.userErrors).toEqual([]);
    expect(recordOrder.order.amount).toEqual({ amount, currency: 'CNY' });
    expect(recordOrder.referral).toBeNull();
  }
  const future = (await client.request<any>(order, { input: { partyId: id.bob, amount: '1.00', placedAt: '2999-01-01T00:00:00Z' } }))
    .recordOrder;
  expect(future.order).toBeNull();
  expect(future.userErrors).toEqual([expect.objectContaining({ code: 'VALIDATION', field: ['input', 'placedAt'] })]);
  // Currency is an enum: a code guanxi does not know is refused before anything runs.
  const badCurrency = await client
    .request<any>(order, { input: { partyId: id.bob, amount: '1.00', currency: 'RMB' } })
    .catch((error: unknown) => error);
  expect(badCurrency).toBeInstanceOf(ClientError);
  expect((badCurrency as ClientError).response.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');

  const { referralStats } = await client.request<any>(gql`{ referralStats { referrals converted conversionRate referrers kFactor rewardsPaid { amount currency } } }`);
  expect(referralStats).toEqual({ referrals: 2, converted: 1, conversionRate: 0.5, referrers: 1, kFactor: 1, rewardsPaid: { amount: '30.00', currency: 'CNY' } });

  // 6. Score the day. Means: recency (2 + 200 + 0 + 100) / 4 = 75.5 days, frequency 7 / 4, monetary
  // 2000 / 4 = 500 (domain §4: high is strictly better than the mean).
  const { runScoring } = await client.request<any>(
    gql`mutation ($input: RunScoringInput!) { runScoring(input: $input) { runs { asOf status partiesScored error } userErrors { code message } } }`,
    { input: { asOf } },
  );
  expect(runScoring.userErrors).toEqual([]);
  expect(runScoring.runs).toEqual([{ asOf, status: 'SUCCEEDED', partiesScored: 4, error: null }]);

  // 7. Read the segments: the distribution, each party's snapshot, and the segment filter.
  const cny = (amount: string) => ({ amount, currency: 'CNY' });
  const expected: Record<string, { segment: string; recencyDays: number; frequency: number; monetary: { amount: string; currency: string } }> = {
    alice: { segment: 'IMPORTANT_VALUE', recencyDays: 2, frequency: 3, monetary: cny('1500.00') },
    bob: { segment: 'GENERAL_WIN_BACK', recencyDays: 200, frequency: 1, monetary: cny('100.00') },
    chen: { segment: 'GENERAL_DEVELOP', recencyDays: 0, frequency: 1, monetary: cny('300.00') },
    dai: { segment: 'GENERAL_RETAIN', recencyDays: 100, frequency: 2, monetary: cny('100.00') },
  };
  const { segmentDistribution } = await client.request<any>(
    gql`query ($asOf: Date) { segmentDistribution(asOf: $asOf) { segment count share monetary { amount currency } } }`,
    { asOf },
  );
  expect(segmentDistribution).toHaveLength(8);
  const bySegment = Object.fromEntries(segmentDistribution.map((s: any) => [s.segment, s]));
  for (const { segment, monetary } of Object.values(expected)) {
    expect(bySegment[segment]).toEqual({ segment, count: 1, share: 0.25, monetary });
  }
  expect(segmentDistribution.filter((s: any) => s.count === 0)).toHaveLength(4);

  for (const [who, snapshot] of Object.entries(expected)) {
    const { party } = await client.request<any>(
      gql`query ($id: ID!) { party(id: $id) { loyalty { asOf segment recencyDays frequency monetary { amount currency } score tier } } }`,
      { id: id[who] },
    );
    expect(party.loyalty).toMatchObject({ asOf, ...snapshot });
    // A Float with one decimal, like churnRisk.
    expect(typeof party.loyalty.score).toBe('number');
    expect(Math.round(party.loyalty.score * 10) / 10).toBe(party.loyalty.score);
    const { parties } = await client.request<any>(
      gql`query ($segments: [Segment!]) { parties(filter: { segments: $segments }) { totalCount edges { node { id } } } }`,
      { segments: [snapshot.segment] },
    );
    expect(parties.edges.map((e: any) => e.node.id)).toEqual([id[who]]);
  }
  const { party: eve } = await client.request<any>(gql`query ($id: ID!) { party(id: $id) { loyalty { segment } referredBy { id } } }`, {
    id: id.eve,
  });
  expect(eve).toEqual({ loyalty: null, referredBy: { id: id.alice } });

  // 8. The client sees refusals as the API promises them: 401 without a credential, and the other
  // tenant (the demo tenant the dev server prints) does not see this tenant's parties.
  const anonymous = new GraphQLClient(url);
  const refused = await anonymous.request(gql`{ viewer { kind } }`).catch((error: unknown) => error);
  expect(refused).toBeInstanceOf(ClientError);
  expect((refused as ClientError).response.status).toBe(401);
  expect((refused as ClientError).response.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');

  const demo = new GraphQLClient(url, { headers: { authorization: `ApiKey ${demoApiKey}` } });
  const { party: unseen } = await demo.request<any>(gql`query ($id: ID!) { party(id: $id) { id } }`, { id: id.alice });
  expect(unseen).toBeNull();
});
