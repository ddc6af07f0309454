import { asTenant, tenantRows } from '@guanxi/core/test';
import { createWebhook } from '@guanxi/core/webhooks';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApi, type TenantClient, type TestApi } from '../../test/helpers';

let api: TestApi;
beforeAll(async () => {
  api = await createTestApi();
});
afterAll(() => api.close());

const importParties = /* GraphQL */ `
  mutation ($input: ImportPartiesInput!) {
    importParties(input: $input) {
      results {
        index
        externalId
        status
        party { id kind displayName email phone tags birthday archivedAt updatedAt stage }
        userErrors { code field message }
      }
      created updated unchanged failed
      userErrors { code field message }
    }
  }
`;

async function runImport(tenant: TenantClient, rows: Record<string, unknown>[]) {
  return (await tenant.query(importParties, { input: { rows } })).importParties;
}

/** Row counts (and every party's state) of one tenant, to prove what a call wrote or did not. */
async function tables(tenantId: string) {
  const [row] = await tenantRows<{ parties: number; history: number; audits: number; state: string }>(
    api.handle,
    tenantId,
    `select (select count(*)::int from parties) as parties,
            (select count(*)::int from stage_transitions) as history,
            (select count(*)::int from audit_log where operation = 'importParties') as audits,
            (select coalesce(string_agg(external_id || '=' || display_name || '@' || updated_at::text, ',' order by external_id), '')
               from parties) as state`,
  );
  return row!;
}

const rows = [
  { externalId: 'crm-1', kind: 'CUSTOMER', displayName: 'Zhang Wei', email: 'zhang@example.com', tags: ['vip', 'vip', 'beijing'] },
  { externalId: 'crm-2', kind: 'PROSPECT', displayName: '王芳', phone: '+8613800138000', birthday: '1990-05-17' },
  { externalId: ' crm-3 ', kind: 'PARTNER', displayName: 'Blue Ocean Ltd', company: 'Blue Ocean' },
];

