import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { DatabaseHandle } from '../drizzle/client';
import { useTransaction } from '../drizzle/transaction';
import { asTenant, createTestDatabase, createTestTenant, tenantExec, usingPostgres } from '../test';
import { listParties, type PartyOrder } from './parties';

/**
 * Statements are prepared (drizzle/prepared.ts), so after a few runs Postgres may keep one generic
 * plan for every tenant, estimated for a tenant of average size. With many small tenants and one
 * big one, the page of parties once joined the big tenant's party_loyalty rows in a nested loop
 * that read all of them for every party (12 ms instead of 0.5 ms). Its generic plan must walk the
 * parties' index and stop at the page.
 */
describe.runIf(usingPostgres())("the parties page's generic plan", () => {
  let handle: DatabaseHandle;
  const statements: { text: string; params: unknown[] }[] = [];
  let big: string;

  beforeAll(async () => {
    handle = await createTestDatabase({ maxConnections: 1, logger: { logQuery: (text, params) => statements.push({ text, params }) } });
    big = (await createTestTenant(handle, 'Big tenant')).tenant.id;
    await tenantExec(
      handle,
      big,
      (q) => q`insert into parties (tenant_id, id, kind, display_name, created_at, updated_at, stage_changed_at)
        select ${big}, gen_random_uuid(), 'CUSTOMER', 'Party ' || g, now() - g * interval '1 hour', now(), now()
        from generate_series(1, 3000) g`,
    );
    // Many small tenants: the average tenant, which a generic plan assumes, is a few parties.
    for (let i = 0; i < 60; i++) {
      const small = (await createTestTenant(handle, `Small tenant ${i}`)).tenant.id;
      await tenantExec(
        handle,
        small,
        (q) => q`insert into parties (tenant_id, id, kind, display_name, created_at, updated_at, stage_changed_at)
          select ${small}, gen_random_uuid(), 'CUSTOMER', 'Party ' || g, now(), now(), now() from generate_series(1, 2) g`,
      );
    }
    await handle.db.execute(sql`analyze parties, party_loyalty`);
  }, 120_000);
  afterAll(() => handle.close());

  /** The plan Postgres keeps once it goes generic, for the statement `listParties` sent. */
  async function genericPlan(order: PartyOrder): Promise<string> {
    statements.length = 0;
    await asTenant(handle, big, () => listParties({}, { limit: 51, inverted: false }, order));
    const page = statements.find((s) => /^select .* from "parties"/s.test(s.text))!;
    expect(page).toBeDefined();
    return asTenant(handle, big, async () => {
      const tx = useTransaction();
      await tx.execute(sql.raw(`prepare guanxi_page_plan as ${page.text}`));
      try {
        await tx.execute(sql`set local plan_cache_mode = force_generic_plan`);
        const args = page.params.map((p) => (typeof p === 'number' ? String(p) : `'${String(p).replace(/'/g, "''")}'`)).join(', ');
        const { rows } = await tx.execute<{ 'QUERY PLAN': string }>(sql.raw(`explain execute guanxi_page_plan(${args})`));
        return rows.map((row) => row['QUERY PLAN']).join('\n');
      } finally {
        await tx.execute(sql`deallocate guanxi_page_plan`);
      }
    });
  }

  test('by creation time: the index in order, up to the page, no loyalty rows read', async () => {
    const plan = await genericPlan({ field: 'CREATED_AT', direction: 'ASC' });
    expect(plan).toMatch(/Limit[\s\S]*Index Scan using parties_tenant_created_idx on parties/);
    expect(plan).not.toMatch(/party_loyalty|Seq Scan on parties|Sort|Materialize/);
  });

  test('by name, newest first: the same', async () => {
    const plan = await genericPlan({ field: 'DISPLAY_NAME', direction: 'DESC' });
    expect(plan).not.toMatch(/party_loyalty|Materialize/);
  });
});
