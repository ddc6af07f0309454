import { consumeRateLimit, defaultRateLimits, listTenants } from '@guanxi/core/access';
import { useTransaction } from '@guanxi/core';
import { asTenant, createTestTenant, tenantRows, usingPostgres } from '@guanxi/core/test';
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { createMaintenanceHandler } from './maintenance';
import { openHandlerTestDatabase, type HandlerTestDatabase } from './testing';

let database: HandlerTestDatabase;
beforeAll(async () => {
  database = await openHandlerTestDatabase();
});
afterAll(async () => {
  await database?.close();
});
afterEach(() => vi.restoreAllMocks());

const minute = 60_000;

/** A tenant whose partner key made a request `minutesAgo` minutes ago, each (the limiter's own rows). */
async function tenantWithRequests(minutesAgo: number[]): Promise<string> {
  const { tenant } = await createTestTenant(database.handle);
  for (const ago of minutesAgo) {
    await asTenant(database.handle, tenant.id, () =>
      consumeRateLimit(useTransaction(), tenant.id, 'key:partner', defaultRateLimits, new Date(Date.now() - ago * minute)),
    );
  }
  return tenant.id;
}

const counters = (tenantId: string) =>
  tenantRows<{ subject: string; age_minutes: number }>(
    database.handle,
    tenantId,
    `select subject, floor(extract(epoch from now() - window_start) / 60)::int as age_minutes
       from rate_limit_counters order by window_start, subject`,
  );

describe('maintenance.handler (cron, every 15 minutes)', () => {
  test('prunes both tenants\' rate-limit counters older than their window, keeps the current ones, logs one JSON line', async () => {
    const tenants = [await tenantWithRequests([180, 120, 5, 0]), await tenantWithRequests([3 * 24 * 60, 0])];
    const before = await Promise.all(tenants.map(counters));
    // Every request counts twice: the tenant's total and the caller's.
    expect(before.map((rows) => rows.length)).toEqual([8, 4]);
    // Kept: the windows of the last hour (the current one and one five minutes old).
    const isOld = (row: { age_minutes: number }) => row.age_minutes >= 60;

    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const result = await createMaintenanceHandler({ db: database.handle.db })({ tenantIds: tenants });

    expect(result).toMatchObject({
      rateLimitCounters: before.flat().filter(isOld).length,
      tenants: 2,
      complete: true,
      failures: [],
    });
    for (const [i, tenantId] of tenants.entries()) {
      expect(await counters(tenantId)).toEqual(before[i]!.filter((row) => !isOld(row)));
    }
    expect(log).toHaveBeenCalledTimes(1);
    expect(JSON.parse(log.mock.calls[0]![0] as string)).toEqual({ job: 'maintenance', ...result });
  });

  test('refuses a tenant id that is not one, before any work', async () => {
    const handler = createMaintenanceHandler({ db: database.handle.db });
    await expect(handler({ tenantIds: ['acme'] })).rejects.toThrow(/Not a tenant id: acme/);
  });

  // The scheduled event is `{}`: every tenant. On Postgres other files share the database, so
  // only the file's own PGlite is swept whole.
  test.skipIf(usingPostgres())('the scheduler\'s event reaches every tenant', async () => {
    const tenantId = await tenantWithRequests([120, 0]);
    vi.spyOn(console, 'log').mockImplementation(() => {});
    const result = await createMaintenanceHandler({ db: database.handle.db })({});
    expect(result.tenants).toBe((await listTenants(database.handle.db)).length);
    expect((await counters(tenantId)).map((row) => row.age_minutes)).toEqual([0, 0]);
  });
});
