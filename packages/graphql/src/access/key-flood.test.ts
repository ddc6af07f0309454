import { generateApiKeySecret } from '@guanxi/core/test';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createStatementCounter, createTestApi, type TestApi } from '../../test/helpers';

// A flood of well-formed fake API keys used to cost one database lookup each, without limit.

let api: TestApi;
const counter = createStatementCounter();
// Every statement, begin and rollback included (node-postgres logs them; PGlite runs its own): a
// refusal from memory must not even open a transaction.
const all: string[] = [];

beforeAll(async () => {
  api = await createTestApi(
    { rateLimits: null, credentialGuard: { failuresPerAddress: 5, unknownKeyLookupsPerSecond: 1000 } },
    { logger: { logQuery: (query) => void (all.push(query), counter.logger.logQuery(query)) } },
  );
});
afterAll(() => api.close());

/** One request from `address`, as the Lambda handler passes it (the function URL's source IP). */
async function ask(authorization: string, address: string) {
  const response = await api.server.fetch(
    'http://localhost/graphql',
    {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', authorization },
      body: JSON.stringify({ query: '{ parties { totalCount } }' }),
    },
    { clientAddress: address },
  );
  const body = (await response.json()) as { errors?: { extensions?: { code?: string } }[] };
  return { status: response.status, code: body.errors?.[0]?.extensions?.code ?? null, retryAfter: response.headers.get('retry-after') };
}

describe('wrong-credential floods', () => {
  test('a fake key sent again is refused from memory: no database statement', async () => {
    const fake = `ApiKey ${generateApiKeySecret()}`;
    counter.reset();
    expect(await ask(fake, '192.0.2.10')).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
    // The control: the first time, the key is looked up.
    expect(counter.count).toBeGreaterThan(0);
    counter.reset();
    all.length = 0;
    for (let i = 0; i < 3; i++) expect(await ask(fake, `192.0.2.${11 + i}`)).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
    expect(counter.count).toBe(0);
    expect(all).toEqual([]);
  });

  test('an address past its budget of wrong credentials gets 429 without a lookup; other addresses and good keys are unaffected', async () => {
    const tenant = await api.newTenant();
    const attacker = '203.0.113.7';
    for (let i = 0; i < 5; i++) {
      expect(await ask(`ApiKey ${generateApiKeySecret()}`, attacker)).toMatchObject({ status: 401 });
    }
    counter.reset();
    all.length = 0;
    const refused = await ask(`ApiKey ${generateApiKeySecret()}`, attacker);
    expect(refused).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
    expect(Number(refused.retryAfter)).toBeGreaterThan(0);
    // Refused before any check: even its good key waits, and the database was not asked.
    expect(await ask(`ApiKey ${tenant.apiKey}`, attacker)).toMatchObject({ status: 429 });
    expect(await ask('Bearer not.a.jwt', attacker)).toMatchObject({ status: 429 });
    expect(counter.count).toBe(0);
    expect(all).toEqual([]);

    expect(await ask(`ApiKey ${tenant.apiKey}`, '198.51.100.2')).toMatchObject({ status: 200, code: null });
    expect(await ask(`ApiKey ${generateApiKeySecret()}`, '198.51.100.3')).toMatchObject({ status: 401 });
  });

  test('a revoked key is refused at once, though it worked a moment before', async () => {
    const tenant = await api.newTenant();
    const { createApiKey } = await tenant.query(
      'mutation { createApiKey(input: { name: "partner", scopes: [NETWORK_READ] }) { secret apiKey { id } } }',
    );
    expect(await ask(`ApiKey ${createApiKey.secret}`, '198.51.100.20')).toMatchObject({ status: 200 });
    await tenant.query('mutation ($id: ID!) { revokeApiKey(input: { id: $id }) { apiKey { revokedAt } } }', {
      id: createApiKey.apiKey.id,
    });
    expect(await ask(`ApiKey ${createApiKey.secret}`, '198.51.100.20')).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
  });
});
