import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApi, type TenantClient, type TestApi } from '../test/helpers';

const maxBodyBytes = 2_000;

let api: TestApi;
let tenant: TenantClient;
beforeAll(async () => {
  api = await createTestApi({ limits: { maxBodyBytes }, rateLimits: null });
  tenant = await api.newTenant();
});
afterAll(() => api.close());

const createParty = (displayName: string, padding = '') =>
  JSON.stringify({
    query: 'mutation ($name: String!) { createParty(input: { kind: CUSTOMER, displayName: $name }) { party { id } } }',
    variables: { name: displayName, padding },
  });

/** A body sent in pieces without a length (HTTP chunked), as a stream. */
function chunked(text: string, pieceBytes = 500): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.subarray(at, (at += pieceBytes)));
    },
  });
}

async function send(body: BodyInit, headers: Record<string, string> = {}) {
  const response = await api.server.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `ApiKey ${tenant.apiKey}`, ...headers },
    body,
    duplex: 'half',
  } as RequestInit);
  return { status: response.status, body: (await response.json()) as { data?: any; errors?: { extensions?: { code?: string } }[] } };
}

const partiesNamed = async (displayName: string) =>
  (await tenant.query<{ parties: { totalCount: number } }>('query ($s: String!) { parties(filter: { search: $s }) { totalCount } }', { s: displayName })).parties
    .totalCount;

describe('the request body limit', () => {
  test('a declared length over the limit is refused with 413 by the header alone, and nothing runs', async () => {
    const body = createParty('Declared big');
    const refused = await send(body, { 'content-length': String(maxBodyBytes + 1) });
    expect(refused.status).toBe(413);
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('REQUEST_ENTITY_TOO_LARGE');
    expect(await partiesNamed('Declared big')).toBe(0);
    // The same body declaring its true length is served.
    const served = await send(body, { 'content-length': String(Buffer.byteLength(body)) });
    expect(served.status).toBe(200);
    expect(served.body.data.createParty.party.id).toBeTruthy();
  });

  test('a content-length that is not one number is a 400', async () => {
    for (const declared of ['12, 12', '-1', 'ten']) {
      const refused = await send(createParty('Bad length'), { 'content-length': declared });
      expect(refused.status).toBe(400);
      expect(refused.body.errors?.[0]?.extensions?.code).toBe('BAD_REQUEST');
    }
    expect(await partiesNamed('Bad length')).toBe(0);
  });

  test('a body without a length is counted as it comes: served under the limit, 413 past it, nothing run', async () => {
    const small = createParty('Chunked small');
    expect(Buffer.byteLength(small)).toBeLessThan(maxBodyBytes);
    const served = await send(chunked(small, 50));
    expect(served.status).toBe(200);
    expect(served.body.data.createParty.party.id).toBeTruthy();

    const big = createParty('Chunked big', 'x'.repeat(maxBodyBytes));
    const refused = await send(chunked(big));
    expect(refused.status).toBe(413);
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('REQUEST_ENTITY_TOO_LARGE');
    expect(await partiesNamed('Chunked big')).toBe(0);
    expect(await partiesNamed('Chunked small')).toBe(1);
  });
});
