import { createParty as createPartyAsJob } from '@guanxi/core/network';
import { asTenant } from '@guanxi/core/test';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApi, createTestIdentityProvider, postGraphQL, type GraphQLResponse, type TenantClient, type TestApi } from '../test/helpers';
import { allowInsecureWebhookTargets } from './webhooks/webhook';

let api: TestApi;
let idp: Awaited<ReturnType<typeof createTestIdentityProvider>>;
beforeAll(async () => {
  idp = await createTestIdentityProvider();
  api = await createTestApi({ rateLimits: null, jwt: idp.settings });
  // The webhook below points at a local port that refuses; only its delivery log matters here.
  allowInsecureWebhookTargets(api.handle.db);
});
afterAll(() => api.close());

const globalId = (typename: string, id: string) => Buffer.from(`${typename}:${id}`).toString('base64');
const createParty = `mutation ($name: String!) { createParty(input: { kind: CUSTOMER, displayName: $name }) { party { id } } }`;

describe('node and nodes', () => {
  test('one malformed id in nodes(ids) is null with an error at its path; its siblings are answered', async () => {
    const tenant = await api.newTenant();
    const other = await api.newTenant();
    const mine = (await tenant.query(createParty, { name: 'Mine' })).createParty.party.id;
    const theirs = (await other.query(createParty, { name: 'Theirs' })).createParty.party.id;
    const notANode = globalId('PageInfo', '01900000-0000-7000-8000-000000000000');

    const response = await tenant.request(`query ($ids: [ID!]!) { nodes(ids: $ids) { id ... on Party { displayName } } }`, {
      ids: [mine, 'not-an-id', theirs, notANode, mine],
    });
    expect(response.status).toBe(200);
    expect(response.data.nodes).toEqual([
      { id: mine, displayName: 'Mine' },
      null,
      null,
      null,
      { id: mine, displayName: 'Mine' },
    ]);
    expect(response.errors!.map((e) => [e.path, e.extensions!.code])).toEqual([
      [['nodes', 1], 'BAD_USER_INPUT'],
      [['nodes', 3], 'BAD_USER_INPUT'],
    ]);
  });

  test('more than 100 ids are refused, not cut', async () => {
    const tenant = await api.newTenant();
    const mine = (await tenant.query(createParty, { name: 'Mine' })).createParty.party.id;
    const response = await tenant.request(`query ($ids: [ID!]!) { nodes(ids: $ids) { id } }`, { ids: Array(101).fill(mine) });
    expect(response.errors!.map((e) => [e.path, e.extensions!.code])).toEqual([[['nodes'], 'BAD_USER_INPUT']]);
    expect(response.errors![0]!.message).toContain('At most 100 ids');
  });

  test("a refusal inside a query keeps the spec's path and locations", async () => {
    const tenant = await api.newTenant();
    const response = await tenant.request(`{\n  viewer { kind }\n  parties(first: 1, after: "garbage") { totalCount }\n}`);
    const [error, ...more] = response.errors!;
    expect(more).toEqual([]);
    expect(error).toMatchObject({ path: ['parties'], locations: [{ line: 3, column: 3 }] });
    expect(error!.extensions!.code).toBe('VALIDATION');
  });
});

/** One of each object a node(id) can now load, made in a new tenant by its ADMIN key. */
async function tenantWithOneOfEach() {
  const tenant = await api.newTenant();
  const { createWebhook } = await tenant.query(
    `mutation { createWebhook(input: { url: "http://127.0.0.1:9/hook", events: ["party.*"] }) { webhook { id } userErrors { code } } }`,
  );
  expect(createWebhook.userErrors).toEqual([]);
  const partyId = (await tenant.query(createParty, { name: 'Ada' })).createParty.party.id;
  await tenant.query(`mutation ($p: ID!) { recordOrder(input: { partyId: $p, amount: "10.00", placedAt: "2025-06-01T10:00:00Z" }) { userErrors { code } } }`, {
    p: partyId,
  });
  const { runScoring } = await tenant.query(`mutation { runScoring(input: { asOf: "2025-06-02" }) { runs { id status } userErrors { code } } }`);
  expect(runScoring.runs[0].status).toBe('SUCCEEDED');
  const read = await tenant.query(
    `query ($p: ID!, $w: ID!) {
      party(id: $p) { loyalty { id asOf } stageHistory(first: 1) { edges { node { id } } } }
      auditLog(first: 1) { edges { node { id operation } } }
      webhookDeliveries(webhookId: $w, first: 1) { edges { node { id deliveryId } } }
    }`,
    { p: partyId, w: createWebhook.webhook.id },
  );
  const ids = {
    ScoringRun: runScoring.runs[0].id as string,
    StageTransition: read.party.stageHistory.edges[0].node.id as string,
    AuditEntry: read.auditLog.edges[0].node.id as string,
    WebhookDelivery: read.webhookDeliveries.edges[0].node.id as string,
    LoyaltySnapshot: read.party.loyalty.id as string,
  };
  return { tenant, partyId, ids, deliveryId: read.webhookDeliveries.edges[0].node.deliveryId as string };
}