describe('importParties', () => {
  test('creates parties at INITIAL_CONTACT with their first history row and one audit row', async () => {
    const tenant = await api.newTenant();
    const payload = await runImport(tenant, rows);
    expect(payload.userErrors).toEqual([]);
    expect(payload).toMatchObject({ created: 3, updated: 0, unchanged: 0, failed: 0 });
    expect(payload.results.map((r: any) => [r.index, r.externalId, r.status])).toEqual([
      [0, 'crm-1', 'CREATED'],
      [1, 'crm-2', 'CREATED'],
      [2, 'crm-3', 'CREATED'],
    ]);
    expect(payload.results[0].party).toMatchObject({ kind: 'CUSTOMER', tags: ['vip', 'beijing'], stage: 'INITIAL_CONTACT' });
    expect(payload.results[1].party).toMatchObject({ displayName: '王芳', birthday: '1990-05-17' });

    const history = await tenantRows<{ from_stage: string | null; to_stage: string }>(
      api.handle,
      tenant.tenantId,
      `select from_stage::text, to_stage::text from stage_transitions`,
    );
    expect(history).toEqual(Array(3).fill({ from_stage: null, to_stage: 'INITIAL_CONTACT' }));
    const audit = await tenantRows<{ entity_ids: string[]; details: any }>(
      api.handle,
      tenant.tenantId,
      `select entity_ids, details from audit_log where operation = 'importParties'`,
    );
    expect(audit).toHaveLength(1);
    expect(audit[0]!.entity_ids).toHaveLength(3);
    expect(audit[0]!.details).toEqual({ rows: 3, created: 3, updated: 0, unchanged: 0, failed: 0 });
  });

  test('is idempotent: the same payload twice is all UNCHANGED the second time and writes nothing', async () => {
    const tenant = await api.newTenant();
    const first = await runImport(tenant, rows);
    expect(first.created).toBe(3);
    const before = await tables(tenant.tenantId);

    const second = await runImport(tenant, rows);
    expect(second).toMatchObject({ created: 0, updated: 0, unchanged: 3, failed: 0, userErrors: [] });
    expect(second.results.map((r: any) => r.status)).toEqual(['UNCHANGED', 'UNCHANGED', 'UNCHANGED']);
    // The party comes back as it stands: same id and updatedAt as after the first import.
    expect(second.results.map((r: any) => [r.party.id, r.party.updatedAt])).toEqual(
      first.results.map((r: any) => [r.party.id, r.party.updatedAt]),
    );
    // No audit row, no history row, no updatedAt bump.
    expect(await tables(tenant.tenantId)).toEqual(before);
  });

  test('applies the valid rows and reports each invalid row with the field at fault', async () => {
    const tenant = await api.newTenant();
    const payload = await runImport(tenant, [
      { externalId: 'ok-1', kind: 'CUSTOMER', displayName: 'Valid One' },
      { externalId: 'ok-2', kind: 'PROSPECT', displayName: 'Valid Two', email: 'two@example.com' },
      { externalId: 'bad-email', kind: 'CUSTOMER', displayName: 'Bad Email', email: 'not-an-email' },
      { kind: 'CUSTOMER', displayName: 'No External Id' },
      { externalId: 'no-kind', displayName: 'New but without kind' },
      { externalId: 'bad-many', kind: 'CUSTOMER', displayName: ' ', phone: '138', tags: ['ok', ' '] },
    ]);
    expect(payload.userErrors).toEqual([]);
    expect(payload).toMatchObject({ created: 2, updated: 0, unchanged: 0, failed: 4 });
    const [, , badEmail, noExternalId, noKind, badMany] = payload.results;
    expect(badEmail).toMatchObject({ index: 2, externalId: 'bad-email', status: 'ERROR', party: null });
    // Field paths are full input paths: input → rows → the row's index → the field.
    expect(badEmail.userErrors).toEqual([
      { code: 'VALIDATION', field: ['input', 'rows', '2', 'email'], message: 'Email is not a valid address' },
    ]);
    expect(noExternalId).toMatchObject({ externalId: null, status: 'ERROR' });
    expect(noExternalId.userErrors).toEqual([
      { code: 'VALIDATION', field: ['input', 'rows', '3', 'externalId'], message: expect.any(String) },
    ]);
    expect(noKind.userErrors).toEqual([
      { code: 'VALIDATION', field: ['input', 'rows', '4', 'kind'], message: 'Kind is required to create a party' },
    ]);
    expect(badMany.userErrors.map((e: any) => e.field.join('.')).sort()).toEqual([
      'input.rows.5.displayName',
      'input.rows.5.phone',
      'input.rows.5.tags.1',
    ]);

    const stored = await tenantRows<{ external_id: string }>(
      api.handle,
      tenant.tenantId,
      `select external_id from parties order by external_id`,
    );
    expect(stored.map((r) => r.external_id)).toEqual(['ok-1', 'ok-2']);
    const [audit] = await tenantRows<{ details: any }>(
      api.handle,
      tenant.tenantId,
      `select details from audit_log where operation = 'importParties'`,
    );
    expect(audit!.details).toEqual({ rows: 6, created: 2, updated: 0, unchanged: 0, failed: 4 });
  });

  test('refuses the later of two rows with the same external id (CONFLICT)', async () => {
    const tenant = await api.newTenant();
    const payload = await runImport(tenant, [
      { externalId: 'dup', kind: 'CUSTOMER', displayName: 'First' },
      { externalId: 'other', kind: 'CUSTOMER', displayName: 'Other' },
      { externalId: ' dup', kind: 'PARTNER', displayName: 'Second' },
    ]);
    expect(payload).toMatchObject({ created: 2, failed: 1 });
    expect(payload.results[2]).toMatchObject({ status: 'ERROR', externalId: 'dup', party: null });
    expect(payload.results[2].userErrors).toEqual([
      { code: 'CONFLICT', field: ['input', 'rows', '2', 'externalId'], message: expect.any(String) },
    ]);
    const stored = await tenantRows<{ display_name: string }>(
      api.handle,
      tenant.tenantId,
      `select display_name from parties where external_id = 'dup'`,
    );
    expect(stored).toEqual([{ display_name: 'First' }]);
  });

  test('refuses more than 1000 rows as a whole and applies nothing', async () => {
    const tenant = await api.newTenant();
    const many = Array.from({ length: 1001 }, (_, i) => ({ externalId: `x-${i}`, kind: 'CUSTOMER', displayName: `P ${i}` }));
    const payload = await runImport(tenant, many);
    expect(payload.userErrors).toEqual([{ code: 'VALIDATION', field: ['input', 'rows'], message: expect.any(String) }]);
    expect(payload.results).toBeNull();
    expect(payload.created).toBeNull();
    expect(await tables(tenant.tenantId)).toEqual({ parties: 0, history: 0, audits: 0, state: '' });

    // Exactly 1000 is fine.
    const exactly = await runImport(tenant, many.slice(0, 1000));
    expect(exactly).toMatchObject({ created: 1000, failed: 0, userErrors: [] });
  });

  test('updates an existing party by external id: absent fields stay, null clears, kind and archive only when given', async () => {
    const tenant = await api.newTenant();
    const created = await tenant.query(
      `mutation ($input: CreatePartyInput!) { createParty(input: $input) { party { id updatedAt } userErrors { code } } }`,
      { input: { kind: 'CUSTOMER', displayName: 'Li Lei', externalId: 'crm-7', email: 'li@example.com', tags: ['a'] } },
    );
    const id = created.createParty.party.id as string;
    await tenant.query(`mutation ($id: ID!) { archiveParty(input: { id: $id }) { userErrors { code } } }`, { id });
    const [{ updated_at: archivedAt }] = await tenantRows<{ updated_at: string }>(
      api.handle,
      tenant.tenantId,
      `select updated_at::text from parties`,
    ) as [{ updated_at: string }];

    // No kind, no archived, no email: those stay as they are.
    const renamed = await runImport(tenant, [{ externalId: 'crm-7', displayName: 'Li Lei (Acme)', phone: '+8613912345678' }]);
    expect(renamed).toMatchObject({ created: 0, updated: 1, unchanged: 0, failed: 0 });
    expect(renamed.results[0].party).toMatchObject({
      id,
      kind: 'CUSTOMER',
      displayName: 'Li Lei (Acme)',
      email: 'li@example.com',
      phone: '+8613912345678',
      tags: ['a'],
    });
    expect(renamed.results[0].party.archivedAt).not.toBeNull();
    const [after] = await tenantRows<{ updated_at: string; n: number }>(
      api.handle,
      tenant.tenantId,
      `select updated_at::text, (select count(*)::int from stage_transitions) as n from parties`,
    );
    expect(after!.updated_at > archivedAt).toBe(true);
    expect(after!.n).toBe(1); // an update adds no history row

    // The row says so: kind changes, null clears email and tags, archived: false restores.
    const changed = await runImport(tenant, [
      { externalId: 'crm-7', kind: 'PARTNER', email: null, tags: null, archived: false },
    ]);
    expect(changed.results[0]).toMatchObject({ status: 'UPDATED', userErrors: [] });
    expect(changed.results[0].party).toMatchObject({ kind: 'PARTNER', email: null, tags: [], archivedAt: null });

    const read = await tenant.query(`query ($id: ID!) { party(id: $id) { kind displayName email archivedAt } }`, { id });
    expect(read.party).toEqual({ kind: 'PARTNER', displayName: 'Li Lei (Acme)', email: null, archivedAt: null });

    // Clearing a required field is refused for that row.
    const cleared = await runImport(tenant, [{ externalId: 'crm-7', kind: null, displayName: null }]);
    expect(cleared.results[0].userErrors.map((e: any) => e.field.join('.')).sort()).toEqual([
      'input.rows.0.displayName',
      'input.rows.0.kind',
    ]);
  });

  test('queues webhook events for created, updated and archived parties; an unchanged re-import sends none', async () => {
    const tenant = await api.newTenant();
    // A subscriber on a local address (allowed outside production); nothing is delivered here,
    // the queued rows (the outbox) are what the import must write.
    await asTenant(api.handle, tenant.tenantId, () =>
      createWebhook({ url: 'http://127.0.0.1:9/hook', events: ['party.*'] }, { allowInsecureTargets: true }),
    );
    const events = async () =>
      (
        await tenantRows<{ event: string; payload: any }>(
          api.handle,
          tenant.tenantId,
          `select event, payload from webhook_deliveries order by event, payload::text`,
        )
      ).map((row) => [row.event, row.payload]);

    const first = await runImport(tenant, rows.slice(0, 2));
    const [a, b] = first.results.map((r: any) => Buffer.from(r.party.id, 'base64').toString().slice('Party:'.length));
    expect(await events()).toEqual(
      [
        ['party.created', { party: { id: a, kind: 'CUSTOMER', stage: 'INITIAL_CONTACT' } }],
        ['party.created', { party: { id: b, kind: 'PROSPECT', stage: 'INITIAL_CONTACT' } }],
      ].sort((x, y) => JSON.stringify(x[1]).localeCompare(JSON.stringify(y[1]))),
    );
    await runImport(tenant, rows.slice(0, 2));
    expect(await events()).toHaveLength(2);

    await runImport(tenant, [{ externalId: 'crm-1', displayName: 'Zhang Wei II', archived: true }]);
    const after = await events();
    expect(after).toHaveLength(4);
    expect(after).toContainEqual(['party.updated', { party: { id: a }, changedFields: ['displayName', 'archivedAt'] }]);
    expect(after).toContainEqual(['party.archived', { party: { id: a } }]);
  });

  test('needs the network:write scope', async () => {
    const tenant = await api.newTenant();
    const key = await tenant.query(
      `mutation { createApiKey(input: { name: "reader", scopes: [NETWORK_READ] }) { secret userErrors { code } } }`,
    );
    const { postGraphQL } = await import('../../test/helpers');
    const response = await postGraphQL(
      api.server,
      importParties,
      { input: { rows: [{ externalId: 'r-1', kind: 'CUSTOMER', displayName: 'Reader' }] } },
      { authorization: `ApiKey ${key.createApiKey.secret}` },
    );
    expect(response.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await tables(tenant.tenantId)).parties).toBe(0);
  });
});
