import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createStatementCounter, createTestApi, type TenantClient, type TestApi } from '../test/helpers';

// api: every list under Party is a full Relay connection, paged forwards (first/after) and
// backwards (last/before) by keyset, a page of parties in one statement per list either way.
const counter = createStatementCounter();
let api: TestApi;
beforeAll(async () => {
  api = await createTestApi({ rateLimits: null }, { logger: counter.logger });
});
afterAll(() => api.close());

const hour = 60 * 60 * 1000;
const base = Date.parse('2026-01-01T00:00:00Z');

async function party(tenant: TenantClient, displayName: string): Promise<string> {
  const { createParty } = await tenant.query(
    `mutation ($input: CreatePartyInput!) { createParty(input: $input) { party { id } userErrors { message } } }`,
    { input: { kind: 'PROSPECT', displayName } },
  );
  expect(createParty.userErrors).toEqual([]);
  return createParty.party.id;
}

/** A party with `count` orders an hour apart; their ids newest placedAt first, as the list sorts them. */
async function partyWithOrders(tenant: TenantClient, name: string, count: number): Promise<{ id: string; orders: string[] }> {
  const id = await party(tenant, name);
  const orders: string[] = [];
  for (let i = 0; i < count; i++) {
    const { recordOrder } = await tenant.query(
      `mutation ($input: RecordOrderInput!) { recordOrder(input: $input) { order { id } userErrors { message } } }`,
      { input: { partyId: id, amount: `${10 + i}.00`, placedAt: new Date(base + i * hour).toISOString() } },
    );
    expect(recordOrder.userErrors).toEqual([]);
    orders.unshift(recordOrder.order.id);
  }
  return { id, orders };
}

const ordersQuery = `query ($ids: [ID!]!, $first: Int, $after: String, $last: Int, $before: String) {
  nodes(ids: $ids) {
    ... on Party {
      orders(first: $first, after: $after, last: $last, before: $before) {
        totalCount
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { cursor node { id } }
      }
    }
  }
}`;

type Page = { totalCount: number; pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string; endCursor: string }; edges: { cursor: string; node: { id: string } }[] };

async function ordersPages(tenant: TenantClient, ids: string[], args: Record<string, unknown>): Promise<Page[]> {
  const { nodes } = await tenant.query(ordersQuery, { ids, ...args });
  return nodes.map((node: { orders: Page }) => node.orders);
}

const idsOf = (page: Page) => page.edges.map((edge) => edge.node.id);

