import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors as joseErrors,
  importSPKI,
  jwtVerify,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
} from 'jose';
import { roles, type Actor, type Role } from '../actor';
import { isUuid } from '../ids';

/** How frontend JWTs are checked (README: Configuration). */
export interface JwtSettings {
  issuer: string;
  audience: string;
  /** The identity provider's key set (production). */
  jwksUrl?: string | null;
  /** A key set given inline (development, tests). */
  jwks?: JSONWebKeySet | null;
  /** One SPKI public key in PEM (development). */
  publicKeyPem?: string | null;
  /** Accepted signing algorithms. Default: asymmetric only, so a public key can never be used as an HMAC secret. */
  algorithms?: string[];
  /** Claim holding the tenant id (default `tenant_id`). */
  tenantClaim?: string;
  /** Claim holding the role ADMIN | MEMBER | VIEWER (default `role`). */
  roleClaim?: string;
  /** Allowed clock skew for exp/nbf/iat, in seconds (default 30). */
  clockToleranceSeconds?: number;
}

export const asymmetricAlgorithms = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
];

/** Why a token was refused; the message is safe to show the caller. */
export class JwtRejected extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JwtRejected';
  }
}

// One remote key set per URL and process: jose caches the keys and refetches on an unknown kid
// (rate-limited), so a key rotation at the identity provider needs no restart.
const remoteKeySets = new Map<string, JWTVerifyGetKey>();

function remoteKeySet(url: string): JWTVerifyGetKey {
  let keySet = remoteKeySets.get(url);
  if (!keySet) {
    keySet = createRemoteJWKSet(new URL(url), { cooldownDuration: 30_000, cacheMaxAge: 600_000 });
    remoteKeySets.set(url, keySet);
  }
  return keySet;
}

// Printable, no surrounding blanks, at most 255 characters (what identity providers issue: uuids,
// `auth0|…`, e-mail-like names).
const subjectPattern = /^(?=\S)[^\p{Cc}]{1,255}(?<=\S)$/u;

export type JwtVerifier = (token: string) => Promise<Actor & { kind: 'USER' }>;

export function createJwtVerifier(settings: JwtSettings): JwtVerifier {
  const algorithms = settings.algorithms?.length ? settings.algorithms : asymmetricAlgorithms;
  const tenantClaim = settings.tenantClaim ?? 'tenant_id';
  const roleClaim = settings.roleClaim ?? 'role';
  let keyPromise: Promise<JWTVerifyGetKey | CryptoKey> | null = null;
  const key = () => {
    keyPromise ??= (async () => {
      if (settings.jwksUrl) return remoteKeySet(settings.jwksUrl);
      if (settings.jwks) return createLocalJWKSet(settings.jwks);
      if (settings.publicKeyPem) {
        if (algorithms.length !== 1) {
          throw new Error('A PEM public key needs exactly one algorithm in the JWT algorithm list');
        }
        return importSPKI(settings.publicKeyPem, algorithms[0]!);
      }
      throw new Error('JWT verification needs a JWKS URL, a JWKS or a public key');
    })();
    return keyPromise;
  };

  const tolerance = settings.clockToleranceSeconds ?? 30;
  return async (token) => {
    let payload;
    try {
      const resolved = await key();
      const options = {
        issuer: settings.issuer,
        audience: settings.audience,
        algorithms,
        clockTolerance: tolerance,
        requiredClaims: ['exp', 'sub'],
      };
      ({ payload } =
        typeof resolved === 'function'
          ? await jwtVerify(token, resolved, options)
          : await jwtVerify(token, resolved, options));
    } catch (error) {
      throw new JwtRejected(describe(error));
    }
    // jose checks `iat` only against a maximum token age, which we do not set: a token issued
    // in the future is a clock or forgery problem, refused like one not valid yet.
    if (typeof payload.iat === 'number' && payload.iat > Date.now() / 1000 + tolerance) {
      throw new JwtRejected('The token is issued in the future');
    }
    // The subject becomes the actor of every audit entry and stage move: a name of the user, not
    // a number, a blank or a paragraph.
    const subject = payload.sub;
    if (typeof subject !== 'string' || !subjectPattern.test(subject)) {
      throw new JwtRejected('The token\'s "sub" claim must be a non-blank string of at most 255 printable characters');
    }
    const tenantId = payload[tenantClaim];
    if (typeof tenantId !== 'string' || !isUuid(tenantId)) {
      throw new JwtRejected(`The token has no valid "${tenantClaim}" claim`);
    }
    const rawRole = payload[roleClaim];
    const role = typeof rawRole === 'string' ? rawRole.toUpperCase() : '';
    if (!(roles as readonly string[]).includes(role)) {
      throw new JwtRejected(`The token's "${roleClaim}" claim must be one of ${roles.join(', ')}`);
    }
    return { kind: 'USER', tenantId: tenantId.toLowerCase(), userId: subject, role: role as Role };
  };
}

function describe(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'The token has expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf') return 'The token is not valid yet';
    return `The token's "${error.claim}" claim is not accepted`;
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'The token is signed with an algorithm that is not accepted';
  if (error instanceof joseErrors.JWKSNoMatchingKey) return 'The token is signed with an unknown key';
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'The token signature is invalid';
  if (error instanceof joseErrors.JWTInvalid || error instanceof joseErrors.JWSInvalid) return 'The token is malformed';
  if (error instanceof joseErrors.JWKSTimeout) return 'The identity provider did not answer in time';
  return 'The token could not be verified';
}
