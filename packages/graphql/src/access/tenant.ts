import { UserError } from '@guanxi/core';
import { createTenant, currentTenant, type TenantRow } from '@guanxi/core/access';
import { builder } from '../builder';
import type { Caller } from '../context';
import { payloadType } from '../errors';

export const Tenant = builder.loadableNode('Tenant', {
  description: 'The company whose customer network this is. A caller only ever sees its own.',
  id: { resolve: (tenant: TenantRow) => tenant.id },
  load: async (ids: string[]) => {
    // A caller only ever sees its own tenant: any other id finds nothing.
    const tenant = await currentTenant();
    return ids.includes(tenant.id) ? [tenant] : [];
  },
  sort: (tenant) => tenant.id,
  fields: (t) => ({
    name: t.exposeString('name'),
    currency: t.exposeString('currency'),
    ruleVersion: t.exposeInt('ruleVersion'),
    settings: t.field({
      type: 'JSON',
      description:
        'The tenant\'s rules (stage policy, scoring weights and tiers, referral rewards and fraud thresholds, retention). ADMIN ' +
        '(and the operator, in createTenant\'s answer) only: the thresholds tell a fraudster how to stay under them.',
      // Either right suffices (scope-auth's default is any of the listed scopes).
      authScopes: { admin: true, operator: true },
      resolve: (tenant) => tenant.settings,
    }),
    createdAt: t.field({ type: 'DateTime', resolve: (tenant) => tenant.createdAt }),
  }),
});

export const ActorKindEnum = builder.enumType('ActorKind', {
  values: ['USER', 'API_KEY', 'SYSTEM', 'OPERATOR'] as const,
});

const Viewer = builder.objectRef<Caller>('Viewer').implement({
  description: 'Who is calling.',
  fields: (t) => ({
    kind: t.field({ type: ActorKindEnum, resolve: (caller) => caller.kind }),
    actorId: t.string({
      nullable: true,
      description: 'The user id (JWT subject) or the API key id.',
      resolve: (caller) =>
        caller.kind === 'USER' ? caller.userId : caller.kind === 'API_KEY' ? caller.keyId : null,
    }),
    scopes: t.stringList({
      resolve: (caller) => (caller.kind === 'API_KEY' ? caller.scopes : []),
    }),
    role: t.string({
      nullable: true,
      resolve: (caller) => (caller.kind === 'USER' ? caller.role : null),
    }),
    tenant: t.field({
      type: Tenant,
      nullable: true,
      resolve: (caller) => (caller.kind === 'OPERATOR' ? null : currentTenant()),
    }),
  }),
});

builder.queryField('viewer', (t) =>
  t.field({ type: Viewer, resolve: (_root, _args, context) => context.caller }),
);

const CreateTenantInput = builder.inputType('CreateTenantInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    currency: t.string({ description: 'ISO 4217 code; default CNY.' }),
  }),
});

const CreateTenantPayload = payloadType<{ tenant: TenantRow; apiKey: string }>('CreateTenantPayload', (t) => ({
  tenant: t.field({ type: Tenant, nullable: true, resolve: (p) => p.tenant ?? null }),
  apiKey: t.string({
    nullable: true,
    description: 'An API key with every scope. Shown only here: store it now.',
    resolve: (p) => p.apiKey ?? null,
  }),
}));

builder.mutationField('createTenant', (t) =>
  t.field({
    type: CreateTenantPayload,
    description: 'Operator only (`Authorization: Operator <key>`): a new tenant and its first key.',
    authScopes: { operator: true },
    args: { input: t.arg({ type: CreateTenantInput, required: true }) },
    resolve: async (_root, { input }, context) => {
      try {
        const { tenant, apiKey } = await createTenant(context.db, input);
        return { tenant, apiKey, userErrors: [] };
      } catch (error) {
        if (error instanceof UserError) return { userErrors: error.errors };
        throw error;
      }
    },
  }),
);
