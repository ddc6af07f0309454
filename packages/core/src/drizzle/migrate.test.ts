import { and, eq, sql } from 'drizzle-orm';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { asTenant, createTestDatabase, createTestTenant } from '../test';
import { createDatabase, type Database, type DatabaseHandle } from './client';
import { migrate, migrationsFolder } from './migrate';
import { orders, parties, referrals, relationships, stageTransitions } from './schema';
import { useTenantId, useTransaction } from './transaction';

let handle: DatabaseHandle;
beforeAll(async () => {
  handle = await createTestDatabase();
});
afterAll(() => handle.close());

const expectedTables = [
  'tenants',
  'parties',
  'relationships',
  'stage_transitions',
  'orders',
  'interactions',
  'referrals',
  'referral_codes',
  'loyalty_snapshots',
  'party_loyalty',
  'scoring_runs',
  'api_keys',
  'webhooks',
  'audit_log',
];

async function publicTables(db: Database): Promise<string[]> {
  const { rows } = await db.execute<{ name: string }>(sql`
    select table_name as name from information_schema.tables
    where table_schema = 'public' and table_type = 'BASE TABLE' order by table_name`);
  return rows.map((row) => row.name);
}

interface PgFailure {
  code?: string;
  constraint?: string;
  message: string;
}

/**
 * Runs what the database must refuse and returns the Postgres error. Drizzle wraps driver errors
 * (DrizzleQueryError) with the driver's error as `cause`.
 */
async function refusal(work: () => Promise<unknown>): Promise<PgFailure> {
  try {
    await work();
  } catch (error) {
    const outer = error as { cause?: Partial<PgFailure>; code?: string; constraint?: string; message: string };
    const inner = outer.cause ?? {};
    return {
      code: inner.code ?? outer.code,
      constraint: inner.constraint ?? outer.constraint,
      message: inner.message ?? outer.message,
    };
  }
  throw new Error('the database accepted what it must refuse');
}

/** Inserts a party into the current tenant (inside asTenant) and returns its id. */
async function insertParty(values: { displayName?: string; externalId?: string } = {}): Promise<string> {
  const [party] = await useTransaction()
    .insert(parties)
    .values({ tenantId: useTenantId(), kind: 'CUSTOMER', displayName: values.displayName ?? 'Party', ...values })
    .returning({ id: parties.id });
  return party!.id;
}

async function tenantWithParties(count: number): Promise<{ tenantId: string; ids: string[] }> {
  const { tenant } = await createTestTenant(handle);
  const ids = await asTenant(handle, tenant.id, async () => {
    const made: string[] = [];
    for (let i = 0; i < count; i++) made.push(await insertParty({ displayName: `Party ${i + 1}` }));
    return made;
  });
  return { tenantId: tenant.id, ids };
}

