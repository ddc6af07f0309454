import { sql } from 'drizzle-orm';
import {
  char,
  check,
  foreignKey,
  index,
  pgTable,
  primaryKey,
  smallint,
  text,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { createdAt, money, tenantColumns, timestamptz } from '../drizzle/columns';
import { parties } from './parties.sql';

/** A purchase. The raw material of RFM scoring and of the automatic stage policy. */
export const orders = pgTable(
  'orders',
  {
    ...tenantColumns,
    partyId: uuid('party_id').notNull(),
    externalId: text('external_id'),
    amount: money('amount').notNull(),
    currency: char('currency', { length: 3 }).notNull(),
    placedAt: timestamptz('placed_at').notNull().defaultNow(),
    satisfaction: smallint('satisfaction'),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.id] }),
    foreignKey({
      name: 'orders_party_fk',
      columns: [t.tenantId, t.partyId],
      foreignColumns: [parties.tenantId, parties.id],
    }),
    uniqueIndex('orders_external_id_uq')
      .on(t.tenantId, t.externalId)
      .where(sql`${t.externalId} is not null`),
    // Serves the timeline, the stage policy and the RFM aggregates (party's orders by date).
    index('orders_party_placed_idx').on(t.tenantId, t.partyId, t.placedAt),
    index('orders_tenant_placed_idx').on(t.tenantId, t.placedAt),
    check('orders_amount_not_negative', sql`${t.amount} >= 0`),
    check('orders_satisfaction_range', sql`${t.satisfaction} is null or ${t.satisfaction} between 1 and 5`),
  ],
);
