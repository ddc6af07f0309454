/**
 * The referral graph at scale (issue 6): a forest of 1,000,000 parties (depth up to 12) written
 * with set-based SQL, then the latency of referralTree (depth 10) for subtrees of at most 1,000
 * nodes, of referralChain, of topReferrers(SUBTREE_SIZE), and of createReferral under a deep node.
 * Target: referralTree p95 ≤ 20 ms for a subtree of ≤ 1,000 nodes.
 *
 *   url=$(bash test/postgres.sh start)
 *   BENCH_DATABASE_URL=$url pnpm tsx bench/referrals.ts        # BENCH_PARTIES=1000000 BENCH_SAMPLES=200
 *   bash test/postgres.sh stop "$url"
 *
 * Each run adds a new tenant to the database it is given; nothing else is touched.
 * BENCH_TENANT_ID=<id> measures a tenant made by an earlier run again, without generating.
 */
import { cpus, totalmem } from 'node:os';
import { createDatabase, migrate, useTransaction, withActor, withTenant, type Actor } from '@guanxi/core';
import { createTenant, issueApiKey } from '@guanxi/core/access';
import { createReferral, referralChain, referralTree, topReferrers } from '@guanxi/core/referrals';
import { createServer } from '@guanxi/graphql';
import { writeBenchmarkSection } from './benchmarks-file';
import { repeat, timeCalls, type LatencyRow } from './timing';

const url = process.env.BENCH_DATABASE_URL;
if (!url?.startsWith('postgres')) {
  console.error('Set BENCH_DATABASE_URL to a Postgres database (e.g. url=$(bash test/postgres.sh start)).');
  process.exit(1);
}
const partyCount = Number(process.env.BENCH_PARTIES ?? 1_000_000);
const samples = Number(process.env.BENCH_SAMPLES ?? 200);

const reuse = process.env.BENCH_TENANT_ID ?? null;

const handle = await createDatabase(url, { maxConnections: 4 });
await migrate(handle);
const tenant = reuse
  ? { id: reuse, currency: 'CNY' }
  : (await createTenant(handle.db, { name: `Referral bench ${new Date().toISOString()}` })).tenant;
const actor: Actor = { kind: 'SYSTEM', tenantId: tenant.id, name: 'bench' };
/** One tenant transaction, as a request or a job runs (role, app.tenant_id, row-level security). */
const inTenant = <T>(fn: () => Promise<T>) => withActor(actor, () => withTenant(handle.db, tenant.id, fn));
/**
 * SQL text run in the current tenant transaction. Every value spliced in is made here (uuids,
 * numbers, fixed words), never read from outside, so plain text is safe — and the bench needs no
 * query builder of its own.
 */
const q = async <T extends Record<string, unknown>>(text: string) => (await useTransaction().execute<T>(text)).rows;

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const log = (message: string) => console.error(`[bench] ${message}`);

