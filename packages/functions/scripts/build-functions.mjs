// `pnpm build:functions`: bundles each Lambda handler the way SST does (esbuild, ESM, platform
// node, minified, tree-shaken, with the options infra/shared.ts gives SST), into
// dist/lambda/<name>/index.mjs, prints the sizes, then measures a cold start of the API bundle in
// fresh Node processes: import + the answer to one request, with the NODE_OPTIONS and source-map
// setting the functions are deployed with.
//
// The measured request carries no credential, so it is answered (401) before any query, without
// a database round trip (on Lambda that depends on Neon, not on this code). It is not a shortcut
// around the schema: yoga parses the request and validates it against the schema before it
// builds the context that refuses the caller, so the first answer includes building the Pothos
// schema (at import), checking it, creating the yoga server and opening the (lazy) pool — all a
// first authenticated request needs before its first SQL statement.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import externals from '../lambda-externals.json' with { type: 'json' };

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The handlers, as infra/shared.ts names them. */
export const handlerEntries = {
  api: 'src/handlers/api.ts',
  migrate: 'src/handlers/migrate.ts',
  scoring: 'src/handlers/scoring.ts',
  'scoring-tenant': 'src/handlers/scoring-tenant.ts',
  'webhook-worker': 'src/handlers/webhook-worker.ts',
  maintenance: 'src/handlers/maintenance.ts',
};

/**
 * Never on the Lambda path (PGlite and node-postgres are the laptop/CI drivers, `ws` only serves
 * Node 20): left out of every bundle. The same list infra/shared.ts gives SST.
 */
export const lambdaExternals = externals;

/**
 * How the functions run on AWS; keep equal to infra/shared.ts (test/infra.test.ts checks), since
 * both weigh on a cold start: with a linked source map and `--enable-source-maps`, Node reads and
 * parses the whole map (5 MB for the API) before the handler's module runs, ~+100 ms measured.
 */
export const lambdaSourcemap = false;
export const lambdaNodeOptions = '';

/**
 * Function and class names are not kept (SST keeps them unless told): keeping them wraps every
 * function and class of the bundle in a `__name(…)` call that runs at load, 6 % of the bundle and
 * ~25 ms of a cold start (BENCHMARKS.md). Nothing of ours reads a minified name: our errors name
 * themselves (`this.name = 'UserError'`) and are told apart with `instanceof`; stack traces are
 * read against the build's source map.
 */
export const lambdaKeepNames = false;

/**
 * `module` before `main`, as SST does, written out because it matters: it is what picks the
 * patched @whatwg-node/fetch entry (the runtime's own Fetch API; patches/) instead of its Node
 * ponyfill.
 */
export const lambdaMainFields = ['module', 'main'];

export const limits = { apiBundleBytes: 1.5 * 1024 * 1024, coldStartMs: 300 };

/**
 * Mistakes that silently bloat a bundle, refused by name so the fix is obvious: `import { z }`
 * keeps every zod locale (the `z` object holds them all; `import * as z` tree-shakes), an import
 * of a graphql subpath without extension pulls in graphql's CommonJS build beside the ESM one (a
 * second parser, and a second `GraphQLError` class that `instanceof` does not recognise), and an
 * upgrade of @whatwg-node/fetch past its patch brings its Node ponyfill back.
 */
export function bundleProblems(metafile) {
  // What made it into the output: metafile.inputs also lists the files tree-shaken away.
  const inputs = Object.values(metafile.outputs).flatMap((output) =>
    Object.entries(output.inputs).filter(([, input]) => input.bytesInOutput > 0).map(([file]) => file),
  );
  const problems = [];
  const locales = inputs.filter((file) => /\/zod\/v4\/locales\/(?!en\.js$)/.test(file));
  if (locales.length) problems.push(`${locales.length} zod locales bundled: import zod as \`import * as z from 'zod'\``);
  const graphqlCjs = inputs.filter((file) => /\/node_modules\/graphql\/.*\.js$/.test(file));
  if (graphqlCjs.length) problems.push(`graphql's CommonJS build bundled beside its ESM build (${graphqlCjs[0]})`);
  if (inputs.some((file) => file.includes('/node_modules/@whatwg-node/node-fetch/'))) {
    problems.push("the Node fetch ponyfill bundled: the @whatwg-node/fetch patch (patches/) no longer applies");
  }
  return problems;
}

async function bundle() {
  const { build } = await import('esbuild');
  const outdir = join(root, 'dist/lambda');
  rmSync(outdir, { recursive: true, force: true });
  const sizes = {};
  const problems = [];
  for (const [name, entry] of Object.entries(handlerEntries)) {
    const outfile = join(outdir, name, 'index.mjs');
    const result = await build({
      entryPoints: [join(root, entry)],
      outfile,
      bundle: true,
      platform: 'node',
      // SST's default target: esnext unless told otherwise.
      target: 'esnext',
      keepNames: lambdaKeepNames,
      format: 'esm',
      minify: true,
      treeShaking: true,
      // Not deployed (lambdaSourcemap), so not linked: Node never sees it. Kept beside the
      // bundle to read profiles of the probe.
      sourcemap: lambdaSourcemap ? 'linked' : 'external',
      // Prefer packages' ESM builds (better tree-shaking), as SST does.
      mainFields: lambdaMainFields,
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
    for (const problem of bundleProblems(result.metafile)) problems.push(`${name}: ${problem}`);
  }
  return { sizes, problems };
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

// 15 processes: on this shared 2-core machine the same bundle's median moves by ±15 % from one
// minute to the next; more samples steady it (each takes ~0.5 s).
function measure(file, runs = 15) {
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const out = execFileSync(process.execPath, [...nodeFlags, '--input-type=module', '-e', probe, pathToFileURL(file).href], {
      encoding: 'utf8',
      env: { ...process.env, GUANXI_ENV: 'production', NODE_OPTIONS: lambdaNodeOptions },
    });
    samples.push(JSON.parse(out.trim().split('\n').at(-1)));
  }
  return samples;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const started = Date.now();
  const { sizes, problems } = await bundle();
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
      `import ${fmt(cold.importMs)} + first answer ${fmt(cold.firstAnswerMs)} = ${fmt(cold.totalMs)} ` +
      // The spread says how much of the median is other work on the machine (noise only adds).
      `(fastest ${fmt(Math.min(...samples.map((s) => s.totalMs)))}, slowest ${fmt(Math.max(...samples.map((s) => s.totalMs)))}); ` +
      `warm answer ${fmt(cold.warmAnswerMs)}; process uptime at first answer ${fmt(cold.processUptimeMs)}`,
  );
  mkdirSync(join(root, 'dist/lambda'), { recursive: true });
  writeFileSync(join(root, 'dist/lambda/report.json'), JSON.stringify({ sizes, cold, samples }, null, 2));

  if (sizes.api > limits.apiBundleBytes) problems.push(`api bundle ${(sizes.api / 1024).toFixed(0)} KiB > 1.5 MiB`);
  if (cold.totalMs > limits.coldStartMs) problems.push(`cold start ${fmt(cold.totalMs)} > ${limits.coldStartMs} ms`);
  if (cold.status !== 401) problems.push(`the probe request answered ${cold.status}, expected 401`);
  if (problems.length) {
    console.error(`over budget: ${problems.join('; ')}`);
    process.exit(1);
  }
}
