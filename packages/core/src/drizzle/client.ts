import { inspect } from 'node:util';
import type { PGlite } from '@electric-sql/pglite';
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';
import type { ExtractTablesWithRelations } from 'drizzle-orm';
import { lockDataDir } from './data-dir-lock';
import { coalesceBegin } from './coalesced-begin';
import type { Pipelining } from './pipeline';
import { preparedName, prepareStatements } from './prepared';

/**
 * What every driver's `execute()` gives back: node-postgres, the Neon Pool and PGlite all answer
 * with `{ rows }`, so one result type serves them all.
 */
export interface RowsResult<Row> {
  rows: Row[];
  rowCount?: number | null;
}

export interface RowsResultHKT extends PgQueryResultHKT {
  type: RowsResult<this['row']>;
}

/**
 * One database type whichever driver is underneath. Without drizzle's relational queries (no
 * schema given to it): with one, drizzle builds a query builder per table for every transaction
 * it opens, 1.3 % of the server's CPU on `pnpm bench` (d), for an API no code used.
 */
export type Database = PgDatabase<RowsResultHKT>;
export type Transaction = PgTransaction<RowsResultHKT, Record<string, never>, ExtractTablesWithRelations<Record<string, never>>>;

/**
 * The driver's connection a transaction runs on (node-postgres' or Neon's pooled client, the
 * PGlite instance): drizzle keeps it on the transaction's session, which it does not type.
 */
export function connectionOf(tx: Transaction): object {
  return (tx as unknown as { session: { client: object } }).session.client;
}
/** Anything queries can run on: the database itself or a transaction (savepoint) in it. */
export type Queryable = Database | Transaction;

export type DriverName = 'pglite' | 'pglite-memory' | 'node-postgres' | 'neon';

export interface DatabaseHandle {
  db: Database;
  driver: DriverName;
  /** Where the data lives, without credentials (safe to print). */
  location: string;
  /** The embedded database itself, for PGlite-only tools (dumps for test templates). */
  pglite?: PGlite;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** Folder of the embedded database when no URL is given. */
  dataDir?: string;
  /** Force the Neon serverless driver for a postgres:// URL (normally chosen by host). */
  driver?: 'node-postgres' | 'neon';
  /** Neon driver only: route WebSocket connections through this proxy (host:port), for tests. */
  neonWsProxy?: string;
  /** Pool size for the server drivers. */
  maxConnections?: number;
  /** In-memory PGlite only: start from this dump (`dumpDataDir()`) instead of an empty cluster. */
  loadDataDir?: Blob;
  /**
   * Told when a pooled connection fails outside a query (the server restarted, an idle connection
   * was terminated); the pool drops that connection and opens a new one on demand. Default: one
   * JSON line on stderr.
   */
  onConnectionError?: (error: Error) => void;
  /** Server drivers: how long a request waits for a connection before it fails (default 5 s). */
  connectTimeoutMs?: number;
  /**
   * Name every statement text so each connection plans it once (prepared.ts); default true.
   * Protocol-level prepared statements pass Neon's pooler (PgBouncer ≥ 1.21); turn this off
   * behind a pooler that does not support them.
   */
  preparedStatements?: boolean;
  /** Log every SQL statement (used by the statement-counting tests). */
  logger?: { logQuery(query: string, params: unknown[]): void };
}

export const defaultDataDir = '.guanxi/data';

/**
 * The one way to open guanxi's database.
 * - no URL: embedded PGlite (real Postgres in WebAssembly) stored in `dataDir`;
 * - `memory://`: in-memory PGlite (tests);
 * - `postgres://` / `postgresql://`: a Postgres server. Neon hosts (and `driver: 'neon'`) use
 *   Neon's serverless driver over WebSockets, which is what production on Lambda runs; any other
 *   server uses node-postgres over plain TCP, which needs no proxy in front of a local or CI server.
 */
