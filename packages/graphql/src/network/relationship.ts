import {
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
  type RelationshipType,
} from '@guanxi/core/network';
import { encodeGlobalID } from '@pothos/plugin-relay';
import { builder } from '../builder';
import { defaultPageSize, partyPages, perPartyConnection } from '../connections';
import { payloadType, runMutation } from '../errors';
import { Party } from './party';

export const RelationshipTypeEnum = builder.enumType('RelationshipType', {
  description: 'FOLLOWS and REFERRED are directed; the others are symmetric (stored once).',
  values: relationshipTypes,
});

export const Relationship = builder.loadableNode('Relationship', {
  description: 'A typed edge between two parties of the network.',
  id: { resolve: (row: RelationshipRow) => row.id },
  load: (ids: string[]) => findRelationships(ids),
  sort: (row) => row.id,
  authScopes: { networkRead: true },
  fields: (t) => ({
    type: t.field({ type: RelationshipTypeEnum, resolve: (r) => r.type }),
    from: t.field({ type: Party, resolve: (r) => r.fromPartyId }),
    to: t.field({ type: Party, resolve: (r) => r.toPartyId }),
    strength: t.exposeInt('strength', { description: '1 (weak) to 5 (strong).' }),
    label: t.exposeString('label', { nullable: true }),
    since: t.field({ type: 'Date', nullable: true, resolve: (r) => r.since }),
    until: t.field({ type: 'Date', nullable: true, resolve: (r) => r.until }),
    createdAt: t.field({ type: 'DateTime', resolve: (r) => r.createdAt }),
  }),
});

const PartyRelationshipConnection = perPartyConnection('PartyRelationshipConnection', {
  node: Relationship,
  cursor: relationshipCursor,
  countDescription: 'Edges of this party of the requested types, all pages.',
  count: (partyIds, types: RelationshipType[] | null) => relationshipCounts(partyIds, types),
});

builder.objectField(Party, 'relationships', (t) =>
  t.loadable({
    type: PartyRelationshipConnection,
    description: 'Edges of this party from either end, newest first.',
    authScopes: { networkRead: true },
    byPath: true,
    args: {
      types: t.arg({ type: [RelationshipTypeEnum] }),
      first: t.arg.int({ defaultValue: defaultPageSize }),
      after: t.arg.string(),
    },
    // One statement for every party of the page (the loader batches by field path and arguments).
    load: (partyIds: string[], _context, args) => {
      const types = args.types ?? null;
      return partyPages(args, (page) => relationshipPages(partyIds, { ...page, types }), types);
    },
    resolve: (party) => party.id,
  }),
);

const NetworkGraph = builder
  .objectRef<{ nodeIds: string[]; edges: RelationshipRow[]; truncated: boolean; nodeCap: number }>('NetworkGraph')
  .implement({
    description: 'A neighbourhood ready to draw: hand nodes and edges to a graph library as they are.',
    fields: (t) => ({
      nodes: t.field({ type: [Party], resolve: (graph) => graph.nodeIds }),
      edges: t.field({ type: [Relationship], resolve: (graph) => graph.edges }),
      truncated: t.exposeBoolean('truncated', {
        description: 'True when the walk stopped at nodeCap parties: more are within reach.',
      }),
      nodeCap: t.exposeInt('nodeCap'),
    }),
  });

builder.queryFields((t) => ({
  network: t.field({
    type: NetworkGraph,
    nullable: true,
    authScopes: { networkRead: true },
    description: 'The party plus everyone within `depth` hops (1–3) over non-ended edges, and the edges between them.',
    args: {
      partyId: t.arg.globalID({ required: true, for: [Party] }),
      depth: t.arg.int({ defaultValue: 1 }),
      types: t.arg({ type: [RelationshipTypeEnum] }),
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
      'The shortest warm-intro path from → to (both included): fewest hops, then greatest total strength, then smallest id sequence. Null when none within maxDepth.',
    args: {
      fromId: t.arg.globalID({ required: true, for: [Party] }),
      toId: t.arg.globalID({ required: true, for: [Party] }),
      maxDepth: t.arg.int({ defaultValue: 4 }),
      types: t.arg({ type: [RelationshipTypeEnum] }),
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
  fields: (t) => ({
    fromId: t.globalID({ required: true, for: [Party] }),
    toId: t.globalID({ required: true, for: [Party] }),
    type: t.field({ type: RelationshipTypeEnum, required: true }),
    strength: t.int({ description: '1–5, default 3.' }),
    label: t.string(),
    since: t.field({ type: 'Date' }),
    until: t.field({ type: 'Date' }),
  }),
});

const RelationshipPayload = (name: string) =>
  payloadType<{ relationship: RelationshipRow }>(name, (t) => ({
    relationship: t.field({ type: Relationship, nullable: true, resolve: (p) => p.relationship ?? null }),
  }));

builder.mutationField('connectParties', (t) =>
  t.field({
    type: RelationshipPayload('ConnectPartiesPayload'),
    authScopes: { networkWrite: true },
    args: { input: t.arg({ type: ConnectPartiesInput, required: true }) },
    resolve: (_root, { input }) =>
      runMutation(async () => ({
        relationship: await connectParties({ ...input, fromId: input.fromId.id, toId: input.toId.id }),
      })),
  }),
);

const UpdateRelationshipInput = builder.inputType('UpdateRelationshipInput', {
  description: 'Absent fields stay; null clears label, since or until.',
  fields: (t) => ({
    id: t.globalID({ required: true, for: [Relationship] }),
    strength: t.int(),
    label: t.string(),
    since: t.field({ type: 'Date' }),
    until: t.field({ type: 'Date' }),
  }),
});

builder.mutationField('updateRelationship', (t) =>
  t.field({
    type: RelationshipPayload('UpdateRelationshipPayload'),
    authScopes: { networkWrite: true },
    args: { input: t.arg({ type: UpdateRelationshipInput, required: true }) },
    resolve: (_root, { input }) => {
      const { id, ...changes } = input;
      return runMutation(async () => ({ relationship: await updateRelationship(id.id, changes) }));
    },
  }),
);

const DisconnectPartiesInput = builder.inputType('DisconnectPartiesInput', {
  fields: (t) => ({ id: t.globalID({ required: true, for: [Relationship] }) }),
});

const DisconnectPartiesPayload = payloadType<{ deletedId: string }>('DisconnectPartiesPayload', (t) => ({
  deletedId: t.id({ nullable: true, resolve: (p) => (p.deletedId ? encodeGlobalID('Relationship', p.deletedId) : null) }),
}));

builder.mutationField('disconnectParties', (t) =>
  t.field({
    type: DisconnectPartiesPayload,
    authScopes: { networkWrite: true },
    args: { input: t.arg({ type: DisconnectPartiesInput, required: true }) },
    resolve: (_root, { input }) => runMutation(async () => ({ deletedId: await disconnectParties(input.id.id) })),
  }),
);