const asUser = async (tenant: TenantClient, role: string, query: string, variables: Record<string, unknown> = {}) =>
  postGraphQL(api.server, query, variables, {
    authorization: `Bearer ${await idp.token({ tenant_id: tenant.tenantId, role }, { subject: 'user-42' })}`,
  });

const asKey = async (tenant: TenantClient, scopes: string, query: string, variables: Record<string, unknown> = {}) => {
  const { createApiKey } = await tenant.query(`mutation { createApiKey(input: { name: "partner", scopes: [${scopes}] }) { secret } }`);
  return postGraphQL(api.server, query, variables, { authorization: `ApiKey ${createApiKey.secret}` });
};

describe('every object with an id is a Node', () => {
  test('node(id) loads each type for a caller with its right; nodes(ids) mixes them in order', async () => {
    const { tenant, partyId, ids, deliveryId } = await tenantWithOneOfEach();
    for (const [typename, id] of Object.entries(ids)) {
      const { node } = await tenant.query(`query ($id: ID!) { node(id: $id) { __typename id } }`, { id });
      expect(node).toEqual({ __typename: typename, id });
    }
    // A snapshot is named by its party and day: the id says which, and loads the same row.
    expect(Buffer.from(ids.LoyaltySnapshot, 'base64').toString()).toMatch(/^LoyaltySnapshot:[0-9a-f-]{36}:2025-06-02$/);

    const { nodes } = await tenant.query(
      `query ($ids: [ID!]!) { nodes(ids: $ids) {
        __typename id
        ... on ScoringRun { asOf status }
        ... on StageTransition { to }
        ... on AuditEntry { operation }
        ... on WebhookDelivery { deliveryId event webhook { url } }
        ... on LoyaltySnapshot { asOf partyId }
        ... on Party { displayName }
      } }`,
      { ids: [ids.LoyaltySnapshot, partyId, ids.WebhookDelivery, ids.AuditEntry, ids.StageTransition, ids.ScoringRun] },
    );
    expect(nodes).toEqual([
      { __typename: 'LoyaltySnapshot', id: ids.LoyaltySnapshot, asOf: '2025-06-02', partyId },
      { __typename: 'Party', id: partyId, displayName: 'Ada' },
      { __typename: 'WebhookDelivery', id: ids.WebhookDelivery, deliveryId, event: 'party.created', webhook: { url: 'http://127.0.0.1:9/hook' } },
      { __typename: 'AuditEntry', id: ids.AuditEntry, operation: expect.any(String) },
      { __typename: 'StageTransition', id: ids.StageTransition, to: expect.any(String) },
      { __typename: 'ScoringRun', id: ids.ScoringRun, asOf: '2025-06-02', status: 'SUCCEEDED' },
    ]);
  });

  test("another tenant's ids are null, with no error, in node and nodes", async () => {
    const { ids } = await tenantWithOneOfEach();
    const other = await api.newTenant();
    const all = Object.values(ids);
    const response = await other.request(
      `query ($ids: [ID!]!, $a: ID!, $b: ID!, $c: ID!, $d: ID!, $e: ID!) {
        nodes(ids: $ids) { id } a: node(id: $a) { id } b: node(id: $b) { id } c: node(id: $c) { id } d: node(id: $d) { id } e: node(id: $e) { id }
      }`,
      { ids: all, a: all[0], b: all[1], c: all[2], d: all[3], e: all[4] },
    );
    expect(response.errors).toBeUndefined();
    expect(response.data).toEqual({ nodes: [null, null, null, null, null], a: null, b: null, c: null, d: null, e: null });
  });

  test("node(id) applies the type's own right: ADMIN for runs, audit and deliveries, network for transitions, loyalty for snapshots", async () => {
    const { tenant, ids } = await tenantWithOneOfEach();
    const query = `query ($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }`;
    const order = ['ScoringRun', 'AuditEntry', 'WebhookDelivery', 'StageTransition', 'LoyaltySnapshot'] as const;
    const variables = { ids: order.map((typename) => ids[typename]) };
    /** Which of the five the caller got; the others must be null with FORBIDDEN at their place. */
    const readable = (response: GraphQLResponse) => {
      const got = order.filter((_typename, index) => response.data.nodes[index] !== null);
      const refused = [...new Set((response.errors ?? []).map((error) => `${error.path![1]}:${error.extensions!.code}`))];
      expect(refused.sort()).toEqual(order.flatMap((typename, index) => (got.includes(typename) ? [] : [`${index}:FORBIDDEN`])).sort());
      return got;
    };

    expect(readable(await asUser(tenant, 'VIEWER', query, variables))).toEqual(['StageTransition', 'LoyaltySnapshot']);
    expect(readable(await asUser(tenant, 'MEMBER', query, variables))).toEqual(['StageTransition', 'LoyaltySnapshot']);
    expect(readable(await asUser(tenant, 'ADMIN', query, variables))).toEqual([...order]);
    expect(readable(await asKey(tenant, 'NETWORK_READ', query, variables))).toEqual(['StageTransition']);
    expect(readable(await asKey(tenant, 'LOYALTY_READ', query, variables))).toEqual(['LoyaltySnapshot']);
    // node(id) answers as nodes does, one id at a time.
    const single = await asKey(tenant, 'NETWORK_READ', `query ($id: ID!) { node(id: $id) { id } }`, { id: ids.AuditEntry });
    expect(single.data).toEqual({ node: null });
    expect(single.errors!.map((error) => [error.path, error.extensions!.code])).toEqual([[['node', 'id'], 'FORBIDDEN']]);
  });

  test('a snapshot id names a party and a real day; anything else is a malformed id', async () => {
    const { tenant, partyId } = await tenantWithOneOfEach();
    const rawParty = Buffer.from(partyId, 'base64').toString().split(':')[1];
    const snapshot = (key: string) => Buffer.from(`LoyaltySnapshot:${key}`).toString('base64');
    const response = await tenant.request(`query ($ids: [ID!]!) { nodes(ids: $ids) { id } }`, {
      ids: [snapshot(`${rawParty}:2025-06-02`), snapshot(rawParty!), snapshot(`${rawParty}:2025-02-30`), snapshot(`${rawParty}:2025-06-03`)],
    });
    expect(response.data.nodes).toEqual([{ id: snapshot(`${rawParty}:2025-06-02`) }, null, null, null]);
    expect(response.errors!.map((error) => [error.path, error.extensions!.code])).toEqual([
      [['nodes', 1], 'BAD_USER_INPUT'],
      [['nodes', 2], 'BAD_USER_INPUT'],
    ]);
  });
});

