import { useTransaction } from '@guanxi/core';
import { asTenant, tenantRows } from '@guanxi/core/test';
import { createWebhook } from '@guanxi/core/webhooks';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApi, type TenantClient, type TestApi } from '../../test/helpers';

let api: TestApi;
beforeAll(async () => {
  api = await createTestApi();
});
afterAll(() => api.close());

const mergeParties = /* GraphQL */ `
  mutation ($input: MergePartiesInput!) {
    mergeParties(input: $input) {
      party { id kind displayName }
      userErrors { code field message }
    }
  }
`;

interface Ref {
  /** Global id, for the API. */
  id: string;
  /** Raw uuid, for SQL. */
  uuid: string;
}

async function party(tenant: TenantClient, displayName: string, extra: Record<string, unknown> = {}): Promise<Ref> {
  const { createParty } = await tenant.query(
    `mutation ($input: CreatePartyInput!) { createParty(input: $input) { party { id } userErrors { message } } }`,
    { input: { kind: 'CUSTOMER', displayName, ...extra } },
  );
  const id = createParty.party.id as string;
  return { id, uuid: Buffer.from(id, 'base64').toString().slice('Party:'.length) };
}

async function connect(tenant: TenantClient, from: Ref, to: Ref, type: string, extra: Record<string, unknown> = {}) {
  const { connectParties } = await tenant.query(
    `mutation ($input: ConnectPartiesInput!) { connectParties(input: $input) { relationship { id } userErrors { message } } }`,
    { input: { fromId: from.id, toId: to.id, type, ...extra } },
  );
  expect(connectParties.userErrors).toEqual([]);
}

/**
 * Rows written straight into the tables, as the tenant's application role (the referrals API
 * comes later; orders and interactions need none of their API's rules here). Values are ids and
 * literals made by the test itself.
 */
function insert(tenant: TenantClient, statement: string) {
  return asTenant(api.handle, tenant.tenantId, async () => {
    await useTransaction().execute(statement);
  });
}

const referral = (tenant: TenantClient, referrer: Ref, referee: Ref) =>
  insert(
    tenant,
    `insert into referrals (tenant_id, id, referrer_id, referee_id, status, created_at)
        values ('${tenant.tenantId}', gen_random_uuid(), '${referrer.uuid}', '${referee.uuid}', 'PENDING', now())`,
  );

const order = (tenant: TenantClient, p: Ref, amount: string) =>
  insert(
    tenant,
    `insert into orders (tenant_id, id, party_id, amount, currency, placed_at)
        values ('${tenant.tenantId}', gen_random_uuid(), '${p.uuid}', '${amount}', 'CNY', now() - interval '1 day')`,
  );

const interaction = (tenant: TenantClient, p: Ref) =>
  insert(
    tenant,
    `insert into interactions (tenant_id, id, party_id, kind, actor_kind, actor_id)
        values ('${tenant.tenantId}', gen_random_uuid(), '${p.uuid}', 'CALL', 'SYSTEM', 'test')`,
  );

const referralCode = (tenant: TenantClient, p: Ref, code: string) =>
  insert(tenant, `insert into referral_codes (tenant_id, party_id, code) values ('${tenant.tenantId}', '${p.uuid}', '${code}')`);

const loyaltySnapshot = (tenant: TenantClient, p: Ref) =>
  insert(
    tenant,
    `insert into loyalty_snapshots (tenant_id, party_id, as_of, recency_days, frequency, monetary, satisfying_orders,
          converted_referrals, interactions, typical_gap_days, r, f, m, segment, recency_component, frequency_component,
          monetary_component, satisfaction_component, referrals_component, engagement_component, score, tier, churn_risk,
          loyal, rule_version)
        values ('${tenant.tenantId}', '${p.uuid}', '2026-01-01', 3, 2, '100', 2, 0, 1, '10', 5, 3, 3, 'GENERAL_VALUE',
          1, 0.5, 0.5, 0.5, 0, 0.08333, 55.0, 'SILVER', 0.1, false, 1)`,
  );

