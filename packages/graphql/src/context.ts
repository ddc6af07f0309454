import type { Actor, Database } from '@guanxi/core';

/** The operator who runs the service (creates tenants); belongs to no tenant. */
export interface OperatorCaller {
  kind: 'OPERATOR';
}

export type Caller = Actor | OperatorCaller;

/** Per request: who is calling (resolved once, before execution) and the request's id. */
export interface Context {
  caller: Caller;
  requestId: string;
  /** For the few operations outside any tenant (createTenant); tenant work uses the transaction. */
  db: Database;
}

export function tenantOf(caller: Caller): string | null {
  return caller.kind === 'OPERATOR' ? null : caller.tenantId;
}
