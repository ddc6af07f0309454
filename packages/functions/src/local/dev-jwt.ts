import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import type { Role } from '@guanxi/core';
import type { JwtSettings } from '@guanxi/core/access';

/**
 * The local development signing key: made on first use, kept beside the embedded database
 * (git-ignored), trusted only by a development server. Production never reads it.
 */
export const devIssuer = 'guanxi-dev';
export const devAudience = 'guanxi';
const algorithm = 'ES256';

interface StoredKey {
  kid: string;
  privateJwk: JWK;
  publicJwk: JWK;
}

function keyFile(dataDir: string): string {
  return join(dirname(dataDir), 'dev-jwt-key.json');
}

export async function loadOrCreateDevKey(dataDir: string): Promise<StoredKey> {
  const file = keyFile(dataDir);
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as StoredKey;
  const { privateKey, publicKey } = await generateKeyPair(algorithm, { extractable: true });
  const kid = `dev-${Date.now().toString(36)}`;
  const stored: StoredKey = {
    kid,
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg: algorithm },
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg: algorithm, use: 'sig' },
  };
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600 });
  return stored;
}

/** JWT settings that trust the development key. */
export function devJwtSettings(key: StoredKey): JwtSettings {
  return { issuer: devIssuer, audience: devAudience, jwks: { keys: [key.publicJwk] }, algorithms: [algorithm] };
}

export async function mintDevToken(
  key: StoredKey,
  claims: { tenantId: string; role: Role; subject: string; ttlSeconds: number },
): Promise<string> {
  const privateKey = await importJWK(key.privateJwk, algorithm);
  return new SignJWT({ tenant_id: claims.tenantId, role: claims.role })
    .setProtectedHeader({ alg: algorithm, kid: key.kid, typ: 'JWT' })
    .setIssuer(devIssuer)
    .setAudience(devAudience)
    .setSubject(claims.subject)
    .setIssuedAt()
    .setExpirationTime(`${claims.ttlSeconds}s`)
    .sign(privateKey);
}
