/**
 * applyStagePolicy on a generated tenant (default 100k parties, 1M orders, 300k interactions).
 *
 *   url=$(bash test/postgres.sh start)
 *   BENCH_DATABASE_URL=$url pnpm --filter @guanxi/bench stage-policy
 */
import { sql } from 'drizzle-orm';
import { createDatabase, migrate, withActor, withTenant } from '@guanxi/core';
import { createTenant } from '@guanxi/core/access';
import { applyStagePolicy } from '@guanxi/core/stages';

const url = process.env.BENCH_DATABASE_URL;
if (!url) throw new Error('Set BENCH_DATABASE_URL to a Postgres (bash test/postgres.sh start)');
const partyCount = Number(process.env.BENCH_PARTIES ?? 100_000);
const orderCount = Number(process.env.BENCH_ORDERS ?? 1_000_000);

const handle = await createDatabase(url, { maxConnections: 2 });
await migrate(handle);
const { tenant } = await createTenant(handle.db, { name: `Stage bench ${Date.now()}` });
const started = Date.now();
await withTenant(handle.db, tenant.id, async (tx) => {
  // Parties created over the last two years; orders spread over them with random ratings.
  await tx.execute(sql`insert into parties (tenant_id, id, kind, display_name, created_at, stage_changed_at)
    select ${tenant.id}, gen_random_uuid(), 'CUSTOMER', 'Party ' || g, now() - (random() * 730 || ' days')::interval,
           now() - interval '730 days'
    from generate_series(1, ${partyCount}) g`);
  await tx.execute(sql`create temporary table bench_ids on commit drop as
    select row_number() over () as n, id, created_at from parties where tenant_id = ${tenant.id}`);
  await tx.execute(sql`insert into orders (tenant_id, id, party_id, amount, currency, placed_at, satisfaction)
    select ${tenant.id}, gen_random_uuid(), b.id, round((random() * 500)::numeric, 2), 'CNY',
           b.created_at + random() * (now() - b.created_at),
           case when random() < 0.3 then null else 1 + floor(random() * 5)::int end
    from generate_series(1, ${orderCount}) g
    join bench_ids b on b.n = 1 + (g::bigint * 7919) % ${partyCount}`);
  await tx.execute(sql`insert into interactions (tenant_id, id, party_id, kind, occurred_at, actor_kind)
    select ${tenant.id}, gen_random_uuid(), b.id, 'CALL', b.created_at + random() * (now() - b.created_at), 'SYSTEM'
    from generate_series(1, ${Math.floor(orderCount * 0.3)}) g
    join bench_ids b on b.n = 1 + (g::bigint * 104729) % ${partyCount}`);
});
await handle.db.execute(sql`analyze`);
console.log(`generated ${partyCount} parties, ${orderCount} orders in ${((Date.now() - started) / 1000).toFixed(1)} s`);

const actor = { kind: 'SYSTEM' as const, tenantId: tenant.id, name: 'bench' };
const today = new Date().toISOString().slice(0, 10);
for (const label of ['first run', 'second run (idempotent)']) {
  const t0 = performance.now();
  const result = await withActor(actor, () => withTenant(handle.db, tenant.id, () => applyStagePolicy(today)));
  console.log(`| ${label} | ${(performance.now() - t0).toFixed(0)} ms | ${result.parties} parties moved | ${JSON.stringify(result)} |`);
}
await handle.close();