async function merge(tenant: TenantClient, keep: Ref | string, drop: Ref | string) {
  const keepId = typeof keep === 'string' ? keep : keep.id;
  const mergeId = typeof drop === 'string' ? drop : drop.id;
  return (await tenant.query(mergeParties, { input: { keepId, mergeId } })).mergeParties;
}

/**
 * Every table a merge touches, counted and fingerprinted: a refused merge must leave each one
 * exactly as it was (api: a mutation that returns user errors has changed nothing).
 */
async function everything(tenantId: string) {
  const [row] = await tenantRows<Record<string, string | number>>(
    api.handle,
    tenantId,
    `select
       (select count(*)::int from parties) as parties,
       (select string_agg(id || ':' || kind || ':' || coalesce(archived_at::text, '-') || ':' || coalesce(merged_into_id::text, '-') || ':' || updated_at::text, ',' order by id) from parties) as party_state,
       (select count(*)::int from relationships) as relationships,
       (select coalesce(string_agg(type || ':' || from_party_id || '>' || to_party_id || ':' || strength, ',' order by id), '') from relationships) as edge_state,
       (select count(*)::int from orders) as orders,
       (select coalesce(string_agg(id || '>' || party_id, ',' order by id), '') from orders) as order_state,
       (select count(*)::int from interactions) as interactions,
       (select coalesce(string_agg(id || '>' || party_id, ',' order by id), '') from interactions) as interaction_state,
       (select count(*)::int from referrals) as referrals,
       (select coalesce(string_agg(referrer_id || '>' || referee_id, ',' order by id), '') from referrals) as referral_state,
       (select count(*)::int from referral_codes) as referral_codes,
       (select coalesce(string_agg(party_id || '=' || code, ',' order by code), '') from referral_codes) as code_state,
       (select count(*)::int from stage_transitions) as stage_transitions,
       (select count(*)::int from loyalty_snapshots) as loyalty_snapshots,
       (select count(*)::int from audit_log) as audit_log`,
  );
  return row!;
}

