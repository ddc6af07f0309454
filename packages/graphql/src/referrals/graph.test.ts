import { randomUUID } from 'node:crypto';
import { tenantRows } from '@guanxi/core/test';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApi, type TestApi } from '../../test/helpers';
import { party, type Ref, referralTables, uuidOf } from '../../test/referrals';

let api: TestApi;
beforeAll(async () => {
  // The forest makes a few hundred requests per tenant.
  api = await createTestApi({ rateLimits: null });
});
afterAll(() => api.close());
const { run, forest } = referralTables(() => api);

describe('chain and tree', () => {
  test('chains, trees and subtree counts match a BFS over the rows read back', async () => {
    const tenant = await api.newTenant();
    const { people, rows, chainOf, bfs } = await forest(tenant);

    // Chains (in groups: the API allows 30 aliases per request).
    for (let start = 0; start < people.length; start += 20) {
      const group = people.slice(start, start + 20);
      const chains = await tenant.query(`query { ${group.map((p, i) => `c${i}: referralChain(partyId: "${p.id}") { id }`).join(' ')} }`);
      group.forEach((p, i) => expect(chains[`c${i}`].map((x: any) => uuidOf(x.id))).toEqual(chainOf(p.uuid)));
    }
    expect(chainOf(people[0]!.uuid)).toEqual([]);

    // Trees: every party, several depths and page sizes.
    const treeQuery = `query ($root: ID!, $depth: Int, $first: Int, $after: String, $last: Int, $before: String) {
      referralTree(rootId: $root, maxDepth: $depth, first: $first, after: $after, last: $last, before: $before) {
        totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { depth node { id } }
      }
    }`;
    const treeEdges = (tree: any) => tree.edges.map((e: any) => ({ uuid: uuidOf(e.node.id), depth: e.depth }));
    for (const root of people) {
      for (const [depth, first] of [[10, 100], [1, 100], [2, 3], [3, 0]] as const) {
        const { referralTree } = await tenant.query(treeQuery, { root: root.id, depth, first });
        const expected = bfs(root.uuid, depth);
        expect(referralTree.totalCount).toBe(expected.length);
        expect(treeEdges(referralTree)).toEqual(expected.slice(0, first));
        expect(referralTree.pageInfo.hasNextPage).toBe(expected.length > first);
      }
    }
    // The largest tree page by page, forwards then backwards: the same breadth-first order.
    const treeRoot = people.reduce((best, p) => (bfs(p.uuid, 10).length > bfs(best.uuid, 10).length ? p : best));
    const wholeTree = bfs(treeRoot.uuid, 10);
    expect(wholeTree.length).toBeGreaterThan(6);
    const forwards: unknown[] = [];
    for (let after: string | null = null, more = true; more; ) {
      const { referralTree: page }: any = await tenant.query(treeQuery, { root: treeRoot.id, first: 3, after });
      expect(page.pageInfo.hasPreviousPage).toBe(after !== null);
      forwards.push(...treeEdges(page));
      ({ hasNextPage: more, endCursor: after } = page.pageInfo);
    }
    expect(forwards).toEqual(wholeTree);
    const backwards: unknown[] = [];
    for (let before: string | null = null, more = true; more; ) {
      const { referralTree: page }: any = await tenant.query(treeQuery, { root: treeRoot.id, last: 3, before });
      expect(page.pageInfo.hasNextPage).toBe(before !== null);
      expect(page.totalCount).toBe(wholeTree.length);
      backwards.unshift(...treeEdges(page));
      ({ hasPreviousPage: more, startCursor: before } = page.pageInfo);
    }
    expect(backwards).toEqual(wholeTree);
    const deepest = Math.max(...people.map((p) => chainOf(p.uuid).length));
    expect(deepest).toBeGreaterThanOrEqual(3);

    // Subtree counts kept by the triggers equal a count over the rows.
    const descendants = new Map<string, number>();
    for (const r of rows) for (const a of chainOf(r.referee_id)) descendants.set(a, (descendants.get(a) ?? 0) + 1);
    const sizes = await tenantRows<{ party_id: string; descendants: number }>(api.handle, tenant.tenantId, `select party_id::text, descendants from referral_subtree_sizes`);
    expect(new Map(sizes.map((s) => [s.party_id, s.descendants]))).toEqual(descendants);
  });

  test('limits and unknown ids', async () => {
    const tenant = await api.newTenant();
    const a = await party(tenant, 'A');
    const treeQuery = `query ($root: ID!, $depth: Int, $first: Int) { referralTree(rootId: $root, maxDepth: $depth, first: $first) { totalCount } }`;
    for (const [depth, first, code] of [[0, 10, 'VALIDATION'], [11, 10, 'VALIDATION'], [10, 101, 'BAD_USER_INPUT'], [10, -1, 'BAD_USER_INPUT']] as const) {
      const response = await tenant.request(treeQuery, { root: a.id, depth, first });
      expect(response.errors?.[0]?.extensions?.code).toBe(code);
    }
    expect((await tenant.query(treeQuery, { root: a.id, depth: 10, first: 100 })).referralTree).toEqual({ totalCount: 0 });
    const badCursor = await tenant.request(`query ($root: ID!) { referralTree(rootId: $root, after: "bm90IGEgY3Vyc29y") { totalCount } }`, { root: a.id });
    expect(badCursor.errors?.[0]?.extensions?.code).toBe('VALIDATION');
    const unknown = Buffer.from(`Party:${randomUUID()}`).toString('base64');
    const other = await api.newTenant();
    const foreign = await party(other, 'Foreign');
    const read = await tenant.query(`query ($u: ID!, $f: ID!) {
      u: referralChain(partyId: $u) { id } f: referralChain(partyId: $f) { id } a: referralChain(partyId: "${a.id}") { id }
      t: referralTree(rootId: $u) { totalCount } tf: referralTree(rootId: $f) { totalCount } }`, { u: unknown, f: foreign.id });
    expect(read).toEqual({ u: null, f: null, a: [], t: null, tf: null });
  });
});

