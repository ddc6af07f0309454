import { and, eq, isNull, sql } from 'drizzle-orm';
import { z } from 'zod';
import { apiScopes, withActor, type Actor, type ApiScope } from '../actor';
import type { Database } from '../drizzle/client';
import { useTenantId, useTransaction, withTenant } from '../drizzle/transaction';
import { recordAudit } from '../audit';
import { zodToUserError } from '../validation';
import { uuidv7 } from '../ids';
import {
  displayPrefix,
  generateApiKeySecret,
  hashApiKeySecret,
  isWellFormedApiKey,
} from './api-key-format';
import { apiKeys } from './api-keys.sql';
import { defaultTenantSettings } from './settings';
import { tenants } from './tenants.sql';

export { apiKeys } from './api-keys.sql';
export { tenants } from './tenants.sql';
export { defaultTenantSettings, type TenantSettings } from './settings';
export { isWellFormedApiKey } from './api-key-format';

export type TenantRow = typeof tenants.$inferSelect;
export type ApiKeyRow = typeof apiKeys.$inferSelect;

const createTenantInput = z.object({
  name: z.string().trim().min(1, 'Name must not be blank').max(200, 'Name is at most 200 characters'),
  currency: z
    .string()
    .regex(/^[A-Z]{3}$/, 'Currency is an ISO 4217 code such as CNY or EUR')
    .default('CNY'),
});

/**
 * Creates a tenant and its first API key, which holds every scope (domain: a key for a new tenant
 * from `tenant create`/`createTenant` has all). Returns the key's secret: it is never shown again.
 */
export async function createTenant(
  db: Database,
  input: { name: string; currency?: string | null },
): Promise<{ tenant: TenantRow; apiKey: string }> {
  const parsed = createTenantInput.safeParse({ ...input, currency: input.currency ?? undefined });
  if (!parsed.success) throw zodToUserError(parsed.error);
  const tenantId = uuidv7();
  const actor: Actor = { kind: 'SYSTEM', tenantId, name: 'operator' };
  return withActor(actor, () =>
    withTenant(db, tenantId, async (tx) => {
      const [tenant] = await tx
        .insert(tenants)
        .values({
          id: tenantId,
          name: parsed.data.name,
          currency: parsed.data.currency,
          settings: defaultTenantSettings(),
        })
        .returning();
      const { secret } = await issueApiKey({ name: 'Admin key', scopes: [...apiScopes] });
      await recordAudit({ operation: 'createTenant', entityType: 'Tenant', entityIds: [tenantId] });
      return { tenant: tenant!, apiKey: secret };
    }),
  );
}

/** Inserts a new key for the current tenant; the secret is returned once and only hashed at rest. */
export async function issueApiKey(input: {
  name: string;
  scopes: ApiScope[];
  expiresAt?: Date | null;
  createdBy?: string | null;
}): Promise<{ apiKey: ApiKeyRow; secret: string }> {
  const secret = generateApiKeySecret();
  const [apiKey] = await useTransaction()
    .insert(apiKeys)
    .values({
      tenantId: useTenantId(),
      id: uuidv7(),
      name: input.name,
      displayPrefix: displayPrefix(secret),
      secretHash: hashApiKeySecret(secret),
      scopes: input.scopes,
      expiresAt: input.expiresAt ?? null,
      createdBy: input.createdBy ?? null,
    })
    .returning();
  return { apiKey: apiKey!, secret };
}

// `last_used_at` is refreshed at most this often, so a busy key does not write on every request.
const lastUsedResolutionMs = 5 * 60 * 1000;

/**
 * The actor behind an API key secret, or null for a malformed, unknown, revoked or expired key.
 * The lookup is by hash and crosses tenants by design: the key is what says which tenant it is.
 */
export async function authenticateApiKey(db: Database, secret: string): Promise<Actor | null> {
  if (!isWellFormedApiKey(secret)) return null;
  const [key] = await db
    .select({
      id: apiKeys.id,
      tenantId: apiKeys.tenantId,
      scopes: apiKeys.scopes,
      expiresAt: apiKeys.expiresAt,
      lastUsedAt: apiKeys.lastUsedAt,
    })
    .from(apiKeys)
    .where(and(eq(apiKeys.secretHash, hashApiKeySecret(secret)), isNull(apiKeys.revokedAt)))
    .limit(1);
  if (!key) return null;
  const now = Date.now();
  if (key.expiresAt && key.expiresAt.getTime() <= now) return null;
  if (!key.lastUsedAt || now - key.lastUsedAt.getTime() > lastUsedResolutionMs) {
    await db
      .update(apiKeys)
      .set({ lastUsedAt: sql`now()` })
      .where(and(eq(apiKeys.tenantId, key.tenantId), eq(apiKeys.id, key.id)));
  }
  return {
    kind: 'API_KEY',
    tenantId: key.tenantId,
    keyId: key.id,
    scopes: key.scopes.filter((s): s is ApiScope => (apiScopes as readonly string[]).includes(s)),
  };
}

/** The current tenant's row. */
export async function currentTenant(): Promise<TenantRow> {
  const [tenant] = await useTransaction()
    .select()
    .from(tenants)
    .where(eq(tenants.id, useTenantId()));
  if (!tenant) throw new Error('The current tenant does not exist');
  return tenant;
}

export async function findTenant(db: Database, id: string): Promise<TenantRow | null> {
  const [tenant] = await db.select().from(tenants).where(eq(tenants.id, id));
  return tenant ?? null;
}

export async function listTenants(db: Database): Promise<TenantRow[]> {
  return db.select().from(tenants).orderBy(tenants.createdAt, tenants.id);
}
