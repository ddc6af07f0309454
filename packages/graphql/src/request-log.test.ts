import { createTestDatabase, tenantRows } from '@guanxi/core/test';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { createTestApi, postGraphQL, type TestApi } from '../test/helpers';
import { batchedSink, jsonLogger, type RequestLine } from './request-log';
import { createServer } from './server';

let api: TestApi;
const lines: string[] = [];

beforeAll(async () => {
  api = await createTestApi({ logging: true, logSink: (line) => void lines.push(line), rateLimits: null });
});
afterAll(() => api.close());
beforeEach(() => void (lines.length = 0));

function requestLines(): RequestLine[] {
  return lines.map((line) => JSON.parse(line)).filter((entry) => entry.msg === 'request');
}

describe('the request log', () => {
  test('one JSON line per request: id (also in x-request-id and the audit log), operation, tenant, caller, status, ms', async () => {
    const tenant = await api.newTenant();
    lines.length = 0;
    const response = await postGraphQL(
      api.server,
      'mutation AddCustomer { createParty(input: { kind: CUSTOMER, displayName: "Lin" }) { party { id } } }',
      {},
      { authorization: `ApiKey ${tenant.apiKey}`, 'x-request-id': 'crm-7f3a.1' },
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('x-request-id')).toBe('crm-7f3a.1');
    const [line, ...more] = requestLines();
    expect(more).toEqual([]);
    expect(line).toMatchObject({
      level: 'info',
      requestId: 'crm-7f3a.1',
      method: 'POST',
      path: '/graphql',
      operation: 'AddCustomer',
      tenantId: tenant.tenantId,
      caller: 'API_KEY',
      status: 200,
      errors: [],
    });
    expect(line!.ms).toBeGreaterThan(0);
    const audit = await tenantRows(api.handle, tenant.tenantId, 'select request_id from audit_log where request_id is not null');
    expect(audit.map((row) => row.request_id)).toEqual(['crm-7f3a.1']);
  });

  test('an id the caller sent that is unfit for a log line or a header is replaced by a new one', async () => {
    const tenant = await api.newTenant();
    lines.length = 0;
    const response = await postGraphQL(api.server, '{ parties { totalCount } }', {}, {
      authorization: `ApiKey ${tenant.apiKey}`,
      'x-request-id': 'two words',
    });
    const id = response.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(requestLines()).toMatchObject([{ requestId: id, operation: '(anonymous query)', status: 200 }]);
  });

  test('refusals are logged with their error codes: a bad credential (no caller) and an invalid query', async () => {
    const tenant = await api.newTenant();
    lines.length = 0;
    const refused = await postGraphQL(api.server, 'query Mine { parties { totalCount } }', {}, { authorization: 'ApiKey nope' });
    expect(refused.status).toBe(401);
    const invalid = await postGraphQL(api.server, 'query Typo { partiez { totalCount } }', {}, { authorization: `ApiKey ${tenant.apiKey}` });
    expect(invalid.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(requestLines()).toMatchObject([
      { operation: 'Mine', caller: null, tenantId: null, status: 401, errors: ['UNAUTHENTICATED'] },
      // Validation comes before the credential is checked: no caller yet.
      { operation: 'Typo', caller: null, tenantId: null, status: invalid.status, errors: ['GRAPHQL_VALIDATION_FAILED'] },
    ]);
    expect(refused.headers.get('x-request-id')).toBe(requestLines()[0]!.requestId);
  });

  test('/health is liveness, /ready checks the database; neither writes a request line', async () => {
    const health = await api.server.fetch('http://localhost/health');
    expect(health.status).toBe(200);
    const ready = await api.server.fetch('http://localhost/ready');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', database: 'ok' });
    expect(requestLines()).toEqual([]);
  });

  test('/ready is 503 when the database does not answer, while /health stays 200', async () => {
    const handle = await createTestDatabase();
    const server = createServer({ db: handle.db, config: { env: 'production' } });
    expect((await server.fetch('http://localhost/ready')).status).toBe(200);
    await handle.close();
    const ready = await server.fetch('http://localhost/ready');
    expect(ready.status).toBe(503);
    expect(ready.headers.get('retry-after')).toBe('1');
    // The database's own words stay in the server: the world learns only that it is not ready.
    expect(await ready.json()).toEqual({ status: 'unavailable', database: 'error', ms: expect.any(Number) });
    expect((await server.fetch('http://localhost/health')).status).toBe(200);
  });

  test("yoga's own log lines are JSON too", () => {
    const sink: string[] = [];
    const logger = jsonLogger((line) => void sink.push(line));
    logger.error(new Error('boom'), { path: 'x' });
    logger.info('started');
    logger.debug('hidden');
    expect(sink.map((line) => JSON.parse(line))).toMatchObject([
      { level: 'error', msg: 'boom', details: [{ path: 'x' }] },
      { level: 'info', msg: 'started' },
    ]);
  });

  test('a long-running server writes the lines of one turn of the event loop together, in order', async () => {
    const writes: string[] = [];
    const sink = batchedSink((text) => void writes.push(text));
    sink('{"n":1}');
    sink('{"n":2}');
    expect(writes).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    sink('{"n":3}');
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).toEqual(['{"n":1}\n{"n":2}\n', '{"n":3}\n']);
  });
});
