/**
 * Loyalty scoring at scale (issue: 1,000,000 parties and 10,000,000 orders in one tenant).
 *
 *   url=$(bash test/postgres.sh start)
 *   cd bench && BENCH_DATABASE_URL=$url npx tsx scoring.ts
 *   BENCH_PARTIES=100000 BENCH_ORDERS=1000000 …   (scaled down; generation takes minutes at full size)
 *
 * Generates one tenant with set-based SQL (generate_series), printing progress, then times:
 *  (a) the floor — what any RFM pass must at least do: `select party_id, max(placed_at), count(*),
 *      sum(amount) from orders where tenant_id = $1 group by party_id`, computed in full by the
 *      server (an outer aggregate reads every group, so no column can be optimised away) but
 *      without shipping a million rows to Node; once with the server's work_mem and once with the
 *      scoring statement's (equal terms: with the default, the aggregate spills to disk);
 *  (b) scoreTenant for a new day (snapshots inserted, the latest-snapshot copies in party_loyalty
 *      that change updated), then the same day again (the day's rows replaced; no copy changes).
 *      Between two runs, `vacuum analyze` of the two tables a run rewrites — what autovacuum does
 *      in the day between two nightly runs — is run and timed on its own, so a run never races
 *      the vacuum of the previous one;
 *  (c) the first pages of the tenant's parties sorted by score (party_loyalty's index).
 * and prints the ratio (target ≤ 1.5) and the Node process's peak RSS, which must stay flat: the
 * data never leaves Postgres.
 *
 * Set BENCH_TENANT=<id> to time an already generated tenant again without generating.
 */
import { sql } from 'drizzle-orm';
import { createDatabase, migrate, withTenant, type Database } from '@guanxi/core';
import { createTenant } from '@guanxi/core/access';
import { scoreTenant, scoringWorkMem } from '@guanxi/core/loyalty';
import { listParties, partyCursor, type PartyOrder } from '@guanxi/core/network';
import { inChunks, log, seconds, timed } from './scale';

const url = process.env.BENCH_DATABASE_URL;
if (!url) throw new Error('Set BENCH_DATABASE_URL to a Postgres (bash test/postgres.sh start)');
const partyCount = Number(process.env.BENCH_PARTIES ?? 1_000_000);
const orderCount = Number(process.env.BENCH_ORDERS ?? 10_000_000);
const interactionCount = Number(process.env.BENCH_INTERACTIONS ?? Math.floor(orderCount / 10));
const referralCount = Number(process.env.BENCH_REFERRALS ?? Math.floor(partyCount / 100));

const peakRssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);

