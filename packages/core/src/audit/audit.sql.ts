import { index, jsonb, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';
import { tenantColumns, timestamptz } from '../drizzle/columns';
import { actorKind } from '../stages/enums';

/** Who did what, when and from where: one row per mutation. Read by ADMINs only. */
export const auditLog = pgTable(
  'audit_log',
  {
    ...tenantColumns,
    at: timestamptz('at').notNull().defaultNow(),
    actorKind: actorKind('actor_kind').notNull(),
    actorId: text('actor_id'),
    operation: text('operation').notNull(),
    entityType: text('entity_type'),
    entityIds: text('entity_ids').array().notNull(),
    requestId: text('request_id'),
    details: jsonb('details').$type<Record<string, unknown>>(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.id] }),
    index('audit_log_tenant_at_idx').on(t.tenantId, t.at, t.id),
    // auditLog(filter: { entityId }): which rows name an entity.
    index('audit_log_entity_ids_idx').using('gin', t.entityIds),
  ],
);
