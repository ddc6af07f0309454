import { fillPlaceholders, type Query, type SQL } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import type { Queryable, RowsResult } from './client';

/**
 * Hot statements compiled once per shape. drizzle turns a query into text by walking its whole
 * tree of SQL objects on every run; for a party's own statement with its first pages read along
 * that walk was the largest share of the request's JavaScript (measured on `pnpm bench` (d): 16 %
 * of the server's CPU). A statement whose text depends only on its shape (which order, which
 * fields read along) is built with `sql.placeholder` for the values that change, walked once,
 * and afterwards only bound: the same text every time, which also keeps it a named prepared
 * statement (prepared.ts). It runs through `executeCompiled`, which hands the text and values to
 * the driver's session as they are (a second walk, over the bound text's chunks, was still 2.5 %
 * of the server's CPU on that page).
 */

const dialect = new PgDialect({ casing: 'snake_case' });

/** At most this many shapes are kept per statement kind; past it the cache starts over. */
const maxShapes = 256;

export interface StatementCache {
  /**
   * The statement of `shape`, built by `build` the first time (with `sql.placeholder(name)` for
   * what differs between runs) and bound to `values` (by placeholder name).
   */
  (shape: string, build: () => SQL, values: Record<string, unknown>): Query;
}

export function statementCache(): StatementCache {
  const shapes = new Map<string, Query>();
  return (shape, build, values) => {
    let compiled = shapes.get(shape);
    if (!compiled) {
      compiled = dialect.sqlToQuery(build());
      if (shapes.size >= maxShapes) shapes.clear();
      shapes.set(shape, compiled);
    }
    return { sql: compiled.sql, params: fillPlaceholders(compiled.params, values) };
  };
}

/** drizzle's session under a database or transaction, as far as `executeCompiled` uses it. */
interface Session {
  prepareQuery(query: Query, fields: undefined, name: undefined, arrayMode: false): { execute(): Promise<unknown> };
}

/**
 * Runs a compiled statement on `queryable` as its `execute()` would (the same driver call, type
 * parsers and query log), without turning SQL objects into text again.
 */
export function executeCompiled<Row>(queryable: Queryable, query: Query): Promise<RowsResult<Row>> {
  const { session } = queryable as unknown as { session: Session };
  return session.prepareQuery(query, undefined, undefined, false).execute() as Promise<RowsResult<Row>>;
}

/**
 * A stable name for an SQL object within this process, for shape keys: the same object (a
 * memoized fragment) always gets the same name.
 */
const names = new WeakMap<object, number>();
let lastName = 0;
export function shapeName(fragment: object): number {
  let name = names.get(fragment);
  if (name === undefined) names.set(fragment, (name = ++lastName));
  return name;
}
