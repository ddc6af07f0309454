import {
  archiveParty,
  countParties,
  createParty,
  defaultPartyOrder,
  findParties,
  findPartyWithExtras,
  listParties,
  partyCursor,
  partyKinds,
  partyOrderFields,
  updateParty,
  type ListedParty,
  type PartyRow,
} from '@guanxi/core/network';
import type { GraphQLResolveInfo } from 'graphql';
import { segments, tiers } from '@guanxi/core/loyalty';
import { stages } from '@guanxi/core/stages';
import { builder } from '../builder';
import { keysetConnection } from '../connections';
import { asksOnly, keepPrefetched, partyPrefetchesOf } from './prefetch';
import { payloadType, runMutation } from '../errors';

export const PartyKindEnum = builder.enumType('PartyKind', {
  description: 'What a party is to the company (客户网络).',
  values: {
    CUSTOMER: { description: '现有客户: an existing customer.' },
    PROSPECT: { description: '潜在客户: a potential customer; it becomes a CUSTOMER by itself when its first order is recorded.' },
    PARTNER: { description: '合作伙伴: a firm or person the company works with.' },
    SOCIAL_CONTACT: {
      description: '社交媒体联系人: a contact from a social platform; on the follow-up list for birthdays only, not for lapsed contact.',
    },
  } satisfies Record<(typeof partyKinds)[number], { description: string }>,
});
export const StageEnum = builder.enumType('Stage', {
  description:
    'Where a relationship stands (客户关系发展阶段): four forward stages in order, plus DORMANT and CHURNED off the track. Changed by moveStage and by the nightly stage policy.',
  values: {
    INITIAL_CONTACT: { description: '初始接触, forward stage 1: where every new party starts.' },
    TRUST_BUILDING: { description: '信任建立, forward stage 2: reached automatically with the first satisfying order.' },
    LOYALTY_GROWTH: { description: "忠诚度提升, forward stage 3: reached automatically with the tenant's loyalAfter satisfying orders (default 3)." },
    LONG_TERM_PARTNERSHIP: {
      description: '长期合作, forward stage 4: reached automatically 365 days after the first order with at least 6 orders in the last 365 days.',
    },
    DORMANT: {
      description: "沉默期, off-track, by hand or automatically after the tenant's dormantAfterDays (default 90) without an order or interaction; remembers the forward stage it left, where a new order brings the party back.",
    },
    CHURNED: {
      description: "流失, off-track, by hand or automatically after the tenant's churnedAfterDays (default 180) without an order or interaction; only a move to INITIAL_CONTACT (win-back) leaves it.",
    },
  } satisfies Record<(typeof stages)[number], { description: string }>,
});

const idOnly = new Set(['id', '__typename']);

/**
 * A Party field's value from a stored reference: when the selection asks for nothing but the id
 * (a list's ends, `from { id }`), the id alone answers it and no row is read; else the id goes to
 * the party loader. A stored reference always names a party of the tenant (foreign keys), so the
 * answer is the same either way.
 */
export function partyReference(id: string, info: GraphQLResolveInfo): string | PartyRow {
  return asksOnly(info, idOnly) ? ({ id } as PartyRow) : id;
}

