import { afterAll, beforeAll, expect, test } from 'vitest';
import { usingPostgres } from '@guanxi/core/test';
import { createTestApi, type TenantClient, type TestApi } from '../../test/helpers';
import { party, refer, type Ref } from '../../test/referrals';

// A page of parties reads the fields its rows would load one statement each (the latest loyalty
// snapshot, the referrer) in its own statement: a whole request is begin, the admission, the page,
// commit — whatever the page size — and every value equals the one the field's loader reads.
const all: string[] = [];
const control = /^\s*(begin|commit|rollback)\b/i;
let api: TestApi;
let tenant: TenantClient;
let people: Ref[];

beforeAll(async () => {
  api = await createTestApi({ rateLimits: null }, { logger: { logQuery: (query) => void all.push(query) } });
  tenant = await api.newTenant();
  people = [];
  for (let i = 0; i < 14; i++) {
    people.push(
      await party(tenant, `P${i}`, i % 3 === 0 ? { tags: ['vip', `t${i}`], birthday: '1990-02-0' + ((i % 9) + 1) } : { email: `p${i}@example.com` }),
    );
  }
  // P0 referred P1–P5, P1 referred P6–P8: referrers with tags, birthdays and no referrer of their own.
  for (const referee of people.slice(1, 6)) await refer(tenant, people[0]!, referee);
  for (const referee of people.slice(6, 9)) await refer(tenant, people[1]!, referee);
  for (const [i, person] of people.slice(0, 10).entries()) {
    const { recordOrder } = await tenant.query(
      `mutation ($input: RecordOrderInput!) { recordOrder(input: $input) { userErrors { message } } }`,
      { input: { partyId: person.id, amount: `${100 + 17 * i}.50`, placedAt: `2025-05-${String(10 + i).padStart(2, '0')}T09:00:00Z`, satisfaction: 1 + (i % 5) } },
    );
    expect(recordOrder.userErrors).toEqual([]);
  }
  // P0's own page: edges from either end, stage moves, more orders than one page holds.
  for (const [from, to, type] of [[0, 1, 'FRIEND'], [2, 0, 'COLLEAGUE'], [0, 3, 'FAMILY'], [4, 5, 'FRIEND']] as const) {
    const { connectParties } = await tenant.query(
      `mutation ($input: ConnectPartiesInput!) { connectParties(input: $input) { userErrors { message } } }`,
      { input: { fromId: people[from]!.id, toId: people[to]!.id, type } },
    );
    expect(connectParties.userErrors).toEqual([]);
  }
  for (const to of ['TRUST_BUILDING', 'LOYALTY_GROWTH']) {
    const { moveStage } = await tenant.query(`mutation ($input: MoveStageInput!) { moveStage(input: $input) { userErrors { message } } }`, {
      input: { partyId: people[0]!.id, to },
    });
    expect(moveStage.userErrors).toEqual([]);
  }
  for (let i = 0; i < 4; i++) {
    await tenant.query(`mutation ($input: RecordOrderInput!) { recordOrder(input: $input) { userErrors { message } } }`, {
      input: { partyId: people[0]!.id, amount: `${5 + i}.10`, placedAt: `2025-04-0${i + 1}T08:00:00Z` },
    });
  }
  for (const asOf of ['2025-06-01', '2025-06-02']) {
    const { runScoring } = await tenant.query(`mutation ($asOf: Date!) { runScoring(input: { asOf: $asOf }) { userErrors { message } } }`, { asOf });
    expect(runScoring.userErrors).toEqual([]);
  }
});
afterAll(() => api.close());

const loyaltyFields = 'id asOf score tier segment churnRisk loyal r f m recencyDays frequency monetary { amount currency } satisfactionMean ruleVersion';
const partyFields = 'id displayName kind stage stageChangedAt email tags birthday createdAt updatedAt archivedAt';
// The bench's page (a), as written there, and through named and inline fragments.
const benchPage = `query ($first: Int!) {
  parties(first: $first, orderBy: { field: CREATED_AT, direction: ASC }) {
    edges { node { id displayName stage loyalty { score tier asOf } referredBy { id displayName } } }
    pageInfo { hasNextPage endCursor }
  }
}`;
const fragmentPage = `query ($first: Int!) {
  parties(first: $first) { edges { ...Edge } }
}
fragment Edge on PartyEdge { node { ...Row } }
fragment Row on Party { id ... on Party { loyalty { score tier asOf } } referredBy { id displayName } }`;
// Every field of both, for comparing values with the loaders'.
const pageQuery = `query ($first: Int!) {
  parties(first: $first) {
    edges { node { id displayName stage loyalty { ${loyaltyFields} } referredBy { ${partyFields} } } }
  }
}`;

