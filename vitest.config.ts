import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { defineConfig } from 'vitest/config';

// graphql 16 ships CommonJS (main) and ESM (module) copies. Node loads the CommonJS one for
// graphql-yoga; Vite would hand our sources the ESM one, and two copies of graphql break
// `instanceof GraphQLError`. Pin every import of graphql to the copy Node itself loads.
const graphqlEntry = createRequire(new URL('./packages/graphql/package.json', import.meta.url)).resolve(
  'graphql',
);

/** The entry of @whatwg-node/fetch a bundler takes (`module`: the patched runtime Fetch API). */
function bundledFetchEntry(): string {
  const fromYoga = createRequire(createRequire(new URL('./packages/graphql/package.json', import.meta.url)).resolve('graphql-yoga'));
  const manifest = fromYoga.resolve('@whatwg-node/fetch/package.json');
  return join(dirname(manifest), (fromYoga(manifest) as { module: string }).module);
}

// The suite runs on in-memory PGlite; with TEST_DATABASE_URL set it also runs, unchanged, on that
// Postgres (CI starts one). Each test makes its own tenant, so files never see each other's rows.
const postgresUrl = process.env.TEST_DATABASE_URL;

const shared = {
  include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
  testTimeout: 30_000,
  hookTimeout: 60_000,
};

export default defineConfig({
  resolve: { alias: [{ find: /^graphql$/, replacement: graphqlEntry }] },
  test: {
    projects: [
      {
        extends: true as const,
        test: {
          ...shared,
          name: 'pglite',
          globalSetup: ['./test/global-setup.ts'],
          env: { GUANXI_TEST_DATABASE: 'pglite' },
        },
      },
      {
        // The Lambda bundle's Fetch API: yoga and @whatwg-node/server run through Vite here, and
        // their @whatwg-node/fetch is the entry the bundlers take (`module`: the runtime's own Fetch
        // API; patches/), where every other project gets Node's ponyfill (`main`). The handler
        // tests, once more on what ships.
        extends: true as const,
        resolve: { alias: [{ find: /^@whatwg-node\/fetch$/, replacement: bundledFetchEntry() }] },
        test: {
          ...shared,
          include: ['packages/functions/src/handlers/*.test.ts'],
          name: 'lambda-fetch',
          globalSetup: ['./test/global-setup.ts'],
          env: { GUANXI_TEST_DATABASE: 'pglite', GUANXI_TEST_FETCH_API: 'runtime' },
          server: { deps: { inline: ['graphql-yoga', /@whatwg-node\//] } },
        },
      },
      ...(postgresUrl
        ? [
            {
              extends: true as const,
              test: {
                ...shared,
                name: 'postgres',
                globalSetup: ['./test/global-setup.ts'],
                env: { GUANXI_TEST_DATABASE: postgresUrl },
              },
            },
          ]
        : []),
    ],
  },
});
