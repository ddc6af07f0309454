import type { PartyRows } from '@guanxi/core';
import { parseCursorConnectionArgs, resolveCursorConnection, type ResolveCursorConnectionArgs } from '@pothos/plugin-relay';
import { GraphQLError } from 'graphql';
import { builder } from './builder';

/** api: `first`/`last` ≤ 100 (default 20); more is refused, never silently capped. */
export const maxPageSize = 100;
export const defaultPageSize = 20;

export interface ConnectionArgs {
  first?: number | null;
  last?: number | null;
  after?: string | null;
  before?: string | null;
}

export function checkPageSize(args: ConnectionArgs): void {
  for (const name of ['first', 'last'] as const) {
    const value = args[name];
    if (value != null && (value < 0 || value > maxPageSize)) {
      throw new GraphQLError(`Argument "${name}" must be between 0 and ${maxPageSize}`, {
        extensions: { code: 'BAD_USER_INPUT', argumentName: name },
      });
    }
  }
}

/**
 * api: every connection has a `totalCount`. A resolver hands a function over rather than a number,
 * so the count runs only when the field is asked for.
 */
builder.globalConnectionField('totalCount', (t) =>
  t.int({
    description: 'How many items the list holds over all its pages (under the same filters), counted only when asked for.',
    resolve: (connection) => connection.totalCount(),
  }),
);

/**
 * A keyset-paginated connection: Pothos's cursor helper does the Relay arithmetic (page size, the
 * reversal of a backward page, hasNextPage/hasPreviousPage), `fetch` runs the query for the rows
 * after/before a cursor, and `count` (for `totalCount`) runs only when the field is asked for.
 */
export async function keysetConnection<T>(
  args: ConnectionArgs,
  toCursor: (row: T) => string,
  fetch: (page: ResolveCursorConnectionArgs) => Promise<T[]>,
  count: () => Promise<number>,
) {
  checkPageSize(args);
  return { ...(await cursorConnection(args, toCursor, fetch)), totalCount: count };
}

/**
 * The `load` of a `Party.<list>` connection field: `fetch` reads the page of every party of the
 * batch in one statement (the loader batches by field path and arguments), the cursor helper does
 * each party's Relay arithmetic as for a root list, and `count` runs once for the whole batch, only
 * when a `totalCount` is asked for.
 */
export async function partyConnections<Row>(
  partyIds: readonly string[],
  args: ConnectionArgs,
  options: {
    cursor: (row: Row) => string;
    fetch: (page: ResolveCursorConnectionArgs) => Promise<PartyRows<Row>[]>;
    count: () => Promise<Map<string, number>>;
  },
) {
  checkPageSize(args);
  const { before, after, limit, inverted } = parseCursorConnectionArgs(pageSizes(args));
  const pages = await options.fetch({ before, after, limit, inverted });
  let counts: Promise<Map<string, number>> | undefined;
  return Promise.all(
    pages.map(async (page) => ({
      ...(await cursorConnection(args, options.cursor, async () => page.rows)),
      totalCount: async () => (await (counts ??= options.count())).get(page.partyId) ?? 0,
    })),
  );
}

function pageSizes(args: ConnectionArgs) {
  return { args, defaultSize: defaultPageSize, maxSize: maxPageSize };
}

/**
 * Pothos's cursor helper, but an empty page has no start or end cursor (null, as GitHub answers):
 * the helper would hand back the cursor asked from, or "", which names no row.
 */
async function cursorConnection<T>(
  args: ConnectionArgs,
  toCursor: (row: T) => string,
  fetch: (page: ResolveCursorConnectionArgs) => Promise<T[]>,
) {
  const connection = await resolveCursorConnection({ ...pageSizes(args), toCursor }, fetch);
  if (connection.edges.length > 0) return connection;
  return { ...connection, pageInfo: { ...connection.pageInfo, startCursor: null, endCursor: null } };
}
