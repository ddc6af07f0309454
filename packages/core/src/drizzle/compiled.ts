import { fillPlaceholders, sql, type SQL, type SQLChunk } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';

/**
 * Hot statements compiled once per shape. drizzle turns a query into text by walking its whole
 * tree of SQL objects on every run; for a party's own statement with its first pages read along
 * that walk was the largest share of the request's JavaScript (measured on `pnpm bench` (d): 16 %
 * of the server's CPU). A statement whose text depends only on its shape (which order, which
 * fields read along) is built with `sql.placeholder` for the values that change, walked once,
 * and afterwards only bound: the same text every time, which also keeps it a named prepared
 * statement (prepared.ts).
 */

const dialect = new PgDialect({ casing: 'snake_case' });

interface Compiled {
  /** The text between parameters: one more than `params`. */
  texts: string[];
  /** drizzle's parameters: fixed values, and placeholders to fill on each run. */
  params: unknown[];
}

/** At most this many shapes are kept per statement kind; past it the cache starts over. */
const maxShapes = 256;

export interface StatementCache {
  /**
   * The statement of `shape`, built by `build` the first time (with `sql.placeholder(name)` for
   * what differs between runs) and bound to `values` (by placeholder name).
   */
  (shape: string, build: () => SQL, values: Record<string, unknown>): SQL;
}

export function statementCache(): StatementCache {
  const shapes = new Map<string, Compiled>();
  return (shape, build, values) => {
    let compiled = shapes.get(shape);
    if (!compiled) {
      const query = dialect.sqlToQuery(build());
      const texts = query.sql.split(/\$\d+\b/);
      if (texts.length !== query.params.length + 1) throw new Error(`A compiled statement cannot hold a literal $n: ${shape}`);
      compiled = { texts, params: query.params };
      if (shapes.size >= maxShapes) shapes.clear();
      shapes.set(shape, compiled);
    }
    const bound = fillPlaceholders(compiled.params, values);
    const chunks: SQLChunk[] = [sql.raw(compiled.texts[0]!)];
    for (let i = 0; i < bound.length; i++) chunks.push(sql.param(bound[i]), sql.raw(compiled.texts[i + 1]!));
    return sql.join(chunks);
  };
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
