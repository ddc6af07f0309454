/**
 * `begin` sent with the transaction's first statement, in one round trip, for node-postgres and
 * Neon's driver. Every request is a transaction, and each round trip costs the server about as
 * much CPU as a small query (measured on the bench machine: 100–140 µs of client CPU per
 * statement, mostly the loopback socket write and wake-up). drizzle sends `begin` on its own; the
 * connection holds it back and sends it with whatever comes next:
 *
 * - a statement without parameters (a request's admission, which inlines its few values with
 *   `inlineLiteral`) goes with it as one simple-protocol message, `begin; <statement>`;
 * - a statement with parameters cannot share a message, so `begin` goes first, as before;
 * - `commit` or `rollback` of a transaction that never ran anything sends nothing at all.
 *
 * Postgres runs the held `begin` before the statement, so what the transaction sees is unchanged.
 */

interface QueryConfig {
  text?: unknown;
  values?: unknown;
  rowMode?: unknown;
  name?: unknown;
}

type Query = (config: unknown, values?: unknown) => Promise<unknown>;

/** The answer node-postgres gives to a statement that returns no rows, for the held-back `begin`. */
const emptyResult = (command: string) => ({ command, rowCount: null, oid: null, rows: [], fields: [] });

const bare = (config: unknown, values: unknown, word: string) =>
  typeof config === 'object' &&
  config !== null &&
  typeof (config as QueryConfig).text === 'string' &&
  ((config as QueryConfig).text as string).trim().toLowerCase() === word &&
  (values === undefined || (Array.isArray(values) && values.length === 0));

/**
 * Makes `client.query` hold back a bare `begin` (drizzle's form: `{ text: 'begin' }`, no values)
 * until the next statement. Only the promise form is touched (drizzle's); a callback call, and
 * every statement while nothing is held back, passes through as it is.
 */
export function coalesceBegin(client: { query: (...args: never[]) => unknown }): void {
  const query = client.query as unknown as Query;
  let held = false;
  client.query = function (this: unknown, config: unknown, values?: unknown, ...rest: unknown[]) {
    if (rest.length > 0 || typeof values === 'function') return (query as (...args: unknown[]) => unknown).call(this, config, values, ...rest);
    if (bare(config, values, 'begin')) {
      if (held) return query.call(this, config, values);
      held = true;
      return Promise.resolve(emptyResult('BEGIN'));
    }
    if (!held) return query.call(this, config, values);
    held = false;
    if (bare(config, values, 'commit') || bare(config, values, 'rollback')) {
      return Promise.resolve(emptyResult(((config as QueryConfig).text as string).trim().toUpperCase()));
    }
    const plain = config as QueryConfig;
    const withoutValues = values === undefined || (Array.isArray(values) && values.length === 0);
    if (typeof config === 'object' && config !== null && typeof plain.text === 'string' && withoutValues && plain.values === undefined && !plain.name) {
      // One simple-protocol message; node-postgres answers a list, one result per statement.
      return query.call(this, { ...plain, text: `begin; ${plain.text}` }).then((results) =>
        Array.isArray(results) ? results[results.length - 1] : results,
      );
    }
    return query.call(this, { text: 'begin' }).then(() => query.call(this, config, values));
  } as never;
}

/**
 * A string as a Postgres literal that means the same under either `standard_conforming_strings`
 * (the `E''` form: backslashes and quotes escaped), for the few values a statement inlines so
 * that it can travel with `begin` (above). NUL cannot be in a Postgres string and is refused.
 */
export function inlineLiteral(value: string): string {
  if (value.includes('\u0000')) throw new Error('A Postgres literal cannot hold NUL');
  return `E'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}
