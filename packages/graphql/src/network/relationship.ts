import { correlatedParty } from '@guanxi/core';
import {
  relationshipPageJson,
  relationshipsFromJson,
  connectParties,
  disconnectParties,
  findParties,
  findRelationships,
  introPath,
  neighbourhood,
  relationshipCounts,
  relationshipCursor,
  relationshipPages,
  relationshipTypes,
  updateRelationship,
  type RelationshipRow,
} from '@guanxi/core/network';
import { encodeGlobalID } from '@pothos/plugin-relay';
import { builder } from '../builder';
import { partyConnections } from '../connections';
import { payloadType, runMutation } from '../errors';
import { Party, partyReference } from './party';
import { prefetchablePageOnParty, prefetchedPages } from './prefetch';

export const RelationshipTypeEnum = builder.enumType('RelationshipType', {
  description:
    'The kind of tie an edge stands for. FOLLOWS and REFERRED are directed (from → to); the others are symmetric: stored once and found from either party.',
  values: {
    REFERRED: { description: 'from referred to (directed). Made only by createReferral, one per referral; connectParties refuses it.' },
    COLLEAGUE: { description: 'They work together (symmetric).' },
    FAMILY: { description: 'They are family (symmetric).' },
    FRIEND: { description: 'They are friends (symmetric).' },
    PARTNER_OF: { description: 'They do business together (symmetric).' },
    FOLLOWS: { description: 'from follows to, e.g. on a social platform (directed).' },
    OTHER: { description: 'Any other tie, which label can name (symmetric).' },
  } satisfies Record<(typeof relationshipTypes)[number], { description: string }>,
});

export const Relationship = builder.loadableNode('Relationship', {
  description: 'A typed edge between two parties of the network.',
  id: {
    resolve: (row: RelationshipRow) => row.id,
    description: 'Global id of the edge; use it with node(id), updateRelationship and disconnectParties.',
  },
  load: (ids: string[]) => findRelationships(ids),
  sort: (row) => row.id,
  authScopes: { networkRead: true },
  fields: (t) => ({
    type: t.field({ type: RelationshipTypeEnum, description: 'The kind of tie; it never changes.', resolve: (r) => r.type }),
    from: t.field({
      type: Party,
      description: 'The source of a directed edge (the follower, the referrer); for a symmetric one, the party given as fromId when it was made.',
      resolve: (r, _args, _context, info) => partyReference(r.fromPartyId, info),
    }),
    to: t.field({
      type: Party,
      description: 'The target of a directed edge (the one followed, the referee); for a symmetric one, the other party.',
      resolve: (r, _args, _context, info) => partyReference(r.toPartyId, info),
    }),
    strength: t.exposeInt('strength', {
      description: '1 (weak) to 5 (strong), default 3; introPath prefers the strongest among the shortest paths.',
    }),
    label: t.exposeString('label', {
      nullable: true,
      description: "Free text, at most 100 characters; null when none, or once either party's data was erased.",
    }),
    since: t.field({ type: 'Date', nullable: true, description: 'When the tie began; null when unknown.', resolve: (r) => r.since }),
    until: t.field({
      type: 'Date',
      nullable: true,
      description:
        'When the tie ended or ends; null while open. Once until is before today (UTC) the edge is ended: kept, but network and introPath no longer walk it.',
      resolve: (r) => r.until,
    }),
    createdAt: t.field({ type: 'DateTime', description: 'When the edge was recorded in guanxi.', resolve: (r) => r.createdAt }),
  }),
});

const PartyRelationshipConnection = builder.connectionObject(
  {
    type: Relationship,
    name: 'PartyRelationshipConnection',
    description: "A page of a party's edges, newest first.",
    edgesField: { description: 'The edges of this page, each with its cursor.' },
  },
  {
    description: "One edge in a page of a party's relationships.",
    nodeField: { description: 'The relationship.' },
  },
);

// A party's own statement can read its first page of edges along (prefetch.ts), unfiltered.
prefetchablePageOnParty('relationships', {
  sql: (limit, properties) => relationshipPageJson(correlatedParty, limit, properties),
  decode: relationshipsFromJson,
  needs: {
    id: ['id'],
    type: ['type'],
    from: ['fromPartyId'],
    to: ['toPartyId'],
    strength: ['strength'],
    label: ['label'],
    since: ['since'],
    until: ['until'],
    createdAt: ['createdAt'],
  },
  filters: ['types'],
});