async function run(query: string, variables: Record<string, unknown>) {
  all.length = 0;
  const data = await tenant.query(query, variables);
  return { data, statements: [...all], withoutControl: all.filter((s) => !control.test(s)).length };
}

test('the page of (a) is four statements, for 5 parties as for 14, and fragments are seen through', async () => {
  const small = await run(benchPage, { first: 5 });
  const whole = await run(benchPage, { first: 50 });
  const viaFragments = await run(fragmentPage, { first: 50 });
  console.info(`statements besides begin/commit: page of 5 → ${small.withoutControl}, of 14 → ${whole.withoutControl}, through fragments → ${viaFragments.withoutControl}`);
  expect(whole.data.parties.edges).toHaveLength(14);
  expect(whole.data.parties.edges.filter((e: any) => e.node.loyalty && e.node.referredBy)).toHaveLength(8);
  // The admission, then the page with its loyalty and referrers; node-postgres also logs begin
  // and commit (PGlite runs them itself), which makes four.
  for (const { statements, withoutControl } of [small, whole, viaFragments]) {
    expect(withoutControl).toBe(2);
    const [admission, page] = statements.filter((s) => !control.test(s));
    expect(admission).toMatch(/guanxi_admit_api_key/);
    // Only what the selections use: three columns of the snapshot, two of the referrer.
    expect(page).toContain("json_build_object('as_of', s.as_of::text, 'score', s.score::text, 'tier', s.tier::text)");
    expect(page).toContain("json_build_object('display_name', referrer.display_name, 'id', referrer.id)");
    expect(statements).toHaveLength(usingPostgres() ? 4 : 2);
  }
  // And what they read is what the loaders read.
  for (const { node } of whole.data.parties.edges) {
    const { node: alone } = await tenant.query(
      `query ($id: ID!) { node(id: $id) { ... on Party { id displayName stage loyalty { score tier asOf } referredBy { id displayName } } } }`,
      { id: node.id },
    );
    expect(node).toEqual(alone);
  }
});

test('one wider selection of a field anywhere in the operation, and the whole object is read along for it', async () => {
  // The page asks the narrow fields; an alias of the same list asks for more of both objects.
  const mixed = await run(
    `query { narrow: parties(first: 50) { edges { node { id loyalty { score } referredBy { id } } } }
      wide: parties(first: 50) { edges { node { id loyalty { monetary { amount } components { recency } } referredBy { email tags } } } } }`,
    {},
  );
  const pages = mixed.statements.filter((s) => /from "parties" where/.test(s));
  expect(pages).toHaveLength(2);
  for (const page of pages) {
    expect(page).toContain("'rule_version', s.rule_version::int");
    expect(page).toMatch(/row_to_json\(referrer\)/);
  }
  const loaded = await tenant.query(
    `query { parties(first: 50) { edges { node { id loyalty { score monetary { amount } components { recency } } referredBy { id email tags } } } } }`,
  );
  const byId = new Map<string, any>(loaded.parties.edges.map((e: any) => [e.node.id, e.node]));
  for (const { node } of mixed.data.wide.edges) {
    expect(node.loyalty).toEqual(byId.get(node.id).loyalty === null ? null : { monetary: byId.get(node.id).loyalty.monetary, components: byId.get(node.id).loyalty.components });
    expect(node.referredBy).toEqual(byId.get(node.id).referredBy === null ? null : { email: byId.get(node.id).referredBy.email, tags: byId.get(node.id).referredBy.tags });
  }
  expect(mixed.data.wide.edges.filter((e: any) => e.node.loyalty?.monetary?.amount).length).toBe(10);
});

