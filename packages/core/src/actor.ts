import { AsyncLocalStorage } from 'node:async_hooks';
import type { ActorKind } from './stages/enums';

export const roles = ['ADMIN', 'MEMBER', 'VIEWER'] as const;
export type Role = (typeof roles)[number];

export const apiScopes = [
  'NETWORK_READ',
  'NETWORK_WRITE',
  'REFERRALS_READ',
  'REFERRALS_WRITE',
  'LOYALTY_READ',
  'LOYALTY_WRITE',
  'ADMIN',
] as const;
export type ApiScope = (typeof apiScopes)[number];

/** Who is calling: resolved once per request (or job) and readable anywhere below it. */
export type Actor =
  | { kind: 'USER'; tenantId: string; userId: string; role: Role }
  | { kind: 'API_KEY'; tenantId: string; keyId: string; scopes: ApiScope[] }
  | { kind: 'SYSTEM'; tenantId: string; name: string };

interface ActorScope {
  actor: Actor;
  /** The request this work belongs to, recorded in the audit log ("from where"). */
  requestId: string | null;
}

const storage = new AsyncLocalStorage<ActorScope>();

export function withActor<T>(actor: Actor, fn: () => T, requestId: string | null = null): T {
  return storage.run({ actor, requestId }, fn);
}

export function useActor(): Actor {
  const scope = storage.getStore();
  if (!scope) throw new Error('No actor: this code must run inside withActor()');
  return scope.actor;
}

export function useRequestId(): string | null {
  return storage.getStore()?.requestId ?? null;
}

/** The columns every write records about its author (audit log, stage history, interactions). */
export function actorColumns(actor: Actor = useActor()): { actorKind: ActorKind; actorId: string } {
  switch (actor.kind) {
    case 'USER':
      return { actorKind: 'USER', actorId: actor.userId };
    case 'API_KEY':
      return { actorKind: 'API_KEY', actorId: actor.keyId };
    case 'SYSTEM':
      return { actorKind: 'SYSTEM', actorId: actor.name };
  }
}
