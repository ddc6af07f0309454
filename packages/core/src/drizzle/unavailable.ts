import { sql } from 'drizzle-orm';
import type { Database } from './client';

/**
 * Whether an error means "the database cannot be reached right now" rather than "this query is
 * wrong": a refused or dropped connection, a server shutting down or starting up, a pool that
 * gave up waiting for a connection. The API answers those with a 503 the caller may retry; every
 * other error stays an internal error.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  // drizzle wraps a driver's error ("Failed query: …") with the original as its cause.
  for (let current = error, depth = 0; current && depth < 5; depth++) {
    if (typeof current !== 'object') return false;
    const { code, message } = current as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && (unavailableCodes.has(code) || code.startsWith('08'))) return true;
    if (typeof message === 'string' && unavailableMessages.test(message)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

const unavailableCodes = new Set([
  // Postgres: admin_shutdown (pg_terminate_backend, a fast restart), crash_shutdown,
  // cannot_connect_now (starting up or shutting down), too_many_connections. Class 08 (connection
  // exceptions) is matched by its prefix.
  '57P01',
  '57P02',
  '57P03',
  '53300',
  // Node sockets.
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

// What node-postgres and the Neon driver say when a connection ends or never comes, without a code.
const unavailableMessages =
  /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Cannot use a pool after calling end|WebSocket was closed|terminating connection/i;

export interface DatabaseCheck {
  outcome: 'ok' | 'error' | 'timeout';
  ms: number;
}

/**
 * Does the database answer a trivial statement within `timeoutMs`? For readiness probes: a pool
 * waiting for a connection to a server that is down must not hold the probe for its own timeout.
 */
export async function checkDatabase(db: Database, timeoutMs: number): Promise<DatabaseCheck> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
  const answer = db.execute(sql`select 1`).then(
    () => 'ok' as const,
    () => 'error' as const,
  );
  try {
    const outcome = await Promise.race([answer, timeout]);
    return { outcome, ms: Math.round(performance.now() - started) };
  } finally {
    clearTimeout(timer);
  }
}