builder.objectField(Party, 'relationships', (t) =>
  t.loadable({
    type: PartyRelationshipConnection,
    description:
      'Edges of this party from either end, ended ones included, newest first. Pages of first/last at most 100 (default 20).',
    authScopes: { networkRead: true },
    byPath: true,
    args: {
      types: t.arg({ type: [RelationshipTypeEnum], description: 'Only edges of these types; absent or empty: every type.' }),
      ...t.arg.connectionArgs(),
    },
    load: (partyIds: string[], context, args) => {
      const types = args.types ?? null;
      return partyConnections(partyIds, args, {
        cursor: relationshipCursor,
        fetch: async (page) =>
          (types?.length ? null : prefetchedPages(context, 'relationships', partyIds, page)) ?? relationshipPages(partyIds, { ...page, types }),
        count: () => relationshipCounts(partyIds, types),
      });
    },
    resolve: (party) => party.id,
  }),
);

const NetworkGraph = builder
  .objectRef<{ nodeIds: string[]; edges: RelationshipRow[]; truncated: boolean; nodeCap: number }>('NetworkGraph')
  .implement({
    description: 'A neighbourhood ready to draw: hand nodes and edges to a graph library as they are.',
    fields: (t) => ({
      nodes: t.field({
        type: [Party],
        description: 'The centre party first, then the parties reached, nearest first; archived parties are not walked into.',
        resolve: (graph) => graph.nodeIds,
      }),
      edges: t.field({
        type: [Relationship],
        description: 'Every edge that is not ended (and of the asked types) between two of the nodes, oldest first.',
        resolve: (graph) => graph.edges,
      }),
      truncated: t.exposeBoolean('truncated', {
        description: 'True when the walk stopped at nodeCap parties: more are within reach.',
      }),
      nodeCap: t.exposeInt('nodeCap', { description: 'The most parties one neighbourhood returns (500).' }),
    }),
  });

builder.queryFields((t) => ({
  network: t.field({
    type: NetworkGraph,
    nullable: true,
    authScopes: { networkRead: true },
    description:
      'The party plus everyone within `depth` hops (1–3) over non-ended edges in either direction, and the edges between them; null when the party is not found. Needs network:read (every role, or the NETWORK_READ scope).',
    args: {
      partyId: t.arg.globalID({ required: true, for: [Party], description: 'The centre of the neighbourhood.' }),
      depth: t.arg.int({
        defaultValue: 1,
        description: 'How many hops from the centre, 1–3 (default 1); another value is an error with code VALIDATION.',
      }),
      types: t.arg({ type: [RelationshipTypeEnum], description: 'Walk only edges of these types; absent or empty: every type.' }),
    },
    resolve: async (_root, args) => {
      const [center] = await findPartyIds([args.partyId.id]);
      if (!center) return null;
      return neighbourhood(center, { depth: args.depth ?? 1, types: args.types ?? null });
    },
  }),
  introPath: t.field({
    type: [Party],
    nullable: true,
    authScopes: { networkRead: true },
    description:
      'The shortest warm-intro (熟人引荐) path from → to (both included) over non-ended edges in either direction: fewest hops, then greatest total strength, then smallest id sequence. [from] when both ids are the same. Null when either party is not found, when no path is within maxDepth, or when the search stopped at its cap of 5,000 parties (extensions.warnings then says so). Needs network:read (every role, or the NETWORK_READ scope).',
    args: {
      fromId: t.arg.globalID({ required: true, for: [Party], description: 'The party the path starts from (first in the answer).' }),
      toId: t.arg.globalID({ required: true, for: [Party], description: 'The party to be introduced to (last in the answer).' }),
      maxDepth: t.arg.int({
        defaultValue: 4,
        description: 'The most hops the path may have, 1–6 (default 4); another value is an error with code VALIDATION.',
      }),
      types: t.arg({ type: [RelationshipTypeEnum], description: 'Use only edges of these types; absent or empty: every type.' }),
    },
    resolve: async (_root, args, context) => {
      const found = await findPartyIds([args.fromId.id, args.toId.id]);
      if (found.length < new Set([args.fromId.id, args.toId.id]).size) return null;
      const result = await introPath(args.fromId.id, args.toId.id, {
        maxDepth: args.maxDepth ?? 4,
        types: args.types ?? null,
      });
      if (result.truncated) {
        context.warnings.push({ path: 'introPath', message: 'The search stopped at its node cap: a longer-range path may exist' });
      }
      return result.path;
    },
  }),
}));

async function findPartyIds(ids: string[]): Promise<string[]> {
  return (await findParties(ids)).map((party) => party.id);
}

