import { afterAll, beforeAll, expect, test } from 'vitest';
import { createStatementCounter, createTestApi, type TenantClient, type TestApi } from '../../test/helpers';

// The statement count of a page must not grow with the page: nested fields load through
// dataloaders (one batched statement per field), never one query per row.
const counter = createStatementCounter();
let api: TestApi;
let tenant: TenantClient;
let partyIds: string[];

beforeAll(async () => {
  api = await createTestApi({ rateLimits: null }, { logger: counter.logger });
  tenant = await api.newTenant();
  const rows = Array.from({ length: 100 }, (_, i) => `{ kind: CUSTOMER, displayName: "P${i}" }`);
  partyIds = [];
  // Created in batches of 20 aliases per request to stay under the alias limit.
  for (let start = 0; start < rows.length; start += 20) {
    const mutation = rows
      .slice(start, start + 20)
      .map((row, i) => `p${i}: createParty(input: ${row}) { party { id } }`)
      .join('\n');
    const data = await tenant.query(`mutation { ${mutation} }`);
    partyIds.push(...Object.values(data).map((payload: any) => payload.party.id));
  }
  // A ring of FRIEND edges, so every party has relationships to load.
  for (let start = 0; start < partyIds.length; start += 20) {
    const mutation = partyIds
      .slice(start, start + 20)
      .map((id, i) => `e${i}: connectParties(input: { fromId: "${id}", toId: "${partyIds[(start + i + 1) % partyIds.length]}", type: FRIEND }) { userErrors { code } }`)
      .join('\n');
    await tenant.query(`mutation { ${mutation} }`);
  }
});
afterAll(() => api.close());

const pageQuery = `query ($first: Int) {
  parties(first: $first) {
    edges { node { id stage displayName relationships(first: 5) { totalCount edges { node { type from { displayName } to { displayName } } } } } }
  }
}`;

async function statementsFor(query: string, variables: Record<string, unknown>): Promise<number> {
  counter.reset();
  const data = await tenant.query(query, variables);
  expect(data).toBeTruthy();
  return counter.count;
}

test('a page of 100 parties with relationships and stage takes as many statements as a page of 10', async () => {
  const ten = await statementsFor(pageQuery, { first: 10 });
  const hundred = await statementsFor(pageQuery, { first: 100 });
  console.info(`statements: page of 10 → ${ten}, page of 100 → ${hundred}`);
  expect(hundred).toBe(ten);
  // Besides begin and commit: the admission (key, rate limit and tenant in one), the page, the
  // edges, their count, the edge ends.
  expect(hundred).toBeLessThanOrEqual(5);
});

test('positive control: the counter sees one round of statements per party when each is loaded alone', async () => {
  const single = `query ($id: ID!) { party(id: $id) { id stage relationships(first: 5) { totalCount edges { node { type } } } } }`;
  counter.reset();
  for (const id of partyIds.slice(0, 10)) await tenant.query(single, { id });
  const unbatched = counter.count;
  const batched = await statementsFor(pageQuery, { first: 10 });
  console.info(`statements: 10 parties one by one → ${unbatched}, batched → ${batched}`);
  expect(unbatched).toBeGreaterThanOrEqual(10 * 3);
  expect(unbatched).toBeGreaterThan(batched * 3);
});
