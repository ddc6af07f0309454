import { hashApiKeySecret, isWellFormedApiKey } from './api-key-format';

/**
 * What a flood of wrong credentials may cost, per server process (one Lambda container, one
 * `guanxi serve`). A guessed API key costs a database lookup; without these a caller could make
 * hundreds a second for free (753/s were measured against one `guanxi serve`).
 */
export interface CredentialGuardLimits {
  /** Wrong credentials (any scheme) one client address may send per window before it gets 429s. */
  failuresPerAddress: number;
  /** The address window, in ms. */
  addressWindowMs: number;
  /**
   * Lookups of keys that turned out unknown, per second, for the whole process (a flood from many
   * addresses). Past it, keys this process has not seen succeed get a 429 without a lookup; keys
   * it has seen succeed are always looked up (so revocation still takes effect at once).
   */
  unknownKeyLookupsPerSecond: number;
  /** How many failed and how many good key hashes are remembered (least recently used go first). */
  rememberedKeys: number;
}

export const defaultCredentialGuardLimits: CredentialGuardLimits = {
  // Generous for a person fixing a wrong header, useless for guessing a 178-bit secret.
  failuresPerAddress: 100,
  addressWindowMs: 60_000,
  unknownKeyLookupsPerSecond: 50,
  rememberedKeys: 10_000,
};

/** The answer to "may this credential be checked?": a refusal says for how long. */
export type GuardVerdict =
  | { allowed: true }
  | { allowed: false; reason: 'address' | 'server'; retryAfterSeconds: number };

/** What the guard has done since it was made (for the tests and the request log). */
export interface GuardCounters {
  lookups: number;
  rememberedFailureHits: number;
  refusedByAddress: number;
  refusedByServer: number;
}

/** A Map used as a bounded least-recently-used set (Maps iterate in insertion order). */
class RecentSet {
  private readonly entries = new Map<string, true>();
  constructor(private readonly capacity: number) {}

  has(key: string): boolean {
    if (!this.entries.has(key)) return false;
    this.entries.delete(key);
    this.entries.set(key, true);
    return true;
  }

  add(key: string): void {
    this.entries.delete(key);
    this.entries.set(key, true);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
  }

  delete(key: string): void {
    this.entries.delete(key);
  }
}

/**
 * In-memory defence against wrong-credential floods, in front of the database:
 * - a key hash that failed once is answered 401 from memory: a key that is unknown, revoked or
 *   expired never becomes valid (secrets are 178 random bits made by the server; revocation and
 *   expiry are final), so remembering it can never refuse a good key;
 * - each client address has a budget of wrong credentials per window (429 past it);
 * - the process has a budget of unknown-key lookups per second, which keys seen to work bypass.
 * Per process, not shared: its point is to keep a flood off the database, which a shared counter
 * (itself a database write) would not.
 */
export class CredentialGuard {
  readonly counters: GuardCounters = { lookups: 0, rememberedFailureHits: 0, refusedByAddress: 0, refusedByServer: 0 };
  private readonly failedKeys: RecentSet;
  private readonly goodKeys: RecentSet;
  private readonly addresses = new Map<string, { windowStart: number; failures: number }>();
  private unknownLookups = { second: 0, count: 0 };

  constructor(
    readonly limits: CredentialGuardLimits = defaultCredentialGuardLimits,
    private readonly now: () => number = Date.now,
  ) {
    this.failedKeys = new RecentSet(limits.rememberedKeys);
    this.goodKeys = new RecentSet(limits.rememberedKeys);
  }

  /** Before any credential is checked: is this address over its budget of wrong ones? */
  admitAddress(address: string): GuardVerdict {
    const entry = this.addresses.get(address);
    const now = this.now();
    if (!entry || now - entry.windowStart >= this.limits.addressWindowMs) return { allowed: true };
    if (entry.failures < this.limits.failuresPerAddress) return { allowed: true };
    this.counters.refusedByAddress++;
    return {
      allowed: false,
      reason: 'address',
      retryAfterSeconds: Math.max(1, Math.ceil((entry.windowStart + this.limits.addressWindowMs - now) / 1000)),
    };
  }

  /** A wrong credential from `address` (any scheme): counted against its budget. */
  recordFailure(address: string): void {
    const now = this.now();
    const entry = this.addresses.get(address);
    if (!entry || now - entry.windowStart >= this.limits.addressWindowMs) {
      this.addresses.delete(address);
      this.addresses.set(address, { windowStart: now, failures: 1 });
      // Bounded like the key sets: the oldest windows go first.
      if (this.addresses.size > this.limits.rememberedKeys) this.addresses.delete(this.addresses.keys().next().value!);
    } else {
      entry.failures++;
    }
  }

  /**
   * Checks an API key with `lookup` (the database) unless memory already knows the answer: a key
   * remembered as failed is 'unknown' without a lookup; when the server's budget of unknown-key
   * lookups is spent, a key not seen to work is refused without one.
   */
  async checkApiKey<T>(secret: string, lookup: (secret: string) => Promise<T | null>): Promise<GuardedLookup<T>> {
    const ticket = this.beforeLookup(secret);
    if ('outcome' in ticket) return ticket;
    let found: T | null;
    try {
      found = await lookup(secret);
    } catch (error) {
      this.lookupFailed(ticket);
      throw error;
    }
    this.afterLookup(ticket, found !== null);
    return found === null ? { outcome: 'unknown' } : { outcome: 'found', value: found };
  }

  /**
   * `checkApiKey` in two halves, for a lookup that is the first statement of a transaction the
   * caller opens only when it is needed: the answer from memory (no lookup: no transaction), or a
   * ticket for one lookup, counted against the budget now, so a burst sent all at once is capped.
   */
  beforeLookup(secret: string): LookupTicket | { outcome: 'unknown' } | { outcome: 'refused'; verdict: GuardVerdict & { allowed: false } } {
    if (!isWellFormedApiKey(secret)) return { outcome: 'unknown' };
    const hash = hashApiKeySecret(secret);
    if (this.failedKeys.has(hash)) {
      this.counters.rememberedFailureHits++;
      return { outcome: 'unknown' };
    }
    const second = Math.floor(this.now() / 1000);
    if (this.unknownLookups.second !== second) this.unknownLookups = { second, count: 0 };
    if (this.unknownLookups.count >= this.limits.unknownKeyLookupsPerSecond && !this.goodKeys.has(hash)) {
      this.counters.refusedByServer++;
      return { outcome: 'refused', verdict: { allowed: false, reason: 'server', retryAfterSeconds: 1 } };
    }
    this.counters.lookups++;
    const window = this.unknownLookups;
    window.count++;
    return { hash, window };
  }

  /** What the ticket's lookup found: a good key gives its place in the budget back. */
  afterLookup(ticket: LookupTicket, found: boolean): void {
    if (found) {
      ticket.window.count--;
      this.goodKeys.add(ticket.hash);
    } else {
      this.goodKeys.delete(ticket.hash);
      this.failedKeys.add(ticket.hash);
    }
  }

  /** The ticket's lookup never answered (the database failed): it costs nothing. */
  lookupFailed(ticket: LookupTicket): void {
    ticket.window.count--;
  }
}

/** One lookup the guard let through (`beforeLookup`). */
export interface LookupTicket {
  hash: string;
  window: { second: number; count: number };
}

export type GuardedLookup<T> =
  | { outcome: 'found'; value: T }
  | { outcome: 'unknown' }
  | { outcome: 'refused'; verdict: GuardVerdict & { allowed: false } };
