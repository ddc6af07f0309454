import { integer, pgTable, primaryKey, smallint, text } from 'drizzle-orm/pg-core';
import { tenantColumns, timestamptz } from '../drizzle/columns';

/**
 * Fixed-window request counters, shared by every server instance (Lambda containers do not share
 * memory, so a per-process counter would multiply the limit by the number of containers).
 *
 * A window's count is spread over slot rows. A request is counted inside its own transaction
 * (migration 0009), so the row it increments stays locked until the request commits; with one row
 * per window, every request of a tenant would queue behind the one before. Each request takes a
 * slot no other open request holds (SKIP LOCKED), or adds one, so none ever waits: a window has
 * about as many slots as the tenant had requests in flight, and its count is their sum.
 */
export const rateLimitCounters = pgTable(
  'rate_limit_counters',
  {
    tenantId: tenantColumns.tenantId,
    // 'tenant' for the tenant's total, or 'key:<api key id>' / 'user:<subject>' per caller.
    subject: text('subject').notNull(),
    windowStart: timestamptz('window_start').notNull(),
    slot: smallint('slot').notNull().default(0),
    count: integer('count').notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.subject, t.windowStart, t.slot] })],
);
