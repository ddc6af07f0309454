import { sql } from 'drizzle-orm';
import { check, index, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';
import { createdAt, tenantColumns, timestamptz } from '../drizzle/columns';

/** A partner's subscription to events, delivered signed (HMAC-SHA256) with retries. */
export const webhooks = pgTable(
  'webhooks',
  {
    ...tenantColumns,
    url: text('url').notNull(),
    // Event names or wildcards such as `referral.*`.
    events: text('events').array().notNull(),
    description: text('description'),
    // Needed in clear to sign deliveries; shown to the partner once, at creation.
    secret: text('secret').notNull(),
    createdBy: text('created_by'),
    createdAt: createdAt(),
    deletedAt: timestamptz('deleted_at'),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.id] }),
    index('webhooks_tenant_idx').on(t.tenantId, t.createdAt),
    check('webhooks_has_events', sql`cardinality(${t.events}) > 0`),
  ],
);
