import { dueFollowUps } from '@guanxi/core/network';
import { asTenant, tenantRows } from '@guanxi/core/test';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  createStatementCounter,
  createTestApi,
  postGraphQL,
  testOperatorKey,
  type TenantClient,
  type TestApi,
} from '../../test/helpers';

const counter = createStatementCounter();
let api: TestApi;
beforeAll(async () => {
  api = await createTestApi({ rateLimits: null }, { logger: counter.logger });
});
afterAll(() => api.close());

const day = 24 * 60 * 60 * 1000;
/** The raw uuid inside a global id. */
const raw = (id: string) => Buffer.from(id, 'base64').toString().split(':')[1]!;
const utcDate = (at: Date) => at.toISOString().slice(0, 10);
const addDays = (date: string, days: number) => utcDate(new Date(Date.parse(`${date}T00:00:00Z`) + days * day));

async function party(tenant: TenantClient, kind: string, displayName = kind, extra: Record<string, unknown> = {}): Promise<string> {
  const { createParty } = await tenant.query(
    `mutation ($input: CreatePartyInput!) { createParty(input: $input) { party { id } userErrors { message } } }`,
    { input: { kind, displayName, ...extra } },
  );
  expect(createParty.userErrors).toEqual([]);
  return createParty.party.id;
}

const recordOrder = `mutation ($input: RecordOrderInput!) {
  recordOrder(input: $input) {
    order { id amount { amount currency } placedAt satisfaction externalId createdAt party { id kind } }
    userErrors { code field message }
  }
}`;

const recordInteraction = `mutation ($input: RecordInteractionInput!) {
  recordInteraction(input: $input) {
    interaction { id kind occurredAt satisfaction note actorKind actorId createdAt party { id } }
    userErrors { code field message }
  }
}`;

async function order(tenant: TenantClient, input: Record<string, unknown>) {
  return (await tenant.query(recordOrder, { input })).recordOrder;
}

async function interaction(tenant: TenantClient, input: Record<string, unknown>) {
  return (await tenant.query(recordInteraction, { input })).recordInteraction;
}

/** What a refused mutation must leave untouched: the tenant's rows, counted in the database. */
async function snapshot(tenantId: string) {
  const [row] = await tenantRows<{ orders: number; interactions: number; audits: number; kinds: string }>(
    api.handle,
    tenantId,
    `select (select count(*)::int from orders) as orders,
            (select count(*)::int from interactions) as interactions,
            (select count(*)::int from audit_log where operation in ('recordOrder', 'recordInteraction')) as audits,
            (select coalesce(string_agg(id::text || '=' || kind::text || '@' || updated_at::text, ',' order by id), '') from parties) as kinds`,
  );
  return row!;
}

/** A tenant in another currency, made by the operator (createTenant), with a client on its key. */
async function tenantIn(currency: string): Promise<TenantClient> {
  const created = await postGraphQL(
    api.server,
    `mutation ($input: CreateTenantInput!) { createTenant(input: $input) { tenant { id currency } apiKey userErrors { code } } }`,
    { input: { name: `${currency} shop`, currency } },
    { authorization: `Operator ${testOperatorKey}` },
  );
  expect(created.data.createTenant.tenant.currency).toBe(currency);
  const apiKey = created.data.createTenant.apiKey as string;
  const request = <T>(query: string, variables?: Record<string, unknown>) =>
    postGraphQL<T>(api.server, query, variables, { authorization: `ApiKey ${apiKey}` });
  return {
    tenantId: raw(created.data.createTenant.tenant.id),
    apiKey,
    request,
    async query<T>(query: string, variables?: Record<string, unknown>) {
      const response = await request<T>(query, variables);
      if (response.errors?.length) throw new Error(JSON.stringify(response.errors));
      return response.data as T;
    },
  };
}

