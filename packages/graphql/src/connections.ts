import { resolveCursorConnection, type ResolveCursorConnectionArgs } from '@pothos/plugin-relay';
import { GraphQLError } from 'graphql';

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
