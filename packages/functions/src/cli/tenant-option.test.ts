import { afterAll, beforeAll, expect, test } from 'vitest';
import { createTestApi, type TenantClient, type TestApi } from '../../../graphql/test/helpers';
import { tenantOption } from './tenant-option';

let api: TestApi;
let client: TenantClient;
let apiTenantId = '';
let partyId = '';
beforeAll(async () => {
  api = await createTestApi();
  client = await api.newTenant('CLI ids');
  const data = await client.query<{ viewer: { tenant: { id: string } }; createParty: { party: { id: string } } }>(
    `mutation { createParty(input: { kind: CUSTOMER, displayName: "Li" }) { party { id } } }`,
  ).then(async (created) => ({ ...created, ...(await client.query(`{ viewer { tenant { id } } }`)) }));
  apiTenantId = data.viewer.tenant.id;
  partyId = data.createParty.party.id;
});
afterAll(() => api.close());

test('--tenant takes the id the API answers and the uuid the CLI prints, for the same tenant', () => {
  expect(apiTenantId).not.toBe(client.tenantId);
  expect(tenantOption(apiTenantId)).toBe(client.tenantId);
  expect(tenantOption(client.tenantId)).toBe(client.tenantId);
  expect(tenantOption(` ${client.tenantId.toUpperCase()} `)).toBe(client.tenantId);
  expect(tenantOption(undefined)).toBeUndefined();
});

test('--tenant refuses what names no tenant: another type of id, a cut-off id, junk', () => {
  for (const value of [partyId, apiTenantId.slice(0, 12), 'demo', '']) {
    expect(() => tenantOption(value)).toThrow(/is not a tenant id: give the id the API answers/);
  }
});