const ConnectPartiesInput = builder.inputType('ConnectPartiesInput', {
  description: 'A new edge between two different parties of the tenant.',
  fields: (t) => ({
    fromId: t.globalID({ required: true, for: [Party], description: 'One end: the follower for FOLLOWS.' }),
    toId: t.globalID({ required: true, for: [Party], description: 'The other end, not fromId: the one followed for FOLLOWS.' }),
    type: t.field({ type: RelationshipTypeEnum, required: true, description: 'Any type but REFERRED (only createReferral makes those).' }),
    strength: t.int({ description: '1–5, default 3.' }),
    label: t.string({ description: 'Free text, at most 100 characters.' }),
    since: t.field({ type: 'Date', description: 'When the tie began.' }),
    until: t.field({ type: 'Date', description: 'When it ended or ends, not before since; an edge whose until is past is stored as ended.' }),
  }),
});

const RelationshipPayload = (name: string, mutation: string) =>
  payloadType<{ relationship: RelationshipRow }>(
    name,
    (t) => ({
      relationship: t.field({
        type: Relationship,
        nullable: true,
        description: 'The edge as stored; null when userErrors is not empty.',
        resolve: (p) => p.relationship ?? null,
      }),
    }),
    `What ${mutation} did: the edge, or userErrors and no change.`,
  );

builder.mutationField('connectParties', (t) =>
  t.field({
    type: RelationshipPayload('ConnectPartiesPayload', 'connectParties'),
    authScopes: { networkWrite: true },
    description:
      'Joins two parties with a typed edge. userErrors: NOT_FOUND (fromId, toId), VALIDATION (a party with itself, a REFERRED edge, strength outside 1–5, until before since), CONFLICT (the pair already has an edge of this type, either way round for a symmetric type). Needs network:write (MEMBER or ADMIN role, or the NETWORK_WRITE scope).',
    args: { input: t.arg({ type: ConnectPartiesInput, required: true, description: 'The two parties and the edge to make.' }) },
    resolve: (_root, { input }) =>
      runMutation(async () => ({
        relationship: await connectParties({ ...input, fromId: input.fromId.id, toId: input.toId.id }),
      })),
  }),
);

const UpdateRelationshipInput = builder.inputType('UpdateRelationshipInput', {
  description: 'Absent fields stay; null clears label, since or until.',
  fields: (t) => ({
    id: t.globalID({ required: true, for: [Relationship], description: 'The edge to change.' }),
    strength: t.int({ description: '1–5; it cannot be cleared (null is a VALIDATION error).' }),
    label: t.string({ description: 'Free text, at most 100 characters.' }),
    since: t.field({ type: 'Date', description: 'When the tie began.' }),
    until: t.field({ type: 'Date', description: 'When it ended or ends, not before since; a past date ends the edge.' }),
  }),
});

builder.mutationField('updateRelationship', (t) =>
  t.field({
    type: RelationshipPayload('UpdateRelationshipPayload', 'updateRelationship'),
    authScopes: { networkWrite: true },
    description:
      'Changes the strength, label or dates of an edge; its type and ends never change. userErrors: NOT_FOUND, VALIDATION (strength null or outside 1–5, until before since). Needs network:write (MEMBER or ADMIN role, or the NETWORK_WRITE scope).',
    args: { input: t.arg({ type: UpdateRelationshipInput, required: true, description: 'The edge and the values to change.' }) },
    resolve: (_root, { input }) => {
      const { id, ...changes } = input;
      return runMutation(async () => ({ relationship: await updateRelationship(id.id, changes) }));
    },
  }),
);

const DisconnectPartiesInput = builder.inputType('DisconnectPartiesInput', {
  description: 'The edge to delete.',
  fields: (t) => ({ id: t.globalID({ required: true, for: [Relationship], description: 'Global id of the edge; not a REFERRED one.' }) }),
});

const DisconnectPartiesPayload = payloadType<{ deletedId: string }>(
  'DisconnectPartiesPayload',
  (t) => ({
    deletedId: t.id({
      nullable: true,
      description: 'Global id of the deleted Relationship, to drop from caches; null when userErrors is not empty.',
      resolve: (p) => (p.deletedId ? encodeGlobalID('Relationship', p.deletedId) : null),
    }),
  }),
  'What disconnectParties did: the id of the deleted edge, or userErrors and no change.',
);

builder.mutationField('disconnectParties', (t) =>
  t.field({
    type: DisconnectPartiesPayload,
    authScopes: { networkWrite: true },
    description:
      'Deletes an edge for good; to keep its history, set its until instead (updateRelationship). userErrors: NOT_FOUND, CONFLICT (a REFERRED edge, which belongs to its referral). Needs network:write (MEMBER or ADMIN role, or the NETWORK_WRITE scope).',
    args: { input: t.arg({ type: DisconnectPartiesInput, required: true, description: 'The edge to delete.' }) },
    resolve: (_root, { input }) => runMutation(async () => ({ deletedId: await disconnectParties(input.id.id) })),
  }),
);
