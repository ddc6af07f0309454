import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { DatabaseHandle } from '../drizzle/client';
import { asApplication, useTransaction } from '../drizzle/transaction';
import { createParty } from '../network/parties';
import { asTenant, createTestDatabase, createTestTenant } from '../test';

let handle: DatabaseHandle;
beforeAll(async () => {
  handle = await createTestDatabase();
});
afterAll(() => handle.close());

test('every table with a tenant_id has row-level security enabled, forced, and a tenant policy', async () => {
  const { rows } = await handle.db.execute<{ table: string; enabled: boolean; forced: boolean; policies: number }>(sql`
    select c.relname as table, c.relrowsecurity as enabled, c.relforcerowsecurity as forced,
           (select count(*)::int from pg_policies p where p.tablename = c.relname and p.policyname = 'tenant_isolation') as policies
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and c.relkind = 'r'
      and (exists (select 1 from information_schema.columns col where col.table_schema = 'public' and col.table_name = c.relname and col.column_name = 'tenant_id')
           or c.relname = 'tenants')
    order by c.relname`);
  expect(rows.length).toBeGreaterThanOrEqual(14);
  for (const row of rows) expect(row).toEqual({ table: row.table, enabled: true, forced: true, policies: 1 });
});

test('tenant work runs as the non-owner application role, never as a superuser', async () => {
  const { tenant } = await createTestTenant(handle);
  const role = await asTenant(handle, tenant.id, async () => {
    const { rows } = await useTransaction().execute<{ role: string; superuser: boolean; bypass: boolean }>(sql`
      select current_user as role, r.rolsuper as superuser, r.rolbypassrls as bypass
      from pg_roles r where r.rolname = current_user`);
    return rows[0];
  });
  expect(role).toEqual({ role: 'guanxi_app', superuser: false, bypass: false });
});

test('a query that forgets its tenant filter still sees only its own tenant (RLS)', async () => {
  const a = await createTestTenant(handle);
  const b = await createTestTenant(handle);
  await asTenant(handle, a.tenant.id, async () => {
    await createParty({ kind: 'CUSTOMER', displayName: 'Only in A' });
  });
  await asTenant(handle, b.tenant.id, async () => {
    await createParty({ kind: 'CUSTOMER', displayName: 'Only in B' });
    await createParty({ kind: 'PROSPECT', displayName: 'Also in B' });
  });
  const unscoped = (tenantId: string) =>
    asTenant(handle, tenantId, async () => {
      // Deliberately no `where tenant_id = …`.
      const { rows } = await useTransaction().execute<{ display_name: string }>(
        sql`select display_name from parties order by display_name`,
      );
      return rows.map((row) => row.display_name);
    });
  expect(await unscoped(a.tenant.id)).toEqual(['Only in A']);
  expect(await unscoped(b.tenant.id)).toEqual(['Also in B', 'Only in B']);

  // Outside any tenant, the application role sees nothing at all.
  const none = await asApplication(handle.db, {}, async (tx) => {
    const parties = await tx.execute<{ n: number }>(sql`select count(*)::int as n from parties`);
    const tenants = await tx.execute<{ n: number }>(sql`select count(*)::int as n from tenants`);
    const keys = await tx.execute<{ n: number }>(sql`select count(*)::int as n from api_keys`);
    return [parties.rows[0]!.n, tenants.rows[0]!.n, keys.rows[0]!.n];
  });
  expect(none).toEqual([0, 0, 0]);
});

test('a row written into another tenant is refused by the policy', async () => {
  const a = await createTestTenant(handle);
  const b = await createTestTenant(handle);
  const attempt = asTenant(handle, a.tenant.id, async () => {
    await useTransaction().execute(
      sql`insert into parties (tenant_id, id, kind, display_name) values (${b.tenant.id}, gen_random_uuid(), 'CUSTOMER', 'Smuggled')`,
    );
  });
  await expect(attempt).rejects.toThrow();
  const count = await asTenant(handle, b.tenant.id, async () => {
    const { rows } = await useTransaction().execute<{ n: number }>(sql`select count(*)::int as n from parties`);
    return rows[0]!.n;
  });
  expect(count).toBe(0);
});
