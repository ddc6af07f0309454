import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createDatabase, migrate } from '../packages/core/src/index';
import { createTestTenant, usingPostgres } from '../packages/core/src/test/index';
import { root, startServeProcess, type ServeProcess } from './serve-process';

/**
 * The production server through a database that blinks: backends terminated while idle and in
 * the middle of transactions, and a Postgres restart under load. The server is `guanxi serve` in
 * its own process (production configuration) on a Postgres server of this test's own
 * (test/postgres.sh), so stopping it disturbs no other test. Runs on the CI Postgres project.
 */
const run = promisify(execFile);
const postgresScript = join(root, 'test', 'postgres.sh');

let databaseUrl = '';
let server: ServeProcess | null = null;
let url = '';
// One key (and tenant) per load client, and one for the single requests: production rate-limits
// each tenant and caller (600 requests a minute per caller), and a load on a fast runtime would
// otherwise be refused with 429s that say nothing about the database.
let apiKey = '';
const loadKeys: string[] = [];
const loadClients = 8;
// A pause between a client's requests, so a load is a steady stream and not a flood of retries.
const loadPauseMs = 20;

async function postgres(command: 'start' | 'stop' | 'down' | 'up', target = ''): Promise<string> {
  const { stdout } = await run('bash', [postgresScript, command, ...(target ? [target] : [])], { timeout: 120_000 });
  return stdout.trim();
}

function startServer(): Promise<ServeProcess> {
  return startServeProcess({
    command: join(root, 'node_modules', '.bin', 'tsx'),
    args: ['packages/functions/src/cli.ts', 'serve'],
    env: { GUANXI_ENV: 'production', DATABASE_URL: databaseUrl, PORT: '0', GUANXI_OPERATOR_KEY: '' },
    timeoutMs: 60_000,
  });
}

interface Outcome {
  startedAt: number;
  ms: number;
  status: number | 'timeout' | 'network';
  code?: string;
}

let sequence = 0;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One request: alternately a write (a new party, in a transaction) and a read. */
async function request(key = apiKey): Promise<Outcome> {
  const n = sequence++;
  const query =
    n % 2 === 0
      ? `mutation { createParty(input: { kind: CUSTOMER, displayName: "load ${n}" }) { party { id } userErrors { code } } }`
      : '{ parties(first: 5) { totalCount edges { node { id stage } } } }';
  const startedAt = Date.now();
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `ApiKey ${key}` },
      body: JSON.stringify({ query }),
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await response.json()) as { errors?: { extensions?: { code?: string } }[] };
    const code = body.errors?.[0]?.extensions?.code;
    return { startedAt, ms: Date.now() - startedAt, status: response.status, ...(code ? { code } : {}) };
  } catch (error) {
    const status = (error as Error).name === 'TimeoutError' ? 'timeout' : 'network';
    return { startedAt, ms: Date.now() - startedAt, status };
  }
}

/** The load clients, each with its own key, in a loop until `stop()`; every outcome kept. */
function load() {
  const outcomes: Outcome[] = [];
  let running = true;
  const loops = loadKeys.map(async (key) => {
    while (running) {
      outcomes.push(await request(key));
      await sleep(loadPauseMs);
    }
  });
  return {
    outcomes,
    async stop() {
      running = false;
      await Promise.all(loops);
      return outcomes;
    },
  };
}

/** Terminates every backend of the database but the caller's: the server's idle and busy connections. */
async function terminateBackends(): Promise<number> {
  const admin = await createDatabase(databaseUrl, { maxConnections: 1 });
  try {
    const client = (admin.db as unknown as { $client: { query(text: string): Promise<{ rows: { n: number }[] }> } }).$client;
    const { rows } = await client.query(`
      select count(*)::int as n from (
        select pg_terminate_backend(pid) from pg_stat_activity
        where datname = current_database() and pid <> pg_backend_pid() and backend_type = 'client backend'
      ) as terminated`,
    );
    return rows[0]!.n;
  } finally {
    await admin.close();
  }
}

function expectAlive() {
  expect(server?.alive(), server?.output()).toBe(true);
}