describe('migrations', () => {
  test('create every table, each tenant table keyed by tenant_id', async () => {
    const tables = await publicTables(handle.db);
    expect(tables).toEqual(expect.arrayContaining(expectedTables));

    const { rows } = await handle.db.execute<{ name: string }>(sql`
      select table_name as name from information_schema.columns
      where table_schema = 'public' and column_name = 'tenant_id'`);
    const withTenant = new Set(rows.map((row) => row.name));
    expect(tables.filter((table) => table !== 'tenants' && !withTenant.has(table))).toEqual([]);
    expect(withTenant.has('tenants')).toBe(false);
  });

  test('a second migrate() changes nothing', async () => {
    const journal = sql`select count(*)::int as applied from drizzle.__drizzle_migrations`;
    const before = await publicTables(handle.db);
    const applied = (await handle.db.execute<{ applied: number }>(journal)).rows[0]?.applied;
    await migrate(handle);
    expect(await publicTables(handle.db)).toEqual(before);
    expect((await handle.db.execute<{ applied: number }>(journal)).rows[0]?.applied).toBe(applied);
  });

  // On its own fresh PGlite in both projects: the test needs a database that stopped at 0006.
  test('0007 moves each party\'s latest-snapshot copy from parties to party_loyalty, and new parties get a row', async () => {
    const upTo0006 = mkdtempSync(join(tmpdir(), 'guanxi-migrations-'));
    const fresh = await createDatabase('memory://');
    try {
      cpSync(migrationsFolder(), upTo0006, { recursive: true });
      const journalFile = join(upTo0006, 'meta', '_journal.json');
      const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as { entries: { idx: number }[] };
      writeFileSync(journalFile, JSON.stringify({ ...journal, entries: journal.entries.filter((entry) => entry.idx <= 6) }));
      await migratePglite(fresh.db as never, { migrationsFolder: upTo0006 });

      const tenantId = '0190a0c0-0000-7000-8000-000000000001';
      const [scored, unscored] = ['0190a0c0-0000-7000-8000-0000000000a1', '0190a0c0-0000-7000-8000-0000000000a2'];
      await fresh.db.transaction(async (tx) => {
        await tx.execute(sql`select set_config('app.tenant_id', ${tenantId}, true)`);
        await tx.execute(sql`insert into tenants (id, name, settings) values (${tenantId}, 'Before 0007', '{}')`);
        await tx.execute(sql`
          insert into parties (tenant_id, id, kind, display_name, loyalty_as_of, loyalty_score, loyalty_segment, loyalty_tier)
          values (${tenantId}, ${scored}, 'CUSTOMER', 'Scored', '2026-11-30', 71.5, 'IMPORTANT_VALUE', 'GOLD'),
                 (${tenantId}, ${unscored}, 'PROSPECT', 'Unscored', null, null, null, null)`);
      });

      await migrate(fresh);
      const copies = async () =>
        (
          await fresh.db.execute<{ party_id: string; score: string | null; segment: string | null; tier: string | null }>(
            sql`select party_id::text, score::text, segment::text, tier::text from party_loyalty order by party_id`,
          )
        ).rows;
      expect(await copies()).toEqual([
        { party_id: scored, score: '71.5', segment: 'IMPORTANT_VALUE', tier: 'GOLD' },
        { party_id: unscored, score: null, segment: null, tier: null },
      ]);
      const { rows: left } = await fresh.db.execute<{ column_name: string }>(
        sql`select column_name from information_schema.columns where table_name = 'parties' and column_name like 'loyalty%'`,
      );
      expect(left).toEqual([]);

      // The trigger: parties inserted from now on have their (unscored) row, several per statement.
      const later = ['0190a0c0-0000-7000-8000-0000000000b1', '0190a0c0-0000-7000-8000-0000000000b2'];
      await fresh.db.transaction(async (tx) => {
        await tx.execute(sql`select set_config('app.tenant_id', ${tenantId}, true)`);
        await tx.execute(sql`insert into parties (tenant_id, id, kind, display_name)
          select ${tenantId}, id::uuid, 'CUSTOMER', 'Later' from (values (${later[0]}), (${later[1]})) v(id)`);
      });
      expect((await copies()).map((row) => [row.party_id, row.score])).toEqual([
        [scored, '71.5'],
        [unscored, null],
        [later[0], null],
        [later[1], null],
      ]);
    } finally {
      await fresh.close();
      rmSync(upTo0006, { recursive: true, force: true });
    }
  });
});

