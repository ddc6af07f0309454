import {
  countParties,
  createParty,
  listParties,
  findParties,
  partyCursor,
  partyKinds,
  type PartyRow,
} from '@guanxi/core/network';
import { stages } from '@guanxi/core/stages';
import { builder } from '../builder';
import { keysetConnection } from '../connections';
import { runMutation, UserErrorType, type UserErrorShape } from '../errors';

export const PartyKindEnum = builder.enumType('PartyKind', { values: partyKinds });
export const StageEnum = builder.enumType('Stage', { values: stages });

export const Party = builder.loadableNode('Party', {
  description: 'A customer, prospect, partner or social contact of the tenant (客户网络).',
  id: { resolve: (party) => party.id },
  load: (ids: string[]) => findParties(ids),
  sort: (party) => party.id,
  authScopes: { tenant: true },
  fields: (t) => ({
    kind: t.field({ type: PartyKindEnum, resolve: (p) => p.kind }),
    displayName: t.exposeString('displayName'),
    email: t.exposeString('email', { nullable: true }),
    phone: t.exposeString('phone', { nullable: true }),
    company: t.exposeString('company', { nullable: true }),
    externalId: t.exposeString('externalId', { nullable: true }),
    tags: t.exposeStringList('tags'),
    decisionStyle: t.exposeString('decisionStyle', { nullable: true }),
    birthday: t.field({ type: 'Date', nullable: true, resolve: (p) => p.birthday }),
    notes: t.exposeString('notes', { nullable: true }),
    ownerId: t.exposeString('ownerId', { nullable: true }),
    stage: t.field({ type: StageEnum, resolve: (p) => p.stage }),
    stageChangedAt: t.field({ type: 'DateTime', resolve: (p) => p.stageChangedAt }),
    createdAt: t.field({ type: 'DateTime', resolve: (p) => p.createdAt }),
    updatedAt: t.field({ type: 'DateTime', resolve: (p) => p.updatedAt }),
    archivedAt: t.field({ type: 'DateTime', nullable: true, resolve: (p) => p.archivedAt }),
  }),
});

const PartyFilter = builder.inputType('PartyFilter', {
  fields: (t) => ({
    kinds: t.field({ type: [PartyKindEnum] }),
    search: t.string({ description: 'Matches name, email, company or phone (case-insensitive).' }),
    archived: t.boolean({ description: 'true lists only archived parties; default: only active.' }),
  }),
});

builder.queryFields((t) => ({
  party: t.field({
    type: Party,
    nullable: true,
    authScopes: { tenant: true },
    args: { id: t.arg.globalID({ required: true, for: [Party] }) },
    resolve: (_root, args) => args.id.id,
  }),
  parties: t.connection(
    {
      type: Party,
      authScopes: { tenant: true },
      description: 'The tenant\'s parties, by creation time then id (stable cursors).',
      args: { filter: t.arg({ type: PartyFilter }) },
      resolve: (_root, args) => {
        const filter = args.filter ?? {};
        return keysetConnection<PartyRow>(
          args,
          partyCursor,
          (page) => listParties(filter, page),
          () => countParties(filter),
        );
      },
    },
    {
      name: 'PartyConnection',
      fields: (c) => ({
        totalCount: c.int({ resolve: (connection) => connection.totalCount() }),
      }),
    },
  ),
}));

const partyInputFields = builder.inputRef<{
  kind: (typeof partyKinds)[number];
  displayName: string;
  email?: string | null;
  phone?: string | null;
  company?: string | null;
  externalId?: string | null;
  tags?: string[] | null;
  decisionStyle?: string | null;
  birthday?: string | null;
  notes?: string | null;
  ownerId?: string | null;
}>('CreatePartyInput');

partyInputFields.implement({
  fields: (t) => ({
    kind: t.field({ type: PartyKindEnum, required: true }),
    displayName: t.string({ required: true }),
    email: t.string(),
    phone: t.string({ description: 'E.164, e.g. +8613800138000.' }),
    company: t.string(),
    externalId: t.string({ description: 'Your system\'s id for this party; unique in the tenant.' }),
    tags: t.stringList({ description: 'At most 20 tags of at most 40 characters.' }),
    decisionStyle: t.string(),
    birthday: t.field({ type: 'Date' }),
    notes: t.string(),
    ownerId: t.string({ description: 'The user who looks after this party.' }),
  }),
});

const CreatePartyPayload = builder
  .objectRef<{ party?: PartyRow; userErrors: UserErrorShape[] }>('CreatePartyPayload')
  .implement({
    fields: (t) => ({
      party: t.field({ type: Party, nullable: true, resolve: (p) => p.party ?? null }),
      userErrors: t.field({ type: [UserErrorType], resolve: (p) => p.userErrors }),
    }),
  });

builder.mutationField('createParty', (t) =>
  t.field({
    type: CreatePartyPayload,
    authScopes: { tenant: true },
    args: { input: t.arg({ type: partyInputFields, required: true }) },
    resolve: (_root, { input }) => runMutation(async () => ({ party: await createParty(input) })),
  }),
);
