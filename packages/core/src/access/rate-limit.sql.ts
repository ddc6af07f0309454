import { integer, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';
import { tenantColumns, timestamptz } from '../drizzle/columns';

/**
 * Fixed-window request counters, shared by every server instance (Lambda containers do not share
 * memory, so a per-process counter would multiply the limit by the number of containers).
 */
export const rateLimitCounters = pgTable(
  'rate_limit_counters',
  {
    tenantId: tenantColumns.tenantId,
    // 'tenant' for the tenant's total, or 'key:<api key id>' / 'user:<subject>' per caller.
    subject: text('subject').notNull(),
    windowStart: timestamptz('window_start').notNull(),
    count: integer('count').notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.subject, t.windowStart] })],
);
