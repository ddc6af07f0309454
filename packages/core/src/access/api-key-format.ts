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
  let value = BigInt('0x' + createHash('sha256').update(body).digest('hex').slice(0, 12));
  let out = '';
  for (let i = 0; i < checksumLength; i++) {
    out = alphabet[Number(value % 62n)] + out;
    value /= 62n;
  }
  return out;
}

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
  if (![...body].every((c) => alphabet.includes(c))) return false;
  return checksum(body) === secret.slice(prefix.length + bodyLength);
}

export function hashApiKeySecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** What lists show of a key: enough to tell keys apart, useless to an attacker. */
export function displayPrefix(secret: string): string {
  return secret.slice(0, prefix.length + 6);
}
