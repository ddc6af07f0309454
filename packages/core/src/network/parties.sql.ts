import { sql } from 'drizzle-orm';
import {
  check,
  date,
  foreignKey,
  index,
  pgTable,
  primaryKey,
  text,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { createdAt, tenantColumns, timestamptz, updatedAt } from '../drizzle/columns';
import { stage } from '../stages/enums';
import { partyKind } from './enums';

/** A person or organisation in the tenant's customer network. */
export const parties = pgTable(
  'parties',
  {
    ...tenantColumns,
    kind: partyKind('kind').notNull(),
    displayName: text('display_name').notNull(),
    email: text('email'),
    phone: text('phone'),
    company: text('company'),
    externalId: text('external_id'),
    tags: text('tags').array().notNull().default(sql`'{}'::text[]`),
    decisionStyle: text('decision_style'),
    birthday: date('birthday'),
    notes: text('notes'),
    // The user (JWT subject) who looks after this party.
    ownerId: text('owner_id'),
    // Current stage, kept beside its history (stage_transitions) so lists can filter on it.
    stage: stage('stage').notNull().default('INITIAL_CONTACT'),
    stageChangedAt: timestamptz('stage_changed_at').notNull().defaultNow(),
    // domain: a DORMANT party returns to the stage it left.
    dormantFromStage: stage('dormant_from_stage'),
    archivedAt: timestamptz('archived_at'),
    mergedIntoId: uuid('merged_into_id'),
    erasedAt: timestamptz('erased_at'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.id] }),
    foreignKey({
      name: 'parties_merged_into_fk',
      columns: [t.tenantId, t.mergedIntoId],
      foreignColumns: [t.tenantId, t.id],
    }),
    // domain: external ids are unique per tenant (partners upsert by them).
    uniqueIndex('parties_external_id_uq')
      .on(t.tenantId, t.externalId)
      .where(sql`${t.externalId} is not null`),
    // Default list order (created, then id): stable keyset cursors.
    index('parties_tenant_created_idx').on(t.tenantId, t.createdAt, t.id),
    index('parties_tenant_name_idx').on(t.tenantId, t.displayName, t.id),
    index('parties_tenant_kind_idx').on(t.tenantId, t.kind),
    index('parties_tenant_stage_idx').on(t.tenantId, t.stage),
    index('parties_tenant_owner_idx').on(t.tenantId, t.ownerId),
    index('parties_tags_idx').using('gin', t.tags),
    check('parties_display_name_length', sql`length(btrim(${t.displayName})) between 1 and 200`),
    check('parties_not_merged_into_self', sql`${t.mergedIntoId} is distinct from ${t.id}`),
  ],
);
