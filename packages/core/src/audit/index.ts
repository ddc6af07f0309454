import { actorColumns, useRequestId } from '../actor';
import { uuidv7 } from '../ids';
import { useTenantId, useTransaction } from '../drizzle/transaction';
import { auditLog } from './audit.sql';

export { auditLog } from './audit.sql';

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
