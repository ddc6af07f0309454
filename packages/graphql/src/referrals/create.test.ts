import { randomUUID } from 'node:crypto';
import { tenantRows, usingPostgres } from '@guanxi/core/test';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApi, type TenantClient, type TestApi } from '../../test/helpers';
import { create, createMutation, party, type Ref, refer, referralTables, uuidOf } from '../../test/referrals';

let api: TestApi;
beforeAll(async () => {
  // The concurrency test makes a few hundred requests per tenant.
  api = await createTestApi({ rateLimits: null });
});
afterAll(() => api.close());
const { run, refused } = referralTables(() => api);

describe('createReferral', () => {
  test('creates the referral, its REFERRED edge (reusing one that exists) and an audit entry; referredBy and referrals read it back', async () => {
    const tenant = await api.newTenant();
    const [a, b, c] = [await party(tenant, 'A'), await party(tenant, 'B'), await party(tenant, 'C')];
    const ab = await refer(tenant, a, b, { channel: 'EVENT' });
    expect(ab).toMatchObject({ status: 'PENDING', referrer: { id: a.id }, referee: { id: b.id }, fraudSignals: [], reward: null, convertedAt: null });
    const edges = await tenantRows<{ type: string; from_party_id: string; to_party_id: string; id: string }>(
      api.handle,
      tenant.tenantId,
      `select id::text, type::text, from_party_id::text, to_party_id::text from relationships`,
    );
    expect(edges).toEqual([{ id: expect.any(String), type: 'REFERRED', from_party_id: a.uuid, to_party_id: b.uuid }]);
    const [audit] = await tenantRows<{ entity_ids: string[]; details: any }>(
      api.handle,
      tenant.tenantId,
      `select entity_ids, details from audit_log where operation = 'createReferral'`,
    );
    expect(audit!.entity_ids).toEqual([uuidOf(ab.id), a.uuid, b.uuid]);
    expect(audit!.details).toMatchObject({ relationshipId: edges[0]!.id, edgeReused: false });

    // A REFERRED edge that already joins the pair (history brought in by an import) is reused.
    const edgeId = randomUUID();
    await run(tenant, `insert into relationships (tenant_id, id, type, from_party_id, to_party_id) values ('${tenant.tenantId}', '${edgeId}', 'REFERRED', '${a.uuid}', '${c.uuid}')`);
    await refer(tenant, a, c);
    const count = await tenantRows<{ n: number }>(api.handle, tenant.tenantId, `select count(*)::int as n from relationships`);
    expect(count[0]!.n).toBe(2);
    const [reuse] = await tenantRows<{ details: any }>(
      api.handle,
      tenant.tenantId,
      `select details from audit_log where operation = 'createReferral' and '${c.uuid}' = any(entity_ids)`,
    );
    expect(reuse!.details).toMatchObject({ relationshipId: edgeId, edgeReused: true });

    const read = await tenant.query(
      `query ($a: ID!, $b: ID!) {
        a: party(id: $a) { referredBy { id } referrals(first: 1) { totalCount pageInfo { hasNextPage endCursor } edges { node { referee { id } } } } }
        b: party(id: $b) { referredBy { id } referrals { totalCount edges { node { id } } } }
      }`,
      { a: a.id, b: b.id },
    );
    expect(read.a.referredBy).toBeNull();
    expect(read.b.referredBy).toEqual({ id: a.id });
    expect(read.b.referrals).toEqual({ totalCount: 0, edges: [] });
    // Newest first.
    expect(read.a.referrals.totalCount).toBe(2);
    expect(read.a.referrals.edges.map((e: any) => e.node.referee.id)).toEqual([c.id]);
    expect(read.a.referrals.pageInfo.hasNextPage).toBe(true);
    const next = await tenant.query(
      `query ($a: ID!, $after: String) { party(id: $a) { referrals(first: 5, after: $after) { pageInfo { hasNextPage } edges { node { referee { id } } } } } }`,
      { a: a.id, after: read.a.referrals.pageInfo.endCursor },
    );
    expect(next.party.referrals.edges.map((e: any) => e.node.referee.id)).toEqual([b.id]);
    expect(next.party.referrals.pageInfo.hasNextPage).toBe(false);
  });

  test('every refusal names its field and changes nothing', async () => {
    const tenant = await api.newTenant();
    const [a, b, c, d] = [await party(tenant, 'A'), await party(tenant, 'B'), await party(tenant, 'C'), await party(tenant, 'D')];
    const { party: codeOfA } = await tenant.query(`query ($id: ID!) { party(id: $id) { referralCode } }`, { id: a.id });
    await refer(tenant, a, b);
    await refer(tenant, b, c);

    // Exactly one of referrerId / referralCode.
    await refused(tenant, () => create(tenant, { refereeId: d.id }), { code: 'VALIDATION', field: ['input', 'referrerId'] });
    await refused(tenant, () => create(tenant, { referrerId: a.id, referralCode: codeOfA.referralCode, refereeId: d.id }), {
      code: 'VALIDATION',
      field: ['input', 'referralCode'],
    });
    // Nobody refers themself, by id or by their own code.
    await refused(tenant, () => create(tenant, { referrerId: d.id, refereeId: d.id }), { code: 'VALIDATION', field: ['input', 'refereeId'] });
    await refused(tenant, () => create(tenant, { referralCode: codeOfA.referralCode, refereeId: a.id }), {
      code: 'VALIDATION',
      field: ['input', 'refereeId'],
    });
    // Unknown code, party of another tenant.
    await refused(tenant, () => create(tenant, { referralCode: 'ZZZZZZZZ', refereeId: d.id }), { code: 'NOT_FOUND', field: ['input', 'referralCode'] });
    const other = await api.newTenant();
    const foreign = await party(other, 'Foreign');
    await refused(tenant, () => create(tenant, { referrerId: foreign.id, refereeId: d.id }), { code: 'NOT_FOUND', field: ['input', 'referrerId'] });
    await refused(tenant, () => create(tenant, { referrerId: a.id, refereeId: foreign.id }), { code: 'NOT_FOUND', field: ['input', 'refereeId'] });
    // One referrer per referee.
    await refused(tenant, () => create(tenant, { referrerId: d.id, refereeId: b.id }), { code: 'CONFLICT', field: ['input', 'refereeId'] });
    // Cycles: direct (B→A after A→B) and longer (C→A after A→B→C).
    await refused(tenant, () => create(tenant, { referrerId: b.id, refereeId: a.id }), { code: 'CONFLICT', field: ['input', 'refereeId'] });
    await refused(tenant, () => create(tenant, { referrerId: c.id, refereeId: a.id }), { code: 'CONFLICT', field: ['input', 'refereeId'] });
    // A referee with orders is no new customer.
    await run(tenant, `insert into orders (tenant_id, party_id, amount, currency) values ('${tenant.tenantId}', '${d.uuid}', 10, 'CNY')`);
    await refused(tenant, () => create(tenant, { referrerId: a.id, refereeId: d.id }), { code: 'CONFLICT', field: ['input', 'refereeId'] });
    // An archived party takes no new referral until restored.
    const e = await party(tenant, 'E');
    await tenant.query(`mutation ($id: ID!) { archiveParty(input: { id: $id }) { userErrors { code } } }`, { id: e.id });
    await refused(tenant, () => create(tenant, { referrerId: a.id, refereeId: e.id }), { code: 'CONFLICT', field: ['input', 'refereeId'] });
    await refused(tenant, () => create(tenant, { referrerId: e.id, refereeId: c.id }), { code: 'CONFLICT' });
    // Channel too long.
    await refused(tenant, () => create(tenant, { referrerId: a.id, refereeId: e.id, channel: 'x'.repeat(51) }), {
      code: 'VALIDATION',
      field: ['input', 'channel'],
    });
  });
});

