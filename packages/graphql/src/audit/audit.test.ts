// Registers the webhook type before the schema is built (the test helpers import it).
import { allowInsecureWebhookTargets } from '../webhooks/webhook';
import { readFileSync } from 'node:fs';
import { tenantRows } from '@guanxi/core/test';
import { buildSchema } from 'graphql';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApi, postGraphQL, testOperatorKey, type TenantClient, type TestApi } from '../../test/helpers';

let api: TestApi;
beforeAll(async () => {
  api = await createTestApi({ rateLimits: null });
  allowInsecureWebhookTargets(api.handle.db);
});
afterAll(() => api.close());

/** Every mutation of the published schema: a new one must be added to the story below. */
const mutations = Object.keys(
  buildSchema(readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8')).getMutationType()!.getFields(),
).sort();

type AuditRow = {
  operation: string;
  actor_kind: string;
  actor_id: string | null;
  entity_ids: string[];
};

const uuidOf = (globalId: string) => Buffer.from(globalId, 'base64').toString().split(':')[1]!;

describe('audit log', () => {
  test('every mutation writes an audit entry naming the caller and what it touched', async () => {
    const tenant = await api.newTenant();
    /** Runs one mutation, which must succeed; returns its payload. */
    const run = async (name: string, input: Record<string, unknown>, selection: string, client: TenantClient = tenant) => {
      const inputType = `${name[0]!.toUpperCase()}${name.slice(1)}Input`.replace(/^(Export|Erase)PartyDataInput$/, 'PartyDataInput');
      const data = await client.query(`mutation ($input: ${inputType}!) { ${name}(input: $input) { ${selection} userErrors { code field message } } }`, { input });
      expect(data[name].userErrors, name).toEqual([]);
      return data[name];
    };
    const party = async (displayName: string) =>
      (await run('createParty', { kind: 'PROSPECT', displayName, email: `${displayName.toLowerCase()}@example.com` }, 'party { id }')).party.id as string;

    const [a, b, c, d, e, f, g] = [await party('A'), await party('B'), await party('C'), await party('D'), await party('E'), await party('F'), await party('G')];
    await run('updateParty', { id: a, company: 'Acme' }, 'party { id }');
    const edge = (await run('connectParties', { fromId: a, toId: b, type: 'FRIEND' }, 'relationship { id }')).relationship.id;
    await run('updateRelationship', { id: edge, strength: 4 }, 'relationship { id }');
    await run('disconnectParties', { id: edge }, 'deletedId');
    const sold = (await run('recordOrder', { partyId: b, amount: '99.00' }, 'order { id }')).order.id;
    await run('refundOrder', { orderId: sold, amount: '9.00' }, 'refund { id }');
    await run('setMembershipTier', { partyId: b, tier: 'GOLD', reason: 'Launch guest' }, 'change { id }');
    await run('adjustPoints', { partyId: b, points: 20, reason: 'Welcome' }, 'entry { id }');
    await run('redeemPoints', { partyId: b, points: 5 }, 'entry { id }');
    await run('recordInteraction', { partyId: b, kind: 'CALL', satisfaction: 5 }, 'interaction { id }');
    await run('moveStage', { partyId: a, to: 'TRUST_BUILDING' }, 'party { id }');
    const converted = (await run('createReferral', { referrerId: a, refereeId: c }, 'referral { id }')).referral.id;
    await run('convertReferral', { id: converted }, 'referral { id }');
    await run('rewardReferral', { id: converted }, 'referral { id }');
    const rejected = (await run('createReferral', { referrerId: a, refereeId: d }, 'referral { id }')).referral.id;
    await run('rejectReferral', { id: rejected, reason: 'Referee is an employee' }, 'referral { id }');
    await run('importParties', { rows: [{ externalId: 'crm-1', displayName: 'Imported', kind: 'CUSTOMER' }] }, 'created');
    await run('mergeParties', { keepId: a, mergeId: e }, 'party { id }');
    await run('archiveParty', { id: f }, 'party { id }');
    await run('exportPartyData', { id: b }, 'document');
    await run('erasePartyData', { id: g }, 'party { id }');
    const key = (await run('createApiKey', { name: 'Partner', scopes: ['NETWORK_READ'] }, 'apiKey { id }')).apiKey.id;
    await run('revokeApiKey', { id: key }, 'apiKey { id }');
    const hook = (await run('createWebhook', { url: 'http://127.0.0.1:9/hook', events: ['party.*'] }, 'webhook { id }')).webhook.id;
    await run('deleteWebhook', { id: hook }, 'deletedId');
    await run('updateTenantSettings', { followUpDays: 14 }, 'tenant { id }');
    await run('applyStagePolicy', {}, 'run { parties }');
    await run('runScoring', {}, 'runs { status }');
    const created = await postGraphQL(
      api.server,
      `mutation { createTenant(input: { name: "Audited" }) { tenant { id } userErrors { code } } }`,
      {},
      { authorization: `Operator ${testOperatorKey}` },
    );
    expect(created.data.createTenant.userErrors).toEqual([]);

    const rows = await tenantRows<AuditRow>(api.handle, tenant.tenantId, 'select operation, actor_kind, actor_id, entity_ids from audit_log');
    const newTenant = created.data.createTenant.tenant.id as string;
    const operatorRows = await tenantRows<AuditRow>(api.handle, uuidOf(newTenant), 'select operation, actor_kind, actor_id, entity_ids from audit_log');
    const audited = new Set([...rows, ...operatorRows].map((row) => row.operation));
    // Every mutation of the schema appears in the log under its own name.
    expect(mutations.filter((name) => !audited.has(name))).toEqual([]);
    // Signed by the API key that called (createTenant: by the system on the operator's behalf), with the touched ids.
    // (The test tenant's own createTenant entry was written by the test helper, not over the API.)
    for (const row of rows.filter((entry) => entry.operation !== 'createTenant')) {
      expect(row, row.operation).toMatchObject({ actor_kind: 'API_KEY', actor_id: expect.any(String) });
      expect(row.entity_ids.length, row.operation).toBeGreaterThan(0);
    }
    expect(operatorRows.find((row) => row.operation === 'createTenant')).toMatchObject({ actor_kind: 'SYSTEM', actor_id: 'operator', entity_ids: [uuidOf(newTenant)] });
    const partyEntries = rows.filter((row) => row.entity_ids.includes(uuidOf(b))).map((row) => row.operation);
    expect(partyEntries).toEqual(expect.arrayContaining(['createParty', 'recordOrder', 'recordInteraction', 'exportPartyData']));
  });
});
