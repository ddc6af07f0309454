/** Helpers of the benches that generate a tenant at scale with set-based SQL (scoring, points). */
import { sql } from 'drizzle-orm';
import { withTenant, type Database } from '@guanxi/core';

export const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
export const log = (line: string) => console.log(`${new Date().toISOString().slice(11, 19)}  ${line}`);

/** Runs `fn` and says how long it took, in milliseconds. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

/** Inserts `total` rows in statements of at most `chunk` rows, each its own transaction, logging progress. */
export async function inChunks(
  db: Database,
  tenantId: string,
  label: string,
  total: number,
  insert: (from: number, to: number) => ReturnType<typeof sql>,
  chunk = 1_000_000,
): Promise<void> {
  const started = performance.now();
  for (let from = 1; from <= total; from += chunk) {
    const to = Math.min(total, from + chunk - 1);
    await withTenant(db, tenantId, (tx) => tx.execute(insert(from, to)));
    const rate = (to * 1000) / (performance.now() - started);
    log(`${label}: ${to.toLocaleString('en-US')}/${total.toLocaleString('en-US')} (${Math.round(rate).toLocaleString('en-US')}/s)`);
  }
}
