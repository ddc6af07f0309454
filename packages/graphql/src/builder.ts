import { isUuid } from '@guanxi/core';
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

export const builder = new SchemaBuilder<{
  Context: Context;
  Scalars: Scalars;
  DefaultFieldNullability: false;
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
    // Each node type checks its own read right; `node` only needs a tenant.
    nodeQueryOptions: {
      authScopes: { tenant: true },
      description:
        'The object with this global id, or null when nothing the caller may read has it (unknown, deleted, another tenant\'s). A malformed id is a BAD_USER_INPUT error.',
    },
    // `nodes` is our own (nodes.ts): it answers each id on its own.
    nodesQueryOptions: false,
    // Every id guanxi hands out wraps a uuid. Anything else names nothing and would reach Postgres
    // as an invalid uuid (an internal error): it is refused as the malformed id it is.
    decodeGlobalID: (globalID) => {
      const decoded = decodeGlobalID(globalID);
      if (!isUuid(decoded.id)) throw new PothosValidationError(`Invalid global ID: ${globalID}`);
      return decoded;
    },
  },
});

builder.queryType({
  description:
    "Everything a caller can read, each tenant only its own data. A query may return at most 50,000 objects by default (its cost: each connection multiplies what it holds by its first/last or 20, every object counts 1, edges, pageInfo and scalars count 0); the cost of every answer is in extensions.cost { requested limit }, and a query over the limit is refused before it runs with QUERY_TOO_COMPLEX.",
});
builder.mutationType({});
