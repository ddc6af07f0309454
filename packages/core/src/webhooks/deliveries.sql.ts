import { sql } from 'drizzle-orm';
import { check, foreignKey, index, integer, jsonb, pgTable, primaryKey, smallint, text, uuid } from 'drizzle-orm/pg-core';
import { createdAt, tenantColumns, timestamptz } from '../drizzle/columns';
import { webhooks } from './webhooks.sql';

export const webhookDeliveryStatuses = ['PENDING', 'DELIVERED', 'FAILED'] as const;
export type WebhookDeliveryStatus = (typeof webhookDeliveryStatuses)[number];

/**
 * The outbox and the delivery log in one: `emitEvent` writes a row in the same transaction as the
 * change (so a rolled-back change sends nothing and a committed one is never lost), the worker
 * sends it and records each attempt's outcome on it.
 */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    ...tenantColumns,
    webhookId: uuid('webhook_id').notNull(),
    event: text('event').notNull(),
    // The event's `data`; the envelope (id, event, createdAt) is built from the row when sending.
    payload: jsonb('payload').$type<Record<string, unknown>>().notNull(),
    status: text('status').$type<WebhookDeliveryStatus>().notNull().default('PENDING'),
    attempts: smallint('attempts').notNull().default(0),
    // Null once the delivery is final (DELIVERED or FAILED).
    nextAttemptAt: timestamptz('next_attempt_at').defaultNow(),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    createdAt: createdAt(),
    deliveredAt: timestamptz('delivered_at'),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.id] }),
    foreignKey({
      name: 'webhook_deliveries_webhook_fk',
      columns: [t.tenantId, t.webhookId],
      foreignColumns: [webhooks.tenantId, webhooks.id],
    }),
    // The worker's claim: only pending rows, by due time.
    index('webhook_deliveries_due_idx')
      .on(t.tenantId, t.nextAttemptAt)
      .where(sql`${t.status} = 'PENDING'`),
    // The delivery log of one webhook, newest first.
    index('webhook_deliveries_webhook_idx').on(t.tenantId, t.webhookId, t.createdAt, t.id),
    check('webhook_deliveries_status', sql`${t.status} in ('PENDING', 'DELIVERED', 'FAILED')`),
    check('webhook_deliveries_due_when_pending', sql`(${t.status} = 'PENDING') = (${t.nextAttemptAt} is not null)`),
    check('webhook_deliveries_attempts', sql`${t.attempts} >= 0`),
  ],
);
