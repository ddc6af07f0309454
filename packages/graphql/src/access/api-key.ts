import { apiScopes, type ApiScope } from '@guanxi/core';
import { createApiKey, findApiKeys, listApiKeys, revokeApiKey, type ApiKeyRow } from '@guanxi/core/access';
import { builder } from '../builder';
import { payloadType, runMutation } from '../errors';

export const ApiScopeEnum = builder.enumType('ApiScope', {
  description:
    'What a partner API key may do (written network:read etc. in the docs). A key holds one or more; a write scope also grants reading what it writes.',
  values: {
    NETWORK_READ: { description: 'network:read — read parties, relationships, orders, interactions, stages and the network queries.' },
    NETWORK_WRITE: {
      description:
        'network:write — write parties, relationships, orders, interactions and stages, import and merge parties; includes NETWORK_READ.',
    },
    REFERRALS_READ: { description: 'referrals:read — read referrals, referral chains and trees, stats, leaderboards and fraud signals.' },
    REFERRALS_WRITE: { description: 'referrals:write — create, convert, reject and reward referrals; includes REFERRALS_READ.' },
    LOYALTY_READ: { description: 'loyalty:read — read loyalty snapshots, the loyalty analytics (segments, churn, Pareto) and member points.' },
    LOYALTY_WRITE: {
      description:
        'loyalty:write — redeem and adjust member points; includes LOYALTY_READ. Separate from NETWORK_WRITE: points are worth money, and a key that syncs parties and orders need not be able to grant them.',
    },
    ADMIN: {
      description:
        'admin — everything the ADMIN role may do: every other scope plus API keys, settings, webhooks, the audit log, scoring runs and personal-data export/erasure.',
    },
  } satisfies Record<(typeof apiScopes)[number], { description: string }>,
});

export const ApiKey = builder.loadableNode('ApiKey', {
  description:
    'A partner credential, bound to this tenant and limited to its scopes. Its secret is shown once, by createApiKey, and never stored. ADMIN only.',
  id: { resolve: (key: ApiKeyRow) => key.id },
  load: (ids: string[]) => findApiKeys(ids),
  sort: (key) => key.id,
  authScopes: { admin: true },
  fields: (t) => ({
    name: t.exposeString('name', { description: 'The label given at creation (1–100 characters), e.g. the partner it was issued to.' }),
    displayPrefix: t.exposeString('displayPrefix', { description: 'The first characters of the secret, to tell keys apart.' }),
    scopes: t.field({
      type: [ApiScopeEnum],
      description: 'What the key may do; each scope at most once.',
      resolve: (key) => key.scopes as ApiScope[],
    }),
    createdBy: t.exposeString('createdBy', {
      nullable: true,
      description: 'Who issued the key, written <actor kind>:<raw id> (e.g. USER:<JWT subject>, API_KEY:<key id>); null when unknown.',
    }),
    createdAt: t.field({ type: 'DateTime', description: 'When the key was issued.', resolve: (key) => key.createdAt }),
    expiresAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'After this instant the key is refused; null for a key that never expires.',
      resolve: (key) => key.expiresAt,
    }),
    revokedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When revokeApiKey revoked the key (every later request with it is refused); null while it is active.',
      resolve: (key) => key.revokedAt,
    }),
    lastUsedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When a request last presented the key, refreshed at most every 5 minutes; null if it was never used.',
      resolve: (key) => key.lastUsedAt,
    }),
  }),
});

builder.queryField('apiKeys', (t) =>
  t.field({
    type: [ApiKey],
    authScopes: { admin: true },
    description: "The tenant's API keys, newest first, revoked and expired ones included (never their secrets). ADMIN only.",
    resolve: () => listApiKeys(),
  }),
);

const CreateApiKeyInput = builder.inputType('CreateApiKeyInput', {
  description: 'A new partner key for the current tenant.',
  fields: (t) => ({
    name: t.string({ required: true, description: 'A label to recognise the key by, 1–100 characters (trimmed).' }),
    scopes: t.field({
      type: [ApiScopeEnum],
      required: true,
      description: 'What the key may do: at least one scope (VALIDATION otherwise); repeats are ignored.',
    }),
    expiresAt: t.field({
      type: 'DateTime',
      description: 'When the key stops working; must be in the future (VALIDATION otherwise). Leave it out for a key that never expires.',
    }),
  }),
});

const CreateApiKeyPayload = payloadType<{ apiKey: ApiKeyRow; secret: string }>('CreateApiKeyPayload', (t) => ({
  apiKey: t.field({ type: ApiKey, nullable: true, description: 'The new key (without its secret).', resolve: (p) => p.apiKey ?? null }),
  secret: t.string({
    nullable: true,
    description: 'Send it as `Authorization: ApiKey <secret>`. Shown only here: store it now.',
    resolve: (p) => p.secret ?? null,
  }),
}), 'The key just issued and its secret, or why it was refused.');

builder.mutationField('createApiKey', (t) =>
  t.field({
    type: CreateApiKeyPayload,
    authScopes: { admin: true },
    description:
      'Issues a partner API key for the current tenant (ADMIN only). The secret is in the answer and nowhere else, ever. Refusals: VALIDATION (blank or long name, no scope, expiry not in the future).',
    args: { input: t.arg({ type: CreateApiKeyInput, required: true, description: 'Name, scopes and optional expiry of the key.' }) },
    resolve: (_root, { input }) => runMutation(() => createApiKey(input)),
  }),
);

const RevokeApiKeyInput = builder.inputType('RevokeApiKeyInput', {
  description: 'The key to revoke.',
  fields: (t) => ({
    id: t.globalID({ required: true, for: [ApiKey], description: 'Global id of the ApiKey (from apiKeys or createApiKey).' }),
  }),
});

const RevokeApiKeyPayload = payloadType<{ apiKey: ApiKeyRow }>(
  'RevokeApiKeyPayload',
  (t) => ({
    apiKey: t.field({
      type: ApiKey,
      nullable: true,
      description: 'The key, now with revokedAt set.',
      resolve: (p) => p.apiKey ?? null,
    }),
  }),
  'The revoked key, or why it could not be revoked.',
);

builder.mutationField('revokeApiKey', (t) =>
  t.field({
    type: RevokeApiKeyPayload,
    authScopes: { admin: true },
    description:
      'Revokes an API key at once: the next request that presents it is refused (ADMIN only). Revoking a revoked key keeps its first revokedAt. NOT_FOUND for an id that names no key of this tenant.',
    args: { input: t.arg({ type: RevokeApiKeyInput, required: true, description: 'Which key to revoke.' }) },
    resolve: (_root, { input }) => runMutation(async () => ({ apiKey: await revokeApiKey(input.id.id) })),
  }),
);
