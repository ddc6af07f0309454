import { serverAudits, type Audit } from 'graphql-http';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApi, type TestApi } from '../packages/graphql/test/helpers';

/**
 * GraphQL over HTTP conformance: graphql-http's server audits, run through `yoga.fetch` with a
 * partner's valid API key on every request (api: "The graphql-http audit suite is run with a valid
 * credential"). Every MUST and SHOULD audit has to pass; a waived one is listed here and in the
 * README with its reason. The MAY audits pass too and are held to it: one of them keeps
 * mutations off GET, which is what stops a link or an <img> from writing.
 */
const configs = {
  // What the tests and the dev server run: introspection on, internal errors shown.
  development: { env: 'development' },
  // What Lambda runs: introspection and field suggestions off, internal errors masked.
  production: { env: 'production', exposeErrors: false },
} as const;

// The {variables} audits probe with `__type(name: $name)`, an introspection field, which
// production refuses by design (api: introspection off in production). The behaviour they audit
// is checked on production with an ordinary query below ('variables as a map …').
const introspectionProbe = 'its probe is an introspection query (__type), which production disables';
const waived: Record<keyof typeof configs, Record<string, string>> = {
  development: {},
  production: { '2EA1': introspectionProbe, '28B9': introspectionProbe, D6D5: introspectionProbe, '6A70': introspectionProbe },
};

describe.each(Object.keys(configs) as (keyof typeof configs)[])('%s server', (name) => {
  const config = configs[name];
  let api: TestApi;
  let apiKey: string;
  beforeAll(async () => {
    api = await createTestApi({ ...config, rateLimits: null });
    apiKey = (await api.newTenant()).apiKey;
  });
  afterAll(() => api?.close());

  const withCredential = (input: string, init?: RequestInit) => {
    const request = new Request(input, init);
    request.headers.set('authorization', `ApiKey ${apiKey}`);
    return api.server.fetch(request);
  };
  const audits: Audit[] = serverAudits({ url: 'http://localhost/graphql', fetchFn: withCredential });

  test('the suite is complete and every waiver names a real audit', () => {
    const ids = new Set(audits.map((audit) => audit.id));
    expect(audits.filter((audit) => /^(MUST|SHOULD) /.test(audit.name)).length).toBeGreaterThanOrEqual(30);
    for (const id of Object.keys(waived[name])) expect(ids).toContain(id);
  });

  // Positive control: the audits' requests pass only because they carry the credential.
  test('without the credential the same request is a 401', async () => {
    const response = await api.server.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(response.status).toBe(401);
  });

  test('variables as a map and as a URL-encoded GET parameter, without introspection', async () => {
    const query = 'query Parties($first: Int) { parties(first: $first) { totalCount } }';
    for (const accept of ['application/json', 'application/graphql-response+json']) {
      const post = await withCredential('http://localhost/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept },
        body: JSON.stringify({ query, variables: { first: 5 } }),
      });
      const get = await withCredential(
        `http://localhost/graphql?${new URLSearchParams({ query, variables: JSON.stringify({ first: 5 }) })}`,
        { headers: { accept } },
      );
      for (const response of [post, get]) {
        expect(response.status).toBe(200);
        expect(await response.json()).toEqual({ data: { parties: { totalCount: 0 } }, extensions: { cost: { requested: 1, limit: 50_000 } } });
      }
    }
  });

  test.each(audits.map((audit) => [`${audit.id} ${audit.name}`, audit] as const))('%s', async (_title, audit) => {
    const result = await audit.fn();
    if (waived[name][audit.id]) {
      // A waiver that no longer fails is stale: drop it (here and in the README).
      expect(result.status).not.toBe('ok');
      return;
    }
    const reason = result.status === 'ok' ? '' : `${result.status}: ${result.reason}`;
    expect({ id: audit.id, status: result.status, reason }).toEqual({ id: audit.id, status: 'ok', reason: '' });
  });
});
