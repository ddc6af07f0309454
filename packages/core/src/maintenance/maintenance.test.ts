import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { updateTenantSettings } from '../access';
import { pruneRateLimitCounters } from '../access/rate-limit';
import { pruneAuditLog } from '../audit';
import type { DatabaseHandle } from '../drizzle/client';
import { asApplication, useTransaction } from '../drizzle/transaction';
import { asTenant, createTestDatabase, createTestTenant, tenantRows } from '../test';
import { runMaintenance } from '.';

let handle: DatabaseHandle;
beforeAll(async () => {
  handle = await createTestDatabase();
});
afterAll(() => handle.close());

type Fate = 'kept' | 'pruned';

/** A tenant with these retention settings (through the validated command, as an ADMIN would). */
async function tenantWith(settings: { webhookDeliveryRetentionDays?: number; auditLogRetentionDays?: number }) {
  const { tenant } = await createTestTenant(handle);
  if (Object.keys(settings).length) await asTenant(handle, tenant.id, () => updateTenantSettings(settings));
  const webhookId = randomUUID();
  await tenantRows(
    handle,
    tenant.id,
    `insert into webhooks (tenant_id, id, url, events, secret) values ('${tenant.id}', '${webhookId}', 'https://partner.example/hook', '{*}', 'whsec_test')`,
  );
  return { tenantId: tenant.id, webhookId };
}

async function delivery(tenantId: string, webhookId: string, status: string, age: string): Promise<string> {
  const id = randomUUID();
  await tenantRows(
    handle,
    tenantId,
    `insert into webhook_deliveries (tenant_id, id, webhook_id, event, payload, status, next_attempt_at, created_at)
     values ('${tenantId}', '${id}', '${webhookId}', 'party.created', '{}', '${status}',
             ${status === 'PENDING' ? 'now()' : 'null'}, now() - interval '${age}')`,
  );
  return id;
}

async function auditRow(tenantId: string, age: string): Promise<string> {
  const id = randomUUID();
  await tenantRows(
    handle,
    tenantId,
    `insert into audit_log (tenant_id, id, at, actor_kind, operation, entity_type, entity_ids)
     values ('${tenantId}', '${id}', now() - interval '${age}', 'SYSTEM', 'test', 'Party', '{}')`,
  );
  return id;
}

const ids = (tenantId: string, table: string) =>
  tenantRows<{ id: string }>(handle, tenantId, `select id::text from ${table}`).then((rows) => rows.map((r) => r.id).sort());

/** The database's own message for what it refused (drizzle keeps it as the error's cause). */
async function refusal(work: () => Promise<unknown>): Promise<string> {
  try {
    await work();
  } catch (error) {
    const { cause, message } = error as { cause?: { message?: string }; message: string };
    return cause?.message ?? message;
  }
  throw new Error('the database accepted what it must refuse');
}

const survivors = (fixtures: { id: string; fate: Fate }[]) => fixtures.filter((f) => f.fate === 'kept').map((f) => f.id).sort();

describe('runMaintenance: retention per tenant', () => {
  test('finished deliveries and audit rows older than each tenant\'s retention go; younger and pending ones stay', async () => {
    const byDefault = await tenantWith({});
    const strict = await tenantWith({ webhookDeliveryRetentionDays: 7, auditLogRetentionDays: 365 });
    const deliveries = new Map<string, { id: string; fate: Fate }[]>();
    for (const [tenant, fates] of [
      [byDefault, { '40 days': 'pruned', '10 days': 'kept', '1 day': 'kept' }],
      [strict, { '40 days': 'pruned', '10 days': 'pruned', '1 day': 'kept' }],
    ] as const) {
      const rows: { id: string; fate: Fate }[] = [];
      for (const [age, fate] of Object.entries(fates)) {
        rows.push({ id: await delivery(tenant.tenantId, tenant.webhookId, 'DELIVERED', age), fate });
        rows.push({ id: await delivery(tenant.tenantId, tenant.webhookId, 'FAILED', age), fate });
        // The outbox: never removed, whatever its age.
        rows.push({ id: await delivery(tenant.tenantId, tenant.webhookId, 'PENDING', age), fate: 'kept' });
      }
      deliveries.set(tenant.tenantId, rows);
    }
    const audit = new Map<string, { id: string; fate: Fate }[]>();
    // Default: the audit log is kept forever.
    audit.set(byDefault.tenantId, [
      { id: await auditRow(byDefault.tenantId, '3000 days'), fate: 'kept' },
      { id: await auditRow(byDefault.tenantId, '1 day'), fate: 'kept' },
    ]);
    audit.set(strict.tenantId, [
      { id: await auditRow(strict.tenantId, '400 days'), fate: 'pruned' },
      { id: await auditRow(strict.tenantId, '200 days'), fate: 'kept' },
    ]);
    // The settings change itself is audited (now): kept.
    const auditBefore = new Map([
      [byDefault.tenantId, await ids(byDefault.tenantId, 'audit_log')],
      [strict.tenantId, await ids(strict.tenantId, 'audit_log')],
    ]);

    const result = await runMaintenance(handle.db, { tenantIds: [byDefault.tenantId, strict.tenantId], batchSize: 2 });

    const pruned = (fixtures: Map<string, { fate: Fate }[]>) =>
      [...fixtures.values()].flat().filter((f) => f.fate === 'pruned').length;
    expect(result).toMatchObject({
      webhookDeliveries: pruned(deliveries),
      auditLog: pruned(audit),
      tenants: 2,
      complete: true,
      failures: [],
    });
    for (const tenant of [byDefault, strict]) {
      expect(await ids(tenant.tenantId, 'webhook_deliveries')).toEqual(survivors(deliveries.get(tenant.tenantId)!));
      const prunedAudit = audit.get(tenant.tenantId)!.filter((f) => f.fate === 'pruned').map((f) => f.id);
      expect(await ids(tenant.tenantId, 'audit_log')).toEqual(auditBefore.get(tenant.tenantId)!.filter((id) => !prunedAudit.includes(id)));
    }
    // Nothing left to do: a second run removes nothing.
    expect(await runMaintenance(handle.db, { tenantIds: [byDefault.tenantId, strict.tenantId] })).toMatchObject({
      webhookDeliveries: 0,
      auditLog: 0,
    });
  });

  test('a spent time budget stops before any batch and says the work is not complete', async () => {
    const tenant = await tenantWith({});
    const old = await delivery(tenant.tenantId, tenant.webhookId, 'DELIVERED', '90 days');
    const result = await runMaintenance(handle.db, { tenantIds: [tenant.tenantId], timeBudgetMs: 0 });
    expect(result).toMatchObject({ complete: false, webhookDeliveries: 0, tenants: 0 });
    expect(await ids(tenant.tenantId, 'webhook_deliveries')).toEqual([old]);
  });
});

