import type { OutputRef } from '@pothos/core';
import { resolveCursorConnection, type ResolveCursorConnectionArgs } from '@pothos/plugin-relay';
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
 * A keyset-paginated connection: Pothos's cursor helper does the Relay arithmetic, `fetch` runs
 * the query for the rows after/before a cursor, and `count` (for `totalCount`) runs only when the
 * field is asked for.
 */
export async function keysetConnection<T>(
  args: ConnectionArgs,
  toCursor: (row: T) => string,
  fetch: (page: ResolveCursorConnectionArgs) => Promise<T[]>,
  count: () => Promise<number>,
) {
  checkPageSize(args);
  const connection = await resolveCursorConnection(
    { args, toCursor, defaultSize: defaultPageSize, maxSize: maxPageSize },
    fetch,
  );
  return { ...connection, totalCount: count };
}

/** One party's page of a list under `Party` (its orders, its stage history…). */
export interface PartyPage<Row, Filter = null> {
  partyId: string;
  rows: Row[];
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  /** The list's filter (relationship types…): `totalCount` counts under the same one. */
  filter: Filter;
}

/** What a core `*Pages` function answers for each party. */
type CorePartyPage<Row> = Omit<PartyPage<Row>, 'hasPreviousPage' | 'filter'>;

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

interface CountKey<Filter> {
  partyId: string;
  filter: Filter;
}

/**
 * The connection type of a list under `Party`: `<Name>Connection`, its `<Name>Edge`, and a
 * `totalCount` that runs `count` once for a whole page of parties, not once per party. Its loader
 * serves the whole request (a count depends on the party and the filter only), and the filter is
 * part of the key, so differently filtered lists never share a count.
 */
export function perPartyConnection<Row extends NodeShape, NodeShape, Filter extends Json = null>(
  name: `${string}Connection`,
  options: {
    node: OutputRef<NodeShape>;
    cursor: (row: Row) => string;
    countDescription?: string;
    count: (partyIds: string[], filter: Filter) => Promise<Map<string, number>>;
  },
) {
  const { node, cursor, countDescription, count } = options;
  const Edge = builder.objectRef<Row>(name.replace(/Connection$/, 'Edge')).implement({
    fields: (e) => ({
      cursor: e.string({ resolve: (row) => cursor(row) }),
      // Sound (Row extends NodeShape); TypeScript cannot evaluate Pothos's resolver result type over
      // a type parameter.
      node: e.field({ type: node, resolve: (row) => row as never }),
    }),
  });
  return builder.objectRef<PartyPage<Row, Filter>>(name).implement({
    fields: (t) => ({
      edges: t.field({ type: [Edge], resolve: (page) => page.rows }),
      pageInfo: t.field({
        type: builder.pageInfoRef(),
        resolve: (page) => ({
          hasNextPage: page.hasNextPage,
          hasPreviousPage: page.hasPreviousPage,
          startCursor: page.rows[0] ? cursor(page.rows[0]) : null,
          endCursor: page.rows.at(-1) ? cursor(page.rows.at(-1)!) : null,
        }),
      }),
      totalCount: t.loadable({
        type: 'Int',
        description: countDescription,
        loaderOptions: { cacheKeyFn: (key: CountKey<Filter>) => JSON.stringify([key.filter, key.partyId]) },
        load: async (keys: CountKey<Filter>[]) => {
          const groups = new Map<string, CountKey<Filter>[]>();
          for (const key of keys) {
            const filter = JSON.stringify(key.filter);
            groups.set(filter, [...(groups.get(filter) ?? []), key]);
          }
          const counts = new Map<string, Map<string, number>>();
          for (const [filter, group] of groups) {
            counts.set(filter, await count(group.map((key) => key.partyId), group[0]!.filter));
          }
          return keys.map((key) => counts.get(JSON.stringify(key.filter))?.get(key.partyId) ?? 0);
        },
        resolve: (page): CountKey<Filter> => ({ partyId: page.partyId, filter: page.filter }),
      }),
    }),
  });
}

/**
 * The `load` of a `Party.<list>` field: `fetch` reads one page for every party of the batch in one
 * statement. These lists page forwards only, so there is a previous page exactly past a cursor.
 */
export function partyPages<Row>(args: ConnectionArgs, fetch: PageFetch<Row>): Promise<PartyPage<Row>[]>;
export function partyPages<Row, Filter>(
  args: ConnectionArgs,
  fetch: PageFetch<Row>,
  filter: Filter,
): Promise<PartyPage<Row, Filter>[]>;
export async function partyPages<Row, Filter>(
  args: ConnectionArgs,
  fetch: PageFetch<Row>,
  filter: Filter | null = null,
): Promise<PartyPage<Row, Filter | null>[]> {
  checkPageSize(args);
  const pages = await fetch({ first: args.first ?? defaultPageSize, after: args.after ?? null });
  return pages.map((page) => ({ ...page, hasPreviousPage: Boolean(args.after), filter }));
}

type PageFetch<Row> = (page: { first: number; after: string | null }) => Promise<CorePartyPage<Row>[]>;
