import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Signature of a delivery. Receivers verify it like this (documented for partners):
 *
 *   1. Read the raw request body (bytes as received, before any JSON parsing) and the headers
 *      `x-guanxi-timestamp` (unix seconds) and `x-guanxi-signature` (`v1=<hex>`).
 *   2. Reject the request if the timestamp is more than 5 minutes from your clock (replays).
 *   3. Compute HMAC-SHA256 with the webhook's secret (the whole `whsec_…` string as the key) over
 *      `<timestamp>.<raw body>` and hex-encode it.
 *   4. Compare it with the value after `v1=` in constant time (crypto.timingSafeEqual).
 *   5. Deduplicate by `x-guanxi-delivery`: delivery is at-least-once, a retry repeats the id.
 *
 *   const expected = createHmac('sha256', secret).update(`${timestamp}.${rawBody}`).digest('hex');
 *
 * The timestamp is inside the signed text so an attacker cannot replay an old body with a fresh
 * timestamp; the `v1=` prefix leaves room for a future scheme without breaking receivers.
 */
export function signPayload(secret: string, timestamp: number, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** The receiver side of the recipe above (used by the tests; partners can copy it). */
export function verifySignature(
  secret: string,
  header: { timestamp: string | null; signature: string | null },
  body: string,
  options: { now?: Date; toleranceSeconds?: number } = {},
): boolean {
  const timestamp = Number(header.timestamp);
  if (!header.signature || !Number.isInteger(timestamp)) return false;
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  if (Math.abs(now - timestamp) > (options.toleranceSeconds ?? 300)) return false;
  const expected = Buffer.from(signPayload(secret, timestamp, body));
  const given = Buffer.from(header.signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** A new signing secret: 32 random bytes, prefixed so it is recognisable in a secrets scanner. */
export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}
