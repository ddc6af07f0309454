import { sql } from 'drizzle-orm';
import { numeric, timestamp, uuid } from 'drizzle-orm/pg-core';
import { tenants } from '../access/tenants.sql';

/**
 * Every tenant table starts with these two columns. The key is (tenant_id, id) so that foreign keys
 * can be composite and the database itself refuses a row that points into another tenant; it is
 * also the shape a tenant-sharded Postgres (Citus, distribution column tenant_id) wants.
 */
export const tenantColumns = {
  tenantId: uuid('tenant_id')
    .notNull()
    .references(() => tenants.id, { onDelete: 'cascade' }),
  id: uuid('id').notNull().default(sql`gen_random_uuid()`),
};

/**
 * Timestamps keep milliseconds, the precision of a JavaScript Date, so a value read, put in a
 * cursor and sent back compares equal to the stored one (keyset pagination never skips a row).
 */
export const timestamptz = (name: string) => timestamp(name, { withTimezone: true, precision: 3 });

export const createdAt = () => timestamptz('created_at').notNull().defaultNow();

export const updatedAt = () => timestamptz('updated_at').notNull().defaultNow();

/**
 * Money is exact: numeric, never float. Unconstrained scale keeps the amount as written ("10.50"
 * stays "10.50"); the currency's minor-unit digits are checked in code.
 */
export const money = (name: string) => numeric(name);