async function generate(db: Database): Promise<string> {
  const { tenant } = await createTenant(db, { name: `Scoring bench ${new Date().toISOString()}` });
  const t = tenant.id;
  log(`tenant ${t}: generating ${partyCount.toLocaleString('en-US')} parties, ${orderCount.toLocaleString('en-US')} orders, ` +
    `${interactionCount.toLocaleString('en-US')} interactions, ${referralCount.toLocaleString('en-US')} converted referrals`);
  const started = performance.now();
  // Parties get ids derived from their number, so later statements find party n without a lookup
  // table: md5 of (tenant, n) as a uuid. 2% are archived (left out of the population).
  const partyId = (n: ReturnType<typeof sql>) => sql`md5(${t}::text || ':' || ${n})::uuid`;
  await inChunks(db, t, 'parties', partyCount, (from, to) => sql`
    insert into parties (tenant_id, id, kind, display_name, created_at, stage_changed_at, archived_at)
    select ${t}, ${partyId(sql`g`)}, 'CUSTOMER', 'Party ' || g, now() - interval '3 years', now() - interval '3 years',
           case when g % 50 = 0 then now() end
    from generate_series(${from}::int, ${to}::int) g`);
  // Orders over the last 900 days (so some parties' orders are all outside the 365-day window),
  // spread unevenly over parties (a multiplicative hash), amounts 0.00–999.99, 30% unrated.
  await inChunks(db, t, 'orders', orderCount, (from, to) => sql`
    insert into orders (tenant_id, id, party_id, amount, currency, placed_at, satisfaction)
    select ${t}, gen_random_uuid(), ${partyId(sql`(1 + (g::bigint * 7919 + (g::bigint * g::bigint) % 104729) % ${partyCount})`)},
           round((random() * 1000)::numeric, 2), 'CNY',
           now() - random() * random() * interval '900 days',
           case when random() < 0.3 then null else 1 + floor(random() * 5)::int end
    from generate_series(${from}::int, ${to}::int) g`);
  await inChunks(db, t, 'interactions', interactionCount, (from, to) => sql`
    insert into interactions (tenant_id, id, party_id, kind, occurred_at, actor_kind, actor_id)
    select ${t}, gen_random_uuid(), ${partyId(sql`(1 + (g::bigint * 104729) % ${partyCount})`)}, 'CALL',
           now() - random() * interval '500 days', 'SYSTEM', 'bench'
    from generate_series(${from}::int, ${to}::int) g`);
  // Referrals: party 2k+1 refers party 2k+2 (a forest of single edges), all converted.
  await inChunks(db, t, 'referrals', referralCount, (from, to) => sql`
    insert into referrals (tenant_id, id, referrer_id, referee_id, status, created_at, converted_at)
    select ${t}, gen_random_uuid(), ${partyId(sql`(2 * g - 1)`)}, ${partyId(sql`(2 * g)`)}, 'CONVERTED',
           now() - interval '400 days', now() - random() * interval '400 days'
    from generate_series(${from}::int, ${Math.min(to, Math.floor(partyCount / 2))}::int) g`);
  log(`generated in ${seconds(performance.now() - started)}; vacuum analyze…`);
  await db.execute(sql`vacuum analyze parties, orders, interactions, referrals`);
  return t;
}

const handle = await createDatabase(url, { maxConnections: 2 });
await migrate(handle);
const tenantId = process.env.BENCH_TENANT ?? (await generate(handle.db));
const db = handle.db;
const rssAfterGeneration = peakRssMb();

const floorQuery = sql`
  select count(*) as parties, max(last_at) as last_at, sum(n) as orders, sum(total) as total from (
    select party_id, max(placed_at) as last_at, count(*) as n, sum(amount) as total
    from orders where tenant_id = ${tenantId} group by party_id
  ) f`;
// Once to warm the cache, then three times each: the median is the floor. Twice: with the
// server's own work_mem (the query as the issue writes it), and with the scoring statement's
// session settings (its work_mem, under which the hash aggregate over a million parties does not
// spill to disk), so the scoring run is also compared with the floor on equal terms.
// With the parallel workers the scoring statement may use (request transactions go without).
const runFloor = (workMem: string | null) =>
  withTenant(db, tenantId, async (tx) => {
    await tx.execute(sql`select set_config('max_parallel_workers_per_gather', '2', true)`);
    if (workMem) await tx.execute(sql`select set_config('work_mem', ${workMem}, true)`);
    return tx.execute(floorQuery);
  });
async function medianFloor(workMem: string | null, label: string): Promise<number> {
  await runFloor(workMem);
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const run = await timed(() => runFloor(workMem));
    times.push(run.ms);
    log(`floor (${label}): ${seconds(run.ms)}  ${JSON.stringify(run.value.rows[0])}`);
  }
  return [...times].sort((a, b) => a - b)[1]!;
}
const floor = { ms: await medianFloor(null, 'server work_mem') };
const floorEqual = { ms: await medianFloor(scoringWorkMem, `work_mem ${scoringWorkMem} as scoring`) };

