import { sql } from 'drizzle-orm';
import {
  check,
  foreignKey,
  index,
  pgTable,
  primaryKey,
  smallint,
  text,
  uuid,
} from 'drizzle-orm/pg-core';
import { createdAt, tenantColumns, timestamptz } from '../drizzle/columns';
import { actorKind } from '../stages/enums';
import { interactionKind } from './enums';
import { parties } from './parties.sql';

/** A touchpoint with a party: calls, visits, care, complaints… feeds engagement and follow-ups. */
export const interactions = pgTable(
  'interactions',
  {
    ...tenantColumns,
    partyId: uuid('party_id').notNull(),
    kind: interactionKind('kind').notNull(),
    occurredAt: timestamptz('occurred_at').notNull().defaultNow(),
    satisfaction: smallint('satisfaction'),
    note: text('note'),
    actorKind: actorKind('actor_kind').notNull(),
    actorId: text('actor_id'),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.id] }),
    foreignKey({
      name: 'interactions_party_fk',
      columns: [t.tenantId, t.partyId],
      foreignColumns: [parties.tenantId, parties.id],
    }),
    index('interactions_party_occurred_idx').on(t.tenantId, t.partyId, t.occurredAt),
    check(
      'interactions_satisfaction_range',
      sql`${t.satisfaction} is null or ${t.satisfaction} between 1 and 5`,
    ),
  ],
);