describe('recordOrder', () => {
  test('records an order in the tenant currency, now by default, amount exact; audited; readable by node', async () => {
    const tenant = await api.newTenant();
    const customer = await party(tenant, 'CUSTOMER');
    const before = Date.now();
    const payload = await order(tenant, { partyId: customer, amount: '1234567890.12', satisfaction: 5, externalId: 'pos-1' });
    expect(payload.userErrors).toEqual([]);
    expect(payload.order).toMatchObject({
      amount: { amount: '1234567890.12', currency: 'CNY' },
      satisfaction: 5,
      externalId: 'pos-1',
      party: { id: customer, kind: 'CUSTOMER' },
    });
    const placedAt = Date.parse(payload.order.placedAt);
    expect(placedAt).toBeGreaterThanOrEqual(before - 1000);
    expect(placedAt).toBeLessThanOrEqual(Date.now() + 1000);

    // Stored exactly as given: numeric, not a float; trailing zeros kept.
    const zeros = await order(tenant, { partyId: customer, amount: '0.10', currency: 'CNY' });
    expect(zeros.order.amount).toEqual({ amount: '0.10', currency: 'CNY' });
    const free = await order(tenant, { partyId: customer, amount: '0' });
    expect(free.order.amount.amount).toBe('0');
    const rows = await tenantRows<{ amount: string }>(api.handle, tenant.tenantId, `select amount::text as amount from orders order by amount`);
    expect(rows.map((r) => r.amount)).toEqual(['0', '0.10', '1234567890.12']);

    const audit = await tenantRows<{ entity_ids: string[]; actor_kind: string }>(
      api.handle,
      tenant.tenantId,
      `select entity_ids, actor_kind::text as actor_kind from audit_log where operation = 'recordOrder' order by at, id`,
    );
    expect(audit).toHaveLength(3);
    expect(audit[0]).toMatchObject({ entity_ids: [raw(payload.order.id), raw(customer)], actor_kind: 'API_KEY' });

    const read = await tenant.query(`query ($id: ID!) { node(id: $id) { id ... on Order { amount { amount currency } party { id } } } }`, {
      id: payload.order.id,
    });
    expect(read.node).toEqual({ id: payload.order.id, amount: { amount: '1234567890.12', currency: 'CNY' }, party: { id: customer } });
    expect(Buffer.from(payload.order.id, 'base64').toString()).toMatch(/^Order:/);
  });

  test('every refusal names its field and changes nothing', async () => {
    const tenant = await api.newTenant();
    // A prospect: a refused order must not turn it into a customer either.
    const prospect = await party(tenant, 'PROSPECT');
    await order(tenant, { partyId: await party(tenant, 'CUSTOMER'), amount: '1.00', externalId: 'taken' });
    const before = await snapshot(tenant.tenantId);
    const soon = (ms: number) => new Date(Date.now() + ms).toISOString();
    const refusals: [Record<string, unknown>, { code: string; field: string }[]][] = [
      [{ amount: '-0.01' }, [{ code: 'VALIDATION', field: 'input.amount' }]],
      [{ amount: '-5' }, [{ code: 'VALIDATION', field: 'input.amount' }]],
      [{ amount: '10.505' }, [{ code: 'VALIDATION', field: 'input.amount' }]],
      [{ amount: '1', currency: 'USD' }, [{ code: 'VALIDATION', field: 'input.currency' }]],
      [{ amount: '1', placedAt: soon(10 * 60 * 1000) }, [{ code: 'VALIDATION', field: 'input.placedAt' }]],
      [{ amount: '1', satisfaction: 0 }, [{ code: 'VALIDATION', field: 'input.satisfaction' }]],
      [{ amount: '1', satisfaction: 6 }, [{ code: 'VALIDATION', field: 'input.satisfaction' }]],
      [{ amount: '1', externalId: 'x'.repeat(201) }, [{ code: 'VALIDATION', field: 'input.externalId' }]],
      [{ amount: '1', externalId: 'taken' }, [{ code: 'CONFLICT', field: 'input.externalId' }]],
      // Several problems at once: each is reported.
      [
        { amount: '-1.999', currency: 'EUR', placedAt: soon(day) },
        [
          { code: 'VALIDATION', field: 'input.amount' },
          { code: 'VALIDATION', field: 'input.currency' },
          { code: 'VALIDATION', field: 'input.placedAt' },
        ],
      ],
    ];
    for (const [input, expected] of refusals) {
      const payload = await order(tenant, { partyId: prospect, ...input });
      expect(payload.order, JSON.stringify(input)).toBeNull();
      const got = payload.userErrors.map((e: any) => ({ code: e.code, field: e.field.join('.') }));
      expect(got.sort((a: any, b: any) => a.field.localeCompare(b.field)), JSON.stringify(input)).toEqual(expected);
      expect(payload.userErrors.every((e: any) => e.message.length > 0)).toBe(true);
    }
    expect(await snapshot(tenant.tenantId)).toEqual(before);

    // A currency that is no ISO 4217 code guanxi knows is not a Currency: refused before running.
    for (const currency of ['XYZ', 'cny', 'EURO', '']) {
      const refused = await tenant.request(recordOrder, { input: { partyId: prospect, amount: '1', currency } });
      expect(refused.data, currency).toBeUndefined();
      expect(refused.errors?.[0]?.extensions?.code, currency).toBe('BAD_USER_INPUT');
    }
    expect(await snapshot(tenant.tenantId)).toEqual(before);

    // Another tenant's party does not exist here; neither does a party that was never created.
    const other = await api.newTenant();
    const foreign = await party(other, 'PROSPECT');
    const crossTenant = await order(tenant, { partyId: foreign, amount: '1' });
    expect(crossTenant.userErrors).toEqual([{ code: 'NOT_FOUND', field: ['input', 'partyId'], message: expect.any(String) }]);
    const otherBefore = await snapshot(other.tenantId);
    expect(otherBefore.orders).toBe(0);
    expect(otherBefore.kinds).toContain('=PROSPECT@');

    // An archived party takes no orders.
    const archived = await party(tenant, 'CUSTOMER', 'Gone');
    await tenant.query(`mutation ($id: ID!) { archiveParty(input: { id: $id }) { userErrors { code } } }`, { id: archived });
    const beforeArchived = await snapshot(tenant.tenantId);
    const toArchived = await order(tenant, { partyId: archived, amount: '1' });
    expect(toArchived.userErrors).toEqual([{ code: 'CONFLICT', field: ['input', 'partyId'], message: expect.any(String) }]);
    expect(await snapshot(tenant.tenantId)).toEqual(beforeArchived);
    expect(await snapshot(other.tenantId)).toEqual(otherBefore);
  });

  test('placedAt: backdating is allowed, a few minutes of clock skew too', async () => {
    const tenant = await api.newTenant();
    const customer = await party(tenant, 'CUSTOMER');
    const old = await order(tenant, { partyId: customer, amount: '5', placedAt: '2019-03-04T05:06:07.089Z' });
    expect(old.userErrors).toEqual([]);
    expect(old.order.placedAt).toBe('2019-03-04T05:06:07.089Z');
    const skewed = new Date(Date.now() + 2 * 60 * 1000).toISOString();
    const ahead = await order(tenant, { partyId: customer, amount: '5', placedAt: skewed });
    expect(ahead.userErrors).toEqual([]);
    expect(ahead.order.placedAt).toBe(skewed);
  });

  test("a PROSPECT's first order makes it a CUSTOMER; CUSTOMER and PARTNER keep their kind", async () => {
    const tenant = await api.newTenant();
    const prospect = await party(tenant, 'PROSPECT');
    const customer = await party(tenant, 'CUSTOMER');
    const partner = await party(tenant, 'PARTNER');
    const [before] = await tenantRows<{ updated_at: string }>(
      api.handle,
      tenant.tenantId,
      `select updated_at::text as updated_at from parties where id = '${raw(prospect)}'`,
    );

    const first = await order(tenant, { partyId: prospect, amount: '99.90' });
    expect(first.userErrors).toEqual([]);
    // The payload already sees the new kind: the flip happened in the same transaction.
    expect(first.order.party).toEqual({ id: prospect, kind: 'CUSTOMER' });
    const [after] = await tenantRows<{ kind: string; updated_at: string }>(
      api.handle,
      tenant.tenantId,
      `select kind::text as kind, updated_at::text as updated_at from parties where id = '${raw(prospect)}'`,
    );
    expect(after!.kind).toBe('CUSTOMER');
    expect(after!.updated_at > before!.updated_at).toBe(true);
    const audit = await tenantRows<{ details: any }>(
      api.handle,
      tenant.tenantId,
      `select details from audit_log where operation = 'recordOrder'`,
    );
    expect(audit[0]!.details.partyKind).toEqual({ from: 'PROSPECT', to: 'CUSTOMER' });

    // Further orders change nothing more.
    expect((await order(tenant, { partyId: prospect, amount: '1' })).order.party.kind).toBe('CUSTOMER');
    expect((await order(tenant, { partyId: customer, amount: '1' })).order.party.kind).toBe('CUSTOMER');
    expect((await order(tenant, { partyId: partner, amount: '1' })).order.party.kind).toBe('PARTNER');
    const kinds = await tenant.query(
      `query ($ids: [ID!]!) { nodes(ids: $ids) { ... on Party { id kind } } }`,
      { ids: [prospect, customer, partner] },
    );
    expect(kinds.nodes).toEqual([
      { id: prospect, kind: 'CUSTOMER' },
      { id: customer, kind: 'CUSTOMER' },
      { id: partner, kind: 'PARTNER' },
    ]);
  });

  test("amounts follow the currency's minor units: CNY 2, JPY 0, KWD 3; only the tenant's currency", async () => {
    const cny = await api.newTenant();
    const cnyParty = await party(cny, 'CUSTOMER');
    expect((await order(cny, { partyId: cnyParty, amount: '10.5' })).userErrors).toEqual([]);
    expect((await order(cny, { partyId: cnyParty, amount: '10.55', currency: 'CNY' })).userErrors).toEqual([]);
    expect((await order(cny, { partyId: cnyParty, amount: '10.555' })).userErrors).toEqual([
      { code: 'VALIDATION', field: ['input', 'amount'], message: 'CNY amounts have at most 2 decimal places' },
    ]);

    const jpy = await tenantIn('JPY');
    const jpyParty = await party(jpy, 'CUSTOMER');
    const before = await snapshot(jpy.tenantId);
    expect((await order(jpy, { partyId: jpyParty, amount: '1.5' })).userErrors).toEqual([
      { code: 'VALIDATION', field: ['input', 'amount'], message: 'JPY amounts are whole numbers' },
    ]);
    expect((await order(jpy, { partyId: jpyParty, amount: '1500', currency: 'CNY' })).userErrors).toEqual([
      { code: 'VALIDATION', field: ['input', 'currency'], message: expect.stringContaining('JPY') },
    ]);
    expect(await snapshot(jpy.tenantId)).toEqual(before);
    const yen = await order(jpy, { partyId: jpyParty, amount: '1500', currency: 'JPY' });
    expect(yen.order).toMatchObject({ amount: { amount: '1500', currency: 'JPY' } });
    expect((await order(jpy, { partyId: jpyParty, amount: '2000' })).order.amount.currency).toBe('JPY');

    const kwd = await tenantIn('KWD');
    const kwdParty = await party(kwd, 'CUSTOMER');
    expect((await order(kwd, { partyId: kwdParty, amount: '1.234' })).order.amount).toEqual({ amount: '1.234', currency: 'KWD' });
    expect((await order(kwd, { partyId: kwdParty, amount: '1.2345' })).userErrors[0]).toMatchObject({ code: 'VALIDATION', field: ['input', 'amount'] });
  });
});