// --- 1. The forest, set-based ------------------------------------------------------------------
//
// Trees of random sizes (70 % with 1–20 parties, 25 % with 20–1,000, 5 % with 1,000–101,000) laid
// end to end over the party numbers; inside a tree of size s and branching f, party k > 0 was
// referred by party (k − 1) / f — a heap, so every referrer comes before its referees and the
// depth is ⌊log_f(k(f − 1) + 1)⌋. f is drawn from {2, 3, 3, 4, 5, 8} and raised where a tree
// would be deeper than 12. Party ids are uuid v7-like (time-ordered, as the API makes them).
const started = Date.now();
const generate = () => inTenant(async () => {
  const step = async (label: string, text: string) => {
    const t0 = Date.now();
    await q(text);
    log(`${label}: ${seconds(Date.now() - t0)}`);
  };
  const t = tenant.id;
  await q(`select setseed(0.42)`);
  await step(
    'trees',
    `create temp table bench_trees on commit drop as
      with raw as (
        select t, case when u < 0.70 then 1 + floor(random() * 20)::int
                       when u < 0.95 then 20 + floor(random() * 980)::int
                       else 1000 + floor(power(random(), 3) * 100000)::int end as size,
               (array[2, 3, 3, 4, 5, 8])[1 + floor(random() * 6)::int] as f
        from (select t, random() as u from generate_series(1, 100000) t) s
      )
      select t, size, f, coalesce(sum(size) over (order by t rows between unbounded preceding and 1 preceding), 0)::int as base
      from raw`,
  );
  await q(`delete from bench_trees where base >= ${partyCount}::int`);
  await q(`update bench_trees set size = ${partyCount}::int - base where base + size > ${partyCount}::int`);
  // A heap of branching f holds (f^13 − 1)/(f − 1) parties within depth 12.
  await q(`update bench_trees set f = greatest(f, case when size <= 8191 then 2 when size <= 797161 then 3 else 4 end)`);
  await step(
    'nodes',
    `create temp table bench_nodes on commit drop as
      select tr.base + k as i,
        case when k = 0 then null else tr.base + (k - 1) / tr.f end as parent_i,
        (select max(d) from generate_series(0, 20) d where (power(tr.f, d)::bigint - 1) / (tr.f - 1) <= k) as depth
      from bench_trees tr, generate_series(0, tr.size - 1) k`,
  );
  const base = Date.now() - 400 * 24 * 3600 * 1000;
  // uuid v7 layout: 48-bit millisecond time, version 7, variant 8, the rest from a hash.
  const id = (index: string, offsetMs: number, salt: string) =>
    `(lpad(to_hex(${base}::bigint + ${index}::bigint * 20000 + ${offsetMs}), 12, '0') || '7'
          || substr(md5('${t}:${salt}:' || ${index}), 1, 3) || '8' || substr(md5('${t}:${salt}:' || ${index}), 4, 15))::uuid`;
  const at = (index: string, offsetMs: number) => `to_timestamp((${base}::bigint + ${index}::bigint * 20000 + ${offsetMs}) / 1000.0)`;
  const i = 'n.i';
  const parentI = 'n.parent_i';
  await step(
    'parties',
    `insert into parties (tenant_id, id, kind, display_name, created_at, updated_at, stage_changed_at)
      select '${t}'::uuid, ${id(i, 0, 'p')}, 'CUSTOMER', 'Party ' || n.i, ${at(i, 0)}, ${at(i, 0)}, ${at(i, 0)}
      from bench_nodes n`,
  );
  // One statement: the subtree-count trigger runs once for the million referrals.
  await step(
    'referrals (+ subtree counts)',
    `insert into referrals (tenant_id, id, referrer_id, referee_id, channel, status, created_at,
        converted_at, rewarded_at, rejected_at, rejected_reason, reward_amount, reward_currency)
      select '${t}'::uuid, ${id(i, 5000, 'r')}, ${id(parentI, 0, 'p')}, ${id(i, 0, 'p')}, 'BENCH', s.status::referral_status, s.created,
        case when s.status in ('CONVERTED', 'REWARDED') then s.created + interval '1 day' end,
        case when s.status = 'REWARDED' then s.created + interval '2 days' end,
        case when s.status = 'REJECTED' then s.created + interval '1 day' end,
        case when s.status = 'REJECTED' then 'bench' end,
        case when s.status = 'REWARDED' then 20.00 end,
        case when s.status = 'REWARDED' then '${tenant.currency}' end
      from bench_nodes n
      cross join lateral (select ${at(i, 5000)} as created,
        case when n.i % 20 < 14 then 'PENDING' when n.i % 20 < 17 then 'CONVERTED' when n.i % 20 < 19 then 'REWARDED' else 'REJECTED' end as status) s
      where n.parent_i is not null`,
  );
  await step(
    'REFERRED edges',
    `insert into relationships (tenant_id, id, type, from_party_id, to_party_id, since, created_at)
      select '${t}'::uuid, ${id(i, 5000, 'e')}, 'REFERRED', ${id(parentI, 0, 'p')}, ${id(i, 0, 'p')}, (${at(i, 5000)})::date, ${at(i, 5000)}
      from bench_nodes n where n.parent_i is not null`,
  );
  const [shape] = await q<{ trees: number; largest: number; referrals: number; max_depth: number; histogram: string }>(`
      select (select count(*)::int from bench_trees) as trees, (select max(size) from bench_trees) as largest,
        (select count(*)::int from bench_nodes where parent_i is not null) as referrals,
        (select max(depth) from bench_nodes) as max_depth,
        (select string_agg(depth || ':' || n, ' ' order by depth) from (select depth, count(*) as n from bench_nodes group by depth) h) as histogram`);
  return shape!;
});
if (!reuse) log(`generating ${partyCount.toLocaleString('en')} parties in tenant ${tenant.id}`);
const generated = reuse ? null : await generate();
const generationMs = Date.now() - started;
if (generated) {
  log(`generated in ${seconds(generationMs)}: ${JSON.stringify(generated)}`);
  // As autovacuum would leave them: statistics, hint bits and visibility map set.
  await handle.db.execute(`vacuum (analyze) parties, referrals, relationships, referral_subtree_sizes`);
}
const apiKey = await inTenant(async () => (await issueApiKey({ name: 'Referral bench', scopes: ['REFERRALS_READ', 'NETWORK_READ'] })).secret);

