import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { scoreTenant } from '../loyalty';
import { importParties } from '../network/import';
import { asTenant, createTestDatabase, createTestTenant, tenantExec, usingPostgres } from '../test';
import type { DatabaseHandle } from './client';
import { refreshStatistics, statisticsAreStale } from './statistics';

let handle: DatabaseHandle;
beforeAll(async () => {
  handle = await createTestDatabase();
});
afterAll(() => handle.close());

/** The planner's row estimate of a table (-1: never sampled). */
async function estimatedRows(table: string): Promise<number> {
  const { rows } = await handle.db.execute<{ n: number }>(sql`select reltuples::float8 as n from pg_class where oid = to_regclass(${table})`);
  return Number(rows[0]!.n);
}

async function rowCount(table: string): Promise<number> {
  // As the database login, like ANALYZE: every tenant's rows (row-level security does not hide them from the owner on PGlite).
  const { rows } = await handle.db.execute<{ n: number }>(sql`select count(*)::int as n from ${sql.identifier(table)}`);
  return Number(rows[0]!.n);
}

describe('when a write makes statistics stale', () => {
  test("autovacuum's threshold, on this write alone: 50 rows plus a tenth of the table", () => {
    expect(statisticsAreStale(1, -1)).toBe(true);
    expect(statisticsAreStale(0, -1)).toBe(false);
    expect(statisticsAreStale(49, 0)).toBe(false);
    expect(statisticsAreStale(50, 0)).toBe(true);
    expect(statisticsAreStale(149, 1000)).toBe(false);
    expect(statisticsAreStale(150, 1000)).toBe(true);
    expect(statisticsAreStale(5_000, 1_000_000)).toBe(false);
  });

  test('nothing written, or a table that does not exist: no ANALYZE, no error', async () => {
    expect(await refreshStatistics(handle.db, { parties: 0 })).toEqual([]);
    expect(await refreshStatistics(handle.db, { no_such_table: 10_000 })).toEqual([]);
  });
});

describe('bulk writers refresh the statistics of what they wrote, once committed', () => {
  // PGlite runs no autovacuum: a table's estimate moves only when someone analyzes it, so there
  // the counts are exact; on Postgres autovacuum may have sampled meanwhile, never below them.
  const expectSampled = async (table: string, atLeast: number) => {
    const estimate = await estimatedRows(table);
    if (!usingPostgres()) expect(estimate).toBe(await rowCount(table));
    expect(estimate).toBeGreaterThanOrEqual(atLeast);
  };

  test('an import of 300 parties: parties and their first stage rows', async () => {
    const { tenant } = await createTestTenant(handle);
    const rows = Array.from({ length: 300 }, (_, i) => ({ externalId: `crm-${i}`, kind: 'CUSTOMER' as const, displayName: `Customer ${i}` }));
    const result = await asTenant(handle, tenant.id, () => importParties(rows));
    expect(result.created).toBe(300);
    await expectSampled('parties', 300);
    await expectSampled('stage_transitions', 300);
  });

  test("a tenant's first scoring: its latest copies and the day's snapshots", async () => {
    const { tenant } = await createTestTenant(handle);
    const rows = Array.from({ length: 200 }, (_, i) => ({ externalId: `c-${i}`, kind: 'CUSTOMER' as const, displayName: `C ${i}` }));
    await asTenant(handle, tenant.id, () => importParties(rows));
    await tenantExec(
      handle,
      tenant.id,
      (q) => q`insert into orders (tenant_id, id, party_id, amount, currency, placed_at, satisfaction)
          select p.tenant_id, gen_random_uuid(), p.id, 100 + n, 'CNY', timestamptz '2025-06-01' + n * interval '1 day', 4
          from parties p cross join generate_series(1, 3) as n
          where p.tenant_id = ${tenant.id}`,
    );
    const result = await scoreTenant(handle.db, tenant.id, '2025-06-30');
    expect(result.partiesScored).toBe(200);
    await expectSampled('party_loyalty', 200);
    await expectSampled('loyalty_snapshots', 200);
  });
});