describe('the database bounds what maintenance may delete (migration 0008)', () => {
  test('the audit log: only the maintenance transaction, never younger than the tenant\'s own setting, never under 180 days', async () => {
    const tenant = await tenantWith({ auditLogRetentionDays: 365 });
    const rows = { d400: await auditRow(tenant.tenantId, '400 days'), d200: await auditRow(tenant.tenantId, '200 days'), d100: await auditRow(tenant.tenantId, '100 days') };
    const far = new Date(Date.now() + 86_400_000);

    // Outside the maintenance job: no pruning function, and no DELETE right at all.
    expect(await refusal(() => asTenant(handle, tenant.tenantId, () => pruneAuditLog(far, 100)))).toMatch(/for the maintenance job/);
    expect(
      await refusal(() => asTenant(handle, tenant.tenantId, () => useTransaction().execute(sql`delete from audit_log`))),
    ).toMatch(/permission denied/);
    const inMaintenance = <T>(fn: () => Promise<T>) =>
      asTenant(handle, tenant.tenantId, async () => {
        await useTransaction().execute(sql`select set_config('app.maintenance', 'on', true)`);
        return fn();
      });

    // A cutoff beyond the setting (a future one) still keeps what the setting keeps.
    expect(await inMaintenance(() => pruneAuditLog(far, 100))).toBe(1);
    expect(await ids(tenant.tenantId, 'audit_log')).toEqual(expect.arrayContaining([rows.d200, rows.d100]));
    expect(await ids(tenant.tenantId, 'audit_log')).not.toContain(rows.d400);

    // A setting written behind validation's back still cannot go under 180 days.
    await tenantRows(handle, tenant.tenantId, `update tenants set settings = jsonb_set(settings, '{auditLogRetentionDays}', '1')`);
    expect(await inMaintenance(() => pruneAuditLog(far, 100))).toBe(1);
    expect(await ids(tenant.tenantId, 'audit_log')).toContain(rows.d100);
    expect(await ids(tenant.tenantId, 'audit_log')).not.toContain(rows.d200);

    // 0 keeps everything, whatever the job asks.
    await tenantRows(handle, tenant.tenantId, `update tenants set settings = jsonb_set(settings, '{auditLogRetentionDays}', '0')`);
    expect(await inMaintenance(() => pruneAuditLog(far, 100))).toBe(0);
  });

  test('rate-limit counters: another tenant\'s only with app.maintenance, and none younger than an hour', async () => {
    const a = (await createTestTenant(handle)).tenant.id;
    const b = (await createTestTenant(handle)).tenant.id;
    for (const tenantId of [a, b]) {
      await tenantRows(
        handle,
        tenantId,
        `insert into rate_limit_counters (tenant_id, subject, window_start, count) values
           ('${tenantId}', 'tenant', date_trunc('minute', now()) - interval '2 hours', 7),
           ('${tenantId}', 'tenant', date_trunc('minute', now()) - interval '30 minutes', 7)`,
      );
    }
    const counters = (tenantId: string) => tenantRows<{ n: number }>(handle, tenantId, `select count(*)::int as n from rate_limit_counters`);

    // A tenant transaction that deletes "everything" reaches only its own tenant.
    await asTenant(handle, a, () => useTransaction().execute(sql`delete from rate_limit_counters`));
    expect(await counters(a)).toEqual([{ n: 0 }]);
    expect(await counters(b)).toEqual([{ n: 2 }]);

    // Outside a tenant, without the setting: nothing is visible, nothing goes.
    await asApplication(handle.db, {}, (tx) => tx.execute(sql`delete from rate_limit_counters`));
    expect(await counters(b)).toEqual([{ n: 2 }]);

    // The job asks for everything up to a minute from now: the database gives only the old window.
    const result = await pruneRateLimitCounters(handle.db, { olderThan: new Date(Date.now() + 60_000), tenantIds: [b] });
    expect(result).toEqual({ deleted: 1, complete: true });
    expect(await counters(b)).toEqual([{ n: 1 }]);
  });
});
