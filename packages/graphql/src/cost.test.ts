import { parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createStatementCounter, createTestApi, type TestApi } from '../test/helpers';
import { objectCost } from './cost';
import { schema } from './schema';

const counter = createStatementCounter();
let api: TestApi;
beforeAll(async () => {
  api = await createTestApi({ rateLimits: null }, { logger: counter.logger });
});
afterAll(() => api.close());

const listPage = (parties: number, nested: number) => `{
  parties(first: ${parties}) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id displayName
      orders(first: ${nested}) { edges { node { id amount { amount currency } } } }
      relationships(first: ${nested}) { edges { node { id from { id } to { id } } } }
    } }
  }
}`;

describe('cost counts the objects a query can return', () => {
  test('connections multiply by first; nodes and object fields count 1; edges, pageInfo and scalars 0', () => {
    const cost = (query: string, variables?: Record<string, unknown>) => objectCost(schema, parse(query), null, variables);
    expect(cost('{ viewer { kind } }')).toBe(1);
    expect(cost('{ parties(first: 10) { totalCount pageInfo { hasNextPage } edges { cursor node { id } } } }')).toBe(1 + 10);
    // The schema's default page size when `first` is not given.
    expect(cost('{ parties { edges { node { id } } } }')).toBe(1 + 20);
    expect(cost('query ($n: Int) { parties(first: $n) { edges { node { id } } } }', { n: 7 })).toBe(1 + 7);
    // 1 + 20 parties + 20 × (orders: 1 + 5 × (1 + its Money amount)) + 20 × (relationships: 1 + 5 × (1 + from + to)).
    expect(cost(listPage(20, 5))).toBe(1 + 20 + 20 * (1 + 5 * 2) + 20 * (1 + 5 * 3));
    // A backward page counts by its last, a nested list without first/last by the page size 20.
    expect(cost('{ parties(last: 4) { edges { node { orders(last: 3) { edges { node { id } } } } } } }')).toBe(1 + 4 + 4 * (1 + 3));
    expect(cost('{ parties(first: 2) { edges { node { orders { edges { node { id } } } } } } }')).toBe(1 + 2 + 2 * (1 + 20));
    expect(cost('query ($n: Int) { party(id: "x") { stageHistory(last: $n) { edges { node { id } } } } }', { n: 100 })).toBe(1 + 1 + 100);
    expect(cost('{ referralTree(rootId: "x", last: 7) { edges { depth node { id } } } }')).toBe(1 + 7);
    expect(cost('{ referralTree(rootId: "x") { edges { depth node { id } } } }')).toBe(1 + 20);
    // Fragments count where they are spread.
    expect(cost('query { parties(first: 3) { edges { node { ...P } } } } fragment P on Party { id orders(first: 2) { edges { node { id } } } }')).toBe(1 + 3 + 3 * 3);
    expect(cost('{ __schema { types { name fields { name } } } }')).toBe(0);
  });

  test('the ordinary list page and a long stage history are answered, with their cost in extensions', async () => {
    const tenant = await api.newTenant();
    expect(await costOf(tenant.apiKey, listPage(20, 5))).toEqual({ requested: 561, limit: 50_000 });
    expect(await costOf(tenant.apiKey, listPage(100, 10))).toEqual({ requested: 1 + 100 + 100 * 21 + 100 * 31, limit: 50_000 });
    const party = (await tenant.query(`mutation { createParty(input: { kind: CUSTOMER, displayName: "A" }) { party { id } } }`)).createParty.party.id;
    const history = await tenant.request(`query ($id: ID!) { party(id: $id) { stageHistory(first: 100) { edges { node { id from to at reason } } } } }`, { id: party });
    expect(history.errors).toBeUndefined();
  });

  test('a query over the limit is refused before it runs, naming both numbers', async () => {
    const tenant = await api.newTenant();
    const bomb = `{ parties(first: 100) { edges { node { relationships(first: 100) { edges { node { from { relationships(first: 100) { edges { node { id } } } } } } } } } } }`;
    counter.reset();
    const response = await api.server.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `ApiKey ${tenant.apiKey}` },
      body: JSON.stringify({ query: bomb }),
    });
    const body = (await response.json()) as { data?: unknown; errors: { message: string; extensions: Record<string, unknown> }[]; extensions: unknown };
    expect(body.data ?? null).toBeNull();
    // parties + 100 × (relationships + 100 × (node + from + its relationships + 100 nodes)).
    const requested = 1 + 100 + 100 * (1 + 100 * (1 + 1 + 1 + 100));
    expect(body.errors).toEqual([
      expect.objectContaining({
        message: expect.stringContaining(`Query cost ${requested.toLocaleString('en')} is over the limit of 50,000 objects`),
        extensions: expect.objectContaining({ code: 'QUERY_TOO_COMPLEX' }),
      }),
    ]);
    expect(body.extensions).toEqual({ cost: { requested, limit: 50_000 } });
    // Refused before the caller is even looked up: not one statement reached the database.
    expect(counter.statements).toEqual([]);
  });
});

async function costOf(apiKey: string, query: string) {
  const response = await api.server.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `ApiKey ${apiKey}` },
    body: JSON.stringify({ query }),
  });
  const body = (await response.json()) as { errors?: unknown; extensions?: { cost?: unknown } };
  expect(body.errors).toBeUndefined();
  return body.extensions?.cost;
}
