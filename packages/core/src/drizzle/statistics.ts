import { sql } from 'drizzle-orm';
import type { Database } from './client';

/**
 * Planner statistics after a bulk write. A scoring run or an import can write a large share of a
 * table in one go; until autovacuum next samples it, the planner plans with the old numbers (for a
 * table it has never sampled, almost none), and a page query that should scan an index by the
 * thousand hash-joins and sorts the whole tenant instead (measured on the bench tenant: 8.0 ms
 * against 0.23 ms per page). So the writer samples what it just wrote, right after committing.
 *
 * The threshold is autovacuum's own default for ANALYZE (50 rows plus 10 % of the table), counted
 * on this write alone: a small tenant's nightly run on a large shared table samples nothing, a
 * tenant's first scoring or a big import always does.
 */
export const analyzeThreshold = { rows: 50, fraction: 0.1 } as const;

/** Whether `written` rows make the statistics of a table of `estimatedRows` stale (-1: never sampled). */
export function statisticsAreStale(written: number, estimatedRows: number): boolean {
  if (written <= 0) return false;
  if (estimatedRows < 0) return true;
  return written >= analyzeThreshold.rows + analyzeThreshold.fraction * estimatedRows;
}

/**
 * Runs ANALYZE on the tables whose statistics `written` (rows per table name) made stale, and
 * returns their names. Runs as the database login (the tables' owner: the application role may
 * not analyze them), outside any tenant transaction, after the write committed. Never throws:
 * the write it follows has committed and succeeded; a failure here only leaves the planner to
 * autovacuum, and is logged.
 */
export async function refreshStatistics(db: Database, written: Readonly<Record<string, number>>): Promise<string[]> {
  const names = Object.keys(written).filter((name) => written[name]! > 0);
  if (names.length === 0) return [];
  try {
    const { rows } = await db.execute<{ name: string; estimated: number | string }>(sql`
      select c.relname as name, c.reltuples as estimated
      from pg_class c
      where c.oid = any(array(select to_regclass(n) from unnest(${sql.param(names)}::text[]) as n))`);
    const stale = rows
      .filter((row) => statisticsAreStale(written[row.name] ?? 0, Number(row.estimated)))
      .map((row) => row.name)
      .sort();
    if (stale.length === 0) return [];
    await db.execute(sql`analyze ${sql.join(stale.map((name) => sql.identifier(name)), sql`, `)}`);
    return stale;
  } catch (error) {
    console.warn(
      JSON.stringify({
        level: 'warn',
        msg: 'statistics-refresh-failed',
        tables: names,
        error: error instanceof Error ? error.message : String(error),
      }),
    );
    return [];
  }
}
