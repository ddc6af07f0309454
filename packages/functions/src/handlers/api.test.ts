import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestTenant, usingPostgres } from '@guanxi/core/test';
import { createServer } from '@guanxi/graphql';
import { createApiHandler, handler, type ApiHandler } from './api';
import { httpEvent, linkSecret, openHandlerTestDatabase, type HandlerTestDatabase } from './testing';

// Links as SST hands them to the function; set before the first invocation reads them.
const operatorKey = 'op_' + 'k'.repeat(40);

let database: HandlerTestDatabase;
let api: ApiHandler;
let apiKey: string;
const tenantName = 'Lambda 函数 tenant';

beforeAll(async () => {
  database = await openHandlerTestDatabase();
  // PGlite: the injected database is used, the URL only satisfies production's settings check.
  linkSecret('DatabaseUrl', database.url ?? 'postgres://unused@127.0.0.1:1/unused');
  linkSecret('OperatorKey', operatorKey);
  linkSecret('JwtIssuer', 'none');
  if (database.proxy) process.env.GUANXI_NEON_WS_PROXY = database.proxy.url;
  api = createApiHandler({ db: database.handle.db });
  apiKey = (await createTestTenant(database.handle, tenantName)).apiKey;
});
afterAll(async () => {
  await database?.close();
});

const viewerQuery = JSON.stringify({ query: '{ viewer { kind tenant { name } } }' });

function json(result: { body: string }) {
  return JSON.parse(result.body) as { data?: any; errors?: { message: string; extensions?: { code?: string } }[] };
}