describe('no cycle under concurrent requests', () => {
  /** Two createReferral requests sent at the same moment; exactly one may win. */
  async function together(tenant: TenantClient, first: [Ref, Ref], second: [Ref, Ref]) {
    const responses = await Promise.all(
      [first, second].map(([referrer, referee]) => tenant.request(createMutation, { input: { referrerId: referrer.id, refereeId: referee.id } })),
    );
    for (const response of responses) expect(response.errors).toBeUndefined();
    const payloads = responses.map((response) => response.data.createReferral);
    const won = payloads.filter((p) => p.userErrors.length === 0);
    const lost = payloads.filter((p) => p.userErrors.length > 0);
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0].userErrors).toEqual([expect.objectContaining({ code: 'CONFLICT', field: ['input', 'refereeId'] })]);
  }

  /** The referral graph read back is a forest: every walk up ends at a root. */
  async function expectForest(tenant: TenantClient) {
    const rows = await tenantRows<{ referrer_id: string; referee_id: string }>(api.handle, tenant.tenantId, `select referrer_id::text, referee_id::text from referrals`);
    const parentOf = new Map(rows.map((r) => [r.referee_id, r.referrer_id]));
    expect(parentOf.size).toBe(rows.length);
    for (const start of parentOf.keys()) {
      const seen = new Set([start]);
      for (let at = parentOf.get(start); at; at = parentOf.get(at)) {
        expect(seen.has(at)).toBe(false);
        seen.add(at);
      }
    }
    const edges = await tenantRows<{ n: number }>(api.handle, tenant.tenantId, `select count(*)::int as n from relationships where type = 'REFERRED'`);
    expect(edges[0]!.n).toBe(rows.length);
  }

  /**
   * 20 rounds over fresh parties: A→B against B→A (the two requests also lock the same party
   * rows), and, after A→B and C→D, B→C against D→A — no party in common, so only the tenant's
   * graph lock can keep the cycle A→B→C→D→A out.
   */
  async function race() {
    const tenant = await api.newTenant();
    for (let round = 0; round < 20; round++) {
      const [a, b] = [await party(tenant, `A${round}`), await party(tenant, `B${round}`)];
      await together(tenant, [a, b], [b, a]);
      const [e, f, g, h] = [await party(tenant, `E${round}`), await party(tenant, `F${round}`), await party(tenant, `G${round}`), await party(tenant, `H${round}`)];
      await refer(tenant, e, f);
      await refer(tenant, g, h);
      await together(tenant, [f, g], [h, e]);
    }
    await expectForest(tenant);
  }

  test.runIf(usingPostgres())('on Postgres: of two referrals that would close a cycle together, one succeeds and one gets CONFLICT', race);
  // PGlite has a single connection, so the two transactions run one after the other anyway.
  test.runIf(!usingPostgres())('on PGlite: of two referrals that would close a cycle together, one succeeds and one gets CONFLICT', race);
});
