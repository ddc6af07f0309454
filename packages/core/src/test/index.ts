import { readFileSync } from 'node:fs';
import { inject } from 'vitest';
import { withActor, type Actor } from '../actor';
import { createTenant, type TenantRow } from '../access';
import { createDatabase, type DatabaseHandle, type DatabaseOptions } from '../drizzle/client';
import { sql, type SQL } from 'drizzle-orm';
import { useTransaction, withTenant } from '../drizzle/transaction';

/** A well-formed API key no tenant has (for tests of refusals). */
export { generateApiKeySecret } from '../access/api-key-format';
export { startWsProxy, type WsProxy } from './ws-proxy';

/**
 * The database a test file works on: a fresh in-memory PGlite copied from the migrated template,
 * or, in the Postgres project, a pool on the (already migrated) TEST_DATABASE_URL.
 */
export async function createTestDatabase(options: DatabaseOptions = {}): Promise<DatabaseHandle> {
  const target = process.env.GUANXI_TEST_DATABASE ?? 'pglite';
  if (target === 'pglite') {
    const template = inject('pgliteTemplate');
    return createDatabase('memory://', {
      ...options,
      loadDataDir: new Blob([readFileSync(template)]),
    });
  }
  return createDatabase(target, { maxConnections: 4, ...options });
}

export function usingPostgres(): boolean {
  return (process.env.GUANXI_TEST_DATABASE ?? 'pglite') !== 'pglite';
}

let tenantCounter = 0;

/** A new tenant for one test, with its all-scopes API key. */
export async function createTestTenant(
  handle: DatabaseHandle,
  name = `Test tenant ${++tenantCounter}`,
  currency = 'CNY',
): Promise<{ tenant: TenantRow; apiKey: string }> {
  return createTenant(handle.db, { name, currency });
}

/** Runs `fn` as a system actor inside the tenant's transaction, as a job would. */
export function asTenant<T>(handle: DatabaseHandle, tenantId: string, fn: () => Promise<T>): Promise<T> {
  const actor: Actor = { kind: 'SYSTEM', tenantId, name: 'test' };
  return withActor(actor, () => withTenant(handle.db, tenantId, fn));
}

/** Raw rows read inside a tenant's transaction (as the application role), for assertions. */
export function tenantRows<T extends Record<string, unknown>>(
  handle: DatabaseHandle,
  tenantId: string,
  query: string,
): Promise<T[]> {
  return asTenant(handle, tenantId, async () => (await useTransaction().execute<T>(sql.raw(query))).rows);
}

/** Runs a statement built with drizzle's `sql` tag inside a tenant's transaction (test fixtures). */
export function tenantExec<T extends Record<string, unknown> = Record<string, unknown>>(
  handle: DatabaseHandle,
  tenantId: string,
  build: (tag: typeof sql) => SQL,
): Promise<T[]> {
  return asTenant(handle, tenantId, async () => (await useTransaction().execute<T>(build(sql))).rows);
}

/** Runs raw SQL in the current transaction: for test hooks called inside one (a run's afterWrite). */
export async function execInTransaction(query: string): Promise<void> {
  await useTransaction().execute(sql.raw(query));
}
