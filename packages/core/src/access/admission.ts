import { sql, type SQL } from 'drizzle-orm';
import { apiScopes, type Actor, type ApiScope } from '../actor';
import type { Database, Transaction } from '../drizzle/client';
import { inlineLiteral, type ParameterizedStatement } from '../drizzle/coalesced-begin';
import { hashApiKeySecret, isWellFormedApiKey } from './api-key-format';
import { rateLimitVerdict, windowStartOf, type RateLimits, type RateLimitVerdict, type RequestCounts } from './rate-limit';

/**
 * A request's admission: its first statement, in its own transaction (migration 0009). One round
 * trip, together with the `begin`, switches to the application role, checks the credential,
 * counts the request and sets the tenant, so the rest of the request runs as that tenant in the
 * same transaction. Nothing is cached: a revoked key is refused on its next request.
 */

/**
 * A statement with its values written in as literals (null as `null`): without parameters it
 * travels with the transaction's `begin` in one round trip (coalesced-begin.ts). Only for the
 * admission's few values; everything else binds parameters.
 */
function inlined(strings: TemplateStringsArray, ...values: (string | null)[]): SQL {
  return sql.raw(inlinedText(strings, ...values));
}

function inlinedText(strings: TemplateStringsArray, ...values: (string | null)[]): string {
  return strings.reduce((text, part, i) => text + (i === 0 ? '' : values[i - 1] === null ? 'null' : inlineLiteral(values[i - 1]!)) + part, '');
}

// `last_used_at` is refreshed at most this often, so a busy key does not write on every request.
const lastUsedResolutionMs = 5 * 60 * 1000;

/**
 * The instants an API key's admission is given, as text: the start of the rate-limit window to
 * count in (null without limits), and the `last_used_at` older than which it is refreshed.
 */
function keyAdmissionBounds(limits: RateLimits | null, now: Date): { windowStart: string | null; usedBefore: string } {
  return {
    windowStart: limits ? windowStartOf(limits, now).toISOString() : null,
    usedBefore: new Date(now.getTime() - lastUsedResolutionMs).toISOString(),
  };
}

export interface Admission {
  actor: Actor & { kind: 'API_KEY' };
  rateLimit: RateLimitVerdict;
}

/**
 * Admits a request that presents an API key secret, inside `tx` (which must not have run
 * anything yet): null for a malformed, unknown, revoked or expired key, else the key's actor and,
 * with `limits`, whether the request fits them (counted either way). On success the transaction
 * is the key's tenant's.
 */
export async function admitApiKey(
  tx: Transaction,
  secret: string,
  limits: RateLimits | null,
  now: Date = new Date(),
): Promise<Admission | null> {
  if (!isWellFormedApiKey(secret)) return null;
  const { windowStart, usedBefore } = keyAdmissionBounds(limits, now);
  const { rows } = await tx.execute<RequestCounts & { tenant_id: string; key_id: string; scopes: string[] }>(
    inlined`select * from guanxi_admit_api_key(${hashApiKeySecret(secret)}, ${windowStart}::timestamptz, ${usedBefore}::timestamptz)`,
  );
  const row = rows[0];
  if (!row) return null;
  const actor: Admission['actor'] = {
    kind: 'API_KEY',
    tenantId: row.tenant_id,
    keyId: row.key_id,
    scopes: row.scopes.filter((s): s is ApiScope => (apiScopes as readonly string[]).includes(s)),
  };
  return { actor, rateLimit: rateLimitVerdict(row, limits, now) };
}

/**
 * The admission of a key this process has admitted before (its actor known, by the hash of its
 * secret: `AdmittedKeys.presumed`), as one statement to
 * send with the request's first read instead of before it (`withAdmittedTenant`'s `presumed`):
 * the statement counts the request, sets the tenant, and raises when the key is no longer that
 * actor's (revoked, expired), which stops the read (migration 0012). `verdict` reads its row.
 */