describe('recordInteraction', () => {
  test('logs a touchpoint signed by the caller, now by default; audited', async () => {
    const tenant = await api.newTenant();
    const customer = await party(tenant, 'CUSTOMER');
    const { viewer } = await tenant.query(`{ viewer { actorId } }`);
    const before = Date.now();
    const payload = await interaction(tenant, { partyId: customer, kind: 'CARE', satisfaction: 4, note: '  中秋节问候  ' });
    expect(payload.userErrors).toEqual([]);
    expect(payload.interaction).toMatchObject({
      kind: 'CARE',
      satisfaction: 4,
      note: '中秋节问候',
      actorKind: 'API_KEY',
      actorId: viewer.actorId,
      party: { id: customer },
    });
    expect(Date.parse(payload.interaction.occurredAt)).toBeGreaterThanOrEqual(before - 1000);
    const past = await interaction(tenant, { partyId: customer, kind: 'COMPLAINT', occurredAt: '2024-01-02T03:04:05.000Z' });
    expect(past.interaction).toMatchObject({ kind: 'COMPLAINT', occurredAt: '2024-01-02T03:04:05.000Z', satisfaction: null, note: null });
    const audit = await tenantRows<{ entity_ids: string[]; details: any }>(
      api.handle,
      tenant.tenantId,
      `select entity_ids, details from audit_log where operation = 'recordInteraction' order by at, id`,
    );
    expect(audit.map((a) => a.details.kind)).toEqual(['CARE', 'COMPLAINT']);
    expect(audit[0]!.entity_ids).toEqual([raw(payload.interaction.id), raw(customer)]);
    const read = await tenant.query(`query ($id: ID!) { node(id: $id) { ... on Interaction { kind actorKind } } }`, { id: past.interaction.id });
    expect(read.node).toEqual({ kind: 'COMPLAINT', actorKind: 'API_KEY' });
  });

  test('every refusal names its field and changes nothing', async () => {
    const tenant = await api.newTenant();
    const customer = await party(tenant, 'CUSTOMER');
    const before = await snapshot(tenant.tenantId);
    const refusals: [Record<string, unknown>, string, string][] = [
      [{ occurredAt: new Date(Date.now() + 10 * 60 * 1000).toISOString() }, 'VALIDATION', 'input.occurredAt'],
      [{ satisfaction: 9 }, 'VALIDATION', 'input.satisfaction'],
      [{ satisfaction: 0 }, 'VALIDATION', 'input.satisfaction'],
      [{ note: 'x'.repeat(2001) }, 'VALIDATION', 'input.note'],
    ];
    for (const [input, code, field] of refusals) {
      const payload = await interaction(tenant, { partyId: customer, kind: 'CALL', ...input });
      expect(payload.interaction).toBeNull();
      expect(payload.userErrors.map((e: any) => `${e.code} ${e.field.join('.')}`)).toEqual([`${code} ${field}`]);
    }
    const other = await api.newTenant();
    const foreign = await party(other, 'CUSTOMER');
    expect((await interaction(tenant, { partyId: foreign, kind: 'CALL' })).userErrors).toEqual([
      { code: 'NOT_FOUND', field: ['input', 'partyId'], message: expect.any(String) },
    ]);
    const archived = await party(tenant, 'CUSTOMER', 'Gone');
    await tenant.query(`mutation ($id: ID!) { archiveParty(input: { id: $id }) { userErrors { code } } }`, { id: archived });
    expect((await interaction(tenant, { partyId: archived, kind: 'CALL' })).userErrors[0]).toMatchObject({
      code: 'CONFLICT',
      field: ['input', 'partyId'],
    });
    const after = await snapshot(tenant.tenantId);
    expect({ ...after, kinds: '' }).toEqual({ ...before, kinds: '' });
    expect((await snapshot(other.tenantId)).interactions).toBe(0);
    // At the limits: 2000 characters and 2 minutes of clock skew are fine.
    const ok = await interaction(tenant, {
      partyId: customer,
      kind: 'MEETING',
      note: 'y'.repeat(2000),
      occurredAt: new Date(Date.now() + 2 * 60 * 1000).toISOString(),
    });
    expect(ok.userErrors).toEqual([]);
  });
});

