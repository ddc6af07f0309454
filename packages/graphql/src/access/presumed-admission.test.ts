import { usingPostgres } from '@guanxi/core/test';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApi, type TenantClient, type TestApi } from '../../test/helpers';

// A read by a key this server has admitted before runs as that key at once, its admission going
// with its first statement (one round trip on node-postgres). The database still admits every
// request: revocation is immediate, rate limits count and refuse. PGlite admits first, as before.

let api: TestApi;
let tenant: TenantClient;
/** Every statement sent, as drizzle logs them (the held admission is logged where it is held). */
const statements: string[] = [];

beforeAll(async () => {
  api = await createTestApi(
    { rateLimits: { perTenant: 1000, perCaller: 4, windowSeconds: 60 }, credentialGuard: null },
    { logger: { logQuery: (query) => void statements.push(query.replace(/\s+/g, ' ').trim()) } },
  );
  tenant = await api.newTenant();
});
afterAll(() => api.close());

async function ask(secret: string, query: string) {
  const response = await api.server.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `ApiKey ${secret}` },
    body: JSON.stringify({ query }),
  });
  const body = (await response.json()) as { data?: unknown; errors?: { extensions?: { code?: string } }[] };
  return { status: response.status, code: body.errors?.[0]?.extensions?.code ?? null, data: body.data ?? null };
}

/** Which admission a request made: the ordinary lookup, the presumed one, or none. */
function admissionOf(sent: string[]): 'lookup' | 'presumed' | 'none' {
  if (sent.some((s) => /guanxi_admit_api_key_as\(/.test(s))) return 'presumed';
  if (sent.some((s) => /guanxi_admit_api_key\(/.test(s))) return 'lookup';
  return 'none';
}

async function admissionFor(secret: string, query: string) {
  statements.length = 0;
  const answer = await ask(secret, query);
  return { ...answer, admission: admissionOf(statements), statements: [...statements] };
}

describe.runIf(usingPostgres())('a known key’s read is admitted with its first statement', () => {
  test('the first request looks the key up; later reads presume it and get the same answer; writes never do', async () => {
    const { createApiKey } = await tenant.query(
      'mutation { createApiKey(input: { name: "reader", scopes: [NETWORK_READ, NETWORK_WRITE] }) { secret } }',
    );
    const secret = createApiKey.secret as string;
    const first = await admissionFor(secret, '{ parties(first: 1) { totalCount } }');
    expect(first).toMatchObject({ status: 200, admission: 'lookup' });
    const second = await admissionFor(secret, '{ parties(first: 1) { totalCount } }');
    expect(second).toMatchObject({ status: 200, admission: 'presumed', data: first.data });
    // The admission comes before the read it travels with.
    expect(second.statements.findIndex((s) => /guanxi_admit_api_key_as/.test(s))).toBeLessThan(
      second.statements.findIndex((s) => /from "parties"/.test(s)),
    );
    const write = await admissionFor(secret, 'mutation { createParty(input: { kind: CUSTOMER, displayName: "W" }) { party { id } } }');
    expect(write).toMatchObject({ status: 200, admission: 'lookup' });
    // A read that sends no statement of its own is still admitted (on its own).
    expect(await admissionFor(secret, '{ __typename }')).toMatchObject({ status: 200, admission: 'presumed' });
  });

  test('a key revoked since is refused at its next read, and forgotten: the read after looks it up again', async () => {
    const { createApiKey } = await tenant.query(
      'mutation { createApiKey(input: { name: "soon revoked", scopes: [NETWORK_READ] }) { secret apiKey { id } } }',
    );
    const secret = createApiKey.secret as string;
    expect(await admissionFor(secret, '{ parties(first: 1) { totalCount } }')).toMatchObject({ status: 200, admission: 'lookup' });
    expect(await admissionFor(secret, '{ parties(first: 1) { totalCount } }')).toMatchObject({ status: 200, admission: 'presumed' });
    await tenant.query('mutation ($id: ID!) { revokeApiKey(input: { id: $id }) { apiKey { revokedAt } } }', { id: createApiKey.apiKey.id });
    const refused = await admissionFor(secret, '{ parties(first: 1) { edges { node { id } } } }');
    expect(refused).toMatchObject({ status: 401, code: 'UNAUTHENTICATED', data: null, admission: 'presumed' });
    expect(await admissionFor(secret, '{ parties(first: 1) { totalCount } }')).toMatchObject({ status: 401, admission: 'lookup' });
  });

  test('the rate limit counts presumed reads and refuses the one over it, without its data', async () => {
    const { createApiKey } = await tenant.query('mutation { createApiKey(input: { name: "busy", scopes: [NETWORK_READ] }) { secret } }');
    const secret = createApiKey.secret as string;
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await admissionFor(secret, '{ parties(first: 1) { totalCount } }'));
    expect(answers.map((a) => [a.status, a.admission])).toEqual([
      [200, 'lookup'],
      [200, 'presumed'],
      [200, 'presumed'],
      [200, 'presumed'],
      [429, 'presumed'],
    ]);
    expect(answers[4]).toMatchObject({ code: 'RATE_LIMITED', data: null });
  });
});