// Each refusal gets its own transaction: a failed statement aborts the transaction it is in.
describe('the database refuses what the domain forbids', () => {
  test('a relationship pointing into another tenant (composite foreign key)', async () => {
    const a = await tenantWithParties(1);
    const b = await tenantWithParties(1);
    const failure = await refusal(() =>
      asTenant(handle, a.tenantId, () =>
        useTransaction()
          .insert(relationships)
          .values({ tenantId: a.tenantId, type: 'FRIEND', fromPartyId: a.ids[0]!, toPartyId: b.ids[0]! }),
      ),
    );
    expect(failure).toMatchObject({ code: '23503', constraint: 'relationships_to_fk' });
  });

  test('a self-edge', async () => {
    const { tenantId, ids } = await tenantWithParties(1);
    const failure = await refusal(() =>
      asTenant(handle, tenantId, () =>
        useTransaction()
          .insert(relationships)
          .values({ tenantId, type: 'COLLEAGUE', fromPartyId: ids[0]!, toPartyId: ids[0]! }),
      ),
    );
    expect(failure).toMatchObject({ code: '23514', constraint: 'relationships_no_self_edge' });
  });

  test('a symmetric edge stored a second time the other way round; directed ones may go both ways', async () => {
    const { tenantId, ids } = await tenantWithParties(2);
    const [a, b] = [ids[0]!, ids[1]!];
    const edge = (type: 'FRIEND' | 'FOLLOWS', from: string, to: string) =>
      asTenant(handle, tenantId, () =>
        useTransaction().insert(relationships).values({ tenantId, type, fromPartyId: from, toPartyId: to }),
      );
    await edge('FRIEND', a, b);
    expect(await refusal(() => edge('FRIEND', b, a))).toMatchObject({
      code: '23505',
      constraint: 'relationships_pair_uq',
    });
    await edge('FOLLOWS', a, b);
    await edge('FOLLOWS', b, a);
  });

  test('a relationship strength of 0', async () => {
    const { tenantId, ids } = await tenantWithParties(2);
    const failure = await refusal(() =>
      asTenant(handle, tenantId, () =>
        useTransaction()
          .insert(relationships)
          .values({ tenantId, type: 'FRIEND', fromPartyId: ids[0]!, toPartyId: ids[1]!, strength: 0 }),
      ),
    );
    expect(failure).toMatchObject({ code: '23514', constraint: 'relationships_strength_range' });
  });

  test('a second referrer for one referee', async () => {
    const { tenantId, ids } = await tenantWithParties(3);
    const [first, second, referee] = [ids[0]!, ids[1]!, ids[2]!];
    const refer = (referrerId: string) =>
      asTenant(handle, tenantId, () =>
        useTransaction().insert(referrals).values({ tenantId, referrerId, refereeId: referee }),
      );
    await refer(first);
    expect(await refusal(() => refer(second))).toMatchObject({
      code: '23505',
      constraint: 'referrals_referee_uq',
    });
  });

  test('a negative order amount, and an order satisfaction of 6', async () => {
    const { tenantId, ids } = await tenantWithParties(1);
    const order = (values: { amount: string; satisfaction?: number }) =>
      asTenant(handle, tenantId, () =>
        useTransaction()
          .insert(orders)
          .values({ tenantId, partyId: ids[0]!, currency: 'CNY', ...values }),
      );
    expect(await refusal(() => order({ amount: '-0.01' }))).toMatchObject({
      code: '23514',
      constraint: 'orders_amount_not_negative',
    });
    expect(await refusal(() => order({ amount: '10.00', satisfaction: 6 }))).toMatchObject({
      code: '23514',
      constraint: 'orders_satisfaction_range',
    });
    await order({ amount: '0', satisfaction: 5 });
  });

  test('a duplicate external id within a tenant, though two tenants may share one', async () => {
    const a = await createTestTenant(handle);
    const b = await createTestTenant(handle);
    await asTenant(handle, a.tenant.id, () => insertParty({ externalId: 'crm-42' }));
    await asTenant(handle, b.tenant.id, () => insertParty({ externalId: 'crm-42' }));
    const failure = await refusal(() =>
      asTenant(handle, a.tenant.id, () => insertParty({ displayName: 'Other', externalId: 'crm-42' })),
    );
    expect(failure).toMatchObject({ code: '23505', constraint: 'parties_external_id_uq' });
  });

  test('rewriting stage history: the append-only trigger refuses UPDATE and DELETE', async () => {
    const { tenantId, ids } = await tenantWithParties(1);
    const [row] = await asTenant(handle, tenantId, () =>
      useTransaction()
        .insert(stageTransitions)
        .values({ tenantId, partyId: ids[0]!, fromStage: null, toStage: 'INITIAL_CONTACT', actorKind: 'SYSTEM' })
        .returning({ id: stageTransitions.id }),
    );
    const where = and(eq(stageTransitions.tenantId, tenantId), eq(stageTransitions.id, row!.id));

    // As the role that owns the table, so no privilege stands in the trigger's way; the tenant is
    // set because row-level security (forced) would otherwise hide the row from the owner too.
    const asOwner = (work: (db: Database) => Promise<unknown>) =>
      handle.db.transaction(async (tx) => {
        await tx.execute(sql`select set_config('app.tenant_id', ${tenantId}, true)`);
        await work(tx as unknown as Database);
      });
    const update = await refusal(() =>
      asOwner((db) => db.update(stageTransitions).set({ reason: 'rewritten' }).where(where)),
    );
    expect(update.code).toBe('23001');
    expect(update.message).toMatch(/append-only: UPDATE/);
    const remove = await refusal(() => asOwner((db) => db.delete(stageTransitions).where(where)));
    expect(remove.code).toBe('23001');
    expect(remove.message).toMatch(/append-only: DELETE/);

    // The application's own role is refused too (whether by privilege or by the trigger).
    await refusal(() =>
      asTenant(handle, tenantId, () => useTransaction().update(stageTransitions).set({ reason: 'x' }).where(where)),
    );
    await refusal(() => asTenant(handle, tenantId, () => useTransaction().delete(stageTransitions).where(where)));

    const kept = await asTenant(handle, tenantId, () =>
      useTransaction().select({ reason: stageTransitions.reason }).from(stageTransitions).where(where),
    );
    expect(kept).toEqual([{ reason: null }]);
  });

  test("erasure's redaction (0011) may change a history row's reason and nothing else, and only through its function", async () => {
    const { tenantId, ids } = await tenantWithParties(1);
    const [row] = await asTenant(handle, tenantId, () =>
      useTransaction()
        .insert(stageTransitions)
        .values({ tenantId, partyId: ids[0]!, fromStage: null, toStage: 'INITIAL_CONTACT', actorKind: 'USER', reason: 'Met Li Na at the fair' })
        .returning({ id: stageTransitions.id }),
    );
    const where = and(eq(stageTransitions.tenantId, tenantId), eq(stageTransitions.id, row!.id));
    // The owner, even with the function's flag set, may neither change a stage nor delete a row.
    const asRedactingOwner = (work: (db: Database) => Promise<unknown>) =>
      handle.db.transaction(async (tx) => {
        await tx.execute(sql`select set_config('app.tenant_id', ${tenantId}, true), set_config('guanxi.redacting', 'on', true)`);
        await work(tx as unknown as Database);
      });
    const moved = await refusal(() => asRedactingOwner((db) => db.update(stageTransitions).set({ toStage: 'CHURNED' }).where(where)));
    expect(moved.message).toMatch(/append-only: UPDATE/);
    const removed = await refusal(() => asRedactingOwner((db) => db.delete(stageTransitions).where(where)));
    expect(removed.message).toMatch(/append-only: DELETE/);
    // The application calls the function, which only redacts the given values.
    const changed = await asTenant(handle, tenantId, async () => {
      const { rows } = await useTransaction().execute<{ n: number }>(
        sql`select guanxi_redact_reasons(${ids[0]!}::uuid, array['Li Na']) as n`,
      );
      return rows[0]!.n;
    });
    expect(changed).toBe(1);
    const kept = await asTenant(handle, tenantId, () =>
      useTransaction().select({ reason: stageTransitions.reason, toStage: stageTransitions.toStage }).from(stageTransitions).where(where),
    );
    expect(kept).toEqual([{ reason: 'Met [erased] at the fair', toStage: 'INITIAL_CONTACT' }]);
  });
});
