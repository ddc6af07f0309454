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
  name?: unknown;
}

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
 * until the next statement. Only the promise form is held back (drizzle's); a callback call or a
 * submittable (a cursor) that comes after a held `begin` is sent right after it, unchanged.
 */
export function coalesceBegin(client: { query: (...args: never[]) => unknown }): void {
  const query = client.query as unknown as (...args: unknown[]) => unknown;
  const send = (self: unknown, config: unknown, values?: unknown) => query.call(self, config, values) as Promise<unknown>;
  let held = false;
  client.query = function (this: unknown, config: unknown, values?: unknown, ...rest: unknown[]) {
    const promiseForm = rest.length === 0 && typeof values !== 'function' && !submittable(config);
    if (!held) {
      if (!promiseForm || !bare(config, values, 'begin')) return query.call(this, config, values, ...rest);
      held = true;
      return Promise.resolve(emptyResult('BEGIN'));
    }
    held = false;
    if (!promiseForm) {
      // The client runs statements in the order given: the begin first. Should it fail, so does
      // the statement after it, which reports the error.
      send(this, { text: 'begin' }).catch(() => undefined);
      return query.call(this, config, values, ...rest);
    }
    if (bare(config, values, 'commit') || bare(config, values, 'rollback')) {
      return Promise.resolve(emptyResult(((config as QueryConfig).text as string).trim().toUpperCase()));
    }
    const plain = config as QueryConfig;
    const withoutValues = values === undefined || (Array.isArray(values) && values.length === 0);
    if (typeof config === 'object' && config !== null && typeof plain.text === 'string' && withoutValues && plain.values === undefined && !plain.name) {
      // One simple-protocol message; node-postgres answers a list, one result per statement.
      return send(this, { ...plain, text: `begin; ${plain.text}` }).then((results) =>
        Array.isArray(results) ? results[results.length - 1] : results,
      );
    }
    return send(this, { text: 'begin' }).then(() => send(this, config, values));
  } as never;
}

/** A statement object that drives the protocol itself (pg-cursor, pg-query-stream). */
const submittable = (config: unknown) => typeof config === 'object' && config !== null && typeof (config as { submit?: unknown }).submit === 'function';

/**
 * A string as a Postgres literal that means the same under either `standard_conforming_strings`
 * (the `E''` form: backslashes and quotes escaped), for the few values a statement inlines so
 * that it can travel with `begin` (above). NUL cannot be in a Postgres string and is refused.
 */
export function inlineLiteral(value: string): string {
  if (value.includes('\u0000')) throw new Error('A Postgres literal cannot hold NUL');
  return `E'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}
