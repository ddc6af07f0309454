import { isUuid } from '@guanxi/core';
import { parseSnapshotKey } from '@guanxi/core/loyalty';
import SchemaBuilder, { PothosValidationError } from '@pothos/core';
import DataloaderPlugin from '@pothos/plugin-dataloader';
import RelayPlugin, { decodeGlobalID } from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import { GraphQLError } from 'graphql';
import { rightsOf, type Rights } from './access/scopes';
import type { Context } from './context';

export type Scalars = {
  DateTime: { Input: Date; Output: Date };
  Date: { Input: string; Output: string };
  Decimal: { Input: string; Output: string };
  JSON: { Input: unknown; Output: unknown };
};

/**
 * Whether `id` has the shape of a key of `typename`: every id guanxi hands out wraps a uuid, but a
 * loyalty snapshot's, one row per party and day with no surrogate id, wraps `<party id>:<date>`.
 */
export function isNodeKey(typename: string, id: string): boolean {
  return typename === 'LoyaltySnapshot' ? parseSnapshotKey(id) !== null : isUuid(id);
}

export const builder = new SchemaBuilder<{
  Context: Context;
  Scalars: Scalars;
  DefaultFieldNullability: false;
  // api: every connection has a totalCount, counted only when asked for (connections.ts).
  Connection: { totalCount: () => Promise<number> };
  AuthScopes: Rights & {
    /** A caller bound to a tenant (user or API key), whatever its rights. */
    tenant: boolean;
    /** The service operator (`Authorization: Operator <key>`). */
    operator: boolean;
  };
}>({
  plugins: [ScopeAuthPlugin, RelayPlugin, DataloaderPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    authScopes: (context) => ({
      ...rightsOf(context.caller),
      tenant: context.caller.kind !== 'OPERATOR',
      operator: context.caller.kind === 'OPERATOR',
    }),
    unauthorizedError: (_parent, _context, _info, result) =>
      new GraphQLError(result.message, { extensions: { code: 'FORBIDDEN' } }),
  },
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    // api: every element has a description. The relay plugin makes Node, PageInfo, the paging
    // arguments and every connection's edges/pageInfo/cursor/node fields: they are described here once.
    nodeTypeOptions: {
      description:
        'Anything with a global id: load it again with node(id) or nodes(ids). Every object with an id implements it.',
    },
    idFieldOptions: {
      description: 'Opaque global id: the same object always has the same id. Use it with node(id) and as the id arguments of mutations.',
    },
    pageInfoTypeOptions: {
      description: 'Where a page of a connection starts and ends, and whether there are more items on either side.',
    },
    hasNextPageFieldOptions: {
      description: 'Whether more items follow this page (ask with first and after: endCursor).',
    },
    hasPreviousPageFieldOptions: {
      description: 'Whether more items come before this page (ask with last and before: startCursor).',
    },
    startCursorFieldOptions: { description: 'Cursor of the first item of the page; null for an empty page.' },
    endCursorFieldOptions: { description: 'Cursor of the last item of the page; null for an empty page.' },
    firstArgOptions: {
      description:
        'Return the first n items after `after` (or from the start): 0–100; the default, when neither first nor last is given, is 20. More than 100 or less than 0 is a BAD_USER_INPUT error.',
    },
    afterArgOptions: { description: 'Start after this cursor (an edge cursor or pageInfo.endCursor of this same list).' },
    lastArgOptions: {
      description: 'Return the last n items before `before` (or up to the end): 0–100. More than 100 or less than 0 is a BAD_USER_INPUT error.',
    },
    beforeArgOptions: { description: 'End before this cursor (an edge cursor or pageInfo.startCursor of this same list).' },
    edgesFieldOptions: { description: 'The items of this page, each with its cursor, in the order of the list.' },
    pageInfoFieldOptions: { description: 'Cursors of the ends of this page and whether more items lie beyond them.' },
    cursorFieldOptions: {
      description: 'Opaque position of this item in the list: pass it as after or before to page from here.',
    },
    nodeFieldOptions: { description: 'The item at this position of the list.' },
    defaultConnectionTypeOptions: {
      description: 'One page of a list (a Relay connection): its items in edges, its ends in pageInfo, the size of the whole list in totalCount.',
    },
    defaultEdgeTypeOptions: { description: 'One item of a page and its cursor.' },
    // Each node type checks its own read right; `node` only needs a tenant.
    nodeQueryOptions: {
      authScopes: { tenant: true },
      args: { id: { description: 'A global id, as the API gave it.' } },
      description:
        'The object with this global id, or null when nothing the caller may read has it (unknown, deleted, another tenant\'s). A malformed id is a BAD_USER_INPUT error.',
    },
    // `nodes` is our own (nodes.ts): it answers each id on its own.
    nodesQueryOptions: false,
    // Anything but a key guanxi hands out names nothing and would reach Postgres as an invalid
    // uuid or date (an internal error): it is refused as the malformed id it is.
    decodeGlobalID: (globalID) => {
      const decoded = decodeGlobalID(globalID);
      if (!isNodeKey(decoded.typename, decoded.id)) throw new PothosValidationError(`Invalid global ID: ${globalID}`);
      return decoded;
    },
  },
});

builder.queryType({
  description:
    "Everything a caller can read, each tenant only its own data. A query may return at most 50,000 objects by default (its cost: each connection multiplies what it holds by its first/last or 20, every object counts 1, edges, pageInfo and scalars count 0); the cost of every answer is in extensions.cost { requested limit }, and a query over the limit is refused before it runs with QUERY_TOO_COMPLEX.",
});
builder.mutationType({
  description:
    'Everything a caller can change, each tenant only its own data. Each mutation takes one input and returns a payload with userErrors { code field message }: a refusal (VALIDATION, NOT_FOUND, CONFLICT, FORBIDDEN, RATE_LIMITED) changes nothing. A missing right is a GraphQL error with extensions.code FORBIDDEN.',
});
