import { apiScopes, type ApiScope } from '@guanxi/core';
import { createApiKey, findApiKeys, listApiKeys, revokeApiKey, type ApiKeyRow } from '@guanxi/core/access';
import { builder } from '../builder';
import { payloadType, runMutation } from '../errors';

export const ApiScopeEnum = builder.enumType('ApiScope', {
  description: 'What a partner API key may do (written network:read etc. in the docs).',
  values: apiScopes,
});

export const ApiKey = builder.loadableNode('ApiKey', {
  description: 'A partner credential. Its secret is shown once, by createApiKey, and never stored.',
  id: { resolve: (key: ApiKeyRow) => key.id },
  load: (ids: string[]) => findApiKeys(ids),
  sort: (key) => key.id,
  authScopes: { admin: true },
  fields: (t) => ({
    name: t.exposeString('name'),
    displayPrefix: t.exposeString('displayPrefix', { description: 'The first characters of the secret, to tell keys apart.' }),
    scopes: t.field({ type: [ApiScopeEnum], resolve: (key) => key.scopes as ApiScope[] }),
    createdBy: t.exposeString('createdBy', { nullable: true }),
    createdAt: t.field({ type: 'DateTime', resolve: (key) => key.createdAt }),
    expiresAt: t.field({ type: 'DateTime', nullable: true, resolve: (key) => key.expiresAt }),
    revokedAt: t.field({ type: 'DateTime', nullable: true, resolve: (key) => key.revokedAt }),
    lastUsedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'Refreshed at most every 5 minutes.',
      resolve: (key) => key.lastUsedAt,
    }),
  }),
});

builder.queryField('apiKeys', (t) =>
  t.field({
    type: [ApiKey],
    authScopes: { admin: true },
    description: "The tenant's API keys, newest first, revoked ones included.",
    resolve: () => listApiKeys(),
  }),
);

const CreateApiKeyInput = builder.inputType('CreateApiKeyInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    scopes: t.field({ type: [ApiScopeEnum], required: true }),
    expiresAt: t.field({ type: 'DateTime' }),
  }),
});

const CreateApiKeyPayload = payloadType<{ apiKey: ApiKeyRow; secret: string }>('CreateApiKeyPayload', (t) => ({
  apiKey: t.field({ type: ApiKey, nullable: true, resolve: (p) => p.apiKey ?? null }),
  secret: t.string({
    nullable: true,
    description: 'Send it as `Authorization: ApiKey <secret>`. Shown only here: store it now.',
    resolve: (p) => p.secret ?? null,
  }),
}));

builder.mutationField('createApiKey', (t) =>
  t.field({
    type: CreateApiKeyPayload,
    authScopes: { admin: true },
    args: { input: t.arg({ type: CreateApiKeyInput, required: true }) },
    resolve: (_root, { input }) => runMutation(() => createApiKey(input)),
  }),
);

const RevokeApiKeyInput = builder.inputType('RevokeApiKeyInput', {
  fields: (t) => ({ id: t.globalID({ required: true, for: [ApiKey] }) }),
});

const RevokeApiKeyPayload = payloadType<{ apiKey: ApiKeyRow }>('RevokeApiKeyPayload', (t) => ({
  apiKey: t.field({ type: ApiKey, nullable: true, resolve: (p) => p.apiKey ?? null }),
}));

builder.mutationField('revokeApiKey', (t) =>
  t.field({
    type: RevokeApiKeyPayload,
    authScopes: { admin: true },
    args: { input: t.arg({ type: RevokeApiKeyInput, required: true }) },
    resolve: (_root, { input }) => runMutation(async () => ({ apiKey: await revokeApiKey(input.id.id) })),
  }),
);
