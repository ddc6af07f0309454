import { createTestDatabase, createTestTenant } from '@guanxi/core/test';
import type { DatabaseHandle, DatabaseOptions } from '@guanxi/core';
import { createServer, type GuanxiServer, type ServerConfig } from '../src/server';

export const testOperatorKey = 'test-operator-key-not-a-secret';

export interface GraphQLResponse<T = any> {
  status: number;
  headers: Headers;
  data?: T;
  errors?: { message: string; path?: string[]; extensions?: Record<string, any> }[];
}

/** One request through `yoga.fetch`: no socket, the full HTTP handling of the server. */
export async function postGraphQL<T = any>(
  server: GuanxiServer,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<GraphQLResponse<T>> {
  const response = await server.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as Omit<GraphQLResponse<T>, 'status' | 'headers'>;
  return { status: response.status, headers: response.headers, ...body };
}

export interface TestApi {
  handle: DatabaseHandle;
  server: GuanxiServer;
  /** A new tenant and a client that calls the API with its all-scopes key. */
  newTenant(name?: string): Promise<TenantClient>;
  close(): Promise<void>;
}

export interface TenantClient {
  tenantId: string;
  apiKey: string;
  request<T = any>(query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse<T>>;
  /** Like `request`, but fails the test on any GraphQL error and returns `data`. */
  query<T = any>(query: string, variables?: Record<string, unknown>): Promise<T>;
}

export async function createTestApi(
  config: Partial<ServerConfig> = {},
  databaseOptions: DatabaseOptions = {},
): Promise<TestApi> {
  const handle = await createTestDatabase(databaseOptions);
  const server = createServer({
    db: handle.db,
    config: { env: 'development', operatorKey: testOperatorKey, exposeErrors: true, ...config },
  });
  return {
    handle,
    server,
    async newTenant(name) {
      const { tenant, apiKey } = await createTestTenant(handle, name);
      const headers = { authorization: `ApiKey ${apiKey}` };
      const request = <T>(query: string, variables?: Record<string, unknown>) =>
        postGraphQL<T>(server, query, variables, headers);
      return {
        tenantId: tenant.id,
        apiKey,
        request,
        async query<T>(query: string, variables?: Record<string, unknown>) {
          const response = await request<T>(query, variables);
          if (response.errors?.length || response.status !== 200) {
            throw new Error(`GraphQL failed (${response.status}): ${JSON.stringify(response.errors)}`);
          }
          return response.data as T;
        },
      };
    },
    close: () => handle.close(),
  };
}

/** A test identity provider: an ES256 key pair and a way to mint tokens with any claims. */
export async function createTestIdentityProvider() {
  const { exportJWK, generateKeyPair, SignJWT } = await import('jose');
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = 'test-key-1';
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  const settings = {
    issuer: 'https://id.example.test/',
    audience: 'guanxi-api',
    jwks: { keys: [publicJwk] },
  };
  return {
    settings,
    publicKey,
    privateKey,
    publicJwk,
    async token(
      claims: Record<string, unknown>,
      options: { issuer?: string; audience?: string; expiresIn?: string | number; notBefore?: string | number; kid?: string; subject?: string } = {},
    ) {
      const jwt = new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid: options.kid ?? kid })
        .setIssuer(options.issuer ?? settings.issuer)
        .setAudience(options.audience ?? settings.audience)
        .setSubject(options.subject ?? 'user-1')
        .setIssuedAt()
        .setExpirationTime(options.expiresIn ?? '10m');
      if (options.notBefore !== undefined) jwt.setNotBefore(options.notBefore);
      return jwt.sign(privateKey);
    },
  };
}

/**
 * Counts the SQL statements the server sends, to prove a query's statement count is bounded.
 * Transaction control (begin, commit, savepoints) is left out: drivers differ in whether it passes
 * through the logger, and it does not grow with the data.
 */
export function createStatementCounter() {
  const statements: string[] = [];
  const control = /^\s*(begin|commit|rollback|savepoint|release savepoint)\b/i;
  return {
    logger: { logQuery: (query: string) => void (control.test(query) || statements.push(query)) },
    reset: () => void (statements.length = 0),
    get count() {
      return statements.length;
    },
    statements,
  };
}
