import {
  findInteractions,
  interactionCounts,
  interactionCursor,
  interactionKinds,
  interactionPages,
  recordInteraction,
  type InteractionRow,
} from '@guanxi/core/network';
import { Actor } from '../access/actor';
import { ActorKindEnum } from '../access/tenant';
import { builder } from '../builder';
import { partyConnections } from '../connections';
import { payloadType, runMutation } from '../errors';
import { Party } from './party';

export const InteractionKindEnum = builder.enumType('InteractionKind', {
  description: 'The kind of a touchpoint with a party.',
  values: {
    CALL: { description: 'A phone or video call.' },
    EMAIL: { description: 'An email exchange.' },
    MEETING: { description: 'A meeting, in person or online.' },
    EVENT: { description: 'An event the party took part in.' },
    VISIT: { description: 'A visit, at the party or at the company.' },
    CARE: { description: '客户关怀 (customer care): a greeting, a gift or a check-in, without a sale in view.' },
    COMPLAINT: { description: 'A complaint from the party.' },
    FEEDBACK: { description: 'Feedback or a suggestion from the party.' },
  } satisfies Record<(typeof interactionKinds)[number], { description: string }>,
});

export const Interaction = builder.loadableNode('Interaction', {
  description: 'A touchpoint with a party: a call, a visit, care, a complaint…',
  id: { resolve: (row: InteractionRow) => row.id, description: 'Global id of the interaction; load it again with node(id).' },
  load: (ids: string[]) => findInteractions(ids),
  sort: (row) => row.id,
  authScopes: { networkRead: true },
  fields: (t) => ({
    party: t.field({ type: Party, description: 'The party the touchpoint was with.', resolve: (i) => i.partyId }),
    kind: t.field({ type: InteractionKindEnum, description: 'What kind of touchpoint it was.', resolve: (i) => i.kind }),
    occurredAt: t.field({
      type: 'DateTime',
      description: 'When it happened (default: when it was recorded); dormancy and the follow-up clock count from the latest one.',
      resolve: (i) => i.occurredAt,
    }),
    satisfaction: t.exposeInt('satisfaction', {
      nullable: true,
      description: "The party's satisfaction, 1 (poor) to 5 (excellent); null when not rated. Not used by the loyalty score, which rates orders only.",
    }),
    note: t.exposeString('note', {
      nullable: true,
      description: "Free text, at most 2,000 characters; null when none, or once the party's data was erased.",
    }),
    actor: t.field({
      type: Actor,
      description: 'Who recorded it (actorKind and actorId, with the API key as a global id).',
      resolve: (i) => ({ kind: i.actorKind, id: i.actorId }),
    }),
    actorKind: t.field({ type: ActorKindEnum, description: 'Who recorded it.', resolve: (i) => i.actorKind }),
    actorId: t.exposeString('actorId', { nullable: true, description: 'The user id (JWT subject), API key id or job name.' }),
    createdAt: t.field({ type: 'DateTime', description: 'When it was recorded in guanxi.', resolve: (i) => i.createdAt }),
  }),
});

const PartyInteractionConnection = builder.connectionObject(
  {
    type: Interaction,
    name: 'PartyInteractionConnection',
    description: "A page of a party's interactions, most recent occurredAt first.",
    edgesField: { description: 'The interactions of this page, each with its cursor.' },
  },
  {
    description: "One interaction in a page of a party's interactions.",
    nodeField: { description: 'The interaction.' },
  },
);

builder.objectField(Party, 'interactions', (t) =>
  t.loadable({
    type: PartyInteractionConnection,
    description: "This party's interactions (calls, visits, care…), most recent occurredAt first. Pages of first/last at most 100 (default 20).",
    authScopes: { networkRead: true },
    byPath: true,
    args: t.arg.connectionArgs(),
    load: (partyIds: string[], _context, args) =>
      partyConnections(partyIds, args, {
        cursor: interactionCursor,
        fetch: (page) => interactionPages(partyIds, page),
        count: () => interactionCounts(partyIds),
      }),
    resolve: (party) => party.id,
  }),
);

const RecordInteractionInput = builder.inputType('RecordInteractionInput', {
  description: 'A touchpoint to log against a party.',
  fields: (t) => ({
    partyId: t.globalID({ required: true, for: [Party], description: 'The party it was with; not archived, not erased.' }),
    kind: t.field({ type: InteractionKindEnum, required: true, description: 'What kind of touchpoint it was.' }),
    occurredAt: t.field({
      type: 'DateTime',
      description: 'When it happened; default now. The past is fine (history can be imported); more than 5 minutes ahead is a VALIDATION error.',
    }),
    satisfaction: t.int({ description: 'A whole number from 1 (poor) to 5 (excellent); leave it out when not rated.' }),
    note: t.string({ description: 'At most 2000 characters.' }),
  }),
});

const RecordInteractionPayload = payloadType<{ interaction: InteractionRow }>(
  'RecordInteractionPayload',
  (t) => ({
    interaction: t.field({
      type: Interaction,
      nullable: true,
      description: 'The interaction as recorded; null when userErrors is not empty.',
      resolve: (p) => p.interaction ?? null,
    }),
  }),
  'What recordInteraction did: the new interaction, or userErrors and no change.',
);

builder.mutationField('recordInteraction', (t) =>
  t.field({
    type: RecordInteractionPayload,
    authScopes: { networkWrite: true },
    description:
      "Logs a touchpoint with a party, signed by the caller. It keeps the party out of DORMANT and CHURNED, counts for the loyalty score's engagement and restarts its follow-up clock. userErrors: NOT_FOUND (partyId), VALIDATION, CONFLICT (an archived or erased party). Needs network:write (MEMBER or ADMIN role, or the NETWORK_WRITE scope).",
    args: { input: t.arg({ type: RecordInteractionInput, required: true, description: 'The touchpoint to log.' }) },
    resolve: (_root, { input }) =>
      runMutation(async () => ({
        interaction: await recordInteraction({ ...input, partyId: input.partyId.id }),
      })),
  }),
);
