import { introPath } from '@guanxi/core/network';
import { asTenant, tenantRows } from '@guanxi/core/test';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApi, type TenantClient, type TestApi } from '../../test/helpers';

let api: TestApi;
beforeAll(async () => {
  api = await createTestApi();
});
afterAll(() => api.close());

async function party(tenant: TenantClient, displayName: string): Promise<string> {
  const { createParty } = await tenant.query(
    `mutation ($name: String!) { createParty(input: { kind: CUSTOMER, displayName: $name }) { party { id } } }`,
    { name: displayName },
  );
  return createParty.party.id;
}

const connect = `mutation ($input: ConnectPartiesInput!) {
  connectParties(input: $input) { relationship { id type strength label since until from { id } to { id } } userErrors { code field message } }
}`;

async function edge(tenant: TenantClient, fromId: string, toId: string, type: string, extra: Record<string, unknown> = {}) {
  const { connectParties } = await tenant.query(connect, { input: { fromId, toId, type, ...extra } });
  expect(connectParties.userErrors).toEqual([]);
  return connectParties.relationship.id as string;
}

describe('connectParties, updateRelationship, disconnectParties', () => {
  test('the edge rules: self-edge, manual REFERRED, duplicates (symmetric stored once), foreign parties', async () => {
    const tenant = await api.newTenant();
    const [a, b, c] = [await party(tenant, 'A'), await party(tenant, 'B'), await party(tenant, 'C')];
    const refuse = async (input: Record<string, unknown>) => (await tenant.query(connect, { input })).connectParties;

    expect((await refuse({ fromId: a, toId: a, type: 'FRIEND' })).userErrors).toEqual([
      { code: 'VALIDATION', field: ['input', 'toId'], message: expect.any(String) },
    ]);
    expect((await refuse({ fromId: a, toId: b, type: 'REFERRED' })).userErrors[0]).toMatchObject({ code: 'VALIDATION', field: ['input', 'type'] });
    expect((await refuse({ fromId: a, toId: b, type: 'FRIEND', strength: 6 })).userErrors[0]).toMatchObject({ code: 'VALIDATION', field: ['input', 'strength'] });
    expect((await refuse({ fromId: a, toId: b, type: 'FRIEND', since: '2025-02-01', until: '2025-01-01' })).userErrors[0]).toMatchObject({ field: ['input', 'until'] });

    const friend = await edge(tenant, a, b, 'FRIEND', { strength: 5, label: 'school' });
    // Symmetric: B–A is the same FRIEND edge.
    expect((await refuse({ fromId: b, toId: a, type: 'FRIEND' })).userErrors[0]).toMatchObject({ code: 'CONFLICT' });
    // Another type between the same pair is a different edge; directed edges both ways are two edges.
    await edge(tenant, b, a, 'COLLEAGUE');
    await edge(tenant, a, b, 'FOLLOWS');
    await edge(tenant, b, a, 'FOLLOWS');
    expect((await refuse({ fromId: a, toId: b, type: 'FOLLOWS' })).userErrors[0]).toMatchObject({ code: 'CONFLICT' });

    const other = await api.newTenant();
    const foreign = await party(other, 'Foreign');
    expect((await refuse({ fromId: a, toId: foreign, type: 'FRIEND' })).userErrors).toEqual([
      { code: 'NOT_FOUND', field: ['input', 'toId'], message: expect.any(String) },
    ]);

    const updated = await tenant.query(
      `mutation ($id: ID!) { updateRelationship(input: { id: $id, strength: 2, label: null, until: "2030-01-01" }) { relationship { strength label until since } userErrors { code } } }`,
      { id: friend },
    );
    expect(updated.updateRelationship).toEqual({ relationship: { strength: 2, label: null, until: '2030-01-01', since: null }, userErrors: [] });

    const removed = await tenant.query(`mutation ($id: ID!) { disconnectParties(input: { id: $id }) { deletedId userErrors { code } } }`, { id: friend });
    expect(removed.disconnectParties).toEqual({ deletedId: friend, userErrors: [] });
    const again = await tenant.query(`mutation ($id: ID!) { disconnectParties(input: { id: $id }) { deletedId userErrors { code } } }`, { id: friend });
    expect(again.disconnectParties).toEqual({ deletedId: null, userErrors: [{ code: 'NOT_FOUND' }] });
    void c;
  });

  test('Party.relationships lists edges from either end, filtered by type, paginated with totalCount', async () => {
    const tenant = await api.newTenant();
    const hub = await party(tenant, 'Hub');
    const others = [];
    for (let i = 0; i < 5; i++) others.push(await party(tenant, `P${i}`));
    const ids = [];
    ids.push(await edge(tenant, hub, others[0]!, 'FRIEND'));
    ids.push(await edge(tenant, others[1]!, hub, 'COLLEAGUE'));
    ids.push(await edge(tenant, others[2]!, hub, 'FOLLOWS'));
    ids.push(await edge(tenant, hub, others[3]!, 'FAMILY'));
    ids.push(await edge(tenant, others[4]!, hub, 'FRIEND'));
    const query = `query ($id: ID!, $first: Int, $after: String, $types: [RelationshipType!]) {
      party(id: $id) { relationships(first: $first, after: $after, types: $types) { totalCount pageInfo { hasNextPage endCursor } edges { node { id type } } } }
    }`;
    const page1 = (await tenant.query(query, { id: hub, first: 2 })).party.relationships;
    expect(page1.totalCount).toBe(5);
    expect(page1.edges.map((e: any) => e.node.id)).toEqual([ids[4], ids[3]]);
    expect(page1.pageInfo.hasNextPage).toBe(true);
    const page2 = (await tenant.query(query, { id: hub, first: 10, after: page1.pageInfo.endCursor })).party.relationships;
    expect(page2.edges.map((e: any) => e.node.id)).toEqual([ids[2], ids[1], ids[0]]);
    expect(page2.pageInfo.hasNextPage).toBe(false);
    const friends = (await tenant.query(query, { id: hub, types: ['FRIEND'] })).party.relationships;
    expect(friends.totalCount).toBe(2);
    const leaf = (await tenant.query(query, { id: others[1] })).party.relationships;
    expect(leaf.edges.map((e: any) => e.node.type)).toEqual(['COLLEAGUE']);
  });
});

