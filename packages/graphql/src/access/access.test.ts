import { createHmac } from 'node:crypto';
import { exportSPKI, SignJWT } from 'jose';
import { createTestDatabase, tenantRows, usingPostgres } from '@guanxi/core/test';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  createTestApi,
  createTestIdentityProvider,
  postGraphQL,
  type TestApi,
} from '../../test/helpers';

type Idp = Awaited<ReturnType<typeof createTestIdentityProvider>>;

let api: TestApi;
let idp: Idp;

beforeAll(async () => {
  idp = await createTestIdentityProvider();
  api = await createTestApi({ jwt: idp.settings, rateLimits: null });
});
afterAll(() => api.close());

const operations = {
  readParties: { query: '{ parties { totalCount } }', right: 'read' },
  createParty: {
    query: 'mutation { createParty(input: { kind: CUSTOMER, displayName: "A" }) { party { id } userErrors { code } } }',
    right: 'networkWrite',
  },
  listApiKeys: { query: '{ apiKeys { id } }', right: 'admin' },
  createApiKey: {
    query: 'mutation { createApiKey(input: { name: "k", scopes: [NETWORK_READ] }) { secret userErrors { code } } }',
    right: 'admin',
  },
} as const;

type OperationName = keyof typeof operations;

async function outcome(headers: Record<string, string>, name: OperationName): Promise<'ALLOWED' | string> {
  const response = await postGraphQL(api.server, operations[name].query, {}, headers);
  if (response.status !== 200) return `HTTP ${response.status}`;
  if (response.errors?.length) return String(response.errors[0]!.extensions?.code);
  return 'ALLOWED';
}

describe('roles (JWT) and scopes (API keys)', () => {
  // domain: ADMIN everything; MEMBER reads and writes the network; VIEWER reads.
  const roleMatrix: Record<string, Record<OperationName, string>> = {
    ADMIN: { readParties: 'ALLOWED', createParty: 'ALLOWED', listApiKeys: 'ALLOWED', createApiKey: 'ALLOWED' },
    MEMBER: { readParties: 'ALLOWED', createParty: 'ALLOWED', listApiKeys: 'FORBIDDEN', createApiKey: 'FORBIDDEN' },
    VIEWER: { readParties: 'ALLOWED', createParty: 'FORBIDDEN', listApiKeys: 'FORBIDDEN', createApiKey: 'FORBIDDEN' },
  };

  test.each(Object.keys(roleMatrix))('role %s', async (role) => {
    const tenant = await api.newTenant();
    const token = await idp.token({ tenant_id: tenant.tenantId, role });
    for (const name of Object.keys(operations) as OperationName[]) {
      expect([name, await outcome({ authorization: `Bearer ${token}` }, name)]).toEqual([name, roleMatrix[role]![name]]);
    }
  });

  const scopeMatrix: Record<string, Record<OperationName, string>> = {
    NETWORK_READ: { readParties: 'ALLOWED', createParty: 'FORBIDDEN', listApiKeys: 'FORBIDDEN', createApiKey: 'FORBIDDEN' },
    NETWORK_WRITE: { readParties: 'ALLOWED', createParty: 'ALLOWED', listApiKeys: 'FORBIDDEN', createApiKey: 'FORBIDDEN' },
    REFERRALS_READ: { readParties: 'FORBIDDEN', createParty: 'FORBIDDEN', listApiKeys: 'FORBIDDEN', createApiKey: 'FORBIDDEN' },
    REFERRALS_WRITE: { readParties: 'FORBIDDEN', createParty: 'FORBIDDEN', listApiKeys: 'FORBIDDEN', createApiKey: 'FORBIDDEN' },
    LOYALTY_READ: { readParties: 'FORBIDDEN', createParty: 'FORBIDDEN', listApiKeys: 'FORBIDDEN', createApiKey: 'FORBIDDEN' },
    ADMIN: { readParties: 'ALLOWED', createParty: 'ALLOWED', listApiKeys: 'ALLOWED', createApiKey: 'ALLOWED' },
  };

  test.each(Object.keys(scopeMatrix))('scope %s', async (scope) => {
    const tenant = await api.newTenant();
    const { createApiKey } = await tenant.query(
      `mutation ($scopes: [ApiScope!]!) { createApiKey(input: { name: "partner", scopes: $scopes }) { secret apiKey { scopes } userErrors { code } } }`,
      { scopes: [scope] },
    );
    expect(createApiKey.apiKey.scopes).toEqual([scope]);
    for (const name of Object.keys(operations) as OperationName[]) {
      expect([name, await outcome({ authorization: `ApiKey ${createApiKey.secret}` }, name)]).toEqual([
        name,
        scopeMatrix[scope]![name],
      ]);
    }
  });

  test('the actor is recorded on writes: a JWT user id, an API key id', async () => {
    const tenant = await api.newTenant();
    const token = await idp.token({ tenant_id: tenant.tenantId, role: 'MEMBER' }, { subject: 'user-42' });
    await postGraphQL(api.server, operations.createParty.query, {}, { authorization: `Bearer ${token}` });
    await tenant.query(operations.createParty.query);
    const rows = {
      audit: await tenantRows<{ actor_kind: string; actor_id: string }>(
        api.handle,
        tenant.tenantId,
        `select actor_kind, actor_id from audit_log where operation = 'createParty' order by at`,
      ),
      history: await tenantRows<{ actor_kind: string; actor_id: string }>(
        api.handle,
        tenant.tenantId,
        'select actor_kind, actor_id from stage_transitions order by at',
      ),
    };
    const keyActor = rows.audit[1]!.actor_id;
    expect(rows.audit.map((r) => [r.actor_kind, r.actor_id])).toEqual([
      ['USER', 'user-42'],
      ['API_KEY', keyActor],
    ]);
    expect(rows.history.map((r) => [r.actor_kind, r.actor_id])).toEqual([
      ['USER', 'user-42'],
      ['API_KEY', keyActor],
    ]);
  });
});

