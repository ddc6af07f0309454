import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { listTenants } from '@guanxi/core/access';
import { createTestApi, postGraphQL, type TestApi } from '../../test/helpers';

let api: TestApi;
beforeAll(async () => {
  api = await createTestApi();
});
afterAll(() => api.close());

const createParty = /* GraphQL */ `
  mutation ($input: CreatePartyInput!) {
    createParty(input: $input) {
      party { id kind displayName email phone tags birthday stage createdAt }
      userErrors { code field message }
    }
  }
`;

describe('createParty', () => {
  test('creates a party at INITIAL_CONTACT, readable by id and through node', async () => {
    const tenant = await api.newTenant();
    const { createParty: payload } = await tenant.query(createParty, {
      input: {
        kind: 'PROSPECT',
        displayName: '  王芳  ',
        email: 'wang.fang@example.com',
        phone: '+8613800138000',
        tags: ['vip', 'vip', 'shanghai'],
        birthday: '1990-05-17',
      },
    });
    expect(payload.userErrors).toEqual([]);
    expect(payload.party).toMatchObject({
      kind: 'PROSPECT',
      displayName: '王芳',
      email: 'wang.fang@example.com',
      tags: ['vip', 'shanghai'],
      birthday: '1990-05-17',
      stage: 'INITIAL_CONTACT',
    });
    const id = payload.party.id as string;
    expect(Buffer.from(id, 'base64').toString()).toMatch(/^Party:/);

    const read = await tenant.query(
      `query ($id: ID!) { party(id: $id) { displayName } node(id: $id) { id ... on Party { kind } } }`,
      { id },
    );
    expect(read.party.displayName).toBe('王芳');
    expect(read.node).toEqual({ id, kind: 'PROSPECT' });
  });

  test('names each invalid field and writes nothing', async () => {
    const tenant = await api.newTenant();
    const { createParty: payload } = await tenant.query(createParty, {
      input: {
        kind: 'CUSTOMER',
        displayName: ' ',
        email: 'not-an-email',
        phone: '13800138000',
        tags: Array.from({ length: 21 }, (_, i) => `t${i}`),
        birthday: '2999-01-01',
      },
    });
    expect(payload.party).toBeNull();
    const fields = payload.userErrors.map((e: { field: string[] }) => e.field.join('.')).sort();
    expect(fields).toEqual([
      'input.birthday',
      'input.displayName',
      'input.email',
      'input.phone',
      'input.tags',
    ]);
    expect(new Set(payload.userErrors.map((e: { code: string }) => e.code))).toEqual(new Set(['VALIDATION']));
    const { parties } = await tenant.query(`{ parties { totalCount } }`);
    expect(parties.totalCount).toBe(0);
  });

  test('refuses a second party with the same external id (CONFLICT)', async () => {
    const tenant = await api.newTenant();
    const input = { kind: 'CUSTOMER', displayName: 'Li Lei', externalId: 'crm-1' };
    const first = await tenant.query(createParty, { input });
    expect(first.createParty.userErrors).toEqual([]);
    const second = await tenant.query(createParty, { input: { ...input, displayName: 'Other' } });
    expect(second.createParty.userErrors).toEqual([
      { code: 'CONFLICT', field: ['input', 'externalId'], message: expect.any(String) },
    ]);
    const { parties } = await tenant.query(`{ parties { totalCount } }`);
    expect(parties.totalCount).toBe(1);
  });
});

