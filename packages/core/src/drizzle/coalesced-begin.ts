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
 * - `commit` or `rollback` of a transaction that never ran anything sends nothing at all;
 * - the `commit` of a read whose connection another transaction is already waiting for goes in
 *   front of that transaction's first statement (`commit; begin; <admission>`): under load a
 *   request costs two round trips, its admission and its read.
 *
 * Postgres runs what was held before the statement, so what each transaction sees is unchanged.
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

/** What a connection holds back, to send in front of its next statement. */
interface Held {
  begin: boolean;
  commit: boolean;
  /** The transaction's `commit` may be held (`commitWithNextStatement`), once. */
  commitMayWait: boolean;
}

const heldOf = new WeakMap<object, Held>();

/**
 * Lets the `commit` of the transaction running on `client` travel with the connection's next
 * statement, when another transaction is already waiting for the connection: the commit then
 * resolves at once and costs no round trip of its own. Only for a transaction whose caller does
 * not need its commit confirmed (a read; its only writes are the admission's request counts): a
 * held commit that fails is not reported to it. Does nothing on a connection that is not
 * coalesced (PGlite).
 */
export function commitWithNextStatement(client: object): void {
  const held = heldOf.get(client);
  if (held) held.commitMayWait = true;
}

/**
 * Makes `client.query` hold back a bare `begin` (drizzle's form: `{ text: 'begin' }`, no values)
 * until the next statement, and a `commit` allowed to wait (`commitWithNextStatement`) while
 * `othersWaiting()` says the connection goes straight to another transaction. Only the promise
 * form is held back (drizzle's); a callback call or a submittable (a cursor) that comes after
 * something held is sent right after it, unchanged. A held commit nobody follows within the
 * event loop's turn is sent on its own.
 */
export function coalesceBegin(client: { query: (...args: never[]) => unknown }, othersWaiting: () => boolean = () => false): void {
  const query = client.query as unknown as (...args: unknown[]) => unknown;
  const send = (self: unknown, config: unknown, values?: unknown) => query.call(self, config, values) as Promise<unknown>;
  const held: Held = { begin: false, commit: false, commitMayWait: false };
  heldOf.set(client, held);
  /** The held statements, in order, as one text; nothing is held afterwards. */
  const takeHeld = () => {
    const text = [held.commit && 'commit', held.begin && 'begin'].filter(Boolean).join('; ');
    held.commit = held.begin = false;
    return text;
  };
  const sendHeldCommit = () => {
    if (!held.commit) return;
    held.commit = false;
    // Nobody waits for it (see commitWithNextStatement); a broken connection shows on its next use.
    send(client, { text: 'commit' }).catch(() => undefined);
  };
  client.query = function (this: unknown, config: unknown, values?: unknown, ...rest: unknown[]) {
    const promiseForm = rest.length === 0 && typeof values !== 'function' && !submittable(config);
    const commitMayWait = held.commitMayWait;
    held.commitMayWait = false;
    if (promiseForm && !held.begin && bare(config, values, 'begin')) {
      held.begin = true;
      return Promise.resolve(emptyResult('BEGIN'));
    }
    if (promiseForm && (bare(config, values, 'commit') || bare(config, values, 'rollback'))) {
      const word = ((config as QueryConfig).text as string).trim().toUpperCase();
      // A transaction that ran nothing: neither its begin nor its end is sent.
      if (held.begin) {
        held.begin = false;
        return Promise.resolve(emptyResult(word));
      }
      if (word === 'COMMIT' && commitMayWait && !held.commit && othersWaiting()) {
        held.commit = true;
        setImmediate(sendHeldCommit);
        return Promise.resolve(emptyResult(word));
      }
    }
    if (!held.begin && !held.commit) return query.call(this, config, values, ...rest);
    const before = takeHeld();
    if (!promiseForm) {
      // The client runs statements in the order given: the held ones first. Should they fail, so
      // does the statement after them, which reports the error.
      send(this, { text: before }).catch(() => undefined);
      return query.call(this, config, values, ...rest);
    }
    const plain = config as QueryConfig;
    const withoutValues = values === undefined || (Array.isArray(values) && values.length === 0);
    if (typeof config === 'object' && config !== null && typeof plain.text === 'string' && withoutValues && plain.values === undefined && !plain.name) {
      // One simple-protocol message; node-postgres answers a list, one result per statement.
      return send(this, { ...plain, text: `${before}; ${plain.text}` }).then((results) =>
        Array.isArray(results) ? results[results.length - 1] : results,
      );
    }
    return send(this, { text: before }).then(() => send(this, config, values));
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
