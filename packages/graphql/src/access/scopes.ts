import type { ApiScope, Role } from '@guanxi/core';
import type { Caller } from '../context';

/** The rights a field or mutation can require (domain: tenants and access). */
export interface Rights {
  networkRead: boolean;
  networkWrite: boolean;
  referralsRead: boolean;
  referralsWrite: boolean;
  loyaltyRead: boolean;
  /** Points: redeem and adjust (the loyalty programme's money-like writes). */
  loyaltyWrite: boolean;
  admin: boolean;
}

const none: Rights = {
  networkRead: false,
  networkWrite: false,
  referralsRead: false,
  referralsWrite: false,
  loyaltyRead: false,
  loyaltyWrite: false,
  admin: false,
};

const all: Rights = {
  networkRead: true,
  networkWrite: true,
  referralsRead: true,
  referralsWrite: true,
  loyaltyRead: true,
  loyaltyWrite: true,
  admin: true,
};

// domain: ADMIN everything; MEMBER reads and writes the network, stages, referrals and orders
// (and redeems and adjusts points, the desk's daily work); VIEWER reads.
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
  LOYALTY_WRITE: { loyaltyRead: true, loyaltyWrite: true },
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