/** An independent breadth-first search over the edges as the test created them. */
function bfs(edges: [string, string][], start: string, depth: number): Set<string> {
  const seen = new Set([start]);
  let frontier = [start];
  for (let d = 0; d < depth; d++) {
    const next: string[] = [];
    for (const node of frontier) {
      for (const [x, y] of edges) {
        const other = x === node ? y : y === node ? x : null;
        if (other && !seen.has(other)) {
          seen.add(other);
          next.push(other);
        }
      }
    }
    frontier = next;
  }
  return seen;
}

describe('network and introPath', () => {
  test('neighbourhoods of depth 1–3 match a BFS, leave ended edges out, and refuse depth 4', async () => {
    const tenant = await api.newTenant();
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push(await party(tenant, `N${i}`));
    const pairs: [number, number, string][] = [
      [0, 1, 'FRIEND'], [1, 2, 'COLLEAGUE'], [2, 3, 'FOLLOWS'], [3, 4, 'FAMILY'], [0, 5, 'PARTNER_OF'],
      [5, 6, 'OTHER'], [6, 7, 'FRIEND'], [8, 9, 'FRIEND'], [1, 5, 'FRIEND'], [4, 10, 'FRIEND'],
    ];
    const active: [string, string][] = [];
    for (const [x, y, type] of pairs) {
      await edge(tenant, ids[x]!, ids[y]!, type);
      active.push([ids[x]!, ids[y]!]);
    }
    // An ended edge (until yesterday) is kept but not walked.
    await edge(tenant, ids[0]!, ids[11]!, 'FRIEND', { until: '2000-01-01' });
    const query = `query ($id: ID!, $depth: Int) { network(partyId: $id, depth: $depth) { truncated nodes { id } edges { from { id } to { id } } } }`;
    for (const depth of [1, 2, 3]) {
      const { network } = await tenant.query(query, { id: ids[0], depth });
      const expected = bfs(active, ids[0]!, depth);
      expect(new Set(network.nodes.map((n: any) => n.id))).toEqual(expected);
      const expectedEdges = active.filter(([x, y]) => expected.has(x) && expected.has(y)).map(([x, y]) => `${x}>${y}`).sort();
      expect(network.edges.map((e: any) => `${e.from.id}>${e.to.id}`).sort()).toEqual(expectedEdges);
      expect(network.truncated).toBe(false);
    }
    const tooDeep = await tenant.request(query, { id: ids[0], depth: 4 });
    expect(tooDeep.errors?.[0]?.extensions?.code).toBe('VALIDATION');
  });

  test('introPath: fewest hops, then strongest, then smallest ids; [from] for itself; null beyond maxDepth', async () => {
    const tenant = await api.newTenant();
    const n: Record<string, string> = {};
    for (const name of ['s', 'a', 'b', 'c', 't', 'x', 'far']) n[name] = await party(tenant, name);
    // Two 2-hop routes s→a→t (3+3) and s→b→t (5+4): the stronger wins; a 1-hop route beats both when added.
    await edge(tenant, n.s!, n.a!, 'FRIEND', { strength: 3 });
    await edge(tenant, n.a!, n.t!, 'FRIEND', { strength: 3 });
    await edge(tenant, n.b!, n.s!, 'COLLEAGUE', { strength: 5 });
    await edge(tenant, n.t!, n.b!, 'FOLLOWS', { strength: 4 });
    await edge(tenant, n.t!, n.x!, 'FRIEND');
    await edge(tenant, n.x!, n.far!, 'FRIEND');
    const query = `query ($from: ID!, $to: ID!, $max: Int) { introPath(fromId: $from, toId: $to, maxDepth: $max) { id } }`;
    const path = async (from: string, to: string, max = 4) =>
      (await tenant.query(query, { from, to, max })).introPath?.map((p: any) => p.id) ?? null;
    expect(await path(n.s!, n.t!)).toEqual([n.s, n.b, n.t]);
    expect(await path(n.s!, n.s!)).toEqual([n.s]);
    expect(await path(n.s!, n.far!, 3)).toBeNull();
    expect(await path(n.s!, n.far!, 4)).toEqual([n.s, n.b, n.t, n.x, n.far]);
    expect(await path(n.s!, n.c!)).toBeNull();
    await edge(tenant, n.s!, n.t!, 'OTHER', { strength: 1 });
    expect(await path(n.s!, n.t!)).toEqual([n.s, n.t]);

    // Equal strength: the smaller id sequence wins.
    const tie = await api.newTenant();
    const m: Record<string, string> = {};
    for (const name of ['s', 'p', 'q', 't']) m[name] = await party(tie, name);
    await edge(tie, m.s!, m.p!, 'FRIEND');
    await edge(tie, m.p!, m.t!, 'FRIEND');
    await edge(tie, m.s!, m.q!, 'FRIEND');
    await edge(tie, m.q!, m.t!, 'FRIEND');
    const raw = (id: string) => Buffer.from(id, 'base64').toString().split(':')[1]!;
    const middle = raw(m.p!) < raw(m.q!) ? m.p : m.q;
    const result = (await tie.query(query, { from: m.s, to: m.t, max: 4 })).introPath.map((p: any) => p.id);
    expect(result).toEqual([m.s, middle, m.t]);
  });

  test('introPath equals an exhaustive search on random graphs: every pair, ties, ended edges and archived parties', async () => {
    const tenant = await api.newTenant();
    const size = 26;
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const ids: string[] = (
      await tenantRows<{ id: string }>(
        api.handle,
        tenant.tenantId,
        `insert into parties (tenant_id, id, kind, display_name, archived_at)
         select '${tenant.tenantId}', gen_random_uuid(), 'CUSTOMER', 'R' || g, case when g % 9 = 0 then now() end
         from generate_series(1, ${size}) g returning id::text`,
      )
    ).map((r) => r.id);
    const archived = new Set(
      (await tenantRows<{ id: string }>(api.handle, tenant.tenantId, `select id::text from parties where archived_at is not null`)).map((r) => r.id),
    );
    // Strengths 1–2 only, so equal-strength ties are common; some pairs get two edges of different types.
    const edges: { a: string; b: string; type: string; strength: number; ended: boolean }[] = [];
    for (let i = 0; i < 2 * size; i++) {
      const a = ids[Math.floor(random() * size)]!;
      const b = ids[Math.floor(random() * size)]!;
      if (a === b) continue;
      const type = ['FRIEND', 'COLLEAGUE', 'FOLLOWS'][Math.floor(random() * 3)]!;
      edges.push({ a, b, type, strength: 1 + Math.floor(random() * 2), ended: random() < 0.1 });
    }
    const values = edges
      .map((e) => `('${tenant.tenantId}', gen_random_uuid(), '${e.type}', '${e.a}', '${e.b}', ${e.strength}, ${e.ended ? `'2000-01-01'` : 'null'})`)
      .join(',');
    const kept = await tenantRows<{ from_party_id: string; to_party_id: string; type: string; strength: number; until: string | null }>(
      api.handle,
      tenant.tenantId,
      `insert into relationships (tenant_id, id, type, from_party_id, to_party_id, strength, until) values ${values}
       on conflict do nothing returning from_party_id::text, to_party_id::text, type::text, strength, until::text`,
    );
    // The walkable graph: active edges in either direction, the strongest edge of a pair counting.
    const weight = new Map<string, number>();
    const neighbours = new Map<string, Set<string>>(ids.map((id) => [id, new Set()]));
    for (const e of kept) {
      if (e.until) continue;
      for (const [x, y] of [[e.from_party_id, e.to_party_id], [e.to_party_id, e.from_party_id]] as const) {
        neighbours.get(x)!.add(y);
        weight.set(`${x}>${y}`, Math.max(weight.get(`${x}>${y}`) ?? 0, e.strength));
      }
    }
    /** Every simple path of at most maxDepth hops; intermediate parties not archived. Best by the domain rule. */
    const exhaustive = (from: string, to: string, maxDepth: number): string[] | null => {
      let best: { path: string[]; strength: number } | null = null;
      const walk = (path: string[], strength: number) => {
        const last = path.at(-1)!;
        if (last === to) {
          const better =
            !best ||
            path.length < best.path.length ||
            (path.length === best.path.length &&
              (strength > best.strength || (strength === best.strength && path.join() < best.path.join())));
          if (better) best = { path: [...path], strength };
          return;
        }
        if (path.length > maxDepth) return;
        if (path.length > 1 && archived.has(last)) return;
        for (const next of neighbours.get(last)!) {
          if (path.includes(next)) continue;
          walk([...path, next], strength + weight.get(`${last}>${next}`)!);
        }
      };
      walk([from], 0);
      return best ? (best as { path: string[] }).path : null;
    };
    let found = 0;
    await asTenant(api.handle, tenant.tenantId, async () => {
      for (const from of ids) {
        for (const to of ids) {
          if (from === to) continue;
          const maxDepth = 1 + ((from.charCodeAt(0) + to.charCodeAt(1)) % 5);
          const expected = exhaustive(from, to, maxDepth);
          const actual = await introPath(from, to, { maxDepth });
          expect({ from, to, maxDepth, path: actual.path }).toEqual({ from, to, maxDepth, path: expected });
          if (expected) found++;
        }
      }
    });
    // The graph is connected enough for the comparison to mean something.
    expect(found).toBeGreaterThan(size * 5);
  });
});
