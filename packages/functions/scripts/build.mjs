// Bundles the entry points with esbuild (ESM, Node 20+). Dependencies stay external here: the
// Lambda bundles (with everything inlined, minified and tree-shaken) are `build:functions`.
import { build } from 'esbuild';

const started = Date.now();
const result = await build({
  entryPoints: { guanxi: 'src/cli.ts' },
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  packages: 'external',
  sourcemap: true,
  metafile: true,
  logLevel: 'warning',
});
for (const [file, { bytes }] of Object.entries(result.metafile.outputs)) {
  if (!file.endsWith('.map')) console.log(`${file}  ${(bytes / 1024).toFixed(1)} KiB`);
}
console.log(`built in ${Date.now() - started} ms`);
