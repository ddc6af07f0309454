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
 * - an admission held for the first statement (`admitWithNextStatement`: a request whose key the
 *   server knows) goes with that statement; on node-postgres in one round trip even when the
 *   statement has parameters (pipeline.ts): `commit; begin; <admission>; <read>`, one Sync. The
 *   admission keeps its own parameters there, so it too is a prepared statement: parsed and planned
 *   once per connection, not per request.
 *
 * Postgres runs what was held before the statement, so what each transaction sees is unchanged.
 */
import { Pipeline, type Pipelining } from './pipeline';

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

/** A statement and its parameters (`$1`…, each a string or null). */
export interface ParameterizedStatement {
  text: string;
  values: readonly (string | null)[];
}

/** A statement held for the transaction's first one, and who waits for its rows. */
interface HeldAdmission extends ParameterizedStatement {
  resolve: (rows: Record<string, unknown>[]) => void;
  reject: (error: unknown) => void;
}

/** What a connection holds back, to send in front of its next statement. */
interface Held {
  begin: boolean;
  commit: boolean;
  /** The transaction's `commit` may be held (`commitWithNextStatement`), once. */
  commitMayWait: boolean;
  admission: HeldAdmission | null;
  /** Sends a held admission on its own (with what else is held). */
  sendAdmission: () => void;
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
 * Holds `statement` (an admission) to run before anything else the transaction on `client` sends,
 * together with it: the answer to a request's first read does not wait for a round trip of its
 * admission first. On node-postgres it goes with its parameters, a prepared statement like any
 * other (pipeline.ts); where it must share a simple-protocol message (Neon's driver), its values
 * are written in as literals. Should the admission fail, the statements
 * after it are not run and fail with its error. Its rows, or null on a connection that is not
 * coalesced (PGlite): then run the statement yourself. `sendHeldAdmission` sends it when no
 * statement came.
 */
export function admitWithNextStatement(
  client: object,
  statement: string | ParameterizedStatement,
): Promise<Record<string, unknown>[]> | null {
  const held = heldOf.get(client);
  if (!held) return null;
  if (held.admission) throw new Error('An admission is already held on this connection');
  const { text, values } = typeof statement === 'string' ? { text: statement, values: [] } : statement;
  return new Promise((resolve, reject) => {
    held.admission = { text, values, resolve, reject };
  });
}

/** Sends the admission held on `client` now, if no statement took it along (`admitWithNextStatement`). */
export function sendHeldAdmission(client: object): void {
  heldOf.get(client)?.sendAdmission();
}

/**
 * Makes `client.query` hold back a bare `begin` (drizzle's form: `{ text: 'begin' }`, no values)
 * until the next statement, and a `commit` allowed to wait (`commitWithNextStatement`) while
 * `othersWaiting()` says the connection goes straight to another transaction. Only the promise
 * form is held back (drizzle's); a callback call or a submittable (a cursor) that comes after
 * something held is sent right after it, unchanged. A held commit nobody follows within the
 * event loop's turn is sent on its own.
 */
export function coalesceBegin(
  client: { query: (...args: never[]) => unknown },
  othersWaiting: () => boolean = () => false,
  pipelining: (Pipelining & { nameOf?: (text: string) => string | undefined }) | null = null,
): void {
  const query = client.query as unknown as (...args: unknown[]) => unknown;
  const send = (self: unknown, config: unknown, values?: unknown) => query.call(self, config, values) as Promise<unknown>;
  const held: Held = { begin: false, commit: false, commitMayWait: false, admission: null, sendAdmission: () => undefined };
  heldOf.set(client, held);
  /** The held statements, in order; nothing is held afterwards. */
  const takeHeldStatements = () => {
    const statements = [held.commit && 'commit', held.begin && 'begin'].filter((s): s is string => typeof s === 'string');
    held.commit = held.begin = false;
    return statements;
  };
  /** The held statements as one text. */
  const takeHeld = () => takeHeldStatements().join('; ');
  const sendHeldCommit = () => {
    if (!held.commit) return;
    held.commit = false;
    // Nobody waits for it (see commitWithNextStatement); a broken connection shows on its next use.
    send(client, { text: 'commit' }).catch(() => undefined);
  };
  /**
   * `before` (held statements, or nothing) and the statement of `config` as one simple-protocol
   * message; node-postgres answers a list, one result per statement: the statement's own.
   */
  const sendAfter = (self: unknown, before: string, config: QueryConfig & { text: string }) =>
    send(self, { ...config, text: before ? `${before}; ${config.text}` : config.text }).then((results) =>
      Array.isArray(results) ? results[results.length - 1] : results,
    );
  /** What was held and `admission`, as one simple-protocol message; settles the admission. */
  const sendWithHeld = (self: unknown, admission: HeldAdmission): Promise<unknown> => {
    const sent = sendAfter(self, takeHeld(), { text: inlineParameters(admission) }).then((last) =>
      admission.resolve((last as { rows: Record<string, unknown>[] }).rows),
    );
    sent.catch(admission.reject);
    return sent;
  };
  held.sendAdmission = () => {
    const admission = held.admission;
    if (!admission) return;
    held.admission = null;
    sendWithHeld(client, admission).catch(() => undefined);
  };
  /** The held statements, the admission and `statement` in one round trip (pipeline.ts). */
  const pipelined = (
    self: unknown,
    admission: HeldAdmission,
    statement: { text: string; values?: unknown[]; name?: unknown; rowMode?: string; types?: unknown },
  ): Promise<unknown> => {
    const before = takeHeldStatements();
    const nameOf = (text: string) => pipelining!.nameOf?.(text);
    const name = typeof statement.name === 'string' ? statement.name : nameOf(statement.text);
    const statements = [
      ...before.map((text) => ({ text })),
      { text: admission.text, values: admission.values, name: admission.values.length > 0 ? nameOf(admission.text) : undefined },
      { text: statement.text, values: statement.values, name, rowMode: statement.rowMode, types: statement.types },
    ];
    const admissionAt = before.length;
    return new Promise((resolve, reject) => {
      const types = (self as { _types?: unknown })._types;
      const pipeline = new Pipeline(statements, pipelining!, types, (outcome) => {
        if (outcome.error === null || outcome.failedAt > admissionAt) admission.resolve(outcome.results[admissionAt]!.rows as Record<string, unknown>[]);
        else admission.reject(outcome.error);
        if (outcome.error === null) resolve(outcome.results[statements.length - 1]);
        else reject(outcome.error);
      });
      query.call(self, pipeline);
    });
  };
  client.query = function (this: unknown, config: unknown, values?: unknown, ...rest: unknown[]) {
    const promiseForm = rest.length === 0 && typeof values !== 'function' && !submittable(config);
    const commitMayWait = held.commitMayWait;
    held.commitMayWait = false;
    if (held.admission) {
      const admission = held.admission;
      held.admission = null;
      if (promiseForm && bare(config, values, 'rollback')) {
        // Nothing of the transaction ran: neither its admission nor its end is sent.
        admission.reject(new Error('The transaction rolled back before its admission was sent'));
        if (held.begin) {
          held.begin = false;
          return Promise.resolve(emptyResult('ROLLBACK'));
        }
        return query.call(this, config, values, ...rest);
      }
      const plain = config as QueryConfig & { rowMode?: string; types?: unknown };
      if (pipelining && promiseForm && typeof plain.text === 'string') {
        return pipelined(this, admission, { ...plain, text: plain.text, values: (values ?? plain.values) as unknown[] | undefined });
      }
      // Without pipelining: what was held and the admission in one simple message, then the statement.
      const admitted = sendWithHeld(this, admission);
      if (!promiseForm) {
        admitted.catch(() => undefined);
        return query.call(this, config, values, ...rest);
      }
      return admitted.then(() => query.call(this, config, values, ...rest));
    }
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
      return sendAfter(this, before, plain as QueryConfig & { text: string });
    }
    return send(this, { text: before }).then(() => send(this, config, values));
  } as never;
}

/** A statement object that drives the protocol itself (pg-cursor, pg-query-stream). */
const submittable = (config: unknown) => typeof config === 'object' && config !== null && typeof (config as { submit?: unknown }).submit === 'function';

/** The statement with its values written in as literals (null as `null`), for a simple-protocol message. */
function inlineParameters({ text, values }: ParameterizedStatement): string {
  if (values.length === 0) return text;
  return text.replace(/\$(\d+)\b/g, (_, n: string) => {
    const value = values[Number(n) - 1];
    if (value === undefined) throw new Error(`The statement has no value for $${n}`);
    return value === null ? 'null' : inlineLiteral(value);
  });
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