describe('subtree counts follow every write to referrals', () => {
  test('bulk inserts in any order, deletes and re-pointed referrals; a cycle is refused by the database', async () => {
    const tenant = await api.newTenant();
    const p: Ref[] = [];
    for (let i = 0; i < 8; i++) p.push(await party(tenant, `N${i}`));
    const values = (pairs: [number, number][]) =>
      pairs.map(([from, to]) => `('${tenant.tenantId}', '${p[from]!.uuid}', '${p[to]!.uuid}', 'PENDING')`).join(', ');
    const insert = (pairs: [number, number][]) => run(tenant, `insert into referrals (tenant_id, referrer_id, referee_id, status) values ${values(pairs)}`);
    const expectSizes = async () => {
      const rows = await tenantRows<{ referrer_id: string; referee_id: string }>(api.handle, tenant.tenantId, `select referrer_id::text, referee_id::text from referrals`);
      const parentOf = new Map(rows.map((r) => [r.referee_id, r.referrer_id]));
      const expected = new Map<string, number>();
      for (const r of rows) for (let at: string | undefined = r.referrer_id; at; at = parentOf.get(at)) expected.set(at, (expected.get(at) ?? 0) + 1);
      const sizes = await tenantRows<{ party_id: string; descendants: number }>(api.handle, tenant.tenantId, `select party_id::text, descendants from referral_subtree_sizes`);
      expect(new Map(sizes.map((s) => [s.party_id, s.descendants]))).toEqual(expected);
      return expected;
    };
    // Children before parents, in one statement; then a root with a subtree gains a referrer.
    await insert([[2, 3], [1, 2], [3, 4]]);
    await expectSizes();
    await insert([[5, 6]]);
    await insert([[0, 1], [0, 5]]);
    expect((await expectSizes()).get(p[0]!.uuid)).toBe(6);
    // Re-pointing (as a merge does) moves the whole subtree; several rows in one statement.
    await run(tenant, `update referrals set referrer_id = '${p[7]!.uuid}' where referrer_id in ('${p[0]!.uuid}', '${p[2]!.uuid}')`);
    await expectSizes();
    await run(tenant, `update referrals set referee_id = '${p[0]!.uuid}' where referee_id = '${p[6]!.uuid}'`);
    await expectSizes();
    await run(tenant, `delete from referrals where referee_id in ('${p[1]!.uuid}', '${p[3]!.uuid}')`);
    await expectSizes();
    // A cycle written straight into the table is refused (check_violation), and nothing changes:
    // now 7→5→0, so 0→5 (re-pointed) and 0→7 (inserted) each close one.
    const before = await expectSizes();
    const code = (work: Promise<unknown>) => work.then(() => null, (error: any) => error.cause?.code ?? error.code);
    expect(await code(run(tenant, `update referrals set referrer_id = '${p[0]!.uuid}' where referee_id = '${p[5]!.uuid}'`))).toBe('23514');
    expect(await code(run(tenant, `insert into referrals (tenant_id, referrer_id, referee_id, status) values ${values([[0, 7]])}`))).toBe('23514');
    expect(await expectSizes()).toEqual(before);
  });
});