/** A failed request is a typed 503, never a 500 or a hang. */
function expectOnlyTypedUnavailable(outcomes: Outcome[]) {
  const failures = outcomes.filter((o) => o.status !== 200);
  expect(failures.filter((o) => o.status !== 503 || o.code !== 'SERVICE_UNAVAILABLE')).toEqual([]);
}

describe.skipIf(!usingPostgres())('a database that blinks (guanxi serve, production, own Postgres)', () => {
  beforeAll(async () => {
    databaseUrl = await postgres('start');
    const handle = await createDatabase(databaseUrl);
    try {
      await migrate(handle);
      apiKey = (await createTestTenant(handle, 'Blinking database')).apiKey;
      for (let i = 0; i < loadClients; i++) loadKeys.push((await createTestTenant(handle, `Blinking database, load ${i}`)).apiKey);
    } finally {
      await handle.close();
    }
    server = await startServer();
    url = server.url;
  }, 180_000);

  afterAll(async () => {
    await server?.stop();
    if (databaseUrl) await postgres('stop', databaseUrl);
  }, 60_000);

  test('idle backends terminated: the same server answers the next requests', async () => {
    for (let i = 0; i < 4; i++) expect((await request()).status).toBe(200);
    expect(await terminateBackends()).toBeGreaterThan(0);
    await sleep(200);
    const after = [];
    for (let i = 0; i < 6; i++) after.push(await request());
    expect(after.map((o) => o.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(server!.output()).toMatch(/"event":"db-connection-lost".*"code":"57P01"/);
    expectAlive();
  });

  test('backends terminated mid-transaction under load: only requests in flight fail, typed; the rest succeed', async () => {
    const running = load();
    await sleep(800);
    const terminatedAt = Date.now();
    expect(await terminateBackends()).toBeGreaterThan(0);
    await sleep(1500);
    const outcomes = await running.stop();
    expectOnlyTypedUnavailable(outcomes);
    // Every request that started once the terminated connections were gone succeeded.
    const later = outcomes.filter((o) => o.startedAt > terminatedAt + 300);
    expect(later.length).toBeGreaterThan(10);
    expect(later.filter((o) => o.status !== 200)).toEqual([]);
    expectAlive();
  });

  test('a Postgres restart under load: fast typed 503s while it is down, every request after it succeeds', async () => {
    const running = load();
    await sleep(800);
    await postgres('down', databaseUrl);
    const downAt = Date.now();
    // While the database is down: each request is refused at once, with a code to retry on.
    const whileDown: Outcome[] = [];
    for (let i = 0; i < 5; i++) whileDown.push(await request());
    // Readiness says so too, while liveness does not ask for a restart.
    const readyWhileDown = await fetch(new URL('/ready', url));
    const healthWhileDown = await fetch(new URL('/health', url));
    await postgres('up', databaseUrl);
    const upAt = Date.now();
    await sleep(1500);
    const outcomes = await running.stop();
    const during = outcomes.filter((o) => o.startedAt >= downAt && o.startedAt + o.ms <= upAt);

    expect(whileDown.map((o) => [o.status, o.code])).toEqual(Array(5).fill([503, 'SERVICE_UNAVAILABLE']));
    expect(Math.max(...whileDown.map((o) => o.ms))).toBeLessThan(2000);
    expect(during.length).toBeGreaterThan(0);
    expectOnlyTypedUnavailable(outcomes);
    expect(outcomes.filter((o) => o.status === 'timeout' || o.status === 'network')).toEqual([]);
    const afterUp = outcomes.filter((o) => o.startedAt > upAt + 300);
    expect(afterUp.length).toBeGreaterThan(10);
    expect(afterUp.filter((o) => o.status !== 200)).toEqual([]);
    for (let i = 0; i < 4; i++) expect((await request()).status).toBe(200);
    expect([readyWhileDown.status, healthWhileDown.status]).toEqual([503, 200]);
    expect((await fetch(new URL('/ready', url))).status).toBe(200);
    expectAlive();
  }, 120_000);
});
