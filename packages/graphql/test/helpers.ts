import { createTestDatabase, createTestTenant } from '@guanxi/core/test';
import type { DatabaseHandle } from '@guanxi/core';
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

export async function createTestApi(config: Partial<ServerConfig> = {}): Promise<TestApi> {
  const handle = await createTestDatabase();
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
