import { createServer as createHttpServer } from 'node:http';
import { dirname, join } from 'node:path';
import { createDatabase, migrate } from '@guanxi/core';
import { batchedSink, createServer } from '@guanxi/graphql';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import type { Settings } from '../config';
import { ensureDevCredentials } from '../local/dev-credentials';
import { devJwtSettings, loadOrCreateDevKey } from '../local/dev-jwt';
import { graphiqlExamples } from '../local/graphiql-examples';

/**
 * `pnpm dev` / `guanxi serve`: migrate, seed the demo tenant when the database is empty
 * (development), and serve GraphQL with GraphiQL on http://localhost:PORT/graphql.
 */
export async function serve(settings: Settings, log: (line: string) => void = console.log) {
  const handle = await createDatabase(settings.databaseUrl, { dataDir: settings.dataDir });
  log(`Database: ${handle.driver} (${handle.location})`);
  await migrate(handle);

  const dev = settings.env === 'development' ? await ensureDevCredentials(handle.db, settings.dataDir, log) : null;
  const operatorKey = settings.operatorKey ?? dev?.operatorKey ?? null;
  // Without an identity provider, a development server trusts its own key (`guanxi token`).
  const jwt = settings.jwt ?? (dev ? devJwtSettings(await loadOrCreateDevKey(settings.dataDir)) : null);
  const yoga = createServer({
    db: handle.db,
    config: {
      env: settings.env,
      operatorKey,
      graphiql: settings.graphiql
        ? { ...(dev ? graphiqlExamples(dev.apiKey) : { tabs: [] }), render: renderGraphiQL }
        : false,
      exposeErrors: settings.env === 'development',
      logging: true,
      // A long-running process: a turn's lines in one write (Lambda's handler writes each at once).
      logSink: batchedSink(),
      jwt,
      corsOrigins: settings.corsOrigins,
      // null switches the limiter off; undefined keeps the defaults.
      ...(settings.rateLimits ? {} : { rateLimits: null }),
    },
  });
  const server = createHttpServer(yoga);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.port, resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : settings.port;
  const url = `http://localhost:${port}/graphql`;
  log('');
  log(`guanxi is up: ${url}${settings.graphiql ? '  (open it in a browser for GraphiQL)' : ''}`);
  if (dev) {
    log(`Demo tenant:      ${dev.tenantId}`);
    log(`API key:          Authorization: ApiKey ${dev.apiKey}`);
    log(`Operator key:     Authorization: Operator ${operatorKey}`);
    if (!settings.jwt) log(`JWT for a user:   pnpm guanxi token --tenant ${dev.tenantId} --role MEMBER`);
    log(`(kept in ${join(dirname(settings.dataDir), 'dev-credentials.json')}; development only)`);
  }
  const close = async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await handle.close();
  };
  return { url, port, close, credentials: dev };
}
