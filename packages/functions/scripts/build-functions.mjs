// `pnpm build:functions`: bundles each Lambda handler the way SST does (esbuild, ESM, platform
// node, minified, tree-shaken), into dist/lambda/<name>/index.mjs, prints the sizes, then measures
// a cold start of the API bundle in a fresh Node process: import + the answer to one request.
//
// The measured request carries no credential, so it is answered (401) before any query: the
// number is the bundle's own cost (load, parse, build the schema and the yoga server, handle a
// request), without a database round trip, which on Lambda depends on Neon, not on this code.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The handlers, as infra/shared.ts names them. */
export const handlerEntries = {
  api: 'src/handlers/api.ts',
  migrate: 'src/handlers/migrate.ts',
  scoring: 'src/handlers/scoring.ts',
  'scoring-tenant': 'src/handlers/scoring-tenant.ts',
  'webhook-worker': 'src/handlers/webhook-worker.ts',
};

/**
 * Never on the Lambda path (PGlite and node-postgres are the laptop/CI drivers, `ws` only serves
 * Node 20): left out of every bundle. Keep equal to infra/shared.ts (test/infra.test.ts checks).
 */
export const lambdaExternals = [
  '@electric-sql/pglite',
  '@electric-sql/pglite/*',
  'drizzle-orm/pglite',
  'drizzle-orm/pglite/*',
  'pg',
  'pg-native',
  'drizzle-orm/node-postgres',
  'drizzle-orm/node-postgres/*',
  'ws',
  'bufferutil',
  'utf-8-validate',
];

export const limits = { apiBundleBytes: 1.5 * 1024 * 1024, coldStartMs: 300 };

async function bundle() {
  const { build } = await import('esbuild');
  const outdir = join(root, 'dist/lambda');
  rmSync(outdir, { recursive: true, force: true });
  const sizes = {};
  for (const [name, entry] of Object.entries(handlerEntries)) {
    const outfile = join(outdir, name, 'index.mjs');
    const result = await build({
      entryPoints: [join(root, entry)],
      outfile,
      bundle: true,
      platform: 'node',
      target: 'node22',
      format: 'esm',
      minify: true,
      treeShaking: true,
      sourcemap: 'external',
      // Prefer packages' ESM builds (better tree-shaking), as SST does.
      mainFields: ['module', 'main'],
      external: lambdaExternals,
      // CommonJS dependencies inlined into an ESM bundle still call require().
      banner: { js: "import { createRequire as __guanxiCreateRequire } from 'node:module';const require = __guanxiCreateRequire(import.meta.url);" },
      legalComments: 'none',
      metafile: true,
      logLevel: 'warning',
    });
    const bytes = result.metafile.outputs[relative(process.cwd(), outfile)]?.bytes
      ?? Object.entries(result.metafile.outputs).find(([file]) => file.endsWith(`${name}/index.mjs`))[1].bytes;
    sizes[name] = bytes;
    writeFileSync(join(outdir, name, 'meta.json'), JSON.stringify(result.metafile));
  }
  return sizes;
}

/** In a fresh Node process: import the API bundle and answer one request; prints JSON. */
const probe = `
const started = performance.now();
process.env.SST_RESOURCE_DatabaseUrl = JSON.stringify({ value: 'postgres://guanxi@127.0.0.1:1/unused' });
process.env.SST_RESOURCE_App = JSON.stringify({ name: 'guanxi', stage: 'measure' });
const { handler } = await import(process.argv[1]);
const imported = performance.now();
const result = await handler({
  version: '2.0', rawPath: '/graphql', rawQueryString: '', isBase64Encoded: false,
  headers: { 'content-type': 'application/json', host: 'x.lambda-url.eu-central-1.on.aws' },
  body: JSON.stringify({ query: '{ viewer { kind } }' }),
  requestContext: { requestId: 'measure', domainName: 'x.lambda-url.eu-central-1.on.aws', http: { method: 'POST' } },
});
const answered = performance.now();
const second = performance.now();
await handler({
  version: '2.0', rawPath: '/graphql', rawQueryString: '', isBase64Encoded: false,
  headers: { 'content-type': 'application/json' }, body: '{"query":"{ viewer { kind } }"}',
  requestContext: { requestId: 'measure-2', http: { method: 'POST' } },
});
console.log(JSON.stringify({ status: result.statusCode, importMs: imported - started, firstAnswerMs: answered - imported, totalMs: answered - started, warmAnswerMs: performance.now() - second, processUptimeMs: process.uptime() * 1000 }));
`;

// Lambda's nodejs22.x has a global WebSocket (the Neon driver uses it; `ws` is left out of the
// bundle); Node 20 has it behind a flag.
const nodeFlags = Number(process.versions.node.split('.')[0]) < 22 ? ['--experimental-websocket'] : [];

function measure(file, runs = 5) {
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const out = execFileSync(process.execPath, [...nodeFlags, '--input-type=module', '-e', probe, pathToFileURL(file).href], {
      encoding: 'utf8',
      env: { ...process.env, GUANXI_ENV: 'production', NODE_OPTIONS: '' },
    });
    samples.push(JSON.parse(out.trim().split('\n').at(-1)));
  }
  return samples;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const started = Date.now();
  const sizes = await bundle();
  for (const [name, bytes] of Object.entries(sizes)) {
    console.log(`dist/lambda/${name}/index.mjs  ${(bytes / 1024).toFixed(1)} KiB`);
  }
  console.log(`bundled in ${Date.now() - started} ms`);

  const samples = measure(join(root, 'dist/lambda/api/index.mjs'));
  const cold = {
    status: samples[0].status,
    importMs: median(samples.map((s) => s.importMs)),
    firstAnswerMs: median(samples.map((s) => s.firstAnswerMs)),
    totalMs: median(samples.map((s) => s.totalMs)),
    warmAnswerMs: median(samples.map((s) => s.warmAnswerMs)),
    processUptimeMs: median(samples.map((s) => s.processUptimeMs)),
  };
  const fmt = (ms) => `${ms.toFixed(1)} ms`;
  console.log(
    `api cold start (median of ${samples.length} fresh processes, Node ${process.version}, unauthenticated request → ${cold.status}): ` +
      `import ${fmt(cold.importMs)} + first answer ${fmt(cold.firstAnswerMs)} = ${fmt(cold.totalMs)}; ` +
      `warm answer ${fmt(cold.warmAnswerMs)}; process uptime at first answer ${fmt(cold.processUptimeMs)}`,
  );
  mkdirSync(join(root, 'dist/lambda'), { recursive: true });
  writeFileSync(join(root, 'dist/lambda/report.json'), JSON.stringify({ sizes, cold, samples }, null, 2));

  const problems = [];
  if (sizes.api > limits.apiBundleBytes) problems.push(`api bundle ${(sizes.api / 1024).toFixed(0)} KiB > 1.5 MiB`);
  if (cold.totalMs > limits.coldStartMs) problems.push(`cold start ${fmt(cold.totalMs)} > ${limits.coldStartMs} ms`);
  if (cold.status !== 401) problems.push(`the probe request answered ${cold.status}, expected 401`);
  if (problems.length) {
    console.error(`over budget: ${problems.join('; ')}`);
    process.exit(1);
  }
}