describe('Party.orders and Party.interactions', () => {
  const timeline = `query ($id: ID!, $first: Int, $after: String) {
    party(id: $id) {
      orders(first: $first, after: $after) { totalCount pageInfo { hasNextPage hasPreviousPage endCursor } edges { cursor node { id placedAt } } }
      interactions(first: $first, after: $after) { totalCount pageInfo { hasNextPage hasPreviousPage endCursor } edges { node { id occurredAt } } }
    }
  }`;

  test('newest first (ties by id), totalCount, after cursor; first ≤ 100; a foreign cursor is refused', async () => {
    const tenant = await api.newTenant();
    const customer = await party(tenant, 'CUSTOMER');
    const noise = await party(tenant, 'CUSTOMER', 'Noise');
    await order(tenant, { partyId: noise, amount: '1' });
    // Recorded out of date order; two share a placedAt (the id breaks the tie, newest id first).
    const dates = ['2025-03-01T10:00:00.000Z', '2025-01-01T10:00:00.000Z', '2025-05-01T10:00:00.000Z', '2025-03-01T10:00:00.000Z', '2024-12-31T23:59:59.999Z'];
    const orders: { id: string; at: string }[] = [];
    const touches: { id: string; at: string }[] = [];
    for (const at of dates) {
      orders.push({ id: (await order(tenant, { partyId: customer, amount: '10', placedAt: at })).order.id, at });
      touches.push({ id: (await interaction(tenant, { partyId: customer, kind: 'VISIT', occurredAt: at })).interaction.id, at });
    }
    const newestFirst = (list: { id: string; at: string }[]) =>
      [...list].sort((a, b) => b.at.localeCompare(a.at) || raw(b.id).localeCompare(raw(a.id))).map((x) => x.id);

    const page1 = (await tenant.query(timeline, { id: customer, first: 2 })).party;
    expect(page1.orders.totalCount).toBe(5);
    expect(page1.orders.edges.map((e: any) => e.node.id)).toEqual(newestFirst(orders).slice(0, 2));
    expect(page1.orders.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
    expect(page1.interactions.totalCount).toBe(5);
    expect(page1.interactions.edges.map((e: any) => e.node.id)).toEqual(newestFirst(touches).slice(0, 2));

    const page2 = (await tenant.query(timeline, { id: customer, first: 2, after: page1.orders.pageInfo.endCursor })).party;
    expect(page2.orders.edges.map((e: any) => e.node.id)).toEqual(newestFirst(orders).slice(2, 4));
    expect(page2.orders.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: true });
    const rest = (await tenant.query(timeline, { id: customer, first: 10, after: page2.orders.pageInfo.endCursor })).party;
    expect(rest.orders.edges.map((e: any) => e.node.id)).toEqual(newestFirst(orders).slice(4));
    expect(rest.orders.pageInfo.hasNextPage).toBe(false);
    expect(rest.orders.totalCount).toBe(5);

    const touches2 = (await tenant.query(timeline, { id: customer, first: 3, after: page1.interactions.pageInfo.endCursor })).party;
    expect(touches2.interactions.edges.map((e: any) => e.node.id)).toEqual(newestFirst(touches).slice(2, 5));
    expect(touches2.interactions.pageInfo.hasNextPage).toBe(false);

    const empty = (await tenant.query(timeline, { id: await party(tenant, 'PROSPECT') })).party;
    expect(empty.orders).toEqual({ totalCount: 0, pageInfo: { hasNextPage: false, hasPreviousPage: false, endCursor: null }, edges: [] });

    const tooMany = await tenant.request(timeline, { id: customer, first: 101 });
    expect(tooMany.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const badCursor = await tenant.request(timeline, { id: customer, after: 'bm90LWEtY3Vyc29y' });
    expect(badCursor.errors?.[0]?.extensions?.code).toBe('VALIDATION');
  });

  test('a page of parties loads its orders and interactions in a bounded number of statements', async () => {
    const tenant = await api.newTenant();
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const id = await party(tenant, 'CUSTOMER', `P${String(i).padStart(2, '0')}`);
      ids.push(id);
      for (let k = 0; k <= i % 3; k++) {
        await order(tenant, { partyId: id, amount: `${i}.${k}`, placedAt: new Date(Date.UTC(2025, 0, 1 + k)).toISOString() });
      }
      if (i % 2 === 0) await interaction(tenant, { partyId: id, kind: 'CALL' });
    }
    const page = `query ($first: Int) {
      parties(first: $first) { edges { node { id
        orders(first: 2) { totalCount edges { node { amount { amount } party { displayName } } } }
        interactions(first: 2) { totalCount edges { node { kind } } }
      } } }
    }`;
    counter.reset();
    const small = await tenant.query(page, { first: 3 });
    const smallCount = counter.count;
    counter.reset();
    const large = await tenant.query(page, { first: 12 });
    const largeCount = counter.count;
    expect(largeCount).toBe(smallCount);
    expect(small.parties.edges).toHaveLength(3);
    // Each party got its own page, newest first, and its own counts.
    large.parties.edges.forEach((edge: any, i: number) => {
      const n = (i % 3) + 1;
      expect(edge.node.orders.totalCount).toBe(n);
      expect(edge.node.orders.edges.map((e: any) => e.node.amount.amount)).toEqual(
        Array.from({ length: n }, (_, k) => `${i}.${n - 1 - k}`).slice(0, 2),
      );
      expect(edge.node.orders.edges.every((e: any) => e.node.party.displayName === `P${String(i).padStart(2, '0')}`)).toBe(true);
      expect(edge.node.interactions.totalCount).toBe(i % 2 === 0 ? 1 : 0);
    });
  });
});