describe('Actor', () => {
  test('an API key is named by its global id, a user by its JWT subject, a job by its name; none is a made-up id', async () => {
    const tenant = await api.newTenant();
    const { apiKeys, viewer } = await tenant.query(`{ apiKeys { id } viewer { apiKeyId } }`);
    expect(viewer.apiKeyId).toBe(apiKeys[0].id);
    expect((await asUser(tenant, 'VIEWER', `{ viewer { apiKeyId actorId } }`)).data.viewer).toEqual({ apiKeyId: null, actorId: 'user-42' });
    const partyId = (await tenant.query(createParty, { name: 'Ada' })).createParty.party.id;
    const moved = await asUser(tenant, 'MEMBER', `mutation ($p: ID!) { moveStage(input: { partyId: $p, to: TRUST_BUILDING }) { userErrors { code } } }`, { p: partyId });
    expect(moved.errors).toBeUndefined();
    expect(moved.data.moveStage.userErrors).toEqual([]);
    const byJob = await asTenant(api.handle, tenant.tenantId, () => createPartyAsJob({ kind: 'CUSTOMER', displayName: 'Imported' }));
    const actors = `query ($ids: [ID!]!) { nodes(ids: $ids) { ... on Party { stageHistory(first: 5) { edges { node { actor { kind apiKeyId userSubject job } } } } } } }`;
    const { nodes } = await tenant.query(actors, { ids: [partyId, Buffer.from(`Party:${byJob.id}`).toString('base64')] });
    const history = nodes.map((node: any) => node.stageHistory.edges.map((edge: any) => edge.node.actor));
    expect(history).toEqual([
      [
        { kind: 'USER', apiKeyId: null, userSubject: 'user-42', job: null },
        { kind: 'API_KEY', apiKeyId: apiKeys[0].id, userSubject: null, job: null },
      ],
      [{ kind: 'SYSTEM', apiKeyId: null, userSubject: null, job: 'test' }],
    ]);
    // The key's id loads the key.
    const { node } = await tenant.query(`query ($id: ID!) { node(id: $id) { __typename id } }`, { id: apiKeys[0].id });
    expect(node).toEqual({ __typename: 'ApiKey', id: apiKeys[0].id });

    const { auditLog } = await tenant.query(`{ auditLog(first: 3) { edges { node { operation actor { kind apiKeyId userSubject job } } } } }`);
    expect(auditLog.edges.map((edge: any) => edge.node)).toEqual([
      { operation: 'createParty', actor: { kind: 'SYSTEM', apiKeyId: null, userSubject: null, job: 'test' } },
      { operation: 'moveStage', actor: { kind: 'USER', apiKeyId: null, userSubject: 'user-42', job: null } },
      { operation: 'createParty', actor: { kind: 'API_KEY', apiKeyId: apiKeys[0].id, userSubject: null, job: null } },
    ]);

    const { recordInteraction } = await tenant.query(
      `mutation ($p: ID!) { recordInteraction(input: { partyId: $p, kind: CALL }) { interaction { actor { kind apiKeyId userSubject job } } } }`,
      { p: partyId },
    );
    expect(recordInteraction.interaction.actor).toEqual({ kind: 'API_KEY', apiKeyId: apiKeys[0].id, userSubject: null, job: null });
  });
});
