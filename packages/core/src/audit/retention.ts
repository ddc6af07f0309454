import { sql } from 'drizzle-orm';
import { useTransaction } from '../drizzle/transaction';

/**
 * Deletes up to `limit` of the current tenant's audit rows older than `cutoff` and than the
 * tenant's `auditLogRetentionDays` (0: kept forever, nothing goes). The database decides
 * (guanxi_prune_audit_log, migration 0008): the log is append-only for the application, so only
 * the maintenance job's transaction (app.maintenance on) can call it, and never beyond the
 * tenant's own setting, whatever `cutoff` says.
 */
export async function pruneAuditLog(cutoff: Date, limit: number): Promise<number> {
  const { rows } = await useTransaction().execute<{ n: number }>(
    sql`select guanxi_prune_audit_log(${cutoff.toISOString()}::timestamptz, ${limit}::integer) as n`,
  );
  return Number(rows[0]?.n ?? 0);
}