describe('JWT rejections are 401 UNAUTHENTICATED', () => {
  const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = () => Math.floor(Date.now() / 1000);
  /** A token signed by the real identity provider's key, with exactly these claims (and iss, aud, exp, iat unless given). */
  const signed = (claims: Record<string, unknown>) =>
    new SignJWT({ iss: idp.settings.issuer, aud: idp.settings.audience, exp: now() + 600, iat: now(), ...claims })
      .setProtectedHeader({ alg: 'ES256', kid: 'test-key-1' })
      .sign(idp.privateKey);

  test.each([
    ['expired', async (tenantId: string) => idp.token({ tenant_id: tenantId, role: 'ADMIN' }, { expiresIn: Math.floor(Date.now() / 1000) - 120 })],
    ['not yet valid', async (tenantId: string) => idp.token({ tenant_id: tenantId, role: 'ADMIN' }, { notBefore: '10m' })],
    ['wrong issuer', async (tenantId: string) => idp.token({ tenant_id: tenantId, role: 'ADMIN' }, { issuer: 'https://evil.example/' })],
    ['wrong audience', async (tenantId: string) => idp.token({ tenant_id: tenantId, role: 'ADMIN' }, { audience: 'another-api' })],
    ['unknown kid', async (tenantId: string) => idp.token({ tenant_id: tenantId, role: 'ADMIN' }, { kid: 'rotated-away' })],
    [
      'alg none',
      async (tenantId: string) =>
        `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ tenant_id: tenantId, role: 'ADMIN', sub: 'x', iss: idp.settings.issuer, aud: idp.settings.audience, exp: Math.floor(Date.now() / 1000) + 600 })}.`,
    ],
    [
      'HS256 signed with the public key',
      async (tenantId: string) => {
        const header = b64({ alg: 'HS256', typ: 'JWT', kid: 'test-key-1' });
        const payload = b64({ tenant_id: tenantId, role: 'ADMIN', sub: 'x', iss: idp.settings.issuer, aud: idp.settings.audience, exp: Math.floor(Date.now() / 1000) + 600 });
        const secret = await exportSPKI(idp.publicKey);
        const signature = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
        return `${header}.${payload}.${signature}`;
      },
    ],
    [
      'tampered payload',
      async (tenantId: string) => {
        const token = await idp.token({ tenant_id: tenantId, role: 'VIEWER' });
        const [header, payload, signature] = token.split('.');
        const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
        return `${header}.${b64({ ...claims, role: 'ADMIN' })}.${signature}`;
      },
    ],
    ['no tenant claim', async () => idp.token({ role: 'ADMIN' })],
    ['issued an hour in the future', async (tenantId: string) => signed({ tenant_id: tenantId, role: 'ADMIN', sub: 'u', iat: now() + 3600 })],
    ['a blank subject', async (tenantId: string) => signed({ tenant_id: tenantId, role: 'ADMIN', sub: '' })],
    ['a subject of spaces', async (tenantId: string) => signed({ tenant_id: tenantId, role: 'ADMIN', sub: '   ' })],
    ['a numeric subject', async (tenantId: string) => signed({ tenant_id: tenantId, role: 'ADMIN', sub: 42 })],
    ['a subject of 256 characters', async (tenantId: string) => signed({ tenant_id: tenantId, role: 'ADMIN', sub: 'u'.repeat(256) })],
    ['unknown role', async (tenantId: string) => idp.token({ tenant_id: tenantId, role: 'OWNER' })],
  ])('%s', async (_name, makeToken) => {
    const tenant = await api.newTenant();
    const response = await postGraphQL(api.server, '{ viewer { kind } }', {}, {
      authorization: `Bearer ${await makeToken(tenant.tenantId)}`,
    });
    expect(response.status).toBe(401);
    expect(response.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(response.data ?? null).toBeNull();
  });

  test('a validly signed token for a tenant that does not exist: 401, nothing counted (limits on and off)', async () => {
    const limited = await createTestApi({ jwt: idp.settings });
    try {
      const ghost = '0190a4f2-0000-7000-8000-000000000000';
      for (const server of [api.server, limited.server]) {
        const token = await idp.token({ tenant_id: ghost, role: 'ADMIN' });
        for (const query of ['{ viewer { kind } }', 'mutation { createParty(input: { kind: CUSTOMER, displayName: "x" }) { party { id } } }']) {
          const response = await postGraphQL(server, query, {}, { authorization: `Bearer ${token}` });
          expect(response.status).toBe(401);
          expect(response.errors).toEqual([
            expect.objectContaining({ message: 'The token names a tenant that does not exist', extensions: expect.objectContaining({ code: 'UNAUTHENTICATED' }) }),
          ]);
        }
      }
      expect(await tenantRows(limited.handle, ghost, 'select * from rate_limit_counters')).toEqual([]);
    } finally {
      await limited.close();
    }
  });

  test('a valid token is accepted (the positive control)', async () => {
    const tenant = await api.newTenant();
    const token = await idp.token({ tenant_id: tenant.tenantId, role: 'VIEWER' }, { subject: 'u-7' });
    const response = await postGraphQL(api.server, '{ viewer { kind actorId role tenant { id } } }', {}, {
      authorization: `Bearer ${token}`,
    });
    expect(response.status).toBe(200);
    expect(response.data.viewer).toMatchObject({ kind: 'USER', actorId: 'u-7', role: 'VIEWER' });
    expect(response.data.viewer.tenant).not.toBeNull();
  });

  test('viewer names its role and scopes with the Role and ApiScope enums', async () => {
    const tenant = await api.newTenant();
    const { createApiKey } = await tenant.query(
      `mutation { createApiKey(input: { name: "reader", scopes: [NETWORK_READ, LOYALTY_READ] }) { secret } }`,
    );
    const asKey = await postGraphQL(api.server, '{ viewer { kind role scopes } }', {}, { authorization: `ApiKey ${createApiKey.secret}` });
    expect(asKey.data.viewer).toEqual({ kind: 'API_KEY', role: null, scopes: ['NETWORK_READ', 'LOYALTY_READ'] });
    const token = await idp.token({ tenant_id: tenant.tenantId, role: 'MEMBER' }, { subject: 'u-8' });
    const asUser = await postGraphQL(api.server, '{ viewer { kind role scopes } }', {}, { authorization: `Bearer ${token}` });
    expect(asUser.data.viewer).toEqual({ kind: 'USER', role: 'MEMBER', scopes: [] });

    const { __type } = await tenant.query(`{ __type(name: "Viewer") { fields { name type { kind name ofType { kind ofType { kind ofType { name kind } } } } } } }`);
    const field = (name: string) => __type.fields.find((f: any) => f.name === name).type;
    expect(field('role')).toMatchObject({ kind: 'ENUM', name: 'Role' });
    expect(field('scopes').ofType.ofType.ofType).toEqual({ kind: 'ENUM', name: 'ApiScope' });
    const { role } = await tenant.query(`{ role: __type(name: "Role") { enumValues { name description } } }`);
    expect(role.enumValues.map((v: any) => v.name)).toEqual(['ADMIN', 'MEMBER', 'VIEWER']);
    expect(role.enumValues.every((v: any) => v.description.length > 0)).toBe(true);
  });
});

describe('tenant settings', () => {
  test('only ADMIN (role or scope) reads them: they hold the fraud thresholds', async () => {
    const tenant = await api.newTenant();
    const query = '{ viewer { tenant { name settings } } }';
    const outcome = (response: Awaited<ReturnType<typeof postGraphQL<any>>>) => {
      if (!response.errors) return response.data.viewer.tenant.settings.referrals ? 'READ' : 'EMPTY';
      // Refused without a trace of the thresholds.
      expect(JSON.stringify(response)).not.toContain('maxReferralsPerHour');
      return String(response.errors[0]!.extensions?.code);
    };
    const outcomes: Record<string, string> = {};
    for (const role of ['VIEWER', 'MEMBER', 'ADMIN']) {
      const token = await idp.token({ tenant_id: tenant.tenantId, role });
      outcomes[`role ${role}`] = outcome(await postGraphQL(api.server, query, {}, { authorization: `Bearer ${token}` }));
    }
    for (const scope of ['NETWORK_READ', 'LOYALTY_READ', 'REFERRALS_WRITE', 'ADMIN']) {
      const created = await tenant.query(`mutation ($s: [ApiScope!]!) { createApiKey(input: { name: "k", scopes: $s }) { secret } }`, { s: [scope] });
      const headers = { authorization: `ApiKey ${created.createApiKey.secret}` };
      outcomes[`scope ${scope}`] = outcome(await postGraphQL(api.server, query, {}, headers));
    }
    expect(outcomes).toEqual({
      'role VIEWER': 'FORBIDDEN',
      'role MEMBER': 'FORBIDDEN',
      'role ADMIN': 'READ',
      'scope NETWORK_READ': 'FORBIDDEN',
      'scope LOYALTY_READ': 'FORBIDDEN',
      'scope REFERRALS_WRITE': 'FORBIDDEN',
      'scope ADMIN': 'READ',
    });
  });
});

describe('API keys', () => {
  test('are shown once, listed without secret, refused when revoked, expired, malformed or mistyped', async () => {
    const tenant = await api.newTenant();
    const created = await tenant.query(
      `mutation { createApiKey(input: { name: "crm sync", scopes: [NETWORK_READ, NETWORK_WRITE] }) { secret apiKey { id name displayPrefix scopes revokedAt } userErrors { code } } }`,
    );
    const { secret, apiKey } = created.createApiKey;
    expect(secret).toMatch(/^gx_[0-9A-Za-z]{36}$/);
    expect(secret.startsWith(apiKey.displayPrefix)).toBe(true);
    const listed = await tenant.query(`{ apiKeys { id name displayPrefix lastUsedAt } }`);
    expect(JSON.stringify(listed)).not.toContain(secret);

    const call = (key: string) => postGraphQL(api.server, '{ parties { totalCount } }', {}, { authorization: `ApiKey ${key}` });
    expect((await call(secret)).status).toBe(200);
    const afterUse = await tenant.query(`{ apiKeys { id lastUsedAt } }`);
    expect(afterUse.apiKeys.find((k: any) => k.id === apiKey.id).lastUsedAt).not.toBeNull();

    // One changed character: the checksum fails before any lookup.
    const last = secret.at(-1) === 'a' ? 'b' : 'a';
    expect((await call(secret.slice(0, -1) + last)).status).toBe(401);
    expect((await call('gx_short')).status).toBe(401);
    expect((await call('not-a-key-at-all')).status).toBe(401);

    const revoked = await tenant.query(`mutation ($id: ID!) { revokeApiKey(input: { id: $id }) { apiKey { revokedAt } userErrors { code } } }`, {
      id: apiKey.id,
    });
    expect(revoked.revokeApiKey.apiKey.revokedAt).not.toBeNull();
    const refused = await call(secret);
    expect(refused.status).toBe(401);
    expect(refused.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  test('an expired key is refused; an expiry in the past is refused at creation', async () => {
    const tenant = await api.newTenant();
    const past = await tenant.query(
      `mutation { createApiKey(input: { name: "old", scopes: [NETWORK_READ], expiresAt: "2020-01-01T00:00:00Z" }) { secret userErrors { code field } } }`,
    );
    expect(past.createApiKey).toEqual({ secret: null, userErrors: [{ code: 'VALIDATION', field: ['input', 'expiresAt'] }] });
    const soon = new Date(Date.now() + 1500).toISOString();
    const created = await tenant.query(
      `mutation ($at: DateTime!) { createApiKey(input: { name: "short", scopes: [NETWORK_READ], expiresAt: $at }) { secret } }`,
      { at: soon },
    );
    const call = () => postGraphQL(api.server, '{ parties { totalCount } }', {}, { authorization: `ApiKey ${created.createApiKey.secret}` });
    expect((await call()).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 1600));
    expect((await call()).status).toBe(401);
  });
});

describe('cross-tenant probes', () => {
  test('ids of another tenant resolve to null or NOT_FOUND on every operation that takes one', async () => {
    const a = await api.newTenant();
    const b = await api.newTenant();
    const party = await a.query(`mutation { createParty(input: { kind: CUSTOMER, displayName: "A's" }) { party { id } } }`);
    const partyId = party.createParty.party.id;
    const keys = await a.query(`{ apiKeys { id } viewer { tenant { id } } }`);
    const keyId = keys.apiKeys[0].id;
    const tenantId = keys.viewer.tenant.id;

    const read = await b.query(
      `query ($p: ID!, $k: ID!, $t: ID!) { party(id: $p) { id } node(id: $p) { id } nodes(ids: [$p, $k, $t]) { id } key: node(id: $k) { id } tenant: node(id: $t) { id } }`,
      { p: partyId, k: keyId, t: tenantId },
    );
    expect(read).toEqual({ party: null, node: null, nodes: [null, null, null], key: null, tenant: null });

    const revoke = await b.query(`mutation ($id: ID!) { revokeApiKey(input: { id: $id }) { apiKey { id } userErrors { code } } }`, { id: keyId });
    expect(revoke.revokeApiKey).toEqual({ apiKey: null, userErrors: [{ code: 'NOT_FOUND' }] });
    // And A's key still works.
    expect((await postGraphQL(api.server, '{ viewer { kind } }', {}, { authorization: `ApiKey ${a.apiKey}` })).status).toBe(200);
  });
});

describe('query limits', () => {
  test('depth, alias, token and cost bombs are refused before execution', async () => {
    const tenant = await api.newTenant();
    const deep = `{ parties { edges { node { id ${'... on Node { id '.repeat(0)} } } } }`;
    expect((await tenant.request(deep)).errors).toBeUndefined();

    let nested = 'id';
    for (let i = 0; i < 14; i++) nested = `viewer { tenant { id } } parties { edges { node { ${nested} } } }`.replace('viewer { tenant { id } } ', '');
    const depthBomb = await tenant.request(`{ ${nested} }`);
    expect(depthBomb.errors?.[0]?.message).toMatch(/depth/i);

    const aliases = Array.from({ length: 31 }, (_, i) => `a${i}: viewer { kind }`).join(' ');
    const aliasBomb = await tenant.request(`{ ${aliases} }`);
    expect(aliasBomb.errors?.[0]?.message).toMatch(/alias/i);

    const tokens = `{ ${Array.from({ length: 2100 }, () => 'viewer { kind }').join(' ')} }`;
    const tokenBomb = await tenant.request(tokens);
    expect(tokenBomb.errors?.[0]?.message).toMatch(/token/i);

    const wide = Array.from({ length: 25 }, (_, i) => `p${i}: parties(first: 100) { edges { node { id orders(first: 100) { edges { node { id } } } } } }`).join(' ');
    const costBomb = await tenant.request(`{ ${wide} }`);
    expect(costBomb.errors?.[0]?.message).toMatch(/cost/i);
    for (const response of [depthBomb, aliasBomb, tokenBomb, costBomb]) {
      expect(response.data ?? null).toBeNull();
      expect(response.errors?.[0]?.extensions?.code).toBeDefined();
    }
  });

  test('a body over 1 MB is refused with 413', async () => {
    const tenant = await api.newTenant();
    const response = await api.server.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `ApiKey ${tenant.apiKey}` },
      body: JSON.stringify({ query: '{ viewer { kind } }', variables: { pad: 'x'.repeat(1_100_000) } }),
    });
    expect(response.status).toBe(413);
  });

  test('credentials in cookies are ignored (a cross-site request carries none)', async () => {
    const tenant = await api.newTenant();
    const response = await postGraphQL(api.server, '{ viewer { kind } }', {}, { cookie: `authorization=ApiKey ${tenant.apiKey}` });
    expect(response.status).toBe(401);
  });
});

