/**
 * What a flood of well-formed fake API keys costs the database, with the credential guard and
 * without it: requests answered, SQL statements sent, wall time.
 *
 *   pnpm tsx bench/credential-flood.ts                       # in-memory PGlite
 *   BENCH_DATABASE_URL=postgres://… pnpm tsx bench/credential-flood.ts
 */
import { createDatabase, migrate } from '@guanxi/core';
import { generateApiKeySecret } from '@guanxi/core/access';
import { createServer, type ServerConfig } from '@guanxi/graphql';

const requests = Number(process.env.BENCH_REQUESTS ?? 2000);
const url = process.env.BENCH_DATABASE_URL ?? 'memory://';

let statements = 0;
const handle = await createDatabase(url, { logger: { logQuery: () => void statements++ } });
await migrate(handle);

type Flood = { name: string; key: (i: number) => string; address: (i: number) => string };
const oneKey = generateApiKeySecret();
const floods: Flood[] = [
  { name: 'one fake key, one address', key: () => oneKey, address: () => '203.0.113.1' },
  { name: 'a new fake key each time, one address', key: () => generateApiKeySecret(), address: () => '203.0.113.1' },
  { name: 'a new fake key and address each time', key: () => generateApiKeySecret(), address: (i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` },
];

async function flood(config: Partial<ServerConfig>, { key, address }: Flood) {
  const server = createServer({ db: handle.db, config: { env: 'production', rateLimits: null, ...config } });
  const statuses = new Map<number, number>();
  statements = 0;
  const started = performance.now();
  for (let i = 0; i < requests; i++) {
    const response = await server.fetch(
      'http://localhost/graphql',
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `ApiKey ${key(i)}` },
        body: JSON.stringify({ query: '{ __typename }' }),
      },
      { clientAddress: address(i) },
    );
    await response.arrayBuffer();
    statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
  }
  const seconds = (performance.now() - started) / 1000;
  return { statuses, statements, seconds };
}

console.log(`${handle.driver}, ${requests} requests per flood, one at a time, Node ${process.version}\n`);
console.log('| flood | guard | answers | SQL statements | requests/s | statements/s |');
console.log('|---|---|---|---|---|---|');
for (const each of floods) {
  for (const [label, config] of [['off', { credentialGuard: null }], ['on (defaults)', {}]] as const) {
    const { statuses, statements: sent, seconds } = await flood(config, each);
    const answers = [...statuses].sort().map(([status, n]) => `${n}× ${status}`).join(', ');
    console.log(
      `| ${each.name} | ${label} | ${answers} | ${sent} | ${Math.round(requests / seconds)} | ${Math.round(sent / seconds)} |`,
    );
  }
}
await handle.close();
