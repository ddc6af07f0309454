import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  foreignKey,
  index,
  pgTable,
  primaryKey,
  text,
  uuid,
} from 'drizzle-orm/pg-core';
import { tenantColumns, timestamptz } from '../drizzle/columns';
import { parties } from '../network/parties.sql';
import { actorKind, stage } from './enums';

/**
 * domain: every move is a row — manual, automatic and the starting stage (from = null). History is
 * never rewritten: a trigger (migration 0001) refuses UPDATE and DELETE on this table.
 */
export const stageTransitions = pgTable(
  'stage_transitions',
  {
    ...tenantColumns,
    partyId: uuid('party_id').notNull(),
    fromStage: stage('from_stage'),
    toStage: stage('to_stage').notNull(),
    at: timestamptz('at').notNull().defaultNow(),
    actorKind: actorKind('actor_kind').notNull(),
    actorId: text('actor_id'),
    reason: text('reason'),
    secondsInPrevious: bigint('seconds_in_previous', { mode: 'number' }),
    automatic: boolean('automatic').notNull().default(false),
    // For automatic moves: the policy rule that fired (e.g. FIRST_SATISFYING_ORDER).
    rule: text('rule'),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.id] }),
    foreignKey({
      name: 'stage_transitions_party_fk',
      columns: [t.tenantId, t.partyId],
      foreignColumns: [parties.tenantId, parties.id],
    }),
    index('stage_transitions_party_at_idx').on(t.tenantId, t.partyId, t.at),
    index('stage_transitions_tenant_at_idx').on(t.tenantId, t.at),
    check('stage_transitions_moves', sql`${t.fromStage} is distinct from ${t.toStage}`),
    check('stage_transitions_rule_when_automatic', sql`not ${t.automatic} or ${t.rule} is not null`),
    check('stage_transitions_seconds', sql`${t.secondsInPrevious} is null or ${t.secondsInPrevious} >= 0`),
  ],
);