describe('a list under Party pages both ways', () => {
  test('orders forwards by first/after and backwards by last/before: same order, both pageInfo flags, for every party of the batch', async () => {
    const tenant = await api.newTenant();
    const a = await partyWithOrders(tenant, 'A', 7);
    const b = await partyWithOrders(tenant, 'B', 2);

    // Forwards: the newest three, then the next three, then the last one.
    const [a1, b1] = await ordersPages(tenant, [a.id, b.id], { first: 3 });
    expect(idsOf(a1!)).toEqual(a.orders.slice(0, 3));
    expect(a1!.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
    expect(a1!.totalCount).toBe(7);
    expect(idsOf(b1!)).toEqual(b.orders);
    expect(b1!.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: false });
    expect(b1!.totalCount).toBe(2);
    const [a2] = await ordersPages(tenant, [a.id], { first: 3, after: a1!.pageInfo.endCursor });
    expect(idsOf(a2!)).toEqual(a.orders.slice(3, 6));
    expect(a2!.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: true });
    const [a3] = await ordersPages(tenant, [a.id], { first: 3, after: a2!.pageInfo.endCursor });
    expect(idsOf(a3!)).toEqual(a.orders.slice(6));
    expect(a3!.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true });

    // Backwards: the oldest three (still newest first within the page), then the three before them.
    const [z1, y1] = await ordersPages(tenant, [a.id, b.id], { last: 3 });
    expect(idsOf(z1!)).toEqual(a.orders.slice(4));
    expect(z1!.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true });
    expect(z1!.totalCount).toBe(7);
    expect(idsOf(y1!)).toEqual(b.orders);
    expect(y1!.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: false });
    const [z2] = await ordersPages(tenant, [a.id], { last: 3, before: z1!.pageInfo.startCursor });
    expect(idsOf(z2!)).toEqual(a.orders.slice(1, 4));
    expect(z2!.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: true });
    const [z3] = await ordersPages(tenant, [a.id], { last: 3, before: z2!.pageInfo.startCursor });
    expect(idsOf(z3!)).toEqual(a.orders.slice(0, 1));
    expect(z3!.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });

    // A cursor handed out by a forward page serves a backward one, and the reverse.
    const [back] = await ordersPages(tenant, [a.id], { last: 2, before: a2!.pageInfo.endCursor });
    expect(idsOf(back!)).toEqual(a.orders.slice(3, 5));
    const [forth] = await ordersPages(tenant, [a.id], { first: 2, after: z2!.pageInfo.startCursor });
    expect(idsOf(forth!)).toEqual(a.orders.slice(2, 4));
  });

  test('every list under Party answers last/before in the order of first/after', async () => {
    const tenant = await api.newTenant();
    const { id, orders } = await partyWithOrders(tenant, 'Hub', 3);
    for (let i = 0; i < 4; i++) {
      const other = await party(tenant, `Friend ${i}`);
      await tenant.query(`mutation ($input: ConnectPartiesInput!) { connectParties(input: $input) { userErrors { message } } }`, {
        input: { fromId: id, toId: other, type: 'FRIEND' },
      });
      await tenant.query(`mutation ($input: CreateReferralInput!) { createReferral(input: $input) { userErrors { message } } }`, {
        input: { referrerId: id, refereeId: other },
      });
      await tenant.query(`mutation ($input: RecordInteractionInput!) { recordInteraction(input: $input) { userErrors { message } } }`, {
        input: { partyId: id, kind: 'CALL', occurredAt: new Date(base + i * hour).toISOString() },
      });
    }
    for (const to of ['TRUST_BUILDING', 'LOYALTY_GROWTH']) {
      const { moveStage } = await tenant.query(`mutation ($input: MoveStageInput!) { moveStage(input: $input) { userErrors { message } } }`, {
        input: { partyId: id, to },
      });
      expect(moveStage.userErrors).toEqual([]);
    }
    for (const asOf of ['2026-01-05', '2026-01-06', '2026-01-07']) {
      const { runScoring } = await tenant.query(`mutation ($asOf: Date!) { runScoring(input: { asOf: $asOf }) { userErrors { message } } }`, { asOf });
      expect(runScoring.userErrors).toEqual([]);
    }
    expect(orders).toHaveLength(3);
    for (const list of ['orders', 'relationships', 'referrals', 'interactions', 'stageHistory', 'loyaltyHistory']) {
      const node = list === 'loyaltyHistory' ? 'asOf' : 'id';
      const { party: all } = await tenant.query(`query ($id: ID!) { party(id: $id) { ${list}(first: 100) { totalCount edges { node { ${node} } } } } }`, { id });
      const { party: tail } = await tenant.query(
        `query ($id: ID!) { party(id: $id) { ${list}(last: 2) { totalCount pageInfo { hasNextPage hasPreviousPage } edges { node { ${node} } } } } }`,
        { id },
      );
      const every = all[list].edges.map((edge: any) => edge.node[node]);
      expect(every.length, list).toBeGreaterThan(2);
      expect(every.length, list).toBe(all[list].totalCount);
      expect(tail[list].edges.map((edge: any) => edge.node[node]), list).toEqual(every.slice(-2));
      expect(tail[list].pageInfo, list).toEqual({ hasNextPage: false, hasPreviousPage: every.length > 2 });
      expect(tail[list].totalCount, list).toBe(every.length);
    }
  });

  test('an empty page has no cursors, on a root list as under Party, whichever the direction', async () => {
    const tenant = await api.newTenant();
    const { id, orders } = await partyWithOrders(tenant, 'Solo', 1);
    const none = { startCursor: null, endCursor: null };
    const { parties } = await tenant.query(`{ parties(last: 5, filter: { search: "nobody" }) { totalCount pageInfo { startCursor endCursor } } }`);
    expect(parties).toEqual({ totalCount: 0, pageInfo: none });
    const [only] = await ordersPages(tenant, [id], { first: 1 });
    expect(idsOf(only!)).toEqual(orders);
    const [past] = await ordersPages(tenant, [id], { first: 1, after: only!.pageInfo.endCursor });
    expect(past!.pageInfo).toEqual({ hasNextPage: false, hasPreviousPage: true, ...none });
    const [before] = await ordersPages(tenant, [id], { last: 1, before: only!.pageInfo.startCursor });
    expect(before!.pageInfo).toEqual({ hasNextPage: true, hasPreviousPage: false, ...none });
  });

  test('a backward page under a page of parties is one batched statement; more than 100 is refused', async () => {
    const tenant = await api.newTenant();
    for (let i = 0; i < 4; i++) await partyWithOrders(tenant, `P${i}`, 3);
    const page = (args: string) => `{ parties(first: 4) { edges { node { id orders(${args}) { totalCount edges { node { id amount { amount } } } } } } } }`;
    const statements = async (args: string) => {
      counter.reset();
      await tenant.query(page(args));
      return counter.count;
    };
    const forwards = await statements('first: 2');
    const backwards = await statements('last: 2');
    console.info(`statements: parties with orders(first: 2) → ${forwards}, orders(last: 2) → ${backwards}`);
    // The forward first pages are read along with the page of parties (network/prefetch.ts); the
    // backward ones take one batched statement for all four parties, never one each.
    expect(backwards).toBe(forwards + 1);
    for (const args of ['last: 101', 'first: 101', 'last: -1']) {
      const response = await tenant.request(page(args));
      expect(response.errors?.[0]?.extensions?.code, args).toBe('BAD_USER_INPUT');
    }
  });
});
