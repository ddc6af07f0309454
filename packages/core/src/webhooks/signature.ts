import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Signatures of a delivery. Each carries two, so receivers can move from the first to the
 * standard one within a release (documented for partners in the README):
 *
 * Standard Webhooks (standardwebhooks.com), verifiable with its libraries
 * (`new Webhook(secret).verify(rawBody, headers)`):
 *   - `webhook-id`: the delivery id (delivery is at least once; a retry repeats it: deduplicate);
 *   - `webhook-timestamp`: unix seconds; reject one more than 5 minutes from your clock;
 *   - `webhook-signature`: `v1,<base64 of HMAC-SHA256 over "<id>.<timestamp>.<raw body>">`, keyed
 *     with the bytes the secret encodes after `whsec_` (standard base64).
 *
 * The first scheme, deprecated and removed in the next release: `x-guanxi-delivery`,
 * `x-guanxi-event`, `x-guanxi-timestamp` and `x-guanxi-signature: v1=<hex of HMAC-SHA256 over
 * "<timestamp>.<raw body>">`, keyed with the whole `whsec_…` string.
 *
 * Both sign the timestamp with the body, so an old body cannot be replayed with a fresh
 * timestamp, and name their scheme (`v1`) to leave room for another without breaking receivers.
 */
export function deliveryHeaders(
  secret: string,
  delivery: { id: string; event: string; timestamp: number; body: string },
): Record<string, string> {
  const { id, event, timestamp, body } = delivery;
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signStandardPayload(secret, id, timestamp, body),
    'x-guanxi-delivery': id,
    'x-guanxi-event': event,
    'x-guanxi-timestamp': String(timestamp),
    'x-guanxi-signature': signPayload(secret, timestamp, body),
  };
}

/** The `webhook-signature` of the Standard Webhooks format. */
export function signStandardPayload(secret: string, id: string, timestamp: number, body: string): string {
  return `v1,${createHmac('sha256', signingKey(secret)).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

/**
 * The key of the standard signature: the bytes the secret encodes after `whsec_`. Secrets are
 * standard base64 now (what the Standard Webhooks libraries decode); those made before are
 * base64url, which Node's base64 decoder reads too (`-`, `_`, no padding), so an old secret signs
 * with its own bytes and a partner converts it by changing alphabet, not by asking for a new one.
 */
function signingKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret, 'base64');
}

/** The deprecated `x-guanxi-signature` (removed in the next release). */
export function signPayload(secret: string, timestamp: number, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** The receiver side of the deprecated `x-guanxi-signature` (used by the tests). */
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

/**
 * A new signing secret: 32 random bytes in standard base64 with its padding (the Standard
 * Webhooks libraries decode exactly that), prefixed so it is recognisable in a secrets scanner.
 */
export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}
