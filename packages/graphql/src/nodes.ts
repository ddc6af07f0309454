import { decodeGlobalID, resolveNodes } from '@pothos/plugin-relay';
import { GraphQLError, isObjectType, type GraphQLSchema } from 'graphql';
import { builder, isNodeKey } from './builder';

/**
 * `nodes(ids)` answers each id on its own (api: "one stale id never blanks a page"): the relay
 * plugin's own field parses the whole list as its argument, so one malformed id failed the field
 * and nulled every sibling. Here a malformed id, or one of a type that is not a Node, is null at
 * its place with an error at that path; an id that names nothing the caller can read is null, as
 * `node(id)` answers it.
 */
const maxIds = 100;

builder.queryField('nodes', (t) =>
  t.field({
    description:
      'The objects with these global ids, in the same order (at most 100). An id of something that does not exist or that the caller may not read is null at its place; a malformed id, or the id of a type that is not a Node, is null with a BAD_USER_INPUT error at its path. The other ids are answered as usual.',
    type: [builder.nodeInterfaceRef()],
    nullable: { list: false, items: true },
    authScopes: { tenant: true },
    args: { ids: t.arg.idList({ required: true, description: 'Global ids, as the API gave them.' }) },
    resolve: async (_root, { ids }, context, info) => {
      // api: lists are at most 100 long; more is refused, never cut.
      if (ids.length > maxIds) {
        throw new GraphQLError(`At most ${maxIds} ids at once (got ${ids.length})`, { extensions: { code: 'BAD_USER_INPUT' } });
      }
      const decoded = ids.map((raw) => decodeNodeId(String(raw), info.schema));
      const found = await resolveNodes(
        builder,
        context,
        info,
        decoded.map((id) => (id instanceof GraphQLError ? null : id)),
      );
      return decoded.map((id, index) => (id instanceof GraphQLError ? id : found[index]));
    },
  }),
);

/** A global id of a Node type, or the error its place in the answer gets. */
function decodeNodeId(raw: string, schema: GraphQLSchema): { typename: string; id: string } | GraphQLError {
  let decoded: { typename: string; id: string };
  try {
    decoded = decodeGlobalID(raw);
  } catch {
    return invalidId(raw);
  }
  const type = schema.getType(decoded.typename);
  const isNode = isObjectType(type) && type.getInterfaces().some((each) => each.name === 'Node');
  return isNode && isNodeKey(decoded.typename, decoded.id) ? decoded : invalidId(raw);
}

function invalidId(raw: string): GraphQLError {
  return new GraphQLError(`Invalid global ID: ${raw.length > 100 ? `${raw.slice(0, 100)}…` : raw}`, {
    extensions: { code: 'BAD_USER_INPUT' },
  });
}
