import type { Actor, Database } from '@guanxi/core';

/** The operator who runs the service (creates tenants); belongs to no tenant. */
export interface OperatorCaller {
  kind: 'OPERATOR';
}

export type Caller = Actor | OperatorCaller;

/** Per request: who is calling (resolved once, before execution) and the request's id. */
// A type alias, not an interface, so it is assignable to the plugins' Record<string, unknown>.
export type Context = {
  caller: Caller;
  requestId: string;
  /** For the few operations outside any tenant (createTenant); tenant work uses the transaction. */
  db: Database;
  /** Notes for the caller that are not errors (e.g. a search stopped at its cap), sent as `extensions.warnings`. */
  warnings: { path: string; message: string }[];
};

export function tenantOf(caller: Caller): string | null {
  return caller.kind === 'OPERATOR' ? null : caller.tenantId;
}
