/**
 * Member points and tiers at scale (issue: 1,000,000 parties and 10,000,000 orders in one tenant).
 *
 *   url=$(bash test/postgres.sh start)
 *   cd bench && BENCH_DATABASE_URL=$url npx tsx points.ts
 *   BENCH_PARTIES=100000 BENCH_ORDERS=1000000 …   (scaled down: generating the full size takes ~20 min)
 *   BENCH_BASELINE_ROOT=<a checkout of a commit before points, installed> … (the run without them)
 *   BENCH_GENERATE_ONLY=1 …   generates the tenant and prints BENCH_TENANT / BENCH_API_KEY / BENCH_GENERATED_MS,
 *   which a later run takes to measure that tenant again (its nightly runs go on from the last scored day)
 *
 * Generates one tenant with set-based SQL: parties, orders over 900 days, and each order's EARN
 * lot as recordOrder writes it (pending 7 days, expiring 365 days after). Then times:
 *  (a) nightly runs with points and tiers (`runTenantScoring`: the scoring statement with the tier
 *      rules, then the expiry) on fresh days, the first one writing off every lot expired so far;
 *      with BENCH_BASELINE_ROOT, the same runs by that commit's `scoreTenant` (no points, no tier
 *      rules) interleaved on the same data: the ratio;
 *  (b) `parties(first: 100) { … points { … } }` over GraphQL in process, p50/p95, against the same
 *      page without points;
 *  (c) `redeemPoints` of 1 point by 32 concurrent callers for a few seconds: on one hot party (every
 *      call waits for the party's lock) and on random parties.
 * Writes its section of BENCHMARKS.md (`bench:points`).
 */
import { spawnSync } from 'node:child_process';
import { sql } from 'drizzle-orm';
import { createDatabase, migrate, withTenant, type Database } from '@guanxi/core';
import { createTenant } from '@guanxi/core/access';
import { runTenantScoring } from '@guanxi/core/loyalty';
import { createServer } from '@guanxi/graphql';
import { writeBenchmarkSection } from './benchmarks-file';
import { inChunks, log, seconds, timed } from './scale';
import { percentile } from './timing';

const url = process.env.BENCH_DATABASE_URL;
if (!url) throw new Error('Set BENCH_DATABASE_URL to a Postgres (bash test/postgres.sh start)');
const partyCount = Number(process.env.BENCH_PARTIES ?? 1_000_000);
const orderCount = Number(process.env.BENCH_ORDERS ?? 10_000_000);
const baselineRoot = process.env.BENCH_BASELINE_ROOT ?? null;
const generateOnly = process.env.BENCH_GENERATE_ONLY === '1';
const reused = process.env.BENCH_TENANT
  ? { tenantId: process.env.BENCH_TENANT, apiKey: process.env.BENCH_API_KEY ?? '', generationMs: Number(process.env.BENCH_GENERATED_MS ?? Number.NaN) }
  : null;
if (reused && !reused.apiKey) throw new Error('BENCH_TENANT needs the BENCH_API_KEY its generation printed');

const thousands = (n: number) => Math.round(n).toLocaleString('en-US');