describe('per-environment settings', () => {
  test('production hides introspection and field suggestions', async () => {
    const prod = await createTestApi({ env: 'production', exposeErrors: false, rateLimits: null });
    try {
      const tenant = await prod.newTenant();
      const introspection = await tenant.request('{ __schema { types { name } } }');
      expect(introspection.errors?.[0]?.message).toMatch(/introspection/i);
      const typo = await tenant.request('{ partys { totalCount } }');
      expect(typo.errors?.[0]?.message).not.toMatch(/did you mean/i);
      const dev = await api.newTenant();
      expect((await dev.request('{ __schema { queryType { name } } }')).data.__schema.queryType.name).toBe('Query');
    } finally {
      await prod.close();
    }
  });

  test('production gives no "did you mean" for enum values and input fields either, in literals and variables', async () => {
    const prod = await createTestApi({ env: 'production', exposeErrors: false, rateLimits: null });
    try {
      for (const server of [prod, api]) {
        const tenant = await server.newTenant();
        const create = 'mutation ($input: CreatePartyInput!) { createParty(input: $input) { party { id } } }';
        const refusals = [
          await tenant.request('mutation { createParty(input: { kind: CUSTOMR, displayName: "x" }) { party { id } } }'),
          await tenant.request('mutation { createParty(input: { kind: CUSTOMER, displayName: "x", emial: "a@b.cn" }) { party { id } } }'),
          await tenant.request(create, { input: { kind: 'CUSTOMR', displayName: 'x' } }),
          await tenant.request(create, { input: { kind: 'CUSTOMER', displayName: 'x', emial: 'a@b.cn' } }),
          await tenant.request('{ parties(firts: 5) { totalCount } }'),
          await tenant.request('{ partys { totalCount } }'),
        ];
        const messages = refusals.map((response) => response.errors?.[0]?.message ?? 'none');
        expect(messages.every((message) => message !== 'none')).toBe(true);
        // Development keeps the hints (the positive control); production has none.
        const hinted = messages.filter((message) => /did you mean/i.test(message)).length;
        expect([server === prod ? 'production' : 'development', hinted]).toEqual(
          server === prod ? ['production', 0] : ['development', refusals.length],
        );
        // Nothing was written by any of them.
        expect(await tenantRows(server.handle, tenant.tenantId, 'select id from parties')).toEqual([]);
      }
    } finally {
      await prod.close();
    }
  });

  test('CORS: production answers no origin unless listed; development any, never with credentials', async () => {
    const listed = await createTestApi({ env: 'production', exposeErrors: false, rateLimits: null, corsOrigins: ['https://app.example.com'] });
    const prod = await createTestApi({ env: 'production', exposeErrors: false, rateLimits: null });
    try {
      const tenant = await prod.newTenant();
      const corsHeaders = async (server: TestApi, origin: string) => {
        const response = await postGraphQL(server.server, '{ viewer { kind } }', {}, { origin, authorization: `ApiKey ${tenant.apiKey}` });
        return Object.fromEntries([...response.headers].filter(([name]) => name.startsWith('access-control-')));
      };
      expect(await corsHeaders(prod, 'https://evil.example')).toEqual({});
      expect(await corsHeaders(listed, 'https://evil.example')).toEqual({});
      expect(await corsHeaders(listed, 'https://app.example.com')).toMatchObject({ 'access-control-allow-origin': 'https://app.example.com' });
      const dev = await corsHeaders(api, 'http://localhost:5173');
      expect(dev['access-control-allow-origin']).toBe('http://localhost:5173');
      for (const headers of [dev, await corsHeaders(listed, 'https://app.example.com')]) {
        expect(headers['access-control-allow-credentials']).toBeUndefined();
      }
    } finally {
      await listed.close();
      await prod.close();
    }
  });

  test('trusted documents: JWT callers may only send listed operations; partner keys anything', async () => {
    const listed = '{ viewer { kind } }';
    const { createHash } = await import('node:crypto');
    const hash = createHash('sha256').update(listed).digest('hex');
    const trustedApi = await createTestApi({ jwt: idp.settings, rateLimits: null, trustedDocuments: { [hash]: listed } });
    try {
      const tenant = await trustedApi.newTenant();
      const token = await idp.token({ tenant_id: tenant.tenantId, role: 'ADMIN' });
      const bearer = { authorization: `Bearer ${token}` };
      const arbitrary = await postGraphQL(trustedApi.server, '{ parties { totalCount } }', {}, bearer);
      expect(arbitrary.errors?.[0]?.message).toMatch(/persisted/i);
      const byHash = await trustedApi.server.fetch('http://localhost/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...bearer },
        body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: hash } } }),
      });
      expect(((await byHash.json()) as any).data.viewer.kind).toBe('USER');
      expect((await tenant.request('{ parties { totalCount } }')).data.parties.totalCount).toBe(0);
    } finally {
      await trustedApi.close();
    }
  });
});

