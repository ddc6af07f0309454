import type { JwtSettings } from '@guanxi/core/access';

/**
 * Settings from the environment (README: Configuration). One place reads them, so the dev server,
 * the CLI and the Lambda handlers agree on names and defaults.
 */
export interface Settings {
  env: 'development' | 'production';
  databaseUrl: string | null;
  dataDir: string;
  port: number;
  operatorKey: string | null;
  /** GraphiQL and introspection: on in development, off in production unless asked for. */
  graphiql: boolean;
  /** Frontend sign-in; null when no identity provider is configured (development then trusts its own key). */
  jwt: JwtSettings | null;
  /**
   * `GUANXI_RATE_LIMITS=off` switches the per-tenant and per-caller request counters off, so a
   * load test (bench/http.ts) measures the API rather than the limiter refusing it. Development
   * only: production always counts.
   */
  rateLimits: boolean;
  /**
   * `GUANXI_CORS_ORIGINS`: comma-separated browser origins allowed to call the API, or `*` for
   * any. Default: any in development, none in production.
   */
  corsOrigins: string[] | '*' | null;
}

function parseEnvName(value: string | undefined): Settings['env'] {
  if (!value || value === 'development') return 'development';
  if (value === 'production') return 'production';
  throw new Error(`GUANXI_ENV must be "development" or "production", not "${value}"`);
}

function parseBoolean(name: string, value: string | undefined): boolean | null {
  if (value === undefined || value === '') return null;
  if (['1', 'true', 'yes', 'on'].includes(value.toLowerCase())) return true;
  if (['0', 'false', 'no', 'off'].includes(value.toLowerCase())) return false;
  throw new Error(`${name} must be true or false, not "${value}"`);
}

export function readSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const name = parseEnvName(env.GUANXI_ENV);
  const port = Number(env.PORT ?? 4000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`PORT must be a port number, not "${env.PORT}"`);
  }
  const graphiql = parseBoolean('GUANXI_GRAPHIQL', env.GUANXI_GRAPHIQL) ?? name === 'development';
  const settings: Settings = {
    env: name,
    databaseUrl: env.DATABASE_URL?.trim() || null,
    dataDir: env.GUANXI_DATA_DIR?.trim() || '.guanxi/data',
    port,
    operatorKey: env.GUANXI_OPERATOR_KEY?.trim() || null,
    graphiql,
    jwt: readJwtSettings(env),
    rateLimits: parseRateLimits(env.GUANXI_RATE_LIMITS),
    corsOrigins: parseCorsOrigins(env.GUANXI_CORS_ORIGINS) ?? (name === 'development' ? '*' : null),
  };
  if (name === 'production') {
    // Production refuses settings that only make sense on a laptop.
    if (!settings.databaseUrl || settings.databaseUrl.startsWith('memory://')) {
      throw new Error('Production needs DATABASE_URL pointing at Postgres (embedded PGlite is for development)');
    }
    if (settings.operatorKey && settings.operatorKey.length < 32) {
      throw new Error('GUANXI_OPERATOR_KEY must be at least 32 characters in production');
    }
    if (!settings.rateLimits) {
      throw new Error('GUANXI_RATE_LIMITS=off is for load tests on a development server; production always rate limits');
    }
  }
  return settings;
}

function parseCorsOrigins(value: string | undefined): string[] | '*' | null {
  const given = value?.split(',').map((origin) => origin.trim()).filter(Boolean) ?? [];
  if (given.length === 0) return null;
  if (given.includes('*')) return '*';
  for (const origin of given) {
    // An origin is scheme://host[:port], nothing more: a path or a trailing slash never matches
    // the Origin header a browser sends, which would silently lock the frontend out.
    let parsed: URL | null = null;
    try {
      parsed = new URL(origin);
    } catch {}
    if (!parsed || !/^https?:$/.test(parsed.protocol) || parsed.origin !== origin) {
      throw new Error(`GUANXI_CORS_ORIGINS holds origins such as https://app.example.com, not "${origin}"`);
    }
  }
  return given;
}

function parseRateLimits(value: string | undefined): boolean {
  const given = value?.trim().toLowerCase();
  if (!given || given === 'on') return true;
  if (given === 'off') return false;
  throw new Error(`GUANXI_RATE_LIMITS must be "on" or "off", not "${value}"`);
}

function readJwtSettings(env: NodeJS.ProcessEnv): JwtSettings | null {
  const jwksUrl = env.JWKS_URL?.trim() || null;
  const publicKeyPem = env.JWT_PUBLIC_KEY?.trim() || null;
  if (!jwksUrl && !publicKeyPem) return null;
  const issuer = env.JWT_ISSUER?.trim();
  const audience = env.JWT_AUDIENCE?.trim();
  if (!issuer || !audience) {
    throw new Error('JWT sign-in needs JWT_ISSUER and JWT_AUDIENCE besides JWKS_URL or JWT_PUBLIC_KEY');
  }
  const algorithms = env.JWT_ALGORITHMS?.split(',').map((a) => a.trim()).filter(Boolean);
  if (jwksUrl && !/^https:\/\//.test(jwksUrl) && !/^http:\/\/(localhost|127\.0\.0\.1)[:/]/.test(jwksUrl)) {
    throw new Error('JWKS_URL must be an https URL');
  }
  return {
    issuer,
    audience,
    jwksUrl,
    publicKeyPem,
    ...(algorithms?.length ? { algorithms } : {}),
    ...(env.JWT_TENANT_CLAIM ? { tenantClaim: env.JWT_TENANT_CLAIM } : {}),
    ...(env.JWT_ROLE_CLAIM ? { roleClaim: env.JWT_ROLE_CLAIM } : {}),
  };
}
