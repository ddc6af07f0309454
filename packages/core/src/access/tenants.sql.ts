import { sql } from 'drizzle-orm';
import { check, char, integer, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import type { TenantSettings } from './settings';

/** A company using guanxi. Its id is the tenant_id every other table carries. */
export const tenants = pgTable(
  'tenants',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    name: text('name').notNull(),
    // ISO 4217 code; every order and reward of the tenant is in this currency.
    currency: char('currency', { length: 3 }).notNull().default('CNY'),
    settings: jsonb('settings').$type<TenantSettings>().notNull(),
    // Bumped whenever a setting that changes scores or stage moves changes, so every snapshot says
    // which rules produced it.
    ruleVersion: integer('rule_version').notNull().default(1),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [
    check('tenants_name_not_blank', sql`length(btrim(${t.name})) between 1 and 200`),
    check('tenants_currency_iso', sql`${t.currency} ~ '^[A-Z]{3}$'`),
  ],
);
