import { auditCursor, countAuditLog, listAuditLog, type AuditFilter, type AuditRow } from '@guanxi/core/audit';
import { ActorKindEnum } from '../access/tenant';
import { builder } from '../builder';
import { keysetConnection } from '../connections';

export const AuditEntry = builder.objectRef<AuditRow>('AuditEntry').implement({
  description: 'One write: who, what, when and from which request.',
  fields: (t) => ({
    id: t.exposeString('id'),
    at: t.field({ type: 'DateTime', resolve: (a) => a.at }),
    actorKind: t.field({ type: ActorKindEnum, resolve: (a) => a.actorKind }),
    actorId: t.exposeString('actorId', { nullable: true, description: 'The user id (JWT subject), API key id or job name.' }),
    operation: t.exposeString('operation', { description: 'The mutation or job, e.g. createParty.' }),
    entityType: t.exposeString('entityType', { nullable: true }),
    entityIds: t.exposeStringList('entityIds', { description: 'Raw ids (not global ids) of the entities written.' }),
    requestId: t.exposeString('requestId', { nullable: true, description: 'The x-request-id of the request (generated when absent).' }),
    details: t.field({ type: 'JSON', nullable: true, resolve: (a) => a.details }),
  }),
});

const AuditLogFilter = builder.inputType('AuditLogFilter', {
  fields: (t) => ({
    operation: t.string(),
    entityId: t.string({ description: 'A raw entity id, as in AuditEntry.entityIds.' }),
    actorId: t.string(),
    since: t.field({ type: 'DateTime', description: 'Inclusive.' }),
    until: t.field({ type: 'DateTime', description: 'Exclusive.' }),
  }),
});

builder.queryField('auditLog', (t) =>
  t.connection(
    {
      type: AuditEntry,
      authScopes: { admin: true },
      description: "The tenant's audit log, newest first.",
      args: { filter: t.arg({ type: AuditLogFilter }) },
      resolve: (_root, args) => {
        const filter: AuditFilter = args.filter ?? {};
        return keysetConnection<AuditRow>(args, auditCursor, (page) => listAuditLog(filter, page), () => countAuditLog(filter));
      },
    },
    {
      name: 'AuditEntryConnection',
      fields: (c) => ({ totalCount: c.int({ resolve: (connection) => connection.totalCount() }) }),
    },
  ),
);
