/**
 * PostGraphile 5 (grafast) serving guanxi's database, the second reference point of bench/http.ts.
 * It is not a dependency of the project: bench/http.ts installs it from the npm registry into a
 * cache folder of its own (POSTGRAPHILE5_DIR) when it runs, so `pnpm install` stays light.
 *
 *   DATABASE_URL=postgres://… PORT=5051 BENCH_TENANT_ID=<uuid> POSTGRAPHILE5_DIR=<folder> tsx bench/postgraphile5-server.ts
 *
 * Like the PostGraphile 4 server: every request runs under the application role guanxi_app with
 * app.tenant_id set (pgSettings), the same pool size as guanxi's, the Amber preset (the one Graphile
 * recommends) with its default inflection, no GraphiQL, no query log; ordering is not limited to
 * indexed columns (every index here leads with tenant_id, which row-level security fixes).
 */
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const url = process.env.DATABASE_URL;
const tenantId = process.env.BENCH_TENANT_ID;
const folder = process.env.POSTGRAPHILE5_DIR;
const port = Number(process.env.PORT ?? 5051);
if (!url || !tenantId || !folder) {
  console.error('postgraphile5-server: set DATABASE_URL, BENCH_TENANT_ID and POSTGRAPHILE5_DIR');
  process.exit(1);
}

// Loaded from the cache folder, not from the project's node_modules.
const resolveThere = createRequire(join(folder, 'package.json'));
const load = async <T>(specifier: string): Promise<T> => (await import(pathToFileURL(resolveThere.resolve(specifier)).href)) as T;

type Any = any; // eslint-disable-line @typescript-eslint/no-explicit-any
const { postgraphile } = await load<Any>('postgraphile');
const { PostGraphileAmberPreset } = await load<Any>('postgraphile/presets/amber');
const { makePgService } = await load<Any>('postgraphile/adaptors/pg');
const { grafserv } = await load<Any>('postgraphile/grafserv/node');
const pg = await load<Any>('pg');
const Pool = pg.Pool ?? pg.default?.Pool;

// The same pool size as guanxi's (createDatabase: 10 connections), so neither side queues less.
const pool = new Pool({ connectionString: url, max: 10 });

// Statements sent to Postgres, read by bench/http.ts at GET /bench/statements around one request.
let statements = 0;
const recent: string[] = [];
const counted = new WeakSet<object>();
pool.on('acquire', (client: Any) => {
  if (counted.has(client)) return;
  counted.add(client);
  const query = client.query.bind(client);
  client.query = (...args: unknown[]) => {
    statements++;
    const first = args[0] as string | { text?: string };
    recent.push((typeof first === 'string' ? first : (first?.text ?? '')).slice(0, 4000));
    if (recent.length > 20) recent.shift();
    return query(...args);
  };
});

const preset = {
  extends: [PostGraphileAmberPreset],
  // Ordering by any column, as PostGraphile 4's ignoreIndexes did.
  disablePlugins: ['PgIndexBehaviorsPlugin'],
  pgServices: [makePgService({ pool, schemas: ['public'] })],
  grafast: {
    context: () => ({ pgSettings: { role: 'guanxi_app', 'app.tenant_id': tenantId } }),
    explain: false,
  },
  grafserv: { graphqlPath: '/graphql', graphiql: false, watch: false },
};

const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
// grafserv's plain request handler (addTo would also attach websockets, which the bench does not use).
const handle = serv.createHandler();
const server = createServer((request, response) => {
  if (request.url === '/bench/statements') {
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ count: statements, recent }));
    return;
  }
  handle(request, response);
});
// Build the schema before answering, so the first measured request does not pay for it.
await pgl.getSchema();
server.listen(port, '127.0.0.1', () => console.log(`postgraphile 5 is up: http://127.0.0.1:${port}/graphql`));
const stop = () => server.close(() => void pgl.release().finally(() => process.exit(0)));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
