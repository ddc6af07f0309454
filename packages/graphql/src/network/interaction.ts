import {
  findInteractions,
  interactionCounts,
  interactionCursor,
  interactionKinds,
  interactionPages,
  recordInteraction,
  type InteractionRow,
} from '@guanxi/core/network';
import { ActorKindEnum } from '../access/tenant';
import { builder } from '../builder';
import { defaultPageSize, partyPages, perPartyConnection } from '../connections';
import { payloadType, runMutation } from '../errors';
import { Party } from './party';

export const InteractionKindEnum = builder.enumType('InteractionKind', {
  description: 'CARE is 客户关怀 (customer care): greetings, gifts, check-ins.',
  values: interactionKinds,
});

export const Interaction = builder.loadableNode('Interaction', {
  description: 'A touchpoint with a party: a call, a visit, care, a complaint…',
  id: { resolve: (row: InteractionRow) => row.id },
  load: (ids: string[]) => findInteractions(ids),
  sort: (row) => row.id,
  authScopes: { networkRead: true },
  fields: (t) => ({
    party: t.field({ type: Party, resolve: (i) => i.partyId }),
    kind: t.field({ type: InteractionKindEnum, resolve: (i) => i.kind }),
    occurredAt: t.field({ type: 'DateTime', resolve: (i) => i.occurredAt }),
    satisfaction: t.exposeInt('satisfaction', { nullable: true, description: '1–5; null when not rated.' }),
    note: t.exposeString('note', { nullable: true }),
    actorKind: t.field({ type: ActorKindEnum, description: 'Who recorded it.', resolve: (i) => i.actorKind }),
    actorId: t.exposeString('actorId', { nullable: true, description: 'The user id (JWT subject), API key id or job name.' }),
    createdAt: t.field({ type: 'DateTime', resolve: (i) => i.createdAt }),
  }),
});

const PartyInteractionConnection = perPartyConnection('PartyInteractionConnection', {
  node: Interaction,
  cursor: interactionCursor,
  countDescription: 'Interactions of this party, all pages.',
  count: interactionCounts,
});

builder.objectField(Party, 'interactions', (t) =>
  t.loadable({
    type: PartyInteractionConnection,
    description: "This party's interactions, most recent occurredAt first.",
    authScopes: { networkRead: true },
    byPath: true,
    args: {
      first: t.arg.int({ defaultValue: defaultPageSize }),
      after: t.arg.string(),
    },
    // One statement for every party of the page (the loader batches by field path and arguments).
    load: (partyIds: string[], _context, args) => partyPages(args, (page) => interactionPages(partyIds, page)),
    resolve: (party) => party.id,
  }),
);

const RecordInteractionInput = builder.inputType('RecordInteractionInput', {
  fields: (t) => ({
    partyId: t.globalID({ required: true, for: [Party] }),
    kind: t.field({ type: InteractionKindEnum, required: true }),
    occurredAt: t.field({ type: 'DateTime', description: 'Default now; may be in the past, never in the future.' }),
    satisfaction: t.int({ description: '1–5.' }),
    note: t.string({ description: 'At most 2000 characters.' }),
  }),
});

const RecordInteractionPayload = payloadType<{ interaction: InteractionRow }>('RecordInteractionPayload', (t) => ({
  interaction: t.field({ type: Interaction, nullable: true, resolve: (p) => p.interaction ?? null }),
}));

builder.mutationField('recordInteraction', (t) =>
  t.field({
    type: RecordInteractionPayload,
    authScopes: { networkWrite: true },
    description: 'Logs a touchpoint with a party, signed by the caller.',
    args: { input: t.arg({ type: RecordInteractionInput, required: true }) },
    resolve: (_root, { input }) =>
      runMutation(async () => ({
        interaction: await recordInteraction({ ...input, partyId: input.partyId.id }),
      })),
  }),
);