async function generate(db: Database): Promise<{ tenantId: string; apiKey: string; generationMs: number }> {
  const started = performance.now();
  const { tenant, apiKey } = await createTenant(db, { name: `Points bench ${new Date().toISOString()}` });
  const t = tenant.id;
  log(`tenant ${t}: ${thousands(partyCount)} parties, ${thousands(orderCount)} orders`);
  const partyId = (n: ReturnType<typeof sql>) => sql`md5(${t}::text || ':' || ${n})::uuid`;
  await inChunks(db, t, 'parties', partyCount, (from, to) => sql`
    insert into parties (tenant_id, id, kind, display_name, created_at, stage_changed_at)
    select ${t}, ${partyId(sql`g`)}, 'CUSTOMER', 'Party ' || g, now() - interval '3 years', now() - interval '3 years'
    from generate_series(${from}::int, ${to}::int) g`);
  // As bench/scoring.ts: orders over the last 900 days, spread unevenly, amounts 0.00–999.99.
  await inChunks(db, t, 'orders', orderCount, (from, to) => sql`
    insert into orders (tenant_id, id, party_id, amount, currency, placed_at, satisfaction)
    select ${t}, gen_random_uuid(), ${partyId(sql`(1 + (g::bigint * 7919 + (g::bigint * g::bigint) % 104729) % ${partyCount})`)},
           round((random() * 1000)::numeric, 2), 'CNY', now() - random() * random() * interval '900 days',
           case when random() < 0.3 then null else 1 + floor(random() * 5)::int end
    from generate_series(${from}::int, ${to}::int) g`);
  // Each order's lot, as recordOrder writes it with the default settings (no tier yet: × 1).
  await withTenant(db, t, (tx) => tx.execute(sql`
    insert into points_entries (tenant_id, id, party_id, kind, points, at, source, order_id, actor_kind, actor_id, available_at, expires_at)
    select o.tenant_id, gen_random_uuid(), o.party_id, 'EARN', floor(o.amount)::int, o.placed_at, 'ORDER', o.id, 'SYSTEM', 'bench',
           o.placed_at + interval '7 days', o.placed_at + interval '372 days'
    from orders o where o.tenant_id = ${t} and o.amount >= 1`));
  log('points: one EARN lot per order; vacuum analyze…');
  await db.execute(sql`vacuum analyze parties, orders, points_entries`);
  return { tenantId: t, apiKey, generationMs: performance.now() - started };
}

const handle = await createDatabase(url, { maxConnections: 10 });
await migrate(handle);
const db = handle.db;
const { tenantId, apiKey, generationMs } = reused ?? (await generate(db));
if (generateOnly) {
  console.log(`BENCH_TENANT=${tenantId} BENCH_API_KEY=${apiKey} BENCH_GENERATED_MS=${Math.round(generationMs)}`);
  await handle.close();
  process.exit(0);
}
const counts = (
  await withTenant(db, tenantId, (tx) =>
    tx.execute<{ parties: number; orders: number; lots: number }>(sql`
      select (select count(*)::int from parties) as parties, (select count(*)::int from orders) as orders,
             (select count(*)::int from points_entries) as lots`),
  )
).rows[0]!;

// (a) Nightly runs on fresh days, interleaved with the baseline's when there is one.
// Fresh days: from 12 days ago, or on from the last day a reused tenant was scored for.
const { rows: lastRun } = await withTenant(db, tenantId, (tx) =>
  tx.execute<{ day: string | null }>(sql`select max(as_of)::text as day from loyalty_snapshots`),
);
const firstDay = lastRun[0]?.day ? Date.parse(`${lastRun[0].day}T00:00:00Z`) + 86_400_000 : Date.now() - 12 * 86_400_000;
const dayOf = (offset: number) => new Date(firstDay + offset * 86_400_000).toISOString().slice(0, 10);
const catchUp = lastRun[0]?.day ? 'nightly, the first of this measurement' : 'first day (writes off every lot expired so far)';
const baseline = (asOf: string): number => {
  const script = `
    import { createDatabase } from '@guanxi/core';
    import { scoreTenant } from '@guanxi/core/loyalty';
    const handle = await createDatabase(${JSON.stringify(url)}, { maxConnections: 2 });
    const t0 = performance.now();
    await scoreTenant(handle.db, ${JSON.stringify(tenantId)}, ${JSON.stringify(asOf)});
    console.log('MS', performance.now() - t0);
    await handle.close();`;
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: `${baselineRoot}/packages/functions`,
    encoding: 'utf8',
  });
  const ms = /MS ([\d.]+)/.exec(run.stdout)?.[1];
  if (!ms) throw new Error(`baseline run failed: ${run.stderr}`);
  return Number(ms);
};
const runs: { label: string; asOf: string; ms: number; expired: number | null }[] = [];
const plan: ['with' | 'without', string][] = baselineRoot
  ? [['with', catchUp], ['without', 'nightly'], ['with', 'nightly'], ['without', 'nightly'], ['with', 'nightly']]
  : [['with', catchUp], ['with', 'nightly'], ['with', 'nightly']];
