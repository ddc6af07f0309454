import type { ApiScope, Role } from '@guanxi/core';
import type { Caller } from '../context';

/** The rights a field or mutation can require (domain: tenants and access). */
export interface Rights {
  networkRead: boolean;
  networkWrite: boolean;
  referralsRead: boolean;
  referralsWrite: boolean;
  loyaltyRead: boolean;
  admin: boolean;
}

const none: Rights = {
  networkRead: false,
  networkWrite: false,
  referralsRead: false,
  referralsWrite: false,
  loyaltyRead: false,
  admin: false,
};

const all: Rights = {
  networkRead: true,
  networkWrite: true,
  referralsRead: true,
  referralsWrite: true,
  loyaltyRead: true,
  admin: true,
};

// domain: ADMIN everything; MEMBER reads and writes the network, stages, referrals and orders;
// VIEWER reads.
const roleRights: Record<Role, Rights> = {
  ADMIN: all,
  MEMBER: { ...all, admin: false },
  VIEWER: { ...none, networkRead: true, referralsRead: true, loyaltyRead: true },
};

const scopeRights: Record<ApiScope, Partial<Rights>> = {
  NETWORK_READ: { networkRead: true },
  // Writing a record means handling it, so a write scope implies reading what it writes.
  NETWORK_WRITE: { networkRead: true, networkWrite: true },
  REFERRALS_READ: { referralsRead: true },
  REFERRALS_WRITE: { referralsRead: true, referralsWrite: true },
  LOYALTY_READ: { loyaltyRead: true },
  ADMIN: all,
};

export function rightsOf(caller: Caller): Rights {
  switch (caller.kind) {
    case 'OPERATOR':
      return none;
    case 'USER':
      return roleRights[caller.role];
    case 'SYSTEM':
      return all;
    case 'API_KEY':
      return caller.scopes.reduce<Rights>((rights, scope) => ({ ...rights, ...scopeRights[scope] }), none);
  }
}
