/**
 * PostGraphile 4 serving guanxi's database, the reference point of bench/http.ts (which starts
 * this script as a process of its own: PostGraphile 4 brings graphql 15, ours is 16).
 *
 *   DATABASE_URL=postgres://… PORT=5050 BENCH_TENANT_ID=<uuid> tsx bench/postgraphile-server.ts
 *
 * Every request runs as guanxi does: one transaction under the application role guanxi_app with
 * app.tenant_id set, so PostGraphile pays the same row-level security cost. The options are the
 * ones Graphile recommends for production (no query log, no GraphiQL, RBAC honoured) except
 * ignoreIndexes (below), with the default inflection (no simplify-inflector plugin).
 */
import { createServer } from 'node:http';
import { postgraphile } from 'postgraphile';

const url = process.env.DATABASE_URL;
const tenantId = process.env.BENCH_TENANT_ID;
const port = Number(process.env.PORT ?? 5050);
if (!url || !tenantId) {
  console.error('postgraphile-server: set DATABASE_URL and BENCH_TENANT_ID');
  process.exit(1);
}

const handler = postgraphile(
  // The same pool size as guanxi's (createDatabase: 10 connections), so neither side queues less.
  { connectionString: url, max: 10 },
  'public',
  {
    pgSettings: { role: 'guanxi_app', 'app.tenant_id': tenantId },
    disableQueryLog: true,
    dynamicJson: true,
    setofFunctionsContainNulls: false,
    ignoreRBAC: false,
    // PostGraphile's default. Its index check (false) only offers ordering by a column that leads
    // an index, and every index here leads with tenant_id (row-level security fixes it), so it would
    // offer no order at all; the orders used are index-backed all the same.
    ignoreIndexes: true,
    legacyRelations: 'omit',
    extendedErrors: ['errcode'],
    graphiql: false,
    enableQueryBatching: false,
    watchPg: false,
    retryOnInitFail: false,
  },
);

// Statements sent to Postgres, read by bench/http.ts at GET /bench/statements around one request
// (as guanxi's logging driver shows ours): a counter and the last few texts cost nothing measurable.
let statements = 0;
const recent: string[] = [];
const counted = new WeakSet<object>();
handler.pgPool.on('acquire', (client) => {
  if (counted.has(client)) return;
  counted.add(client);
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  client.query = ((...args: unknown[]) => {
    statements++;
    const first = args[0] as string | { text?: string };
    recent.push((typeof first === 'string' ? first : (first?.text ?? '')).slice(0, 4000));
    if (recent.length > 20) recent.shift();
    return query(...args);
  }) as typeof client.query;
});

const server = createServer((request, response) => {
  if (request.url === '/bench/statements') {
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ count: statements, recent }));
    return;
  }
  void handler(request, response);
});
server.listen(port, '127.0.0.1', () => console.log(`postgraphile is up: http://127.0.0.1:${port}/graphql`));
const stop = () => server.close(() => process.exit(0));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