for (const [index, [kind, what]] of plan.entries()) {
  if (index > 0) await db.execute(sql`vacuum analyze party_loyalty, loyalty_snapshots, points_entries, points_draws, tier_history`);
  const asOf = dayOf(index);
  if (kind === 'with') {
    const run = await timed(() => runTenantScoring(db, tenantId, asOf, { triggeredBy: 'bench' }));
    if (run.value.status !== 'SUCCEEDED') throw new Error(`run failed: ${run.value.error}`);
    runs.push({ label: `with points and tiers, ${what}`, asOf, ms: run.ms, expired: run.value.pointsExpired });
    log(`with points and tiers (${asOf}, ${what}): ${seconds(run.ms)}, ${thousands(run.value.partiesScored ?? 0)} scored, ${thousands(run.value.pointsExpired ?? 0)} points expired`);
  } else {
    const ms = baseline(asOf);
    runs.push({ label: `without (before points), ${what}`, asOf, ms, expired: null });
    log(`without points and tiers (${asOf}): ${seconds(ms)}`);
  }
}
// Every run but a first day's write-off is a nightly. Medians: one run stalled by the machine (a
// 4-minute checkpoint once made a 67 s run take 251 s) would otherwise decide the ratio.
const nightlyWith = runs.filter((r) => r.label.startsWith('with points') && r.label.includes('nightly'));
const nightlyWithout = runs.filter((r) => r.label.startsWith('without'));
const median = (xs: { ms: number }[]) => {
  const sorted = xs.map((x) => x.ms).sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

// (b) A page of 100 parties with and without their points, over GraphQL in process, after the
// vacuum autovacuum would run after a night's writes (the balance reads covering indexes, which
// answer from the index alone once the pages are marked all-visible).
await db.execute(sql`vacuum analyze points_entries, points_draws`);
const server = createServer({ db, config: { env: 'production', rateLimits: null } });
const ask = async (query: string) => {
  const response = await server.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `ApiKey ${apiKey}` },
    body: JSON.stringify({ query }),
  });
  const body = (await response.json()) as { errors?: unknown };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
};
const page = async (withPoints: boolean) => {
  const query = `{ parties(first: 100) { edges { node { id ${withPoints ? 'points { available pending balance debt }' : ''} } } } }`;
  for (let i = 0; i < 5; i++) await ask(query);
  const times: number[] = [];
  for (let i = 0; i < 60; i++) times.push((await timed(() => ask(query))).ms);
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p95: percentile(times, 95) };
};
const withPoints = await page(true);
const withoutPoints = await page(false);
log(`page of 100 with points: p50 ${withPoints.p50.toFixed(1)} ms, p95 ${withPoints.p95.toFixed(1)} ms; without: p50 ${withoutPoints.p50.toFixed(1)} ms`);