export const Party = builder.loadableNode('Party', {
  description: 'A customer, prospect, partner or social contact of the tenant (客户网络).',
  id: {
    resolve: (party) => party.id,
    description: 'Global id of the party: use it with node(id), party(id) and as partyId or id in mutations.',
  },
  load: (ids: string[]) => findParties(ids),
  sort: (party) => party.id,
  authScopes: { networkRead: true },
  fields: (t) => ({
    kind: t.field({
      type: PartyKindEnum,
      description: 'What the party is to the company; a PROSPECT turns CUSTOMER with its first order.',
      resolve: (p) => p.kind,
    }),
    displayName: t.exposeString('displayName', {
      description: 'The name to show, 1–200 characters; "Erased party" once its personal data was erased.',
    }),
    email: t.exposeString('email', { nullable: true, description: 'Email address; null when unknown or erased.' }),
    phone: t.exposeString('phone', {
      nullable: true,
      description: 'Phone number in E.164 form, e.g. +8613800138000; null when unknown or erased.',
    }),
    company: t.exposeString('company', { nullable: true, description: 'The company the party belongs to; null when unknown or erased.' }),
    externalId: t.exposeString('externalId', {
      nullable: true,
      description: "Your system's id for the party, unique in the tenant: importParties upserts by it. Null when none or erased.",
    }),
    tags: t.exposeStringList('tags', {
      description: 'Free labels, at most 20 of at most 40 characters each, without duplicates; empty when none. Filter with PartyFilter.tags.',
    }),
    decisionStyle: t.exposeString('decisionStyle', {
      nullable: true,
      description: 'How the party tends to decide (free text, at most 100 characters), to prepare a call or a visit; null when unknown.',
    }),
    birthday: t.field({
      type: 'Date',
      nullable: true,
      description: 'Date of birth; it puts the party on dueFollowUps (BIRTHDAY) every year. Null when unknown or erased.',
      resolve: (p) => p.birthday,
    }),
    notes: t.exposeString('notes', { nullable: true, description: 'Free notes about the party, at most 10,000 characters.' }),
    ownerId: t.exposeString('ownerId', {
      nullable: true,
      description: 'The user who looks after this party (their user id, the JWT subject), as set on the party; null when nobody.',
    }),
    stage: t.field({
      type: StageEnum,
      description: 'The relationship stage the party is in now; every party starts at INITIAL_CONTACT.',
      resolve: (p) => p.stage,
    }),
    stageChangedAt: t.field({
      type: 'DateTime',
      description: 'When the party entered its current stage (its creation, for a party that never moved).',
      resolve: (p) => p.stageChangedAt,
    }),
    createdAt: t.field({ type: 'DateTime', description: 'When the party was created in guanxi.', resolve: (p) => p.createdAt }),
    updatedAt: t.field({
      type: 'DateTime',
      description: "When the party's own data last changed (its fields, kind, stage or archiving).",
      resolve: (p) => p.updatedAt,
    }),
    archivedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description:
        'When the party was archived (archiveParty, updateParty, importParties or mergeParties); null while active. Archived parties are left out of parties unless filter.archived is true.',
      resolve: (p) => p.archivedAt,
    }),
  }),
});

export const SegmentEnum = builder.enumType('Segment', {
  description:
    'The 8 RFM segments (客户分群): recency, frequency and monetary each high (better than the mean of the scored parties, strictly) or low.',
  values: {
    IMPORTANT_VALUE: { description: '重要价值: recency, frequency and monetary all high — serve personally.' },
    IMPORTANT_DEVELOP: { description: '重要发展: recent and high-spending but infrequent.' },
    IMPORTANT_RETAIN: { description: '重要保持: frequent and high-spending but not recent.' },
    IMPORTANT_WIN_BACK: { description: '重要挽留: high-spending but neither recent nor frequent.' },
    GENERAL_VALUE: { description: '一般价值: recent and frequent but low-spending.' },
    GENERAL_DEVELOP: { description: '一般发展: recent only.' },
    GENERAL_RETAIN: { description: '一般保持: frequent only.' },
    GENERAL_WIN_BACK: { description: '一般挽留: recency, frequency and monetary all low.' },
  } satisfies Record<(typeof segments)[number], { description: string }>,
});
export const TierEnum = builder.enumType('Tier', {
  description: "The loyalty tier a score falls in; thresholds are the tenant's settings (default 85 / 70 / 50).",
  values: {
    PLATINUM: { description: 'Score at or above the platinum threshold (default 85).' },
    GOLD: { description: 'Score at or above the gold threshold (default 70), below platinum.' },
    SILVER: { description: 'Score at or above the silver threshold (default 50), below gold.' },
    BRONZE: { description: 'Score below the silver threshold.' },
  } satisfies Record<(typeof tiers)[number], { description: string }>,
});

const PartyFilter = builder.inputType('PartyFilter', {
  description: 'Which parties to list: every condition given must hold; an absent or empty list sets no condition.',
  fields: (t) => ({
    kinds: t.field({ type: [PartyKindEnum], description: 'Parties of any of these kinds.' }),
    stages: t.field({ type: [StageEnum], description: 'Parties now in any of these stages.' }),
    segments: t.field({
      type: [SegmentEnum],
      description: "Parties whose latest loyalty snapshot is in any of these segments; parties never scored do not match.",
    }),
    tiers: t.field({
      type: [TierEnum],
      description: "Parties whose latest loyalty snapshot is in any of these tiers; parties never scored do not match.",
    }),
    tags: t.stringList({ description: 'Parties carrying every one of these tags.' }),
    ownerId: t.string({ description: 'Parties looked after by this user (exact ownerId).' }),
    search: t.string({
      description: 'Text found in the display name, email, company or phone (case-insensitive substring); blank sets no condition.',
    }),
    archived: t.boolean({ description: 'true lists only archived parties; default: only active.' }),
  }),
});