// Days not scored yet for this tenant (a re-used BENCH_TENANT continues after its latest day):
// the first day fills every party's copy, the next day is the nightly case, the same day again
// replaces the day's rows.
const [latest] = (
  await withTenant(db, tenantId, (tx) =>
    tx.execute<{ d: string | null }>(sql`select max(as_of)::text as d from loyalty_snapshots where tenant_id = ${tenantId}`),
  )
).rows;
const start = latest?.d ? Date.parse(`${latest.d}T00:00:00Z`) + 86_400_000 : Date.now() - 3 * 86_400_000;
const day = (offset: number) => new Date(start + offset * 86_400_000).toISOString().slice(0, 10);
const results: { label: string; ms: number; parties: number }[] = [];
const vacuums: number[] = [];
let runsDone = 0;
for (const [label, asOf] of [
  ['score, first day', day(0)],
  ['score, the next day (nightly)', day(1)],
  ['score, the same day again', day(1)],
  ['score, the day after (nightly)', day(2)],
] as const) {
  if (runsDone++ > 0) {
    const vacuum = await timed(() => db.execute(sql`vacuum analyze party_loyalty, loyalty_snapshots`));
    vacuums.push(vacuum.ms);
    log(`vacuum analyze party_loyalty, loyalty_snapshots (between runs, not in the run's time): ${seconds(vacuum.ms)}`);
  }
  const run = await timed(() => scoreTenant(db, tenantId, asOf));
  results.push({ label, ms: run.ms, parties: run.value.partiesScored });
  log(`${label} (${asOf}): ${seconds(run.ms)}, ${run.value.partiesScored.toLocaleString('en-US')} parties scored, ${run.value.replaced.toLocaleString('en-US')} replaced; peak RSS ${peakRssMb()} MB`);
}

// (c) Lists sorted by score walk party_loyalty's (tenant, score, party) index: the first page and
// the next one through its cursor, best first, each in its own tenant transaction.
const byScore: PartyOrder = { field: 'SCORE', direction: 'DESC' };
const pageTimes: number[] = [];
for (let i = 0; i < 5; i++) {
  const first = await timed(() => withTenant(db, tenantId, () => listParties({}, { limit: 51, inverted: false }, byScore)));
  const after = partyCursor(first.value[49]!, byScore);
  const next = await timed(() => withTenant(db, tenantId, () => listParties({}, { limit: 51, after, inverted: false }, byScore)));
  pageTimes.push(first.ms, next.ms);
}
log(`parties by score, pages of 50: median ${[...pageTimes].sort((a, b) => a - b)[Math.floor(pageTimes.length / 2)]!.toFixed(1)} ms`);

const nightly = results.filter((r) => r.label.endsWith('(nightly)'));
const nightlyMs = nightly.reduce((sum, r) => sum + r.ms, 0) / nightly.length;
console.log('');
console.log(`| measure | time | ratio to floor | ratio to floor at scoring's work_mem |`);
console.log(`|---|---|---|---|`);
console.log(`| floor (group by party_id over orders), server work_mem | ${seconds(floor.ms)} | 1.00 | |`);
console.log(`| floor, work_mem ${scoringWorkMem} (the scoring statement's) | ${seconds(floorEqual.ms)} | | 1.00 |`);
for (const r of results) {
  console.log(`| ${r.label} | ${seconds(r.ms)} | ${(r.ms / floor.ms).toFixed(2)} | ${(r.ms / floorEqual.ms).toFixed(2)} |`);
}
console.log('');
console.log(`ratio (mean nightly run / floor): ${(nightlyMs / floor.ms).toFixed(2)} against the floor at the server's work_mem, ` +
  `${(nightlyMs / floorEqual.ms).toFixed(2)} against the floor at the scoring statement's (target ≤ 1.5)`);
console.log(`vacuum analyze between runs (not in the runs' times): ${vacuums.map(seconds).join(', ')}`);
console.log(`Node peak RSS: ${peakRssMb()} MB (after generation: ${rssAfterGeneration} MB)`);
await handle.close();