// (c) redeemPoints under 32 concurrent callers.
const { rows: rich } = await withTenant(db, tenantId, (tx) =>
  tx.execute<{ id: string }>(sql`
    select e.party_id::text as id from points_entries e
    where e.kind = 'EARN' and e.available_at <= now() and e.expires_at > now()
    group by e.party_id having sum(e.points) >= 200 order by 1 limit 5000`),
);
const globalId = (id: string) => Buffer.from(`Party:${id}`).toString('base64');
const redeem = `mutation ($id: ID!) { redeemPoints(input: { partyId: $id, points: 1 }) { entry { id } userErrors { code } } }`;
async function hammer(pick: () => string, ms: number): Promise<{ perSecond: number; refused: number; p95: number }> {
  const until = performance.now() + ms;
  let done = 0;
  let refused = 0;
  const latencies: number[] = [];
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (performance.now() < until) {
        const t0 = performance.now();
        const response = await server.fetch('http://localhost/graphql', {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `ApiKey ${apiKey}` },
          body: JSON.stringify({ query: redeem, variables: { id: globalId(pick()) } }),
        });
        const body = (await response.json()) as { data?: { redeemPoints: { userErrors: unknown[] } } };
        latencies.push(performance.now() - t0);
        if (body.data?.redeemPoints.userErrors.length === 0) done++;
        else refused++;
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return { perSecond: (done * 1000) / ms, refused, p95: percentile(latencies, 95) };
}
const hot = rich[0]!.id;
const hotRun = await hammer(() => hot, 5000);
const randomRun = await hammer(() => rich[Math.floor(Math.random() * rich.length)]!.id, 5000);
log(`redeemPoints, one hot party: ${hotRun.perSecond.toFixed(0)}/s (p95 ${hotRun.p95.toFixed(1)} ms, ${hotRun.refused} refused); random parties: ${randomRun.perSecond.toFixed(0)}/s (p95 ${randomRun.p95.toFixed(1)} ms)`);

const { rows: version } = await db.execute<{ v: string }>(sql`select current_setting('server_version') as v`);
const cpus = (await import('node:os')).cpus();
const lines = [
  `One tenant of ${thousands(counts.parties)} parties, ${thousands(counts.orders)} orders and ${thousands(counts.lots)} points entries (generated with one`,
  `EARN lot per order as recordOrder writes them, in ${Number.isNaN(generationMs) ? 'an earlier run' : seconds(generationMs)}; since then the nightly runs' EXPIRE entries), Postgres ${version[0]!.v} on loopback (durability off), ${cpus.length} × ${cpus[0]?.model.trim()},`,
  `Node ${process.versions.node}; ${new Date().toISOString().slice(0, 10)}.${partyCount < 1_000_000 ? ` **Scaled down** (BENCH_PARTIES=${partyCount}, BENCH_ORDERS=${orderCount}): the full size (1,000,000 / 10,000,000) takes ~20 min to generate.` : ''}`,
  '',
  '| nightly run | day | time | points expired |',
  '|---|---|---:|---:|',
  ...runs.map((r) => `| ${r.label} | ${r.asOf} | ${seconds(r.ms)} | ${r.expired === null ? '—' : thousands(r.expired)} |`),
  '',
  nightlyWithout.length
    ? `Median nightly run with points and tiers ÷ without them (the code before points, on the same data, interleaved): **${(median(nightlyWith) / median(nightlyWithout)).toFixed(2)}** (${seconds(median(nightlyWith))} ÷ ${seconds(median(nightlyWithout))}).`
    : `Median nightly run with points and tiers: ${seconds(median(nightlyWith))} (no baseline: set BENCH_BASELINE_ROOT).`,
  '',
  '| measure | p50 | p95 |',
  '|---|---:|---:|',
  `| \`parties(first: 100)\` with \`points { available pending balance debt }\`, GraphQL in process | ${withPoints.p50.toFixed(1)} ms | ${withPoints.p95.toFixed(1)} ms |`,
  `| the same page without points | ${withoutPoints.p50.toFixed(1)} ms | ${withoutPoints.p95.toFixed(1)} ms |`,
  '',
  '| redeemPoints (1 point), 32 concurrent callers, 5 s, in process | redemptions/s | p95 |',
  '|---|---:|---:|',
  `| one hot party (each call waits for the party's lock) | ${hotRun.perSecond.toFixed(0)} | ${hotRun.p95.toFixed(1)} ms |`,
  `| random parties (of ${thousands(rich.length)} with points) | ${randomRun.perSecond.toFixed(0)} | ${randomRun.p95.toFixed(1)} ms |`,
];
console.log(`\n${lines.join('\n')}`);
writeBenchmarkSection('points', 'Member points and tiers (`bench/points.ts`)', lines.join('\n'));
await handle.close();
