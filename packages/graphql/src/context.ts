import type { Actor, Database } from '@guanxi/core';

/** The operator who runs the service (creates tenants); belongs to no tenant. */
export interface OperatorCaller {
  kind: 'OPERATOR';
}

export type Caller = Actor | OperatorCaller;

/**
 * A tenant caller as far as it is known before execution: its credential, checked as far as can
 * be without the database. It is admitted by the first statement of the request's transaction
 * (key lookup, tenant, rate limit: server.ts), as execution starts.
 */
export type PendingAdmission =
  | { kind: 'API_KEY'; secret: string }
  | { kind: 'USER'; actor: Actor & { kind: 'USER' } };

/**
 * Per request, as built before execution: the operator is known at once; a tenant caller is
 * `admission` until execution starts, when `caller` is set (before any resolver runs).
 */
// A type alias, not an interface, so it is assignable to the plugins' Record<string, unknown>.
export type RequestContext = {
  caller: Caller | null;
  admission: PendingAdmission | null;
  requestId: string;
  /** For the few operations outside any tenant (createTenant); tenant work uses the transaction. */
  db: Database;
  /** Notes for the caller that are not errors (e.g. a search stopped at its cap), sent as `extensions.warnings`. */
  warnings: { path: string; message: string }[];
};

/** What resolvers see: who is calling (admitted once, as execution started) and the request's id. */
export type Context = RequestContext & { caller: Caller };

export function tenantOf(caller: Caller): string | null {
  return caller.kind === 'OPERATOR' ? null : caller.tenantId;
}