describe('api.handler (function URL, payload 2.0)', () => {
  test('POST with a JSON body and an API key: 200 with the tenant', async () => {
    const result = await api(
      httpEvent('POST', { headers: { 'content-type': 'application/json', authorization: `ApiKey ${apiKey}` }, body: viewerQuery }),
    );
    expect(result.statusCode).toBe(200);
    expect(result.isBase64Encoded).toBe(false);
    expect(result.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(Object.keys(result.headers).every((name) => name === name.toLowerCase())).toBe(true);
    expect(json(result)).toEqual({
      data: { viewer: { kind: 'API_KEY', tenant: { name: 'Lambda 函数 tenant' } } },
      extensions: { cost: { requested: 2, limit: 50_000 } },
    });
  });

  test('POST with a base64 body (as API Gateway encodes some clients\' bodies), key in x-api-key', async () => {
    const result = await api(
      httpEvent('POST', { headers: { 'content-type': 'application/json', 'x-api-key': apiKey }, body: viewerQuery, base64: true }),
    );
    expect(result.statusCode).toBe(200);
    expect(json(result).data.viewer.tenant.name).toBe(tenantName);
  });

  test('GET with the query in the query string', async () => {
    const result = await api(
      httpEvent('GET', {
        query: `query=${encodeURIComponent('{ viewer { kind } }')}`,
        headers: { authorization: `ApiKey ${apiKey}`, accept: 'application/json' },
      }),
    );
    expect(result.statusCode).toBe(200);
    expect(json(result)).toEqual({ data: { viewer: { kind: 'API_KEY' } }, extensions: { cost: { requested: 1, limit: 50_000 } } });
  });

  test('without a credential: 401 UNAUTHENTICATED, nothing executed', async () => {
    const result = await api(httpEvent('POST', { headers: { 'content-type': 'application/json' }, body: viewerQuery }));
    expect(result.statusCode).toBe(401);
    const body = json(result);
    expect(body.data ?? null).toBeNull();
    expect(body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(body.errors?.[0]?.message).toMatch(/Missing credential/);
  });

  test('a wrong API key: 401', async () => {
    const result = await api(
      httpEvent('POST', { headers: { 'content-type': 'application/json', authorization: `ApiKey ${apiKey}x` }, body: viewerQuery }),
    );
    expect(result.statusCode).toBe(401);
  });

  test('GET from a browser in production: no GraphiQL page (406, GraphQL media types only), introspection off', async () => {
    const page = await api(httpEvent('GET', { headers: { accept: 'text/html', authorization: `ApiKey ${apiKey}` } }));
    expect(page.statusCode).toBe(406);
    expect(page.headers.accept).toMatch(/application\/graphql-response\+json/);
    expect(page.body).toBe('');
    const introspection = await api(
      httpEvent('POST', {
        headers: { 'content-type': 'application/json', authorization: `ApiKey ${apiKey}` },
        body: JSON.stringify({ query: '{ __schema { types { name } } }' }),
      }),
    );
    expect(json(introspection).errors?.[0]?.message).toMatch(/introspection/i);
  });

  test('CORS preflight: answered without a credential for a listed origin (GUANXI_CORS_ORIGINS), nothing for others', async () => {
    const cors = createApiHandler({
      db: database.handle.db,
      env: { ...process.env, GUANXI_CORS_ORIGINS: 'https://app.example.com,https://admin.example.com' },
    });
    const preflight = (origin: string) =>
      cors(
        httpEvent('OPTIONS', {
          headers: {
            origin,
            'access-control-request-method': 'POST',
            'access-control-request-headers': 'authorization,content-type',
          },
        }),
      );
    const result = await preflight('https://app.example.com');
    expect(result.statusCode).toBe(204);
    expect(result.body).toBe('');
    expect(result.headers['access-control-allow-origin']).toBe('https://app.example.com');
    expect(result.headers['access-control-allow-methods']).toMatch(/POST/);
    expect(result.headers['access-control-allow-headers']).toMatch(/authorization/i);
    expect(result.headers['access-control-allow-credentials']).toBeUndefined();
    const stranger = await preflight('https://evil.example');
    expect(Object.keys(stranger.headers).filter((name) => name.startsWith('access-control-'))).toEqual([]);
    // Production without a list: no CORS headers for anyone.
    const unlisted = await api(httpEvent('OPTIONS', { headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' } }));
    expect(unlisted.headers['access-control-allow-origin']).toBeUndefined();
  });

  test('the operator key linked as a secret (SST_RESOURCE_OperatorKey) reaches the server', async () => {
    const result = await api(
      httpEvent('POST', {
        headers: { 'content-type': 'application/json', authorization: `Operator ${operatorKey}` },
        body: JSON.stringify({ query: '{ viewer { kind tenant { id } } }' }),
      }),
    );
    expect(result.statusCode).toBe(200);
    expect(json(result).data.viewer).toEqual({ kind: 'OPERATOR', tenant: null });
  });

  // The body limit holds on the Lambda path too (the event's body becomes a Fetch request).
  test('a body over the 1 MB limit: 413, nothing executed', async () => {
    const padding = 'x'.repeat(1024 * 1024);
    const result = await api(
      httpEvent('POST', {
        headers: { 'content-type': 'application/json', authorization: `ApiKey ${apiKey}` },
        body: JSON.stringify({
          query: 'mutation { createParty(input: { kind: CUSTOMER, displayName: "Too big" }) { party { id } } }',
          variables: { padding },
        }),
      }),
    );
    expect(result.statusCode).toBe(413);
    const listed = await api(
      httpEvent('POST', {
        headers: { 'content-type': 'application/json', authorization: `ApiKey ${apiKey}` },
        body: JSON.stringify({ query: '{ parties(filter: { search: "Too big" }) { totalCount } }' }),
      }),
    );
    expect(json(listed).data.parties.totalCount).toBe(0);
  });

  // The limit judges a body by its content-length; the event's own header could say anything.
  test('an event whose content-length understates its body is judged by the body: 413', async () => {
    const body = JSON.stringify({ query: '{ viewer { kind } }', variables: { padding: 'x'.repeat(1024 * 1024) } });
    const result = await api(
      httpEvent('POST', { headers: { 'content-type': 'application/json', 'content-length': '40', authorization: `ApiKey ${apiKey}` }, body }),
    );
    expect(result.statusCode).toBe(413);
    const small = await api(
      httpEvent('POST', { headers: { 'content-type': 'application/json', 'content-length': '99999999', authorization: `ApiKey ${apiKey}` }, body: JSON.stringify({ query: '{ viewer { kind } }' }) }),
    );
    expect(small.statusCode).toBe(200);
  });

  test('yoga answers with the Fetch API its project says: the runtime\'s own where bundled (lambda-fetch)', async () => {
    // The Lambda bundle resolves the patched @whatwg-node/fetch to the runtime's classes; Node
    // (dev server, the other projects) to the ponyfill. Either way the handler's results above hold.
    const yoga = createServer({ db: database.handle.db, config: { env: 'production' } });
    const runtime = process.env.GUANXI_TEST_FETCH_API === 'runtime';
    expect(yoga.fetchAPI.Response === globalThis.Response).toBe(runtime);
    expect(yoga.fetchAPI.Request === globalThis.Request).toBe(runtime);
    const response = await yoga.fetch(new Request('https://x.example/graphql?query=%7B__typename%7D'));
    expect(response instanceof globalThis.Response).toBe(runtime);
    expect(response.status).toBe(401);
    // URLPattern (yoga's route match) is no global of Node 20: there the polyfill stands in.
    expect(typeof yoga.fetchAPI.URLPattern).toBe('function');
  });

  test('another path: 404', async () => {
    const result = await api(httpEvent('POST', { path: '/', headers: { 'content-type': 'application/json' }, body: viewerQuery }));
    expect(result.statusCode).toBe(404);
  });

  // The deployed path end to end: DatabaseUrl from SST_RESOURCE_DatabaseUrl, the Neon driver's
  // Pool opened by the handler itself, through the WebSocket proxy to the CI's Postgres.
  test.runIf(usingPostgres())('the default handler: its own Neon pool from the linked DatabaseUrl', async () => {
    for (let i = 0; i < 2; i++) {
      const result = await handler(
        httpEvent('POST', { headers: { 'content-type': 'application/json', authorization: `ApiKey ${apiKey}` }, body: viewerQuery }),
      );
      expect(result.statusCode).toBe(200);
      expect(json(result).data.viewer.tenant.name).toBe(tenantName);
    }
  });
});
