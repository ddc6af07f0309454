import { auditCursor, countAuditLog, findAuditEntries, listAuditLog, type AuditFilter, type AuditRow } from '@guanxi/core/audit';
import { Actor } from '../access/actor';
import { ActorKindEnum } from '../access/tenant';
import { builder } from '../builder';
import { keysetConnection } from '../connections';

export const AuditEntry = builder.loadableNode('AuditEntry', {
  description:
    'One write: who, what, when and from which request. Written in the same transaction as the change; kept for the tenant\'s auditLogRetentionDays (forever by default). ADMIN only.',
  id: { resolve: (entry: AuditRow) => entry.id },
  load: (ids: string[]) => findAuditEntries(ids),
  sort: (entry) => entry.id,
  // The same right as the auditLog list.
  authScopes: { admin: true },
  fields: (t) => ({
    at: t.field({ type: 'DateTime', description: 'When the write happened.', resolve: (a) => a.at }),
    actor: t.field({
      type: Actor,
      description: 'Who made the write (actorKind and actorId, with the API key as a global id).',
      resolve: (a) => ({ kind: a.actorKind, id: a.actorId }),
    }),
    actorKind: t.field({
      type: ActorKindEnum,
      description: 'USER, API_KEY or SYSTEM (a job); the same as actor.kind.',
      resolve: (a) => a.actorKind,
    }),
    actorId: t.exposeString('actorId', {
      nullable: true,
      description: 'The raw user id (JWT subject), API key id (not a global id) or job name, as auditLog(filter: { actorId }) takes it.',
    }),
    operation: t.exposeString('operation', { description: 'The mutation or job, e.g. createParty.' }),
    entityType: t.exposeString('entityType', {
      nullable: true,
      description: 'The GraphQL type of the entities written, e.g. Party, ApiKey or Tenant.',
    }),
    entityIds: t.exposeStringList('entityIds', { description: 'Raw ids (not global ids) of the entities written.' }),
    requestId: t.exposeString('requestId', { nullable: true, description: 'The x-request-id of the request (generated when absent).' }),
    details: t.field({
      type: 'JSON',
      nullable: true,
      description: 'What the operation recorded about the change (e.g. the fields changed, a key\'s name and scopes); never a secret. Its shape depends on the operation.',
      resolve: (a) => a.details,
    }),
  }),
});

const AuditLogFilter = builder.inputType('AuditLogFilter', {
  description: 'Which entries to list; every given condition must hold.',
  fields: (t) => ({
    operation: t.string({ description: 'Only this operation, exactly as AuditEntry.operation writes it (e.g. createParty).' }),
    entityId: t.string({ description: 'A raw entity id, as in AuditEntry.entityIds.' }),
    actorId: t.string({ description: 'Only writes by this raw actor id (JWT subject, API key id or job name), as in AuditEntry.actorId.' }),
    since: t.field({ type: 'DateTime', description: 'Only writes at or after this instant (inclusive).' }),
    until: t.field({ type: 'DateTime', description: 'Only writes before this instant (exclusive).' }),
  }),
});

builder.queryField('auditLog', (t) =>
  t.connection(
    {
      type: AuditEntry,
      authScopes: { admin: true },
      description: "The tenant's audit log, newest first (ADMIN only).",
      args: { filter: t.arg({ type: AuditLogFilter, description: 'Narrows the log; leave it out for every entry.' }) },
      resolve: (_root, args) => {
        const filter: AuditFilter = args.filter ?? {};
        return keysetConnection<AuditRow>(args, auditCursor, (page) => listAuditLog(filter, page), () => countAuditLog(filter));
      },
    },
    builder.connectionObject(
      { type: AuditEntry, name: 'AuditEntryConnection', description: 'A page of audit entries, newest first.' },
      { description: 'One audit entry and its cursor.' },
    ),
  ),
);