export function presumedApiKeyAdmission(
  secretHash: string,
  actor: Admission['actor'],
  limits: RateLimits | null,
  now: Date = new Date(),
): { statement: ParameterizedStatement; verdict: (rows: Record<string, unknown>[]) => RateLimitVerdict } {
  const { windowStart, usedBefore } = keyAdmissionBounds(limits, now);
  return {
    // With parameters: one text for every request, so Postgres parses and plans it once per
    // connection (prepared.ts) instead of on every request.
    statement: { text: presumedKeyAdmissionText, values: [secretHash, windowStart, usedBefore, actor.tenantId, actor.keyId] },
    verdict: (rows) => rateLimitVerdict((rows[0] ?? {}) as RequestCounts, limits, now),
  };
}

const presumedKeyAdmissionText =
  'select * from guanxi_admit_api_key_as($1, $2::timestamptz, $3::timestamptz, $4::uuid, $5::uuid)';

/** Whether `error` is the refusal of a presumed key (migration 0012): the key is no longer good. */
export function isPresumedKeyRefused(error: unknown): boolean {
  for (let cause = error; cause; cause = (cause as { cause?: unknown }).cause) {
    if ((cause as { code?: unknown }).code === '28000' && /presumed API key/.test(String((cause as Error).message))) return true;
  }
  return false;
}

/**
 * Admits a signed-in user's request (the JWT itself needs no lookup) inside `tx`, which must not
 * have run anything yet: null when the token's tenant does not exist, else the rate-limit verdict
 * (always allowed with `limits` null). On success the transaction is the user's tenant's.
 */
export async function admitUser(
  tx: Transaction,
  actor: Actor & { kind: 'USER' },
  limits: RateLimits | null,
  now: Date = new Date(),
): Promise<RateLimitVerdict | null> {
  const windowStart = limits ? windowStartOf(limits, now).toISOString() : null;
  const { rows } = await tx.execute<RequestCounts & { tenant_id: string }>(
    inlined`select * from guanxi_admit_user(${actor.tenantId}::uuid, ${`user:${actor.userId}`}, ${windowStart}::timestamptz)`,
  );
  const row = rows[0];
  return row ? rateLimitVerdict(row, limits, now) : null;
}

/** An API key checked on its own (development tools, benchmarks): its admission in a transaction of its own. */
export async function authenticateApiKey(
  db: Database,
  secret: string,
  limits: RateLimits | null = null,
): Promise<Admission | null> {
  if (!isWellFormedApiKey(secret)) return null;
  return db.transaction((tx) => admitApiKey(tx, secret, limits));
}

/**
 * The API keys this process has admitted, by the hash of their secret, with their actor (a key's
 * tenant and scopes never change), so that a later request of the same key can run as that actor
 * at once and have its admission confirm it in the same round trip as its first read
 * (`presumedApiKeyAdmission`). Nothing is served from here alone: every request is still admitted
 * by the database, and a key it refuses is forgotten. Bounded: the oldest entry makes room.
 */
export class AdmittedKeys {
  private readonly keys = new Map<string, Admission['actor']>();

  constructor(private readonly capacity = 10_000) {}

  /**
   * The key's actor when it was admitted before, with the hash its admission and `forget` take.
   * `secretHash`: the secret's hash when the caller has it already (the credential guard's).
   */
  presumed(secret: string, secretHash = hashApiKeySecret(secret)): { secretHash: string; actor: Admission['actor'] } | undefined {
    const actor = this.keys.get(secretHash);
    return actor && { secretHash, actor };
  }

  /** `secretHash` as in `presumed`. */
  remember(secret: string, actor: Admission['actor'], hash = hashApiKeySecret(secret)): void {
    if (!this.keys.has(hash) && this.keys.size >= this.capacity) this.keys.delete(this.keys.keys().next().value!);
    this.keys.set(hash, actor);
  }

  forget(secretHash: string): void {
    this.keys.delete(secretHash);
  }
}
