import { sql } from 'drizzle-orm';
import { char, check, foreignKey, index, pgTable, primaryKey, text, uuid } from 'drizzle-orm/pg-core';
import { money, tenantColumns, timestamptz } from '../drizzle/columns';
import { actorKind } from '../stages/enums';
import { orders } from './orders.sql';

/**
 * A refund of part or all of an order (domain: refunds). A row of its own: the order keeps its
 * amount, and its net amount is the amount less its refunds, which never exceed it. Scoring as of
 * a day counts the refunds made on or before it (by `created_at`). A refund names its order only:
 * a merge moves the order, and its refunds with it.
 */
export const orderRefunds = pgTable(
  'order_refunds',
  {
    ...tenantColumns,
    orderId: uuid('order_id').notNull(),
    amount: money('amount').notNull(),
    // The order's (the tenant's) currency, as orders record it.
    currency: char('currency', { length: 3 }).notNull(),
    reason: text('reason'),
    actorKind: actorKind('actor_kind').notNull(),
    actorId: text('actor_id'),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.id] }),
    foreignKey({ name: 'order_refunds_order_fk', columns: [t.tenantId, t.orderId], foreignColumns: [orders.tenantId, orders.id] }),
    index('order_refunds_order_idx').on(t.tenantId, t.orderId),
    // Scoring reads a tenant's refunds up to a day.
    index('order_refunds_tenant_created_idx').on(t.tenantId, t.createdAt),
    check('order_refunds_amount_positive', sql`${t.amount} > 0`),
  ],
);
