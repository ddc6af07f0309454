import {
  archiveParty,
  countParties,
  createParty,
  defaultPartyOrder,
  findParties,
  listParties,
  partyCursor,
  partyKinds,
  partyOrderFields,
  updateParty,
  type ListedParty,
  type PartyRow,
} from '@guanxi/core/network';
import { segments, tiers } from '@guanxi/core/loyalty';
import { stages } from '@guanxi/core/stages';
import { builder } from '../builder';
import { keysetConnection } from '../connections';
import { payloadType, runMutation } from '../errors';

export const PartyKindEnum = builder.enumType('PartyKind', { values: partyKinds });
export const StageEnum = builder.enumType('Stage', { values: stages });

export const Party = builder.loadableNode('Party', {
  description: 'A customer, prospect, partner or social contact of the tenant (客户网络).',
  id: { resolve: (party) => party.id },
  load: (ids: string[]) => findParties(ids),
  sort: (party) => party.id,
  authScopes: { networkRead: true },
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

export const SegmentEnum = builder.enumType('Segment', {
  description: 'The 8 RFM segments (重要价值 important-value … 一般挽留 general-win-back).',
  values: segments,
});
export const TierEnum = builder.enumType('Tier', { values: tiers });

const PartyFilter = builder.inputType('PartyFilter', {
  fields: (t) => ({
    kinds: t.field({ type: [PartyKindEnum] }),
    stages: t.field({ type: [StageEnum] }),
    segments: t.field({ type: [SegmentEnum], description: "By the latest loyalty snapshot's segment." }),
    tiers: t.field({ type: [TierEnum], description: "By the latest loyalty snapshot's tier." }),
    tags: t.stringList({ description: 'Parties carrying every one of these tags.' }),
    ownerId: t.string(),
    search: t.string({ description: 'Matches name, email, company or phone (case-insensitive).' }),
    archived: t.boolean({ description: 'true lists only archived parties; default: only active.' }),
  }),
});

const PartyOrderField = builder.enumType('PartyOrderField', { values: partyOrderFields });
const OrderDirection = builder.enumType('OrderDirection', { values: ['ASC', 'DESC'] as const });
const PartyOrder = builder.inputType('PartyOrder', {
  fields: (t) => ({
    field: t.field({ type: PartyOrderField, required: true }),
    direction: t.field({ type: OrderDirection, defaultValue: 'ASC' }),
  }),
});

builder.queryFields((t) => ({
  party: t.field({
    type: Party,
    nullable: true,
    authScopes: { networkRead: true },
    args: { id: t.arg.globalID({ required: true, for: [Party] }) },
    resolve: (_root, args) => args.id.id,
  }),
  parties: t.connection(
    {
      type: Party,
      authScopes: { networkRead: true },
      description:
        "The tenant's parties; by default by creation time then id. Cursors are keyset: pages never skip or repeat rows when rows are added.",
      args: {
        filter: t.arg({ type: PartyFilter }),
        orderBy: t.arg({ type: PartyOrder, description: 'SCORE sorts by the latest loyalty score, unscored parties as lowest.' }),
      },
      resolve: (_root, args) => {
        const filter = args.filter ?? {};
        const order = args.orderBy ? { field: args.orderBy.field, direction: args.orderBy.direction ?? 'ASC' } : defaultPartyOrder;
        return keysetConnection<ListedParty>(
          args,
          (party) => partyCursor(party, order),
          (page) => listParties(filter, page, order),
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

type PartyInputShape = {
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
};

const CreatePartyInput = builder.inputRef<PartyInputShape>('CreatePartyInput').implement({
  fields: (t) => ({
    kind: t.field({ type: PartyKindEnum, required: true }),
    displayName: t.string({ required: true }),
    ...partyDetailFields(t),
  }),
});

function partyDetailFields(t: PothosSchemaTypes.InputFieldBuilder<typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never, 'InputObject'>) {
  return {
    email: t.string(),
    phone: t.string({ description: 'E.164, e.g. +8613800138000.' }),
    company: t.string(),
    externalId: t.string({ description: 'Your system\'s id for this party; unique in the tenant.' }),
    tags: t.stringList({ description: 'At most 20 tags of at most 40 characters.' }),
    decisionStyle: t.string(),
    birthday: t.field({ type: 'Date' }),
    notes: t.string(),
    ownerId: t.string({ description: 'The user who looks after this party.' }),
  };
}

const UpdatePartyInput = builder.inputType('UpdatePartyInput', {
  description: 'Absent fields stay as they are; null clears an optional field.',
  fields: (t) => ({
    id: t.globalID({ required: true, for: [Party] }),
    kind: t.field({ type: PartyKindEnum }),
    displayName: t.string(),
    ...partyDetailFields(t),
    archived: t.boolean({ description: 'false restores an archived party; true archives it.' }),
  }),
});

const PartyIdInput = builder.inputType('ArchivePartyInput', {
  fields: (t) => ({ id: t.globalID({ required: true, for: [Party] }) }),
});

const CreatePartyPayload = payloadType<{ party: PartyRow }>('CreatePartyPayload', (t) => ({
  party: t.field({ type: Party, nullable: true, resolve: (p) => p.party ?? null }),
}));

builder.mutationField('createParty', (t) =>
  t.field({
    type: CreatePartyPayload,
    authScopes: { networkWrite: true },
    args: { input: t.arg({ type: CreatePartyInput, required: true }) },
    resolve: (_root, { input }) => runMutation(async () => ({ party: await createParty(input) })),
  }),
);

const UpdatePartyPayload = payloadType<{ party: PartyRow }>('UpdatePartyPayload', (t) => ({
  party: t.field({ type: Party, nullable: true, resolve: (p) => p.party ?? null }),
}));

builder.mutationField('updateParty', (t) =>
  t.field({
    type: UpdatePartyPayload,
    authScopes: { networkWrite: true },
    args: { input: t.arg({ type: UpdatePartyInput, required: true }) },
    resolve: (_root, { input }) => {
      const { id, ...fields } = input;
      return runMutation(async () => ({ party: await updateParty(id.id, fields) }));
    },
  }),
);

const ArchivePartyPayload = payloadType<{ party: PartyRow }>('ArchivePartyPayload', (t) => ({
  party: t.field({ type: Party, nullable: true, resolve: (p) => p.party ?? null }),
}));

builder.mutationField('archiveParty', (t) =>
  t.field({
    type: ArchivePartyPayload,
    authScopes: { networkWrite: true },
    description: 'Hides the party from lists (soft): still readable by id, restorable by updateParty.',
    args: { input: t.arg({ type: PartyIdInput, required: true }) },
    resolve: (_root, { input }) => runMutation(async () => ({ party: await archiveParty(input.id.id) })),
  }),
);
