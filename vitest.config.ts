import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

// graphql 16 ships CommonJS (main) and ESM (module) copies. Node loads the CommonJS one for
// graphql-yoga; Vite would hand our sources the ESM one, and two copies of graphql break
// `instanceof GraphQLError`. Pin every import of graphql to the copy Node itself loads.
const graphqlEntry = createRequire(new URL('./packages/graphql/package.json', import.meta.url)).resolve(
  'graphql',
);

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
