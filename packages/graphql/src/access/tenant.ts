import { UserError, type Currency, type Role } from '@guanxi/core';
import { createTenant, currentTenant, membershipSettings, pointsSettings, type TenantRow } from '@guanxi/core/access';
import { encodeGlobalID } from '@pothos/plugin-relay';
import { builder } from '../builder';
import type { Caller } from '../context';
import { payloadType } from '../errors';
import { CurrencyEnum } from '../money';
import { ApiScopeEnum } from './api-key';

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
    name: t.exposeString('name', { description: "The company's name, as given at creation (1–200 characters)." }),
    currency: t.field({
      type: CurrencyEnum,
      description: "The tenant's one currency, fixed at createTenant: every order, reward and sum is in it.",
      resolve: (tenant) => tenant.currency as Currency,
    }),
    ruleVersion: t.exposeInt('ruleVersion', {
      description:
        'Version of the stage policy and scoring rules, raised by each updateTenantSettings that changes them; loyalty snapshots and automatic stage moves record the version that produced them.',
    }),
    settings: t.field({
      type: 'JSON',
      description:
        'The tenant\'s rules (stage policy, scoring weights and tiers, referral rewards and fraud thresholds, member points, membership tiers, retention), defaults filled in. ADMIN ' +
        '(and the operator, in createTenant\'s answer) only: the thresholds tell a fraudster how to stay under them.',
      // Either right suffices (scope-auth's default is any of the listed scopes).
      authScopes: { admin: true, operator: true },
      resolve: (tenant) => ({ ...tenant.settings, points: pointsSettings(tenant.settings), membership: membershipSettings(tenant.settings) }),
    }),
    createdAt: t.field({ type: 'DateTime', description: 'When the tenant was created.', resolve: (tenant) => tenant.createdAt }),
  }),
});

export const ActorKindEnum = builder.enumType('ActorKind', {
  description: 'The kind of caller or author of a change.',
  values: {
    USER: { description: 'A frontend user, signed in with a JWT that carries the tenant and the role.' },
    API_KEY: { description: 'A partner, calling with an API key of the tenant.' },
    SYSTEM: {
      description: "guanxi itself: a job (the nightly scoring and stage policy), a CLI command, the demo seed, or the operator's createTenant.",
    },
    OPERATOR: {
      description: 'The operator who runs the service (Authorization: Operator <key>); belongs to no tenant and may only create tenants.',
    },
  } as const,
});

export const RoleEnum = builder.enumType('Role', {
  description: "What a user (a JWT caller) may do in its tenant, from the token's role claim.",
  values: {
    ADMIN: {
      description:
        'Everything, including API keys, settings, webhooks, the audit log, scoring runs and personal-data export and erasure.',
    },
    MEMBER: { description: 'Reads and writes the network, stages, referrals and orders; none of what ADMIN alone may do.' },
    VIEWER: { description: 'Reads only: the network, referrals and loyalty.' },
  } satisfies Record<Role, { description: string }>,
});

const Viewer = builder.objectRef<Caller>('Viewer').implement({
  description: 'Who is calling, as the credential of this request identified it.',
  fields: (t) => ({
    kind: t.field({
      type: ActorKindEnum,
      description: 'USER for a JWT, API_KEY for a partner key, OPERATOR for the operator key.',
      resolve: (caller) => caller.kind,
    }),
    actorId: t.string({
      nullable: true,
      description: 'The raw user id (JWT subject) or API key id, as AuditEntry.actorId records it (for the key\'s global id see apiKeyId).',
      resolve: (caller) =>
        caller.kind === 'USER' ? caller.userId : caller.kind === 'API_KEY' ? caller.keyId : null,
    }),
    apiKeyId: t.id({
      nullable: true,
      description: "The global id of the caller's API key, as Actor.apiKeyId names it on what the caller wrote; null for users and the operator.",
      resolve: (caller) => (caller.kind === 'API_KEY' ? encodeGlobalID('ApiKey', caller.keyId) : null),
    }),
    scopes: t.field({
      type: [ApiScopeEnum],
      description: "The scopes of the caller's API key; [] for users (see role) and the operator.",
      resolve: (caller) => (caller.kind === 'API_KEY' ? caller.scopes : []),
    }),
    role: t.field({
      type: RoleEnum,
      nullable: true,
      description: "The role of a user, from the JWT's role claim; null for API keys (see scopes) and the operator.",
      resolve: (caller) => (caller.kind === 'USER' ? caller.role : null),
    }),
    tenant: t.field({
      type: Tenant,
      nullable: true,
      description: "The caller's tenant; null for the operator, who belongs to none.",
      resolve: (caller) => (caller.kind === 'OPERATOR' ? null : currentTenant()),
    }),
  }),
});

builder.queryField('viewer', (t) =>
  t.field({
    type: Viewer,
    description: 'Who is calling and what they may do; answers for any valid credential, the operator included.',
    resolve: (_root, _args, context) => context.caller,
  }),
);

const CreateTenantInput = builder.inputType('CreateTenantInput', {
  description: 'A new tenant: its name and the currency of all its money.',
  fields: (t) => ({
    name: t.string({ required: true, description: "The company's name, 1–200 characters (trimmed); need not be unique." }),
    currency: t.field({
      type: CurrencyEnum,
      description: "The tenant's currency, fixed for its lifetime (no update changes it); default CNY.",
    }),
  }),
});

const CreateTenantPayload = payloadType<{ tenant: TenantRow; apiKey: string }>('CreateTenantPayload', (t) => ({
  tenant: t.field({
    type: Tenant,
    nullable: true,
    description: 'The new tenant; its id is the tenant of every credential issued for it.',
    resolve: (p) => p.tenant ?? null,
  }),
  apiKey: t.string({
    nullable: true,
    description: 'An API key with every scope. Shown only here: store it now.',
    resolve: (p) => p.apiKey ?? null,
  }),
}), 'The new tenant and its first API key, or why it was refused.');

builder.mutationField('createTenant', (t) =>
  t.field({
    type: CreateTenantPayload,
    description:
      'Operator only (`Authorization: Operator <key>`; disabled when the service has no operator key): a new tenant and its first API key, which holds every scope. Other callers get a FORBIDDEN error; a blank or long name or a currency that is not three capital letters is a VALIDATION user error.',
    authScopes: { operator: true },
    args: { input: t.arg({ type: CreateTenantInput, required: true, description: 'Name and currency of the tenant.' }) },
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
