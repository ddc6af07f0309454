import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApi, type TestApi } from '../test/helpers';

let api: TestApi;
beforeAll(async () => {
  api = await createTestApi({ rateLimits: null });
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
