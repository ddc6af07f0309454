import { sql, type SQL, type SQLWrapper } from 'drizzle-orm';
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

/**
 * One party's rows of a list read for many parties at once (api: `Party.orders`…), as a root list
 * answers a `PageRequest`: at most `limit` rows, in reverse when the request is inverted.
 */
export interface PartyRows<Row> {
  partyId: string;
  rows: Row[];
}

/** The rows of each asked party, in the order asked, from the `[partyId, row]` pairs of a window query. */
export function rowsByParty<Row>(
  partyIds: readonly string[],
  rows: Iterable<readonly [partyId: string, row: Row]>,
): PartyRows<Row>[] {
  const byParty = new Map<string, Row[]>();
  for (const [partyId, row] of rows) {
    const list = byParty.get(partyId);
    if (list) list.push(row);
    else byParty.set(partyId, [row]);
  }
  return partyIds.map((partyId) => ({ partyId, rows: byParty.get(partyId) ?? [] }));
}

/**
 * The keyset of a page of a list sorted by `key` descending (newest first): rows strictly between
 * the cursors, read in the list's order, or from its end when paging backwards (`last`), so that a
 * backward page reads `last + 1` rows too, never the whole list.
 */
export function descendingPage(
  page: PageRequest,
  key: SQL,
  cursorKey: (cursor: string) => SQL,
): { bound: SQL; direction: SQL } {
  const bounds = [sql`true`];
  if (page.after) bounds.push(sql`${key} < ${cursorKey(page.after)}`);
  if (page.before) bounds.push(sql`${key} > ${cursorKey(page.before)}`);
  return { bound: sql.join(bounds, sql` and `), direction: page.inverted ? sql`asc` : sql`desc` };
}

/** A list of uuid parameters in parentheses, for `… in (…)`. */
export function uuidList(ids: readonly string[]): SQL {
  return sql`(${sql.join(ids.map((id) => sql`${id}::uuid`), sql`, `)})`;
}

/**
 * The parties row a correlated subquery refers to: the row of the statement that carries it
 * (`PartyPageExtras`). Always qualified, as `correlatedParty` gives it: drizzle leaves the columns
 * of a single-table select bare, and a bare `id` inside a subquery names the subquery's own.
 */
export interface CorrelatedParty {
  tenantId: SQLWrapper;
  id: SQLWrapper;
}

export const correlatedParty: CorrelatedParty = { tenantId: sql.raw('"parties"."tenant_id"'), id: sql.raw('"parties"."id"') };

/**
 * The first page of one party's list as one JSON array (`[]` when empty): `columns` from `from`
 * where `where`, in `order`, at most `limit` rows — what a `…Pages` function reads for that party
 * when asked for its first page, as a scalar subquery a party's own statement can carry along
 * (`PartyPageExtras`). The columns are the page function's own, so its row mapping decodes them.
 * With `properties` (camelCase, of the row), each row holds only those columns: Postgres does not
 * compute the columns nobody reads (most of the cost of a page is formatting them), and
 * `rowsFromJson` leaves the other properties undefined.
 */
export function firstPageJson(parts: {
  columns: SQL;
  from: SQL;
  where: SQL;
  order: SQL;
  limit: number;
  properties?: readonly string[];
}): SQL<unknown[]> {
  const row = parts.properties
    ? sql.raw(`json_build_object(${[...new Set(parts.properties)].map((p) => `'${columnKey(p)}', page.${columnKey(p)}`).join(', ')})`)
    : sql.raw('page');
  return sql<unknown[]>`(select coalesce(json_agg(${row} order by page.n), '[]'::json) from (
    select ${parts.columns}, row_number() over (order by ${parts.order}) as n
    from ${parts.from} where ${parts.where}
    order by ${parts.order} limit ${parts.limit}) page)`;
}

const columnKeys = new Map<string, string>();

/** The column (its alias in a page's `columns`) of a row property: `placedAt` → `placed_at`. */
function columnKey(property: string): string {
  let key = columnKeys.get(property);
  if (key === undefined) {
    if (!/^[a-z][A-Za-z]*$/.test(property)) throw new Error(`Not a row property: ${property}`);
    columnKeys.set(property, (key = property.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)));
  }
  return key;
}

/**
 * The rows of a `firstPageJson` value, each decoded by the page function's own row mapping; a
 * property whose column the page did not read (`properties`) is undefined.
 */
export function rowsFromJson<Row extends object>(json: unknown, toRow: (row: Record<string, unknown>) => Row): Row[] {
  if (!Array.isArray(json)) return [];
  return json.map((value) => {
    const columns = value as Record<string, unknown>;
    const row = toRow(columns) as Record<string, unknown>;
    for (const property of Object.keys(row)) if (!(columnKey(property) in columns)) row[property] = undefined;
    return row as Row;
  });
}
