import { sql } from 'drizzle-orm';
import { char, check, index, pgTable, primaryKey, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { createdAt, tenantColumns, timestamptz } from '../drizzle/columns';

/**
 * Partner credentials. Only a SHA-256 of the secret is kept (the secret is high-entropy, so a
 * slow hash buys nothing) plus a short prefix to tell keys apart in lists.
 */
export const apiKeys = pgTable(
  'api_keys',
  {
    ...tenantColumns,
    name: text('name').notNull(),
    displayPrefix: text('display_prefix').notNull(),
    secretHash: char('secret_hash', { length: 64 }).notNull(),
    scopes: text('scopes').array().notNull(),
    createdBy: text('created_by'),
    createdAt: createdAt(),
    expiresAt: timestamptz('expires_at'),
    revokedAt: timestamptz('revoked_at'),
    lastUsedAt: timestamptz('last_used_at'),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.id] }),
    // The lookup on every request: by hash, across tenants (the key says which tenant it is).
    uniqueIndex('api_keys_secret_hash_uq').on(t.secretHash),
    index('api_keys_tenant_created_idx').on(t.tenantId, t.createdAt),
    check('api_keys_name_length', sql`length(btrim(${t.name})) between 1 and 100`),
  ],
);
