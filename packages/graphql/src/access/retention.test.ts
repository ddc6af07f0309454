import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApi, type TestApi } from '../../test/helpers';

let api: TestApi;
beforeAll(async () => {
  api = await createTestApi();
});
afterAll(() => api.close());

const update = `mutation ($input: UpdateTenantSettingsInput!) {
  updateTenantSettings(input: $input) { tenant { ruleVersion settings } userErrors { code field message } }
}`;
const settings = `{ viewer { tenant { settings } } }`;

describe('retention settings', () => {
  test('an ADMIN bounds webhook deliveries and the audit log; refused values change nothing', async () => {
    const tenant = await api.newTenant();
    const initial = (await tenant.query(settings)).viewer.tenant.settings;
    expect(initial).toMatchObject({ webhookDeliveryRetentionDays: 30, auditLogRetentionDays: 0 });

    const changed = (await tenant.query(update, { input: { webhookDeliveryRetentionDays: 7, auditLogRetentionDays: 365 } }))
      .updateTenantSettings;
    expect(changed.userErrors).toEqual([]);
    expect(changed.tenant.settings).toEqual({ ...initial, webhookDeliveryRetentionDays: 7, auditLogRetentionDays: 365 });
    // Retention does not change scores or stage moves: same rules.
    expect(changed.tenant.ruleVersion).toBe(1);

    for (const [input, field] of [
      [{ auditLogRetentionDays: 30 }, 'auditLogRetentionDays'],
      [{ auditLogRetentionDays: -1 }, 'auditLogRetentionDays'],
      [{ webhookDeliveryRetentionDays: 0 }, 'webhookDeliveryRetentionDays'],
    ] as const) {
      const refused = (await tenant.query(update, { input })).updateTenantSettings;
      expect(refused).toEqual({ tenant: null, userErrors: [expect.objectContaining({ code: 'VALIDATION', field: ['input', field] })] });
    }
    expect((await tenant.query(settings)).viewer.tenant.settings).toEqual(changed.tenant.settings);

    // 0 keeps the audit log forever again.
    const forever = (await tenant.query(update, { input: { auditLogRetentionDays: 0 } })).updateTenantSettings;
    expect(forever.tenant.settings).toMatchObject({ webhookDeliveryRetentionDays: 7, auditLogRetentionDays: 0 });
  });
});