// --- 2. Samples --------------------------------------------------------------------------------

/** Parties whose subtree has between lo and hi descendants, drawn at random (seeded). */
const subtreeSample = (lo: number, hi: number, seed: number) =>
  inTenant(async () => {
    await q(`select setseed(${seed})`);
    return q<{ id: string; n: number }>(`
      select party_id::text as id, descendants as n from referral_subtree_sizes
      where tenant_id = '${tenant.id}' and descendants between ${lo} and ${hi}
      order by random() limit ${samples}`);
  });
const midTrees = await subtreeSample(100, 1000, 0.17);
const bigTrees = await subtreeSample(900, 1000, 0.19);
const referees = await inTenant(async () => {
  await q(`select setseed(0.23)`);
  const found = await q<{ id: string }>(`
    select referee_id::text as id from referrals tablesample bernoulli (1) repeatable (23)
    where tenant_id = '${tenant.id}' order by random() limit ${samples}`);
  return found.map((r) => r.id);
});
// The longest chains: parties at depth 11–12, found among ~6 % of the referees (their chains
// walked up one index lookup per step).
const deepest = await inTenant(async () => {
  const found = await q<{ id: string }>(`
    with recursive up(start, id, n) as (
      select f.referee_id, f.referrer_id, 1 from referrals f tablesample bernoulli (6) repeatable (29) where f.tenant_id = '${tenant.id}'
      union all
      select up.start, p.referrer_id, up.n + 1 from up cross join lateral (
        select r.referrer_id from referrals r where r.tenant_id = '${tenant.id}' and r.referee_id = up.id limit 1) p
    )
    select start::text as id from up group by start having max(n) >= 11 order by start limit ${samples}`);
  return found.map((r) => r.id);
});
log(`samples: ${midTrees.length} subtrees of 100–1,000, ${bigTrees.length} of 900–1,000, ${referees.length} referees, ${deepest.length} at depth ≥ 11`);

// --- 3. Measurements ---------------------------------------------------------------------------

const results: LatencyRow[] = [];

