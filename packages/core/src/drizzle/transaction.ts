import { AsyncLocalStorage } from 'node:async_hooks';
import { sql } from 'drizzle-orm';
import { connectionOf, type Database, type Transaction } from './client';
import { admitWithNextStatement, commitWithNextStatement, sendHeldAdmission, type ParameterizedStatement } from './coalesced-begin';

interface Scope {
  tx: Transaction;
  tenantId: string;
  afterCommit: ((db: Database) => unknown)[];
}

const storage = new AsyncLocalStorage<Scope>();

/** The non-owner role all application work runs as (migration 0002), so row-level security applies. */
export const applicationRole = 'guanxi_app';

/**
 * Runs `fn` in a transaction under the application role with the given settings set
 * transaction-locally: both end with the transaction, so a pooled connection carries nothing over.
 */
export async function asApplication<T>(
  db: Database,
  settings: Record<string, string>,
  fn: (tx: Transaction) => Promise<T>,
): Promise<T> {
  return db.transaction(async (tx) => {
    const assignments = [
      sql`set_config('role', ${applicationRole}, true)`,
      // No parallel workers for request-sized statements: starting two workers costs more than
      // the few milliseconds of work they would share (measured: a 3 ms graph step took 60 ms
      // with a Gather on 2 cores), and concurrent requests already use every core. Batch jobs
      // that scan a whole tenant (scoring) turn them back on.
      sql`set_config('max_parallel_workers_per_gather', '0', true)`,
      ...Object.entries(settings).map(([name, value]) => sql`set_config(${name}, ${value}, true)`),
    ];
    // One round trip: the role switch and every setting in a single statement.
    await tx.execute(sql`select ${sql.join(assignments, sql`, `)}`);
    return fn(tx);
  });
}

/**
 * Runs `fn` in one transaction as the application role with the tenant set transaction-locally
 * (`app.tenant_id`), which row-level security reads. Every query of a request or a job goes
 * through this handle, so a forgotten `where tenant_id = …` cannot reach another tenant's rows.
 */
export async function withTenant<T>(
  db: Database,
  tenantId: string,
  fn: (tx: Transaction) => Promise<T>,
): Promise<T> {
  const afterCommit: Scope['afterCommit'] = [];
  const result = await asApplication(db, { 'app.tenant_id': tenantId }, async (tx) => {
    return storage.run({ tx, tenantId, afterCommit }, () => fn(tx));
  });
  for (const effect of afterCommit) await effect(db);
  return result;
}

/**
 * One transaction for a whole request whose tenant is known only once its credential is checked
 * (an API request): `admit` runs first, in the transaction, and its one statement switches to the
 * application role and sets the tenant (`admitApiKey`, `admitUser`); then `fn` runs as that
 * tenant, as in `withTenant`. A refusal thrown by `admit` rolls back whatever it had counted.
 *
 * With `read` (a GraphQL query), the answer does not wait for the commit when another request
 * is waiting for the connection: the commit goes with that request's first statement
 * (coalesced-begin.ts). A read's only writes are the admission's request counts; should that
 * commit fail (a connection lost at that very moment), the counts are what is lost.
 *
 * With `presumed` (a caller the server has admitted before, and a read), `fn` starts at once as
 * that caller and the admission travels with the first statement `fn` sends (coalesced-begin.ts),
 * one round trip instead of two; an admission that fails stops that statement. Its rows are then
 * `check`ed, which throws to refuse the request: the answer `fn` computed is thrown away and the
 * transaction rolls back. Where statements cannot travel together (PGlite), `admit` runs as usual.
 */
export async function withAdmittedTenant<A extends { tenantId: string }, T>(
  db: Database,
  admit: (tx: Transaction) => Promise<A>,
  fn: (admitted: A) => Promise<T>,
  options: { read?: boolean; presumed?: PresumedAdmission<A> | null } = {},
): Promise<T> {
  const afterCommit: Scope['afterCommit'] = [];
  const result = await db.transaction(async (tx) => {
    const presumed = options.presumed ? presume(tx, options.presumed) : null;
    const admitted = presumed ? options.presumed!.admitted : await admit(tx);
    let value: T;
    try {
      value = await storage.run({ tx, tenantId: admitted.tenantId, afterCommit }, () => fn(admitted));
    } catch (error) {
      // A failed admission is the answer, whatever it made `fn` fail with.
      if (presumed) options.presumed!.check(await presumed());
      throw error;
    }
    if (presumed) options.presumed!.check(await presumed());
    // Effects after the commit must see it: such a transaction waits for its commit.
    if (options.read && afterCommit.length === 0) commitWithNextStatement(connectionOf(tx));
    return value;
  });
  for (const effect of afterCommit) await effect(db);
  return result;
}

/** A caller presumed admitted, and the admission that confirms it (`withAdmittedTenant`). */
export interface PresumedAdmission<A> {
  admitted: A;
  /** The admission; it must raise when `admitted` is not (so nothing after it runs). */
  statement: ParameterizedStatement;
  /** Reads the admission's rows; throws to refuse the request. */
  check: (rows: Record<string, unknown>[]) => void;
}

/**
 * Holds the admission for the transaction's first statement; gives a function for its rows (which
 * sends it on its own if nothing took it along), or null where statements cannot travel together.
 */
function presume(tx: Transaction, presumed: PresumedAdmission<unknown>): (() => Promise<Record<string, unknown>[]>) | null {
  const client = connectionOf(tx);
  const held = admitWithNextStatement(client, presumed.statement);
  if (!held) return null;
  // Counted like every statement drizzle sends (tests count statements through its logger).
  (tx as unknown as { session?: { logger?: { logQuery(query: string, params: unknown[]): void } } }).session?.logger?.logQuery(presumed.statement.text, [...presumed.statement.values]);
  held.catch(() => undefined);
  return () => {
    sendHeldAdmission(client);
    return held;
  };
}

function useScope(): Scope {
  const scope = storage.getStore();
  if (!scope) throw new Error('No tenant transaction: this code must run inside withTenant()');
  return scope;
}

/** The current tenant-scoped transaction (or the savepoint inside it). */
export function useTransaction(): Transaction {
  return useScope().tx;
}

/** The tenant of the current transaction. */
export function useTenantId(): string {
  return useScope().tenantId;
}

/**
 * Work to do once the surrounding transaction has committed (never for a rolled-back one), given
 * the database the transaction ran on (for work outside any tenant, such as ANALYZE).
 */
export function afterCommit(effect: (db: Database) => unknown): void {
  useScope().afterCommit.push(effect);
}

/**
 * Runs `fn` in a savepoint of the current transaction: if it throws, everything it wrote is
 * undone and the request's transaction carries on. This is what makes a refused mutation change
 * nothing even when it had already written part of its work.
 */
export async function savepoint<T>(fn: () => Promise<T>): Promise<T> {
  const scope = useScope();
  const effects: Scope['afterCommit'] = [];
  const result = await scope.tx.transaction((inner) =>
    storage.run({ tx: inner, tenantId: scope.tenantId, afterCommit: effects }, fn),
  );
  scope.afterCommit.push(...effects);
  return result;
}