describe('dueFollowUps', () => {
  const query = `query ($within: Int) {
    dueFollowUps(withinDays: $within) { party { id } reason dueOn lastInteractionAt daysSinceInteraction }
  }`;

  test('birthdays within withinDays (today included) and lapsed contacts, by due date then party', async () => {
    const tenant = await api.newTenant();
    const now = new Date();
    const today = utcDate(now);
    // A leap year, so that a 29 February "tomorrow" is a real birthday too.
    const birthdayOn = (date: string) => `1988${date.slice(4)}`;
    const tomorrow = addDays(today, 1);
    const birthdayTomorrow = await party(tenant, 'SOCIAL_CONTACT', 'Birthday tomorrow', { birthday: birthdayOn(tomorrow) });
    const birthdayToday = await party(tenant, 'PROSPECT', 'Birthday today', { birthday: birthdayOn(today) });
    const birthdayLater = await party(tenant, 'CUSTOMER', 'Birthday in 20 days', { birthday: birthdayOn(addDays(today, 20)) });
    const lapsed = await party(tenant, 'CUSTOMER', 'Lapsed');
    const recent = await party(tenant, 'PARTNER', 'Recent');
    const social = await party(tenant, 'SOCIAL_CONTACT', 'Social, lapsed');
    const gone = await party(tenant, 'CUSTOMER', 'Archived, lapsed', { birthday: birthdayOn(tomorrow) });
    await party(tenant, 'CUSTOMER', 'New, never contacted');
    const fortyDaysAgo = new Date(now.getTime() - 40 * day);
    for (const id of [lapsed, recent, social, gone]) {
      await interaction(tenant, { partyId: id, kind: 'CALL', occurredAt: fortyDaysAgo.toISOString() });
    }
    await interaction(tenant, { partyId: recent, kind: 'EMAIL', occurredAt: new Date(now.getTime() - 2 * day).toISOString() });
    await tenant.query(`mutation ($id: ID!) { archiveParty(input: { id: $id }) { userErrors { code } } }`, { id: gone });

    // Computed here from the rules: followUpDays is 30 by default.
    const expected = [
      { party: { id: lapsed }, reason: 'NO_RECENT_INTERACTION', dueOn: addDays(utcDate(fortyDaysAgo), 30), lastInteractionAt: fortyDaysAgo.toISOString(), daysSinceInteraction: 40 },
      { party: { id: birthdayToday }, reason: 'BIRTHDAY', dueOn: today, lastInteractionAt: null, daysSinceInteraction: null },
      { party: { id: birthdayTomorrow }, reason: 'BIRTHDAY', dueOn: tomorrow, lastInteractionAt: null, daysSinceInteraction: null },
    ];
    const { dueFollowUps: list } = await tenant.query(query, { within: 14 });
    expect(list).toEqual(expected);

    const wider = (await tenant.query(query, { within: 30 })).dueFollowUps;
    expect(wider.map((f: any) => f.party.id)).toEqual([lapsed, birthdayToday, birthdayTomorrow, birthdayLater]);
    expect(wider[3]).toMatchObject({ reason: 'BIRTHDAY', dueOn: addDays(today, 20) });
    // withinDays defaults to 14; 0 keeps today's birthdays only.
    expect((await tenant.query(`{ dueFollowUps { party { id } } }`)).dueFollowUps).toHaveLength(3);
    expect((await tenant.query(query, { within: 0 })).dueFollowUps.map((f: any) => f.party.id)).toEqual([lapsed, birthdayToday]);

    for (const within of [-1, 367]) {
      const refused = await tenant.request(query, { within });
      expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'VALIDATION', field: ['withinDays'] });
    }
  });

  test('as of a given day: 29 February, the turn of the year, parties never contacted, overdue', async () => {
    const tenant = await api.newTenant();
    const leapling = await party(tenant, 'SOCIAL_CONTACT', 'Leapling', { birthday: '2000-02-29' });
    const newYear = await party(tenant, 'SOCIAL_CONTACT', 'New year', { birthday: '1990-01-03' });
    const never = await party(tenant, 'PARTNER', 'Never contacted');
    const rawIds = { leapling: raw(leapling), newYear: raw(newYear), never: raw(never) };
    const createdOn = utcDate(new Date());
    const due = (withinDays: number, today: string) =>
      asTenant(api.handle, tenant.tenantId, () => dueFollowUps({ withinDays, today })).then((result) =>
        result.followUps.map((f) => `${f.reason}:${f.partyId}:${f.dueOn}`),
      );
    const birthdays = async (withinDays: number, today: string) => (await due(withinDays, today)).filter((f) => f.startsWith('BIRTHDAY'));

    // A 29 February birthday falls on 28 February in a common year, on the 29th in a leap year.
    expect(await birthdays(14, '2027-02-20')).toEqual([`BIRTHDAY:${rawIds.leapling}:2027-02-28`]);
    expect(await birthdays(0, '2027-02-28')).toEqual([`BIRTHDAY:${rawIds.leapling}:2027-02-28`]);
    expect(await birthdays(14, '2028-02-20')).toEqual([`BIRTHDAY:${rawIds.leapling}:2028-02-29`]);
    // 2027-03-01 + 308 days is 2028-01-03: the window's last day is included, the day after is not.
    expect(await birthdays(308, '2027-03-01')).toEqual([`BIRTHDAY:${rawIds.newYear}:2028-01-03`]);
    expect(await birthdays(307, '2027-03-01')).toEqual([]);
    expect(await birthdays(366, '2027-03-01')).toEqual([`BIRTHDAY:${rawIds.newYear}:2028-01-03`, `BIRTHDAY:${rawIds.leapling}:2028-02-29`]);
    // Across the turn of the year.
    expect(await birthdays(14, '2026-12-25')).toEqual([`BIRTHDAY:${rawIds.newYear}:2027-01-03`]);

    // Never contacted: due followUpDays after creation, and stays due (overdue) afterwards.
    const lapse = (list: string[]) => list.filter((f) => f.startsWith('NO_RECENT'));
    expect(lapse(await due(14, addDays(createdOn, 29)))).toEqual([]);
    expect(lapse(await due(14, addDays(createdOn, 30)))).toEqual([`NO_RECENT_INTERACTION:${rawIds.never}:${addDays(createdOn, 30)}`]);
    expect(lapse(await due(14, addDays(createdOn, 400)))).toEqual([`NO_RECENT_INTERACTION:${rawIds.never}:${addDays(createdOn, 30)}`]);
    // SOCIAL_CONTACTs are never on the list for lapsed contact, only for birthdays.
    expect((await due(0, addDays(createdOn, 400))).some((f) => f.includes(rawIds.leapling) && f.startsWith('NO_RECENT'))).toBe(false);
    await expect(asTenant(api.handle, tenant.tenantId, () => dueFollowUps({ withinDays: 1.5 }))).rejects.toMatchObject({
      errors: [{ code: 'VALIDATION', field: ['withinDays'] }],
    });
  });
});