describe('mergeParties', () => {
  test('moves edges to the kept party, dropping duplicates (keeping the stronger) and self-edges', async () => {
    const tenant = await api.newTenant();
    const keep = await party(tenant, 'Zhang Wei');
    const dupe = await party(tenant, 'Zhang W.');
    const x = await party(tenant, 'X');
    const y = await party(tenant, 'Y');
    const z = await party(tenant, 'Z');
    await connect(tenant, keep, x, 'FRIEND', { strength: 2, since: '2020-01-01' });
    // The same symmetric edge, stored the other way round: a duplicate once dupe becomes keep.
    await connect(tenant, x, dupe, 'FRIEND', { strength: 5, label: 'school', since: '2015-06-01' });
    await connect(tenant, dupe, y, 'COLLEAGUE', { strength: 4 });
    await connect(tenant, keep, dupe, 'FAMILY'); // would become a self-edge
    // Directed: z → dupe becomes z → keep, which is not the same edge as keep → z.
    await connect(tenant, keep, z, 'FOLLOWS');
    await connect(tenant, z, dupe, 'FOLLOWS');
    await connect(tenant, dupe, z, 'FOLLOWS', { strength: 1 }); // duplicates keep → z

    const payload = await merge(tenant, keep, dupe);
    expect(payload.userErrors).toEqual([]);
    expect(payload.party).toMatchObject({ id: keep.id, displayName: 'Zhang Wei' });

    const name = new Map([keep, dupe, x, y, z].map((p, i) => [p.uuid, ['keep', 'dupe', 'x', 'y', 'z'][i]!]));
    const edges = await tenantRows<{ type: string; from_party_id: string; to_party_id: string; strength: number; label: string | null; since: string | null }>(
      api.handle,
      tenant.tenantId,
      `select type::text, from_party_id::text, to_party_id::text, strength::int, label, since::text from relationships`,
    );
    const described = edges
      .map((e) => `${e.type} ${name.get(e.from_party_id)}>${name.get(e.to_party_id)} ${e.strength} ${e.label ?? '-'} ${e.since ?? '-'}`)
      .sort();
    expect(described).toEqual([
      'COLLEAGUE keep>y 4 - -',
      'FOLLOWS keep>z 3 - -',
      'FOLLOWS z>keep 3 - -',
      // The kept edge survives with the stronger strength, the label it lacked and the earlier since.
      'FRIEND keep>x 5 school 2015-06-01',
    ]);
    // Nothing points at the merged party any more.
    const left = await tenantRows(api.handle, tenant.tenantId, `select 1 from relationships where '${dupe.uuid}' in (from_party_id, to_party_id)`);
    expect(left).toEqual([]);
  });

  test('moves orders and interactions, archives the merged party with a pointer, keeps its history', async () => {
    const tenant = await api.newTenant();
    const keep = await party(tenant, 'Keep', { kind: 'PROSPECT', externalId: 'keep-1' });
    const dupe = await party(tenant, 'Dupe', { externalId: 'dupe-1' });
    await order(tenant, dupe, '10.00');
    await order(tenant, dupe, '20.00');
    await interaction(tenant, dupe);
    await interaction(tenant, keep);
    await loyaltySnapshot(tenant, dupe);
    await asTenant(api.handle, tenant.tenantId, () =>
      createWebhook({ url: 'http://127.0.0.1:9/hook', events: ['party.merged', 'party.updated'] }, { allowInsecureTargets: true }),
    );

    const payload = await merge(tenant, keep, dupe);
    expect(payload.userErrors).toEqual([]);
    // domain: a PROSPECT with an order is a CUSTOMER; the merged orders are its orders now.
    expect(payload.party.kind).toBe('CUSTOMER');

    const [counts] = await tenantRows<Record<string, number>>(
      api.handle,
      tenant.tenantId,
      `select
         (select count(*)::int from orders where party_id = '${keep.uuid}') as keep_orders,
         (select count(*)::int from orders where party_id = '${dupe.uuid}') as dupe_orders,
         (select count(*)::int from interactions where party_id = '${keep.uuid}') as keep_interactions,
         (select count(*)::int from interactions where party_id = '${dupe.uuid}') as dupe_interactions,
         (select count(*)::int from stage_transitions where party_id = '${dupe.uuid}') as dupe_history,
         (select count(*)::int from loyalty_snapshots where party_id = '${dupe.uuid}') as dupe_snapshots`,
    );
    expect(counts).toEqual({
      keep_orders: 2,
      dupe_orders: 0,
      keep_interactions: 2,
      dupe_interactions: 0,
      dupe_history: 1,
      dupe_snapshots: 1,
    });

    const read = await tenant.query(
      `query ($id: ID!) { party(id: $id) { archivedAt mergedInto { id displayName } stageHistory { edges { node { to } } } } }`,
      { id: dupe.id },
    );
    expect(read.party.archivedAt).not.toBeNull();
    expect(read.party.mergedInto).toEqual({ id: keep.id, displayName: 'Keep' });
    expect(read.party.stageHistory.edges.map((e: any) => e.node.to)).toEqual(['INITIAL_CONTACT']);
    const kept = await tenant.query(`query ($id: ID!) { party(id: $id) { mergedInto { id } archivedAt } }`, { id: keep.id });
    expect(kept.party).toEqual({ mergedInto: null, archivedAt: null });

    const audit = await tenantRows<{ entity_ids: string[]; details: any }>(
      api.handle,
      tenant.tenantId,
      `select entity_ids, details from audit_log where operation = 'mergeParties'`,
    );
    expect(audit).toHaveLength(1);
    expect(audit[0]!.entity_ids).toEqual([keep.uuid, dupe.uuid]);
    expect(audit[0]!.details).toMatchObject({ keepId: keep.uuid, mergeId: dupe.uuid, orders: 2, interactions: 1 });

    // Webhook subscribers hear of the merge (and of the kind the merged orders changed).
    const events = await tenantRows<{ event: string; payload: unknown }>(
      api.handle,
      tenant.tenantId,
      `select event, payload from webhook_deliveries order by event`,
    );
    expect(events).toEqual([
      { event: 'party.merged', payload: { party: { id: dupe.uuid }, mergedInto: { id: keep.uuid } } },
      { event: 'party.updated', payload: { party: { id: keep.uuid }, changedFields: ['kind'] } },
    ]);

    // The merged party cannot be merged again, and its external id no longer imports.
    const other = await party(tenant, 'Other');
    const again = await merge(tenant, other, dupe);
    expect(again.userErrors).toEqual([{ code: 'CONFLICT', field: ['input', 'mergeId'], message: expect.any(String) }]);
    const imported = await tenant.query(
      `mutation { importParties(input: { rows: [{ externalId: "dupe-1", displayName: "Back" }] }) { failed results { status userErrors { code field } } } }`,
    );
    expect(imported.importParties.results[0]).toEqual({
      status: 'ERROR',
      userErrors: [{ code: 'CONFLICT', field: ['input', 'rows', '0', 'externalId'] }],
    });
  });

  test('re-points referrals as referrer and as referee; the kept referral code wins', async () => {
    const tenant = await api.newTenant();
    const keep = await party(tenant, 'Keep');
    const dupe = await party(tenant, 'Dupe');
    const referrer = await party(tenant, 'Referrer');
    const a = await party(tenant, 'A');
    const b = await party(tenant, 'B');
    await referral(tenant, referrer, dupe);
    await referral(tenant, dupe, a);
    await referral(tenant, keep, b);
    await referralCode(tenant, keep, 'KEEP01');
    await referralCode(tenant, dupe, 'DUPE01');

    expect((await merge(tenant, keep, dupe)).userErrors).toEqual([]);
    const rows = await tenantRows<{ referrer_id: string; referee_id: string }>(
      api.handle,
      tenant.tenantId,
      `select referrer_id::text, referee_id::text from referrals order by referee_id`,
    );
    expect(rows.map((r) => `${r.referrer_id}>${r.referee_id}`).sort()).toEqual(
      [`${referrer.uuid}>${keep.uuid}`, `${keep.uuid}>${a.uuid}`, `${keep.uuid}>${b.uuid}`].sort(),
    );
    // The referral subtree sizes (kept by triggers on referrals) follow the re-pointed rows.
    const sizes = await tenantRows<{ party_id: string; descendants: number }>(
      api.handle,
      tenant.tenantId,
      `select party_id::text, descendants from referral_subtree_sizes order by descendants`,
    );
    expect(sizes).toEqual([
      { party_id: keep.uuid, descendants: 2 },
      { party_id: referrer.uuid, descendants: 3 },
    ]);
    const codes = await tenantRows(api.handle, tenant.tenantId, `select party_id::text, code from referral_codes`);
    expect(codes).toEqual([{ party_id: keep.uuid, code: 'KEEP01' }]);

    // Without a code of its own, the kept party takes the merged one's.
    const keep2 = await party(tenant, 'Keep 2');
    const dupe2 = await party(tenant, 'Dupe 2');
    await referralCode(tenant, dupe2, 'DUPE02');
    expect((await merge(tenant, keep2, dupe2)).userErrors).toEqual([]);
    const moved = await tenantRows(api.handle, tenant.tenantId, `select party_id::text from referral_codes where code = 'DUPE02'`);
    expect(moved).toEqual([{ party_id: keep2.uuid }]);
  });

  test('allows two referrals from the same referrer: the merged one stays with the archived record', async () => {
    const tenant = await api.newTenant();
    const keep = await party(tenant, 'Keep');
    const dupe = await party(tenant, 'Dupe');
    const referrer = await party(tenant, 'Referrer');
    await referral(tenant, referrer, keep);
    await referral(tenant, referrer, dupe);
    expect((await merge(tenant, keep, dupe)).userErrors).toEqual([]);
    const rows = await tenantRows<{ referee_id: string }>(
      api.handle,
      tenant.tenantId,
      `select referee_id::text from referrals where referrer_id = '${referrer.uuid}'`,
    );
    expect(rows.map((r) => r.referee_id).sort()).toEqual([keep.uuid, dupe.uuid].sort());
  });

  describe('refusals change nothing', () => {
    async function refused(tenant: TenantClient, keep: Ref | string, drop: Ref | string) {
      const before = await everything(tenant.tenantId);
      const payload = await merge(tenant, keep, drop);
      expect(payload.party).toBeNull();
      expect(await everything(tenant.tenantId)).toEqual(before);
      return payload.userErrors as { code: string; field: string[] | null }[];
    }

    /** Two parties with plenty that a merge would move, so a partial write could not hide. */
    async function busyPair(tenant: TenantClient) {
      const keep = await party(tenant, 'Keep');
      const dupe = await party(tenant, 'Dupe');
      const x = await party(tenant, 'X');
      await connect(tenant, dupe, x, 'FRIEND');
      await connect(tenant, keep, x, 'FRIEND');
      await order(tenant, dupe, '5.00');
      await interaction(tenant, dupe);
      await referralCode(tenant, dupe, `C${Math.random().toString(36).slice(2, 8)}`);
      return { keep, dupe, x };
    }

    test('the same party twice (VALIDATION)', async () => {
      const tenant = await api.newTenant();
      const { keep } = await busyPair(tenant);
      expect(await refused(tenant, keep, keep)).toEqual([
        { code: 'VALIDATION', field: ['input', 'mergeId'], message: expect.any(String) },
      ]);
    });

    test("another tenant's party (NOT_FOUND naming the field)", async () => {
      const tenant = await api.newTenant();
      const other = await api.newTenant();
      const { keep, dupe } = await busyPair(tenant);
      const foreign = await party(other, 'Foreign');
      expect(await refused(tenant, keep, foreign)).toMatchObject([{ code: 'NOT_FOUND', field: ['input', 'mergeId'] }]);
      expect(await refused(tenant, foreign, dupe)).toMatchObject([{ code: 'NOT_FOUND', field: ['input', 'keepId'] }]);
    });

    test('a referee with two different referrers (CONFLICT)', async () => {
      const tenant = await api.newTenant();
      const { keep, dupe } = await busyPair(tenant);
      await referral(tenant, await party(tenant, 'R1'), keep);
      await referral(tenant, await party(tenant, 'R2'), dupe);
      expect(await refused(tenant, keep, dupe)).toMatchObject([{ code: 'CONFLICT', field: ['input', 'mergeId'] }]);
    });

    test('a self-referral: one referred the other (CONFLICT)', async () => {
      const tenant = await api.newTenant();
      const { keep, dupe } = await busyPair(tenant);
      await referral(tenant, keep, dupe);
      expect(await refused(tenant, keep, dupe)).toMatchObject([{ code: 'CONFLICT' }]);
      expect(await refused(tenant, dupe, keep)).toMatchObject([{ code: 'CONFLICT' }]);
    });

    test("a cycle: the kept party is deeper in the merged party's referral subtree (CONFLICT)", async () => {
      const tenant = await api.newTenant();
      const { keep, dupe } = await busyPair(tenant);
      const a = await party(tenant, 'A');
      const b = await party(tenant, 'B');
      // dupe → a → b → keep: merging would make keep refer (through a and b) itself.
      await referral(tenant, dupe, a);
      await referral(tenant, a, b);
      await referral(tenant, b, keep);
      expect(await refused(tenant, keep, dupe)).toMatchObject([{ code: 'CONFLICT' }]);
      // And the other way round: the merged party in the kept party's subtree.
      expect(await refused(tenant, dupe, keep)).toMatchObject([{ code: 'CONFLICT' }]);
    });

    test('an archived kept party (CONFLICT)', async () => {
      const tenant = await api.newTenant();
      const { keep, dupe } = await busyPair(tenant);
      await tenant.query(`mutation ($id: ID!) { archiveParty(input: { id: $id }) { userErrors { code } } }`, { id: keep.id });
      expect(await refused(tenant, keep, dupe)).toMatchObject([{ code: 'CONFLICT', field: ['input', 'keepId'] }]);
    });
  });
});
