import { and, desc, eq, inArray, sql } from 'drizzle-orm';
import * as z from 'zod';
import { actorColumns, apiScopes, withActor, type Actor, type ApiScope } from '../actor';
import type { Database } from '../drizzle/client';
import { asApplication, useTenantId, useTransaction, withTenant } from '../drizzle/transaction';
import { recordAudit } from '../audit';
import { UserError } from '../errors';
import { lazySchema, parseInput, zodToUserError } from '../validation';
import { uuidv7 } from '../ids';
import { isCurrency } from '../money';
import { displayPrefix, generateApiKeySecret, hashApiKeySecret } from './api-key-format';
import { apiKeys } from './api-keys.sql';
import { defaultTenantSettings } from './settings';
import { tenants } from './tenants.sql';

export { apiKeys } from './api-keys.sql';
export { tenants } from './tenants.sql';
export { defaultTenantSettings, membershipSettings, pointsSettings, type MembershipSettings, type PointsSettings, type TenantSettings, type TierBenefit } from './settings';
export { generateApiKeySecret, isWellFormedApiKey } from './api-key-format';
export * from './jwt';
export * from './rate-limit';
export * from './admission';
export * from './credential-guard';
export { rateLimitCounters } from './rate-limit.sql';

export type TenantRow = typeof tenants.$inferSelect;
export type ApiKeyRow = typeof apiKeys.$inferSelect;

const createTenantInput = lazySchema(() =>
  z.object({
    name: z.string().trim().min(1, 'Name must not be blank').max(200, 'Name is at most 200 characters'),
    currency: z
      .string()
      .refine(isCurrency, 'Currency is an ISO 4217 code such as CNY or EUR')
      .default('CNY'),
  }),
);

/**
 * Creates a tenant and its first API key, which holds every scope (domain: a key for a new tenant
 * from `tenant create`/`createTenant` has all). Returns the key's secret: it is never shown again.
 */
export async function createTenant(
  db: Database,
  input: { name: string; currency?: string | null },
): Promise<{ tenant: TenantRow; apiKey: string }> {
  const parsed = createTenantInput().safeParse({ ...input, currency: input.currency ?? undefined });
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

/** The current tenant's row. */
export async function currentTenant(): Promise<TenantRow> {
  const [tenant] = await useTransaction()
    .select()
    .from(tenants)
    .where(eq(tenants.id, useTenantId()));
  if (!tenant) throw new Error('The current tenant does not exist');
  return tenant;
}

/**
 * Every tenant, for operator tooling and the nightly job: the one cross-tenant read, opened
 * explicitly (app.list_tenants) and limited to the tenants table.
 */
export async function listTenants(db: Database): Promise<TenantRow[]> {
  return asApplication(db, { 'app.list_tenants': 'on' }, (tx) =>
    tx.select().from(tenants).orderBy(tenants.createdAt, tenants.id),
  );
}

const createApiKeyInput = lazySchema(() =>
  z.object({
    name: z.string().trim().min(1, 'Name must not be blank').max(100, 'Name is at most 100 characters'),
    scopes: z
      .array(z.enum(apiScopes, { message: `Scopes are among ${apiScopes.join(', ')}` }))
      .min(1, 'A key needs at least one scope')
      .transform((scopes) => [...new Set(scopes)]),
    expiresAt: z
      .date()
      .refine((date) => date.getTime() > Date.now(), 'Expiry must be in the future')
      .nullish(),
  }),
);

export type CreateApiKeyInput = z.input<ReturnType<typeof createApiKeyInput>>;

/** A new key for the current tenant. The secret is in the result and nowhere else, ever. */
export async function createApiKey(input: CreateApiKeyInput): Promise<{ apiKey: ApiKeyRow; secret: string }> {
  const data = parseInput(createApiKeyInput(), input);
  const actor = actorColumns();
  const issued = await issueApiKey({ ...data, createdBy: `${actor.actorKind}:${actor.actorId}` });
  await recordAudit({
    operation: 'createApiKey',
    entityType: 'ApiKey',
    entityIds: [issued.apiKey.id],
    details: { name: data.name, scopes: data.scopes },
  });
  return issued;
}

/** Revokes a key: the next request that presents it is refused (keys are checked on every request). */
export async function revokeApiKey(id: string): Promise<ApiKeyRow> {
  const [apiKey] = await useTransaction()
    .update(apiKeys)
    .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, now())` })
    .where(and(eq(apiKeys.tenantId, useTenantId()), eq(apiKeys.id, id)))
    .returning();
  if (!apiKey) throw UserError.of('NOT_FOUND', 'No such API key', 'id');
  await recordAudit({ operation: 'revokeApiKey', entityType: 'ApiKey', entityIds: [id] });
  return apiKey;
}

/** The current tenant's keys, newest first (never their secrets: only hashes are stored). */
export async function listApiKeys(): Promise<ApiKeyRow[]> {
  return useTransaction()
    .select()
    .from(apiKeys)
    .where(eq(apiKeys.tenantId, useTenantId()))
    .orderBy(desc(apiKeys.createdAt), desc(apiKeys.id));
}

export async function findApiKeys(ids: readonly string[]): Promise<ApiKeyRow[]> {
  if (ids.length === 0) return [];
  return useTransaction()
    .select()
    .from(apiKeys)
    .where(and(eq(apiKeys.tenantId, useTenantId()), inArray(apiKeys.id, [...ids])));
}
export * from './tenant-settings';
