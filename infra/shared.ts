import externals from '../packages/functions/lambda-externals.json';

/**
 * What every guanxi function has in common. Handlers are given from the repository root, the way
 * SST resolves them (`<file without .ts>.<export>`).
 */
export const handlers = {
  api: 'packages/functions/src/handlers/api.handler',
  migrate: 'packages/functions/src/handlers/migrate.handler',
  scoring: 'packages/functions/src/handlers/scoring.handler',
  scoringTenant: 'packages/functions/src/handlers/scoring-tenant.handler',
  webhookWorker: 'packages/functions/src/handlers/webhook-worker.handler',
} as const;

/**
 * Node 24, the active LTS (Node 20 left maintenance in April 2026; 22 is in maintenance only). It
 * has a global WebSocket, so the Neon driver needs no `ws`. `.ci/run` runs the whole suite on
 * Node 24 as well as on the Node 20 that laptops may still have.
 */
export const runtime = 'nodejs24.x' as const;

/**
 * Never on the Lambda path, so never in a Lambda bundle: embedded PGlite (several MB of wasm) and
 * node-postgres are the laptop and CI drivers; `ws` is only for Node 20 (nodejs24.x has
 * WebSocket). One list, which build-functions.mjs reads too, so what is measured is what ships.
 */
export const lambdaExternals: string[] = externals;

/**
 * Bundling as build-functions.mjs measures it: ESM, minified, dev-only drivers left out. No
 * `sourcemap: true` and no `--enable-source-maps`: together they make Node read and parse the
 * whole map (5 MB for the API) at every cold start, ~100 ms before the first answer. SST's default
 * uploads the maps for the Console instead of shipping them; a CloudWatch stack trace is read
 * against the map of the same build. Keep in step with `lambdaSourcemap` and `lambdaNodeOptions`
 * in build-functions.mjs (test/infra.test.ts checks), like the esbuild options below.
 */
export const nodejs = {
  format: 'esm' as const,
  minify: true,
  esbuild: {
    external: lambdaExternals,
    // ~25 ms of every cold start (see `lambdaKeepNames` in build-functions.mjs for why it is safe).
    keepNames: false,
    // SST's own order, pinned: `module` first picks the patched @whatwg-node/fetch entry, the
    // runtime's Fetch API, instead of its Node ponyfill (patches/).
    mainFields: ['module', 'main'],
  },
};

/** Environment shared by the functions: production rules everywhere on AWS (dev stages included). */
export const environment = {
  GUANXI_ENV: 'production',
};

/** Log retention: long enough to look back at a month of nightly runs, short enough to cost little. */
export const logging = { retention: '1 month' as const, format: 'json' as const };
