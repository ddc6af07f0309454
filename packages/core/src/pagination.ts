import { UserError } from './errors';

/** A page request as the Relay helper hands it over: rows after or before a cursor, in order. */
export interface PageRequest {
  after?: string;
  before?: string;
  /** Rows to fetch (the page size plus one, to know whether there is another page). */
  limit: number;
  /** True when paging backwards (`last`/`before`): fetch in reverse order, the helper flips back. */
  inverted: boolean;
}

/**
 * Keyset cursors: the sort key of a row, opaque to clients. Keyset (not offset) pages neither skip
 * nor repeat rows when rows are inserted between two page requests.
 */
export function encodeCursor(key: readonly (string | number | null)[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

export function decodeCursor(cursor: string, length: number): (string | number | null)[] {
  try {
    const key: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(key) && key.length === length) return key as (string | number | null)[];
  } catch {
    // fall through to the user error
  }
  throw UserError.of('VALIDATION', 'The cursor is not one this list handed out', []);
}

/** One party's page of a list read for many parties at once (api: `Party.orders`…). */
export interface PartyPage<Row> {
  partyId: string;
  rows: Row[];
  hasNextPage: boolean;
}

/**
 * One page per asked party, in the order asked, from the `[partyId, row]` pairs of a window query
 * that read at most `first + 1` rows of each party in page order: the extra row only tells that
 * there is a next page.
 */
export function pagesByParty<Row>(
  partyIds: readonly string[],
  first: number,
  rows: Iterable<readonly [partyId: string, row: Row]>,
): PartyPage<Row>[] {
  const byParty = new Map<string, Row[]>();
  for (const [partyId, row] of rows) {
    const list = byParty.get(partyId);
    if (list) list.push(row);
    else byParty.set(partyId, [row]);
  }
  return partyIds.map((partyId) => {
    const list = byParty.get(partyId) ?? [];
    return { partyId, rows: list.slice(0, first), hasNextPage: list.length > first };
  });
}
