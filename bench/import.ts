/**
 * `guanxi import` throughput: a generated CSV of BENCH_ROWS parties (default 100,000) imported
 * three times into one tenant — all new (CREATED), the same file again (UNCHANGED), and a file
 * with every name changed (UPDATED) — reporting rows/s and the process's peak RSS.
 *
 *   pnpm tsx bench/import.ts                          # in-memory PGlite
 *   BENCH_PGLITE_DIR=1 pnpm tsx bench/import.ts        # file-backed PGlite in a temp folder
 *   BENCH_DATABASE_URL=postgres://… pnpm tsx bench/import.ts
 *   BENCH_ROWS=1000000 pnpm tsx bench/import.ts        # memory should stay flat as rows grow
 */
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDatabase, migrate } from '@guanxi/core';
import { createTenant } from '@guanxi/core/access';
import { runImport, type ImportSummary } from '../packages/functions/src/cli/import';

const rowCount = Number(process.env.BENCH_ROWS ?? 100_000);
const dir = mkdtempSync(join(tmpdir(), 'guanxi-bench-import-'));
const url = process.env.BENCH_DATABASE_URL ?? (process.env.BENCH_PGLITE_DIR ? `file://${join(dir, 'pgdata')}` : 'memory://');

const kinds = ['CUSTOMER', 'PROSPECT', 'PARTNER', 'SOCIAL_CONTACT'];
const surnames = ['Wang', 'Li', 'Zhang', 'Liu', 'Chen', 'Yang', 'Huang', 'Zhao', 'Wu', 'Zhou'];

/** Writes the CSV in slices of 1,000 rows, so the generator does not inflate the RSS measured. */
function generate(path: string, nameSuffix: string): void {
  const fd = openSync(path, 'w');
  writeSync(fd, 'externalId,kind,displayName,email,phone,company,tags,decisionStyle,birthday,notes\n');
  for (let start = 0; start < rowCount; start += 1000) {
    let text = '';
    for (let i = start; i < Math.min(rowCount, start + 1000); i++) {
      const surname = surnames[i % surnames.length]!;
      const month = String((i % 12) + 1).padStart(2, '0');
      const day = String((i % 28) + 1).padStart(2, '0');
      text +=
        `ext-${i},${kinds[i % kinds.length]},"${surname}, Party ${i}${nameSuffix}",p${i}@example.com,` +
        `+86138${String(i).padStart(8, '0')},"Company ${i % 500}, Ltd",vip;city-${i % 30},` +
        `${i % 2 ? 'rational' : 'emotional'},19${50 + (i % 50)}-${month}-${day},` +
        `${i % 10 === 0 ? '"Met at the fair;\nasked for ""samples"""' : ''}\n`;
    }
    writeSync(fd, text);
  }
  closeSync(fd);
}

const rssMb = () => (process.resourceUsage().maxRSS / 1024).toFixed(0);

/**
 * Peak JS heap during a run, sampled every 20 ms. RSS also holds the database when PGlite runs in
 * this process (in memory it *is* the data), so the heap is what shows the importer's own memory
 * staying flat: one chunk of the file and one batch of rows at a time.
 */
function heapWatch() {
  global.gc?.();
  let peak = process.memoryUsage().heapUsed;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().heapUsed);
  }, 20);
  return () => {
    clearInterval(timer);
    return (peak / 1024 / 1024).toFixed(0);
  };
}

async function main() {
  const original = join(dir, 'parties.csv');
  const renamed = join(dir, 'parties-renamed.csv');
  generate(original, '');
  generate(renamed, ' (renamed)');
  const sizeMb = (statSync(original).size / 1024 / 1024).toFixed(1);

  const handle = await createDatabase(url);
  await migrate(handle);
  const { tenant } = await createTenant(handle.db, { name: 'Import bench' });
  console.log(`${handle.driver}, ${rowCount} rows (${sizeMb} MB CSV), Node ${process.version}`);
  console.log(`peak RSS before importing: ${rssMb()} MB\n`);
  console.log('| run | created | updated | unchanged | failed | seconds | rows/s | peak heap MB | peak RSS MB |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  const run = async (name: string, file: string) => {
    const heap = heapWatch();
    const summary: ImportSummary = await runImport(handle.db, { file, tenantId: tenant.id, progress: Boolean(process.stderr.isTTY) });
    const rate = Math.round(summary.rows / summary.seconds);
    console.log(
      `| ${name} | ${summary.created} | ${summary.updated} | ${summary.unchanged} | ${summary.failed} | ${summary.seconds.toFixed(1)} | ${rate} | ${heap()} | ${rssMb()} |`,
    );
  };
  await run('new file (CREATED)', original);
  await run('same file again (UNCHANGED)', original);
  await run('every name changed (UPDATED)', renamed);
  await handle.close();
}

main()
  .finally(() => rmSync(dir, { recursive: true, force: true }))
  .catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
