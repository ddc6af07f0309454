/**
 * What each request pays for access control before its own work: the API-key lookup (with the
 * rate-limit count, one transaction) and the tenant-scoped transaction with row-level security.
 *
 *   pnpm tsx bench/request-overhead.ts                       # in-memory PGlite
 *   BENCH_DATABASE_URL=postgres://… pnpm tsx bench/request-overhead.ts
 */
import { createDatabase, migrate, withTenant } from '@guanxi/core';
import { authenticateApiKey, createTenant, defaultRateLimits } from '@guanxi/core/access';
import { createServer } from '@guanxi/graphql';
import { repeat, timeCalls } from './timing';

const iterations = Number(process.env.BENCH_ITERATIONS ?? 500);
const url = process.env.BENCH_DATABASE_URL ?? 'memory://';

async function measure(name: string, fn: () => unknown) {
  const t = await timeCalls(repeat(iterations), fn, 20);
  console.log(`| ${name} | ${t.mean.toFixed(3)} | ${t.p50.toFixed(3)} | ${t.p99.toFixed(3)} |`);
}

const handle = await createDatabase(url);
await migrate(handle);
const { tenant, apiKey } = await createTenant(handle.db, { name: 'Bench tenant' });
const server = createServer({ db: handle.db, config: { env: 'production', rateLimits: defaultRateLimits } });
const unlimited = createServer({ db: handle.db, config: { env: 'production', rateLimits: null } });
const request = (target: typeof server) =>
  target.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `ApiKey ${apiKey}` },
    body: JSON.stringify({ query: '{ __typename }' }),
  });

console.log(`${handle.driver}, ${iterations} iterations, Node ${process.version}\n`);
console.log('| step | mean ms | p50 ms | p99 ms |');
console.log('|---|---|---|---|');
await measure('API key lookup (hash, RLS) + rate-limit count', () => authenticateApiKey(handle.db, apiKey, defaultRateLimits));
await measure('API key lookup only', () => authenticateApiKey(handle.db, apiKey, null));
await measure('tenant transaction (role + app.tenant_id), empty', () => withTenant(handle.db, tenant.id, async () => null));
await measure('whole request `{ __typename }`, rate limited', () => request(server));
await measure('whole request `{ __typename }`, no rate limit', () => request(unlimited));
await handle.close();
