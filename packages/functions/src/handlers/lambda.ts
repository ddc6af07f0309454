import { createDatabase, type DatabaseHandle } from '@guanxi/core';
import { Resource } from 'sst';

/**
 * What every Lambda handler shares: settings from the environment plus the SST-linked secrets,
 * the Neon database opened once per container, and the event shapes AWS sends (written out here
 * rather than pulling in @types/aws-lambda: only the fields we read).
 */

/** API Gateway HTTP API / Lambda function URL, payload format 2.0. */
export interface HttpEventV2 {
  version?: '2.0';
  rawPath: string;
  rawQueryString: string;
  /** Multi-value headers arrive joined with commas; cookies are in `cookies`. */
  headers?: Record<string, string | undefined>;
  cookies?: string[];
  body?: string;
  isBase64Encoded: boolean;
  requestContext: {
    requestId: string;
    domainName?: string;
    http: { method: string; path?: string; sourceIp?: string };
  };
}

export interface HttpResultV2 {
  statusCode: number;
  headers: Record<string, string>;
  cookies?: string[];
  body: string;
  isBase64Encoded: boolean;
}

export interface SqsRecord {
  messageId: string;
  body: string;
  attributes?: { ApproximateReceiveCount?: string };
}

export interface SqsEvent {
  Records: SqsRecord[];
}

/** The partial batch response: only these messages return to the queue (then the DLQ). */
export interface SqsBatchResponse {
  batchItemFailures: { itemIdentifier: string }[];
}

/**
 * SST secret name → the environment variable `readSettings` knows. SST hands linked resources to
 * the function as `SST_RESOURCE_<Name>={"value":"…"}`, which `Resource` reads; mapping them onto
 * the README's variable names keeps one settings reader for the dev server, the CLI and Lambda.
 */
export const linkedSecrets = {
  DatabaseUrl: 'DATABASE_URL',
  JwtIssuer: 'JWT_ISSUER',
  JwtAudience: 'JWT_AUDIENCE',
  JwksUrl: 'JWKS_URL',
  OperatorKey: 'GUANXI_OPERATOR_KEY',
  WebhookSigningSettings: 'GUANXI_WEBHOOK_SETTINGS',
} as const;

/**
 * Placeholder of the optional secrets in infra/secrets.ts: SST refuses to deploy a secret that has
 * neither a value nor a placeholder, and an empty placeholder reads as "not set", so optional ones
 * default to this word, which means "off".
 */
export const unsetSecret = 'none';

/**
 * The environment a handler reads its settings from: the function's own variables, with the
 * linked secrets on top and GUANXI_ENV defaulting to production (a Lambda is never a laptop).
 */
export function lambdaEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const merged: NodeJS.ProcessEnv = { ...env, GUANXI_ENV: env.GUANXI_ENV ?? 'production' };
  for (const [name, variable] of Object.entries(linkedSecrets)) {
    // `in` rather than a read: reading an unlinked name throws (that is Resource's contract).
    if (!(name in Resource)) continue;
    const value = (Resource as unknown as Record<string, { value?: unknown }>)[name]?.value;
    if (typeof value !== 'string') continue;
    if (value.trim() === '' || value.trim() === unsetSecret) delete merged[variable];
    else merged[variable] = value;
  }
  return merged;
}

const loopbackProxy = /^(localhost|127\.0\.0\.1|\[::1\]):\d{1,5}$/;

/**
 * The Lambda path's database: Neon's serverless driver over WebSockets (a `Pool`: every API request
 * and every scoring run is a transaction that sets the tenant for row-level security, which the
 * one-shot HTTP driver cannot hold). Pools connect lazily, so this opens no connection yet.
 *
 * `GUANXI_NEON_WS_PROXY` (tests and local runs only) routes the WebSockets through the loopback
 * proxy of `startWsProxy()` to a plain Postgres; only loopback addresses are accepted, so it can
 * never send production traffic unencrypted across a network.
 */
export async function openLambdaDatabase(
  url: string | null,
  options: { env?: NodeJS.ProcessEnv; maxConnections?: number } = {},
): Promise<DatabaseHandle> {
  if (!url) throw new Error('DATABASE_URL is not set: link the DatabaseUrl secret (sst secret set DatabaseUrl …)');
  const proxy = (options.env ?? process.env).GUANXI_NEON_WS_PROXY?.trim();
  if (proxy && !loopbackProxy.test(proxy)) {
    throw new Error(`GUANXI_NEON_WS_PROXY must be a loopback host:port (tests only), not "${proxy}"`);
  }
  const handle = await createDatabase(url, {
    driver: 'neon',
    // A container serves one invocation at a time: a few connections are plenty, and many
    // containers times a small pool stays under Neon's connection limit.
    maxConnections: options.maxConnections ?? 2,
    // An idle pooled connection that the server closes (Neon suspends idle computes; a frozen
    // container's sockets die) is dropped by the pool, which opens a new one when needed.
    onConnectionError: (error) => logJson({ level: 'warn', event: 'db-idle-connection-lost', error: error.message }),
    ...(proxy ? { neonWsProxy: proxy } : {}),
  });
  return handle;
}

/**
 * Runs `init` once per container, on first use (not at import: a failed init at import time
 * would kill the container's every later invocation). A failure is not cached, so the next
 * invocation tries again (e.g. after a secret is fixed).
 */
export function once<T>(init: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | null = null;
  return () => {
    pending ??= init().catch((error: unknown) => {
      pending = null;
      throw error;
    });
    return pending;
  };
}

/** One JSON log line: CloudWatch Logs Insights can filter on its fields. */
export function logJson(fields: Record<string, unknown>): void {
  console.log(JSON.stringify(fields));
}
