import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createStatementCounter, createTestApi, type TestApi } from '../../test/helpers';
import { party, type Ref, refer } from '../../test/referrals';

let api: TestApi;
beforeAll(async () => {
  api = await createTestApi({ rateLimits: null });
});
afterAll(() => api.close());

describe('batched reads', () => {
  const counter = createStatementCounter();
  let counted: TestApi;
  beforeAll(async () => {
    counted = await createTestApi({ rateLimits: null }, { logger: counter.logger });
  });
  afterAll(() => counted.close());

  test("a page of parties with referralCode, referredBy and referrals takes as many statements for 12 parties as for 3", async () => {
    const tenant = await counted.newTenant();
    const people: Ref[] = [];
    for (let i = 0; i < 12; i++) people.push(await party(tenant, `P${i}`));
    for (let i = 1; i < 12; i++) await refer(tenant, people[Math.floor((i - 1) / 3)]!, people[i]!);
    const page = `query ($first: Int) { parties(first: $first) { edges { node { id referralCode referredBy { id displayName }
      referrals(first: 2) { totalCount edges { node { status referee { displayName } } } } } } } }`;
    // The first read makes the codes (one insert and one audit entry for the whole page).
    await tenant.query(page, { first: 12 });
    const statements = async (first: number) => {
      counter.reset();
      const data = await tenant.query(page, { first });
      expect(data.parties.edges).toHaveLength(first);
      return counter.count;
    };
    const three = await statements(3);
    const twelve = await statements(12);
    expect(twelve).toBe(three);
    expect(twelve).toBeLessThanOrEqual(12);
  });
});