test('every fetched-along value equals what the field reads on its own (loader path)', async () => {
  const { data } = await run(pageQuery, { first: 50 });
  const scored = data.parties.edges.filter((e: any) => e.node.loyalty);
  const referred = data.parties.edges.filter((e: any) => e.node.referredBy);
  expect(scored.length).toBe(10);
  expect(referred.length).toBe(8);
  for (const { node } of data.parties.edges) {
    // Through node(id) the fields load through their loaders (party(id) would read them along too).
    const { node: alone } = await tenant.query(
      `query ($id: ID!) { node(id: $id) { ... on Party { loyalty { ${loyaltyFields} } referredBy { ${partyFields} } } } }`,
      { id: node.id },
    );
    expect(node.loyalty).toEqual(alone.loyalty);
    expect(node.referredBy).toEqual(alone.referredBy);
  }
  const p6 = data.parties.edges.find((e: any) => e.node.id === people[6]!.id).node;
  expect(p6.referredBy.id).toBe(people[1]!.id);
  const p3 = data.parties.edges.find((e: any) => e.node.id === people[3]!.id).node;
  expect(p3.referredBy).toMatchObject({ id: people[0]!.id, tags: ['vip', 't0'], birthday: '1990-02-01' });
  expect(p3.loyalty.asOf).toBe('2025-06-02');
});

test('a page that selects neither field fetches neither; the loaders then take one statement each', async () => {
  const plain = await run(`query { parties(first: 50) { edges { node { id } } } }`, {});
  expect(plain.withoutControl).toBe(2);
  expect(plain.statements.join('\n')).not.toMatch(/row_to_json/);
  // Nested under another list, the same fields load in batched statements of their own.
  const nested = await run(
    `query ($id: ID!) { party(id: $id) { referrals(first: 10) { edges { node { referee { loyalty { score } referredBy { id } } } } } } }`,
    { id: people[0]!.id },
  );
  expect(nested.data.party.referrals.edges).toHaveLength(5);
  // The admission, the party with its first page of referrals (read along), the referees, their
  // snapshots, their referrers.
  expect(nested.withoutControl).toBe(5);
});

// (d) of the bench: one party's own page.
const detailFields = `id displayName stage
  relationships(first: 10) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id type from { id } to { id } } } }
  orders(first: 3) { pageInfo { hasNextPage endCursor } edges { cursor node { id amount { amount currency } placedAt satisfaction } } }
  stageHistory(first: 10) { edges { cursor node { id from to at reason } } }
  referrals(first: 10) { edges { node { id status createdAt referee { id } reward { amount currency } } } }
  loyalty { score tier asOf }`;

test('a party page (d) reads its first pages along: begin, admission, the party, the count, commit', async () => {
  const { data, statements, withoutControl } = await run(`query ($id: ID!) { party(id: $id) { ${detailFields} } }`, { id: people[0]!.id });
  const party = data.party;
  // Three edges made by hand and the five REFERRED edges of P0's referrals.
  expect(party.relationships.totalCount).toBe(8);
  expect(party.orders.pageInfo.hasNextPage).toBe(true);
  expect(party.orders.edges).toHaveLength(3);
  expect(party.stageHistory.edges.map((e: any) => e.node.to)).toEqual(['LOYALTY_GROWTH', 'TRUST_BUILDING', 'INITIAL_CONTACT']);
  expect(party.referrals.edges).toHaveLength(5);
  console.info(`(d) statements besides begin/commit: ${withoutControl}`);
  // The admission, the party with its four first pages and loyalty, and the relationships'
  // totalCount (asked for). The edges' ends and the referees are asked by id alone: no read.
  expect(withoutControl).toBe(3);
  expect(statements).toHaveLength(usingPostgres() ? 5 : 3);
  // The same fields through node(id), where nothing is read along: equal, field by field.
  const viaNode = await run(`query ($id: ID!) { node(id: $id) { ... on Party { ${detailFields} } } }`, { id: people[0]!.id });
  expect(viaNode.withoutControl).toBeGreaterThan(withoutControl);
  expect(party).toEqual(viaNode.data.node);
});