describe('rate limits', () => {
  test('trip with a 429 RATE_LIMITED and Retry-After, and recover in the next window', async () => {
    const limited = await createTestApi({ rateLimits: { perTenant: 1000, perCaller: 3, windowSeconds: 2 } });
    try {
      const tenant = await limited.newTenant();
      // Start at the beginning of a window so the 4 requests share one.
      await new Promise((resolve) => setTimeout(resolve, 2000 - (Date.now() % 2000) + 20));
      const statuses: number[] = [];
      let refused;
      for (let i = 0; i < 4; i++) {
        const response = await tenant.request('{ viewer { kind } }');
        statuses.push(response.status);
        if (response.status === 429) refused = response;
      }
      expect(statuses).toEqual([200, 200, 200, 429]);
      expect(refused!.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
      const retryAfter = Number(refused!.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(2);
      await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000));
      expect((await tenant.request('{ viewer { kind } }')).status).toBe(200);
    } finally {
      await limited.close();
    }
  });

  test('requests waiting for the one connection are each counted (a read’s commit rides with the next request)', async () => {
    const limited = await createTestApi({ rateLimits: { perTenant: 1000, perCaller: 21, windowSeconds: 60 } }, { maxConnections: 1 });
    try {
      const tenant = await limited.newTenant();
      // Not within the last seconds of a window, so every request shares one.
      if (60_000 - (Date.now() % 60_000) < 10_000) await new Promise((resolve) => setTimeout(resolve, 60_000 - (Date.now() % 60_000) + 20));
      // A write asked while reads queue for the connection is committed before it answers.
      const [created] = await Promise.all([
        tenant.query(`mutation { createParty(input: { kind: CUSTOMER, displayName: "Queued" }) { party { id } } }`),
        ...Array.from({ length: 4 }, () => tenant.query('{ viewer { kind } }')),
      ]);
      expect(created.createParty.party.id).toBeTruthy();
      // Seen from another connection (PGlite has only the one).
      const other = usingPostgres() ? await createTestDatabase() : null;
      try {
        const rows = await tenantRows(other ?? limited.handle, tenant.tenantId, `select count(*)::int as n from parties where display_name = 'Queued'`);
        expect(rows).toEqual([{ n: 1 }]);
      } finally {
        await other?.close();
      }
      // 5 counted so far: of 20 more, 16 fit.
      const statuses = await Promise.all(Array.from({ length: 20 }, () => tenant.request('{ viewer { kind } }').then((r) => r.status)));
      expect(statuses.filter((status) => status === 200)).toHaveLength(16);
      expect(statuses.filter((status) => status === 429)).toHaveLength(4);
    } finally {
      await limited.close();
    }
  });

  test('the tenant-wide limit counts every caller of the tenant together', async () => {
    const limited = await createTestApi({ rateLimits: { perTenant: 4, perCaller: 100, windowSeconds: 2 } });
    try {
      const tenant = await limited.newTenant();
      const other = await tenant.query(`mutation { createApiKey(input: { name: "second", scopes: [ADMIN] }) { secret } }`);
      await new Promise((resolve) => setTimeout(resolve, 2000 - (Date.now() % 2000) + 20));
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await tenant.request('{ viewer { kind } }')).status);
      for (let i = 0; i < 2; i++) {
        statuses.push((await postGraphQL(limited.server, '{ viewer { kind } }', {}, { authorization: `ApiKey ${other.createApiKey.secret}` })).status);
      }
      expect(statuses).toEqual([200, 200, 200, 200, 429]);
    } finally {
      await limited.close();
    }
  });
});
