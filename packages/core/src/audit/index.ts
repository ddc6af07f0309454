import { and, arrayContains, count, eq, gte, inArray, lt, sql, type SQL } from 'drizzle-orm';
import { UserError } from '../errors';
import { decodeCursor, encodeCursor, type PageRequest } from '../pagination';
import { isUuid } from '../ids';
import { actorColumns, useRequestId } from '../actor';
import { uuidv7 } from '../ids';
import { useTenantId, useTransaction } from '../drizzle/transaction';
import { auditLog } from './audit.sql';

export { auditLog } from './audit.sql';
export { pruneAuditLog } from './retention';

/** Records a write: who (the actor), what (operation and entities), when, and from which request. */
export async function recordAudit(entry: {
  operation: string;
  entityType: string;
  entityIds: string[];
  details?: Record<string, unknown>;
}): Promise<void> {
  await useTransaction()
    .insert(auditLog)
    .values({
      tenantId: useTenantId(),
      id: uuidv7(),
      ...actorColumns(),
      operation: entry.operation,
      entityType: entry.entityType,
      entityIds: entry.entityIds,
      requestId: useRequestId(),
      details: entry.details ?? null,
    });
}

export type AuditRow = typeof auditLog.$inferSelect;

export interface AuditFilter {
  operation?: string | null;
  /** Rows naming this entity (party, key, webhook…) among their entity ids. */
  entityId?: string | null;
  actorId?: string | null;
  since?: Date | null;
  until?: Date | null;
}

function auditConditions(filter: AuditFilter): SQL[] {
  const conditions: SQL[] = [eq(auditLog.tenantId, useTenantId())];
  if (filter.operation) conditions.push(eq(auditLog.operation, filter.operation));
  // Served by the GIN index on entity_ids.
  if (filter.entityId) conditions.push(arrayContains(auditLog.entityIds, [filter.entityId]));
  if (filter.actorId) conditions.push(eq(auditLog.actorId, filter.actorId));
  if (filter.since) conditions.push(gte(auditLog.at, filter.since));
  if (filter.until) conditions.push(lt(auditLog.at, filter.until));
  return conditions;
}

export function auditCursor(row: AuditRow): string {
  return encodeCursor(['audit', row.at.toISOString(), row.id]);
}

/** One page of the audit log, newest first, keyset-paginated on (at, id). */
export async function listAuditLog(filter: AuditFilter, page: PageRequest): Promise<AuditRow[]> {
  const conditions = auditConditions(filter);
  const boundary = (cursor: string, side: 'after' | 'before') => {
    const [kind, at, id] = decodeCursor(cursor, 3);
    if (kind !== 'audit' || typeof at !== 'string' || typeof id !== 'string' || !isUuid(id)) {
      throw UserError.of('VALIDATION', 'The cursor belongs to another list', []);
    }
    const beyond = side === 'after' ? sql`<` : sql`>`;
    return sql`(${auditLog.at}, ${auditLog.id}) ${beyond} (${at}::timestamptz, ${id}::uuid)`;
  };
  if (page.after) conditions.push(boundary(page.after, 'after'));
  if (page.before) conditions.push(boundary(page.before, 'before'));
  const direction = page.inverted ? sql`asc` : sql`desc`;
  return useTransaction()
    .select()
    .from(auditLog)
    .where(and(...conditions))
    .orderBy(sql`${auditLog.at} ${direction}`, sql`${auditLog.id} ${direction}`)
    .limit(page.limit);
}

/** The current tenant's entries with these ids (any order; unknown ids are left out). */
export async function findAuditEntries(ids: readonly string[]): Promise<AuditRow[]> {
  if (ids.length === 0) return [];
  return useTransaction()
    .select()
    .from(auditLog)
    .where(and(eq(auditLog.tenantId, useTenantId()), inArray(auditLog.id, [...ids])));
}

export async function countAuditLog(filter: AuditFilter): Promise<number> {
  const [row] = await useTransaction()
    .select({ n: count() })
    .from(auditLog)
    .where(and(...auditConditions(filter)));
  return row?.n ?? 0;
}