const PartyOrderField = builder.enumType('PartyOrderField', {
  description: 'What parties(orderBy) sorts by; ties are broken by id.',
  values: {
    CREATED_AT: { description: 'Creation time (the default order).' },
    DISPLAY_NAME: { description: 'Display name.' },
    SCORE: {
      description: 'The latest loyalty score; parties never scored sort below every score (last in DESC, first in ASC).',
    },
  } satisfies Record<(typeof partyOrderFields)[number], { description: string }>,
});
const OrderDirection = builder.enumType('OrderDirection', {
  description: 'The direction of a sort; ties are always broken by id in the same direction, so cursors stay stable.',
  values: {
    ASC: { description: 'Smallest (or earliest, or A) first.' },
    DESC: { description: 'Largest (or latest, or Z) first.' },
  } as const,
});
const PartyOrder = builder.inputType('PartyOrder', {
  description:
    'The order of a parties list. A cursor belongs to its order: paging on with a cursor from another order is an error with code VALIDATION.',
  fields: (t) => ({
    field: t.field({ type: PartyOrderField, required: true, description: 'The key to sort by.' }),
    direction: t.field({ type: OrderDirection, defaultValue: 'ASC', description: 'ASC (default) or DESC.' }),
  }),
});

builder.queryFields((t) => ({
  party: t.field({
    type: Party,
    nullable: true,
    authScopes: { networkRead: true },
    description:
      "The party with this id, archived, merged and erased ones included; null when the tenant has none with it. Needs network:read (every role, or the NETWORK_READ scope).",
    args: { id: t.arg.globalID({ required: true, for: [Party], description: 'Global id of the party.' }) },
    resolve: async (_root, args, context, info) => {
      // The party's statement also reads what its fields would load (prefetch.ts); with nothing
      // to read along, the party loads through its batched loader.
      const extras = partyPrefetchesOf(info, 'self');
      if (Object.keys(extras).length === 0) return args.id.id;
      const party = await findPartyWithExtras(args.id.id, extras);
      if (party) keepPrefetched(context, [party]);
      return party;
    },
  }),
  parties: t.connection(
    {
      type: Party,
      authScopes: { networkRead: true },
      description:
        "The tenant's parties, active ones unless filter.archived is true; by default by creation time then id. Cursors are keyset: pages never skip or repeat rows when rows are added. first/last at most 100 (default 20). Needs network:read (every role, or the NETWORK_READ scope).",
      args: {
        filter: t.arg({ type: PartyFilter, description: 'Which parties to list; absent: every active party.' }),
        orderBy: t.arg({
          type: PartyOrder,
          description: 'The order; absent: CREATED_AT ASC. SCORE sorts by the latest loyalty score, unscored parties as lowest.',
        }),
      },
      resolve: (_root, args, context, info) => {
        const filter = args.filter ?? {};
        const order = args.orderBy ? { field: args.orderBy.field, direction: args.orderBy.direction ?? 'ASC' } : defaultPartyOrder;
        // The page's statement also reads what its parties' fields would load (prefetch.ts).
        const extras = partyPrefetchesOf(info, 'edges');
        return keysetConnection<ListedParty>(
          args,
          (party) => partyCursor(party, order),
          async (page) => {
            const rows = await listParties(filter, page, order, extras);
            keepPrefetched(context, rows);
            return rows;
          },
          () => countParties(filter),
        );
      },
    },
    builder.connectionObject(
      {
        type: Party,
        name: 'PartyConnection',
        description: 'A page of parties, with totalCount over every page of the same filter.',
        edgesField: { description: 'The parties of this page, each with its cursor.' },
      },
      { description: 'One party in a page of parties.', nodeField: { description: 'The party.' } },
    ),
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
  description: 'A new party. Strings are trimmed, and a blank optional string counts as absent.',
  fields: (t) => ({
    kind: t.field({ type: PartyKindEnum, required: true, description: 'What the party is to the company.' }),
    displayName: t.string({ required: true, description: 'The name to show, 1–200 characters.' }),
    ...partyDetailFields(t),
  }),
});

function partyDetailFields(t: PothosSchemaTypes.InputFieldBuilder<typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never, 'InputObject'>) {
  return {
    email: t.string({ description: 'A valid address (local@domain.tld), at most 254 characters.' }),
    phone: t.string({ description: 'E.164, e.g. +8613800138000.' }),
    company: t.string({ description: 'At most 200 characters.' }),
    externalId: t.string({
      description: "Your system's id for this party, at most 200 characters; unique in the tenant (one already used is a CONFLICT).",
    }),
    tags: t.stringList({ description: 'At most 20 tags of at most 40 characters; duplicates are dropped.' }),
    decisionStyle: t.string({ description: 'How the party tends to decide, at most 100 characters.' }),
    birthday: t.field({ type: 'Date', description: 'Date of birth, not in the future.' }),
    notes: t.string({ description: 'At most 10,000 characters.' }),
    ownerId: t.string({ description: 'The user who looks after this party (their user id, the JWT subject), at most 200 characters.' }),
  };
}

const UpdatePartyInput = builder.inputType('UpdatePartyInput', {
  description: 'Absent fields stay as they are; null clears an optional field.',
  fields: (t) => ({
    id: t.globalID({ required: true, for: [Party], description: 'The party to change.' }),
    kind: t.field({ type: PartyKindEnum, description: 'A new kind; it cannot be cleared.' }),
    displayName: t.string({ description: 'A new name, 1–200 characters; it cannot be cleared.' }),
    ...partyDetailFields(t),
    archived: t.boolean({ description: 'false restores an archived party; true archives it.' }),
  }),
});

const PartyIdInput = builder.inputType('ArchivePartyInput', {
  description: 'The party to archive.',
  fields: (t) => ({ id: t.globalID({ required: true, for: [Party], description: 'Global id of the party.' }) }),
});

const partyPayload = (name: string, mutation: string, party: string) =>
  payloadType<{ party: PartyRow }>(
    name,
    (t) => ({
      party: t.field({
        type: Party,
        nullable: true,
        description: `${party}; null when userErrors is not empty.`,
        resolve: (p) => p.party ?? null,
      }),
    }),
    `What ${mutation} did: the party, or userErrors and no change.`,
  );

const CreatePartyPayload = partyPayload('CreatePartyPayload', 'createParty', 'The new party');

builder.mutationField('createParty', (t) =>
  t.field({
    type: CreatePartyPayload,
    authScopes: { networkWrite: true },
    description:
      'Creates a party at INITIAL_CONTACT (the first row of its stage history). userErrors: VALIDATION (a field outside its limits), CONFLICT (externalId already used). Needs network:write (MEMBER or ADMIN role, or the NETWORK_WRITE scope).',
    args: { input: t.arg({ type: CreatePartyInput, required: true, description: 'The new party; kind and displayName are required.' }) },
    resolve: (_root, { input }) => runMutation(async () => ({ party: await createParty(input) })),
  }),
);

const UpdatePartyPayload = partyPayload('UpdatePartyPayload', 'updateParty', 'The party as it is now');

builder.mutationField('updateParty', (t) =>
  t.field({
    type: UpdatePartyPayload,
    authScopes: { networkWrite: true },
    description:
      "Changes the fields given; a change to nothing writes nothing. userErrors: NOT_FOUND (id), VALIDATION, CONFLICT (externalId already used, restoring a merged party, a party whose personal data was erased). Needs network:write (MEMBER or ADMIN role, or the NETWORK_WRITE scope).",
    args: { input: t.arg({ type: UpdatePartyInput, required: true, description: 'The party and the fields to change.' }) },
    resolve: (_root, { input }) => {
      const { id, ...fields } = input;
      return runMutation(async () => ({ party: await updateParty(id.id, fields) }));
    },
  }),
);

const ArchivePartyPayload = partyPayload('ArchivePartyPayload', 'archiveParty', 'The archived party');

builder.mutationField('archiveParty', (t) =>
  t.field({
    type: ArchivePartyPayload,
    authScopes: { networkWrite: true },
    description:
      'Hides the party from lists (soft): still readable by id, restorable by updateParty (archived: false); archiving an archived party changes nothing. Orders and interactions cannot be recorded for it while archived. userErrors: NOT_FOUND. Needs network:write (MEMBER or ADMIN role, or the NETWORK_WRITE scope).',
    args: { input: t.arg({ type: PartyIdInput, required: true, description: 'The party to archive.' }) },
    resolve: (_root, { input }) => runMutation(async () => ({ party: await archiveParty(input.id.id) })),
  }),
);