describe('parties', () => {
  test('pages forwards and backwards without skipping or repeating when rows are added', async () => {
    const tenant = await api.newTenant();
    const names: string[] = [];
    for (let i = 0; i < 7; i++) {
      names.push(`Party ${i}`);
      await tenant.query(createParty, { input: { kind: 'CUSTOMER', displayName: `Party ${i}` } });
    }
    const page = `query ($first: Int, $after: String, $last: Int, $before: String) {
      parties(first: $first, after: $after, last: $last, before: $before) {
        totalCount
        edges { cursor node { displayName } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      }
    }`;
    const first = await tenant.query(page, { first: 3 });
    expect(first.parties.edges.map((e: any) => e.node.displayName)).toEqual(names.slice(0, 3));
    expect(first.parties.pageInfo.hasNextPage).toBe(true);
    expect(first.parties.totalCount).toBe(7);

    // A row inserted between two page requests lands at the end; the next page is unaffected.
    await tenant.query(createParty, { input: { kind: 'CUSTOMER', displayName: 'Late' } });
    const second = await tenant.query(page, { first: 3, after: first.parties.pageInfo.endCursor });
    expect(second.parties.edges.map((e: any) => e.node.displayName)).toEqual(names.slice(3, 6));

    const back = await tenant.query(page, { last: 2, before: second.parties.pageInfo.startCursor });
    expect(back.parties.edges.map((e: any) => e.node.displayName)).toEqual(names.slice(1, 3));
    expect(back.parties.pageInfo.hasPreviousPage).toBe(true);

    const rest = await tenant.query(page, { first: 10, after: second.parties.pageInfo.endCursor });
    expect(rest.parties.edges.map((e: any) => e.node.displayName)).toEqual([names[6], 'Late']);
    expect(rest.parties.pageInfo.hasNextPage).toBe(false);
  });

  test('filters by kind and free-text search', async () => {
    const tenant = await api.newTenant();
    const inputs = [
      { kind: 'CUSTOMER', displayName: 'Zhang Wei', company: 'Acme Tea' },
      { kind: 'PROSPECT', displayName: 'Chen Jing', email: 'chen@acme.cn' },
      { kind: 'PARTNER', displayName: 'Blue Ocean Ltd' },
      { kind: 'SOCIAL_CONTACT', displayName: '100%_match', phone: '+8613912345678' },
    ];
    for (const input of inputs) await tenant.query(createParty, { input });
    const list = async (filter: object) =>
      (await tenant.query(`query ($f: PartyFilter) { parties(filter: $f) { totalCount edges { node { displayName } } } }`, { f: filter }))
        .parties;
    expect((await list({ search: 'ACME' })).edges.map((e: any) => e.node.displayName)).toEqual([
      'Zhang Wei',
      'Chen Jing',
    ]);
    expect((await list({ kinds: ['PARTNER', 'SOCIAL_CONTACT'] })).totalCount).toBe(2);
    expect((await list({ search: '139123' })).totalCount).toBe(1);
    // LIKE wildcards in the search text are matched literally.
    expect((await list({ search: '%_' })).totalCount).toBe(1);
  });

  test('refuses first > 100 instead of capping it', async () => {
    const tenant = await api.newTenant();
    const response = await tenant.request(`{ parties(first: 101) { totalCount } }`);
    expect(response.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('tenants and credentials', () => {
  test('one tenant cannot read another tenant\'s party, by id or in lists', async () => {
    const a = await api.newTenant();
    const b = await api.newTenant();
    const created = await a.query(createParty, { input: { kind: 'CUSTOMER', displayName: 'Secret' } });
    const id = created.createParty.party.id;
    const probe = await b.query(`query ($id: ID!) { party(id: $id) { id } node(id: $id) { id } parties { totalCount } }`, {
      id,
    });
    expect(probe).toEqual({ party: null, node: null, parties: { totalCount: 0 } });
  });

  test('a missing or bad credential is a 401 UNAUTHENTICATED', async () => {
    const none = await postGraphQL(api.server, '{ viewer { kind } }');
    expect(none.status).toBe(401);
    expect(none.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const bad = await postGraphQL(api.server, '{ viewer { kind } }', {}, { authorization: 'ApiKey gx_nope' });
    expect(bad.status).toBe(401);
    const viaHeader = await api.newTenant();
    const ok = await postGraphQL(api.server, '{ viewer { kind tenant { id } } }', {}, { 'x-api-key': viaHeader.apiKey });
    expect(ok.status).toBe(200);
    expect(ok.data.viewer.kind).toBe('API_KEY');
  });

  test('the operator creates a tenant whose key then works', async () => {
    const createTenant = `mutation ($input: CreateTenantInput!) {
      createTenant(input: $input) { tenant { id name currency } apiKey userErrors { code field message } }
    }`;
    const wrong = await postGraphQL(api.server, createTenant, { input: { name: 'X' } }, { authorization: 'Operator nope' });
    expect(wrong.status).toBe(401);
    const asTenant = await api.newTenant();
    const forbidden = await asTenant.request(createTenant, { input: { name: 'X' } });
    expect(forbidden.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    const created = await postGraphQL(api.server, createTenant, { input: { name: 'Acme 茶业', currency: 'EUR' } }, {
      authorization: 'Operator test-operator-key-not-a-secret',
    });
    expect(created.data.createTenant.userErrors).toEqual([]);
    expect(created.data.createTenant.tenant).toMatchObject({ name: 'Acme 茶业', currency: 'EUR' });
    const key = created.data.createTenant.apiKey as string;
    expect(key).toMatch(/^gx_[0-9A-Za-z]{36}$/);
    const viewer = await postGraphQL(api.server, '{ viewer { tenant { id name } } }', {}, { authorization: `ApiKey ${key}` });
    expect(viewer.data.viewer.tenant).toEqual(created.data.createTenant.tenant && {
      id: created.data.createTenant.tenant.id,
      name: 'Acme 茶业',
    });

    const tenantsBefore = (await listTenants(api.handle.db)).length;
    const invalid = await postGraphQL(api.server, createTenant, { input: { name: ' ', currency: 'EUR' } }, {
      authorization: 'Operator test-operator-key-not-a-secret',
    });
    expect(invalid.data.createTenant.userErrors.map((e: any) => e.field.join('.'))).toEqual(['input.name']);
    // A currency is a Currency enum value: anything else is refused before the mutation runs.
    for (const currency of ['euro', 'XYZ']) {
      const refused = await postGraphQL(api.server, createTenant, { input: { name: 'Y', currency } }, {
        authorization: 'Operator test-operator-key-not-a-secret',
      });
      expect(refused.data, currency).toBeUndefined();
      expect(refused.errors?.[0]?.extensions?.code, currency).toBe('BAD_USER_INPUT');
    }
    expect(await listTenants(api.handle.db)).toHaveLength(tenantsBefore);
  });
});

describe('updateParty and archiveParty', () => {
  const update = `mutation ($input: UpdatePartyInput!) { updateParty(input: $input) { party { id displayName email tags archivedAt kind } userErrors { code field message } } }`;
  const archive = `mutation ($id: ID!) { archiveParty(input: { id: $id }) { party { id archivedAt } userErrors { code field } } }`;

  test('changes given fields, clears with null, keeps absent ones, validates like create', async () => {
    const tenant = await api.newTenant();
    const created = await tenant.query(createParty, {
      input: { kind: 'PROSPECT', displayName: 'Zhou', email: 'zhou@example.cn', tags: ['a'] },
    });
    const id = created.createParty.party.id;
    const changed = await tenant.query(update, { input: { id, displayName: 'Zhou Min', email: null, kind: 'CUSTOMER' } });
    expect(changed.updateParty.userErrors).toEqual([]);
    expect(changed.updateParty.party).toMatchObject({ displayName: 'Zhou Min', email: null, tags: ['a'], kind: 'CUSTOMER' });

    const bad = await tenant.query(update, { input: { id, phone: '555-1234', displayName: null } });
    expect(bad.updateParty.party).toBeNull();
    expect(bad.updateParty.userErrors.map((e: any) => e.field.join('.')).sort()).toEqual(['input.displayName', 'input.phone']);
    const unchanged = await tenant.query(`query ($id: ID!) { party(id: $id) { displayName phone } }`, { id });
    expect(unchanged.party).toEqual({ displayName: 'Zhou Min', phone: null });
  });

  test('archiving hides from lists, keeps the party reachable by id, and updateParty restores it', async () => {
    const tenant = await api.newTenant();
    const created = await tenant.query(createParty, { input: { kind: 'CUSTOMER', displayName: 'Gone soon' } });
    const id = created.createParty.party.id;
    const archived = await tenant.query(archive, { id });
    expect(archived.archiveParty.party.archivedAt).not.toBeNull();
    const lists = await tenant.query(`query ($id: ID!) { active: parties { totalCount } archived: parties(filter: { archived: true }) { totalCount } party(id: $id) { archivedAt } }`, { id });
    expect(lists.active.totalCount).toBe(0);
    expect(lists.archived.totalCount).toBe(1);
    expect(lists.party.archivedAt).not.toBeNull();
    const restored = await tenant.query(update, { input: { id, archived: false } });
    expect(restored.updateParty.party.archivedAt).toBeNull();
    expect((await tenant.query(`{ parties { totalCount } }`)).parties.totalCount).toBe(1);
  });

  test('an unknown or foreign id is NOT_FOUND and changes nothing', async () => {
    const a = await api.newTenant();
    const b = await api.newTenant();
    const created = await a.query(createParty, { input: { kind: 'CUSTOMER', displayName: 'Mine' } });
    const id = created.createParty.party.id;
    const foreignUpdate = await b.query(update, { input: { id, displayName: 'Hijacked' } });
    expect(foreignUpdate.updateParty.userErrors).toEqual([{ code: 'NOT_FOUND', field: ['input', 'id'], message: expect.any(String) }]);
    const foreignArchive = await b.query(archive, { id });
    expect(foreignArchive.archiveParty.userErrors).toEqual([{ code: 'NOT_FOUND', field: ['input', 'id'] }]);
    const still = await a.query(`query ($id: ID!) { party(id: $id) { displayName archivedAt } }`, { id });
    expect(still.party).toEqual({ displayName: 'Mine', archivedAt: null });
  });
});

describe('parties filters and orders', () => {
  test('by stage, tags (all of) and owner; ordered by name both ways with stable cursors', async () => {
    const tenant = await api.newTenant();
    const rows = [
      { kind: 'CUSTOMER', displayName: 'Chen', tags: ['vip', 'tea'], ownerId: 'rep-1' },
      { kind: 'CUSTOMER', displayName: 'An', tags: ['vip'], ownerId: 'rep-2' },
      { kind: 'PROSPECT', displayName: 'Bai', tags: ['tea', 'vip', 'x'], ownerId: 'rep-1' },
      { kind: 'PARTNER', displayName: 'Deng', tags: [], ownerId: null },
    ];
    for (const input of rows) await tenant.query(createParty, { input });
    const list = async (variables: Record<string, unknown>) =>
      (
        await tenant.query(
          `query ($f: PartyFilter, $o: PartyOrder, $first: Int, $after: String) { parties(filter: $f, orderBy: $o, first: $first, after: $after) { totalCount pageInfo { endCursor hasNextPage } edges { node { displayName } } } }`,
          variables,
        )
      ).parties;
    const names = (connection: any) => connection.edges.map((e: any) => e.node.displayName);
    expect(names(await list({ f: { tags: ['vip', 'tea'] }, o: { field: 'DISPLAY_NAME' } }))).toEqual(['Bai', 'Chen']);
    expect(names(await list({ f: { ownerId: 'rep-1' }, o: { field: 'DISPLAY_NAME', direction: 'DESC' } }))).toEqual(['Chen', 'Bai']);
    expect((await list({ f: { stages: ['INITIAL_CONTACT'] } })).totalCount).toBe(4);
    expect((await list({ f: { stages: ['TRUST_BUILDING'] } })).totalCount).toBe(0);

    const first = await list({ o: { field: 'DISPLAY_NAME', direction: 'DESC' }, first: 2 });
    expect(names(first)).toEqual(['Deng', 'Chen']);
    await tenant.query(createParty, { input: { kind: 'CUSTOMER', displayName: 'Cao' } });
    const next = await list({ o: { field: 'DISPLAY_NAME', direction: 'DESC' }, first: 5, after: first.pageInfo.endCursor });
    expect(names(next)).toEqual(['Cao', 'Bai', 'An']);
    // Parties without a score sort as lowest; ties are broken by id, so the order is total.
    const byScore = await list({ o: { field: 'SCORE', direction: 'DESC' }, first: 10 });
    expect(byScore.totalCount).toBe(5);
    const cursorOfOtherOrder = await tenant.request(
      `query ($after: String) { parties(orderBy: { field: SCORE }, after: $after) { totalCount } }`,
      { after: first.pageInfo.endCursor },
    );
    expect(cursorOfOtherOrder.errors?.[0]?.extensions?.code).toBe('VALIDATION');
  });
});
