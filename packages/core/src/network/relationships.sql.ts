import { sql } from 'drizzle-orm';
import {
  check,
  date,
  foreignKey,
  index,
  pgTable,
  primaryKey,
  smallint,
  text,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { createdAt, tenantColumns } from '../drizzle/columns';
import { relationshipType } from './enums';
import { parties } from './parties.sql';

/** A typed edge of the network. Symmetric types are stored once and found from either end. */
export const relationships = pgTable(
  'relationships',
  {
    ...tenantColumns,
    type: relationshipType('type').notNull(),
    fromPartyId: uuid('from_party_id').notNull(),
    toPartyId: uuid('to_party_id').notNull(),
    strength: smallint('strength').notNull().default(3),
    label: text('label'),
    since: date('since'),
    until: date('until'),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.id] }),
    foreignKey({
      name: 'relationships_from_fk',
      columns: [t.tenantId, t.fromPartyId],
      foreignColumns: [parties.tenantId, parties.id],
    }),
    foreignKey({
      name: 'relationships_to_fk',
      columns: [t.tenantId, t.toPartyId],
      foreignColumns: [parties.tenantId, parties.id],
    }),
    // domain: no duplicate edge of the same type between the same pair; a symmetric edge is the
    // same edge whichever end is "from", so its pair is normalised before comparing.
    uniqueIndex('relationships_pair_uq').on(
      t.tenantId,
      t.type,
      sql`(case when ${t.type} in ('FOLLOWS', 'REFERRED') then ${t.fromPartyId} else least(${t.fromPartyId}, ${t.toPartyId}) end)`,
      sql`(case when ${t.type} in ('FOLLOWS', 'REFERRED') then ${t.toPartyId} else greatest(${t.fromPartyId}, ${t.toPartyId}) end)`,
    ),
    index('relationships_from_idx').on(t.tenantId, t.fromPartyId),
    index('relationships_to_idx').on(t.tenantId, t.toPartyId),
    check('relationships_no_self_edge', sql`${t.fromPartyId} <> ${t.toPartyId}`),
    check('relationships_strength_range', sql`${t.strength} between 1 and 5`),
    check('relationships_period', sql`${t.until} is null or ${t.since} is null or ${t.since} <= ${t.until}`),
  ],
);
