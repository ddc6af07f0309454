import { createHash, randomBytes } from 'node:crypto';

// Format: gx_<30 base62 random chars><6 base62 checksum chars>. The fixed prefix lets secret
// scanners recognise a leaked key; the checksum lets us refuse a mistyped key without a lookup.
const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const prefix = 'gx_';
const bodyLength = 30;
const checksumLength = 6;

function base62(bytes: Buffer, length: number): string {
  let out = '';
  for (const byte of bytes) {
    // 248 = 62 * 4: rejecting bytes above it keeps every character equally likely.
    if (byte < 248) out += alphabet[byte % 62];
    if (out.length === length) break;
  }
  return out;
}

function checksum(body: string): string {
  // The first 48 bits of the body's SHA-256 in base 62 (exact as a double: below 2^53).
  let value = createHash('sha256').update(body).digest().readUIntBE(0, 6);
  let out = '';
  for (let i = 0; i < checksumLength; i++) {
    out = alphabet[value % 62] + out;
    value = Math.floor(value / 62);
  }
  return out;
}

const wellFormedBody = new RegExp(`^[0-9A-Za-z]{${bodyLength}}$`);

export function generateApiKeySecret(): string {
  let body = '';
  while (body.length < bodyLength) body += base62(randomBytes(48), bodyLength - body.length);
  return `${prefix}${body}${checksum(body)}`;
}

export function isWellFormedApiKey(secret: string): boolean {
  if (!secret.startsWith(prefix) || secret.length !== prefix.length + bodyLength + checksumLength) {
    return false;
  }
  const body = secret.slice(prefix.length, prefix.length + bodyLength);
  if (!wellFormedBody.test(body)) return false;
  return checksum(body) === secret.slice(prefix.length + bodyLength);
}

export function hashApiKeySecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** What lists show of a key: enough to tell keys apart, useless to an attacker. */
export function displayPrefix(secret: string): string {
  return secret.slice(0, prefix.length + 6);
}