async function measure<T>(name: string, inputs: T[], fn: (input: T) => Promise<unknown>, note = ''): Promise<void> {
  if (inputs.length === 0) {
    log(`${name}: no samples`);
    return;
  }
  const t = await timeCalls(inputs, fn);
  results.push({ name, n: t.times.length, p50: t.p50, p95: t.p95, max: t.max, note });
  log(`${name}: p50 ${t.p50.toFixed(2)} ms, p95 ${t.p95.toFixed(2)} ms`);
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
const server = createServer({ db: handle.db, config: { env: 'production', rateLimits: null } });
const globalId = (uuid: string) => Buffer.from(`Party:${uuid}`).toString('base64');
const graphql = async (query: string, variables: Record<string, unknown>) => {
  const response = await server.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `ApiKey ${apiKey}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { errors?: unknown };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body;
};

await measure(
  'referralTree(depth 10, first 100), subtree 100–1,000',
  midTrees,
  (root) => inTenant(() => referralTree(root.id, { limit: 101, inverted: false }, { maxDepth: 10 })),
  `mean subtree ${mean(midTrees.map((r) => r.n)).toFixed(0)}; one tenant transaction each`,
);
await measure(
  'referralTree(depth 10, first 1000), subtree 900–1,000',
  bigTrees,
  (root) => inTenant(() => referralTree(root.id, { limit: 1001, inverted: false }, { maxDepth: 10 })),
  `mean subtree ${mean(bigTrees.map((r) => r.n)).toFixed(0)}; every node returned`,
);
await measure(
  'GraphQL request referralTree(first: 100) { totalCount edges { depth node { id displayName } } }, subtree 900–1,000',
  bigTrees,
  (root) =>
    graphql(`query ($id: ID!) { referralTree(rootId: $id, first: 100) { totalCount edges { depth node { id displayName } } } }`, {
      id: globalId(root.id),
    }),
  'whole HTTP request: API key, transaction, 100 nodes with their parties',
);
await measure('referralChain, random party', referees, (id) => inTenant(() => referralChain(id)), 'uniform over the referees');
await measure('referralChain, depth ≥ 11', deepest, (id) => inTenant(() => referralChain(id)), 'the longest chains');
const periodSince = new Date(Date.now() - 300 * 24 * 3600 * 1000);
const periodUntil = new Date(periodSince.getTime() + 24 * 3600 * 1000);
await measure(
  'topReferrers(SUBTREE_SIZE, first 10), all time',
  repeat(20),
  () => inTenant(() => topReferrers({ by: 'SUBTREE_SIZE', first: 10 })),
  'materialised counts (referral_subtree_sizes)',
);
await measure(
  'topReferrers(SUBTREE_SIZE, first 10), one day',
  repeat(20),
  () => inTenant(() => topReferrers({ by: 'SUBTREE_SIZE', since: periodSince, until: periodUntil, first: 10 })),
  '~4,300 referrals in the period: walk up from each',
);
await measure(
  'topReferrers(CONVERSIONS, first 10), all time',
  repeat(5),
  () => inTenant(() => topReferrers({ by: 'CONVERSIONS', first: 10 })),
  'aggregate over every referral (for comparison)',
);
// Writes under the deepest parties: the trigger adds one to 11–12 ancestors.
const newcomers = await inTenant(async () => {
  const made = await q<{ id: string }>(`
    insert into parties (tenant_id, kind, display_name) select '${tenant.id}'::uuid, 'PROSPECT', 'Newcomer ' || g
    from generate_series(1, ${deepest.length}) g returning id::text as id`);
  return made.map((r) => r.id);
});
const writes = deepest.map((referrer, index) => ({ referrer, referee: newcomers[index]! }));
let nextWrite = 0;
await measure(
  'createReferral under a party at depth ≥ 11',
  writes.slice(10),
  async () => {
    const { referrer, referee } = writes[nextWrite++]!;
    await inTenant(() => createReferral({ referrerId: referrer, refereeId: referee, channel: 'BENCH' }));
  },
  'locks, checks, fraud signals, insert + subtree counts of 12 ancestors, edge, audit',
);

const { rows: settingRows } = await handle.db.execute<{ version: string }>(`select current_setting('server_version') as version`);
const version = settingRows[0]?.version ?? '?';
const cpu = cpus();
const lines: string[] = [
  `Postgres ${version}, ${handle.driver}; Node ${process.version}; ${cpu.length} × ${cpu[0]?.model.trim() ?? 'CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM; ${new Date().toISOString().slice(0, 10)}.`,
];
if (generated) {
  lines.push(
    `Forest: ${partyCount.toLocaleString('en')} parties, ${Number(generated.referrals).toLocaleString('en')} referrals in ${generated.trees} trees (largest ${Number(generated.largest).toLocaleString('en')}), max depth ${generated.max_depth}; generated in ${seconds(generationMs)}.`,
    `Parties per depth: ${generated.histogram}.`,
  );
} else {
  lines.push(`Tenant ${tenant.id} from an earlier run (not generated again).`);
}
lines.push('', '| measurement | samples | p50 ms | p95 ms | max ms | note |', '|---|---:|---:|---:|---:|---|');
for (const r of results) lines.push(`| ${r.name} | ${r.n} | ${r.p50.toFixed(2)} | ${r.p95.toFixed(2)} | ${r.max.toFixed(2)} | ${r.note} |`);
const tree = results[0];
if (tree) lines.push('', `Target referralTree p95 ≤ 20 ms for a subtree of ≤ 1,000 nodes: ${tree.p95 <= 20 ? 'met' : 'NOT met'} (${tree.p95.toFixed(2)} ms).`);
console.log(`\n## Referral graph benchmark\n\n${lines.join('\n')}`);
writeBenchmarkSection('referrals', 'Referral graph at 1,000,000 parties (`bench/referrals.ts`)', lines.join('\n'));
await handle.close();