export async function createDatabase(
  url?: string | null,
  options: DatabaseOptions = {},
): Promise<DatabaseHandle> {
  const logger = options.logger ?? false;
  if (!url || url.startsWith('memory://') || url.startsWith('file://')) {
    const { PGlite } = await import('@electric-sql/pglite');
    const { pg_trgm } = await import('@electric-sql/pglite/contrib/pg_trgm');
    const { drizzle } = await import('drizzle-orm/pglite');
    const inMemory = url?.startsWith('memory://') ?? false;
    const dataDir = url?.startsWith('file://')
      ? url.slice('file://'.length)
      : (options.dataDir ?? defaultDataDir);
    const lock = inMemory ? null : lockDataDir(dataDir);
    const extensions = { pg_trgm };
    let client: PGlite;
    try {
      client = lock
        ? await PGlite.create(lock.dir, { extensions })
        : await PGlite.create({ extensions, ...(options.loadDataDir ? { loadDataDir: options.loadDataDir } : {}) });
    } catch (error) {
      // A folder that failed to open is not open: the next attempt must not find it locked.
      lock?.release();
      // PGlite's file system throws plain objects (`ErrnoError { errno: 44 }`), which print as
      // "[object Object]" and carry no stack; say which folder failed.
      if (error instanceof Error) throw error;
      const detail = inspect(error, { breakLength: Infinity });
      throw new Error(`Could not open the embedded database in ${dataDir}: ${detail}`, { cause: error });
    }
    const db = drizzle({ client, casing: 'snake_case', logger }) as unknown as Database;
    return {
      db,
      driver: inMemory ? 'pglite-memory' : 'pglite',
      location: inMemory ? 'memory://' : dataDir,
      pglite: client,
      close: async () => {
        await client.close();
        lock?.release();
      },
    };
  }

  if (!/^postgres(ql)?:\/\//.test(url)) {
    throw new Error('DATABASE_URL must be unset, memory://, or a postgres:// URL');
  }
  const parsed = new URL(url);
  const location = `postgres://${parsed.host}${parsed.pathname}`;
  const max = options.maxConnections ?? 10;
  const connectTimeout = options.connectTimeoutMs ?? 5_000;
  const onConnectionError = options.onConnectionError ?? logConnectionError;
  const useNeon = options.driver === 'neon' || (!options.driver && parsed.hostname.endsWith('.neon.tech'));

  if (useNeon) {
    const { Pool, neonConfig } = await import('@neondatabase/serverless');
    const { drizzle } = await import('drizzle-orm/neon-serverless');
    if (typeof WebSocket === 'undefined') {
      // Node 20 has no global WebSocket; Lambda's nodejs22.x does.
      neonConfig.webSocketConstructor = (await import('ws')).default;
    }
    if (options.neonWsProxy) {
      const proxy = options.neonWsProxy;
      neonConfig.wsProxy = (host, port) => `${proxy}/v2?address=${host}:${port}`;
      neonConfig.useSecureWebSocket = false;
      neonConfig.pipelineTLS = false;
      // The pipelined start-up only speaks cleartext passwords; a plain Postgres wants SCRAM.
      neonConfig.pipelineConnect = false;
    }
    const pool = new Pool({ connectionString: url, max, connectionTimeoutMillis: connectTimeout });
    survivePoolErrors(pool, onConnectionError);
    onConnect(pool, options.preparedStatements !== false, null);
    const db = drizzle({ client: pool, casing: 'snake_case', logger }) as unknown as Database;
    return { db, driver: 'neon', location, close: () => pool.end() };
  }

  const { default: pg } = await import('pg');
  const { drizzle } = await import('drizzle-orm/node-postgres');
  const pool = new pg.Pool({ connectionString: url, max, connectionTimeoutMillis: connectTimeout });
  survivePoolErrors(pool, onConnectionError);
  // Both are in node-postgres' module object; `utils` is missing from its type declarations.
  const pipelining = { Result: pg.Result, prepareValue: (pg as unknown as { utils: { prepareValue(value: unknown): unknown } }).utils.prepareValue } as unknown as Pipelining;
  onConnect(pool, options.preparedStatements !== false, pipelining);
  const db = drizzle({ client: pool, casing: 'snake_case', logger }) as unknown as Database;
  return { db, driver: 'node-postgres', location, close: () => pool.end() };
}

interface PooledConnections<T> {
  /** Requests waiting for a connection. */
  readonly waitingCount: number;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'connect', listener: (client: T) => void): unknown;
}

/**
 * node-postgres (and the Neon driver, built on it) report a connection that dies outside a query
 * as an 'error' event: on the pool for an idle connection, on the client itself for one checked
 * out between two statements of a transaction. An 'error' event nobody listens to ends the
 * process, so one terminated backend or a Postgres restart would take the whole server down.
 * With listeners on both, the pool discards the broken connection (the statement that needed it
 * fails, its request gets a 503) and the next request opens a fresh one.
 */
function survivePoolErrors<C extends { on(event: 'error', listener: (error: Error) => void): unknown }>(
  pool: PooledConnections<C>,
  report: (error: Error) => void,
): void {
  pool.on('error', report);
  pool.on('connect', (client) => client.on('error', report));
}

/**
 * Every new connection of the pool names its statements unless told not to (prepared.ts: parsed
 * and planned once per connection), and sends a transaction's `begin` with its first statement
 * (coalesced-begin.ts). The latter wraps the former, so a coalesced text is never named. With
 * `pipelining` (node-postgres; the Neon driver's internals are not relied on) a held admission
 * and the statement after it share a round trip even when that statement has parameters.
 */
function onConnect<C extends { query: (...args: never[]) => unknown }>(
  pool: PooledConnections<C>,
  preparedStatements: boolean,
  pipelining: Pipelining | null,
): void {
  pool.on('connect', (client) => {
    if (preparedStatements) prepareStatements(client);
    // A connection released while others wait goes straight to one of them (pg-pool).
    coalesceBegin(client, () => pool.waitingCount > 0, pipelining && { ...pipelining, nameOf: preparedStatements ? preparedName : undefined });
  });
}

function logConnectionError(error: Error): void {
  const code = (error as { code?: string }).code;
  console.error(JSON.stringify({ level: 'warn', event: 'db-connection-lost', message: error.message, ...(code ? { code } : {}) }));
}