test('a first page read along holds only the columns its nodes ask for, and its cursor’s; one wider selection and whole rows', async () => {
  const narrow = await run(`query ($id: ID!) { party(id: $id) { ${detailFields} } }`, { id: people[0]!.id });
  const statement = narrow.statements.find((s) => /from "parties" where/.test(s))!;
  // Orders asked for id, amount, placedAt and satisfaction: those columns, no others.
  expect(statement).toContain("json_build_object('id', page.id, 'placed_at', page.placed_at, 'amount', page.amount, 'currency', page.currency, 'satisfaction', page.satisfaction)");
  // Stage moves: id, from, to, at, reason; referrals: the referee's id, status, reward; edges: the ends.
  expect(statement).toContain("json_build_object('id', page.id, 'at', page.at, 'from_stage', page.from_stage, 'reason', page.reason, 'to_stage', page.to_stage)");
  expect(statement).toContain("'referee_id', page.referee_id");
  expect(statement).toContain("'from_party_id', page.from_party_id");
  expect(statement).not.toMatch(/json_agg\(page order by/);

  // `refunded` is not one the page knows the columns of: the orders are read whole, the rest stays narrow.
  const wider = await run(
    `query ($id: ID!) { party(id: $id) { ${detailFields} } again: party(id: $id) { orders(first: 3) { edges { node { refunded { amount } } } } } }`,
    { id: people[0]!.id },
  );
  const widerStatement = wider.statements.find((s) => /from "parties" where/.test(s))!;
  expect(widerStatement).toMatch(/json_agg\(page order by page\.n\)[^]*from "orders"/);
  expect(widerStatement).toContain("'from_stage', page.from_stage");
  expect(wider.data.party).toEqual(narrow.data.party);
  expect(wider.data.again.orders.edges.map((e: any) => e.node.refunded.amount)).toEqual(['0', '0', '0']);
});

test('pages past the first, other sizes and filtered lists are read by their loaders, unchanged', async () => {
  const first = await tenant.query(`query ($id: ID!) { party(id: $id) { orders(first: 3) { pageInfo { endCursor } edges { node { id } } } } }`, { id: people[0]!.id });
  const next = await run(
    `query ($id: ID!, $after: String) { party(id: $id) { loyalty { score } orders(first: 3, after: $after) { edges { node { id } } } relationships(types: [FRIEND]) { edges { node { type } } } } }`,
    { id: people[0]!.id, after: first.party.orders.pageInfo.endCursor },
  );
  const all = await tenant.query(`query ($id: ID!) { party(id: $id) { orders(first: 100) { edges { node { id } } } } }`, { id: people[0]!.id });
  const ids = all.party.orders.edges.map((e: any) => e.node.id);
  expect(next.data.party.orders.edges.map((e: any) => e.node.id)).toEqual(ids.slice(3, 6));
  expect(next.data.party.relationships.edges).toEqual([{ node: { type: 'FRIEND' } }]);
  const page = next.statements.filter((s) => !control.test(s))[1]!;
  expect(page).toContain("json_build_object('score', s.score::text)");
  expect(page).not.toMatch(/json_agg/);
  // An oversized first is refused as before, not read along.
  const refused = await tenant.request(`query ($id: ID!) { party(id: $id) { orders(first: 101) { edges { node { id } } } } }`, { id: people[0]!.id });
  expect(refused.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
});

test("a list's ends asked for more than their id are read, in one batch, and are the same parties", async () => {
  const ends = `relationships(first: 10) { edges { node { from { id displayName } to { id displayName } } } } referrals(first: 10) { edges { node { referee { id displayName } } } }`;
  const { data, withoutControl } = await run(`query ($id: ID!) { party(id: $id) { ${ends} } }`, { id: people[0]!.id });
  // The admission, the party with both first pages, the ends' rows.
  expect(withoutControl).toBe(3);
  const byId = new Map(people.map((person, i) => [person.id, `P${i}`]));
  for (const { node } of data.party.relationships.edges) {
    expect(node.from.displayName).toBe(byId.get(node.from.id));
    expect(node.to.displayName).toBe(byId.get(node.to.id));
  }
  expect(data.party.referrals.edges.map((e: any) => e.node.referee.displayName).sort()).toEqual(['P1', 'P2', 'P3', 'P4', 'P5']);
});
