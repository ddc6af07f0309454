import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApi, type TestApi } from '../../test/helpers';
import { minute, party, type Ref, refer, referralTables, transition } from '../../test/referrals';

let api: TestApi;
beforeAll(async () => {
  api = await createTestApi({ rateLimits: null });
});
afterAll(() => api.close());
const { run, settings, orderWithHook } = referralTables(() => api);

const kinds = (r: { fraudSignals: { kind: string }[] }) => r.fraudSignals.map((s) => s.kind);

describe('fraud signals', () => {
  test('SAME_CONTACT: email with case, dots and +tag ignored; phone by its digits; fires and not', async () => {
    const tenant = await api.newTenant();
    const referrer = await party(tenant, 'Li Wei', { email: 'Li.Wei+vip@Example.com', phone: '+8613800138000' });
    const sameEmail = await party(tenant, 'Alias', { email: 'liwei@example.com' });
    const samePhone = await party(tenant, 'Phone', { phone: '+8613800138000' });
    const otherDomain = await party(tenant, 'Other', { email: 'liwei@example.org', phone: '+8613800138001' });
    const otherLocal = await party(tenant, 'Other 2', { email: 'li.wei2@example.com' });
    const hit = await refer(tenant, referrer, sameEmail);
    expect(hit.fraudSignals).toEqual([
      { kind: 'SAME_CONTACT', evidence: expect.objectContaining({ fields: ['email'], referrerId: referrer.uuid, refereeId: sameEmail.uuid }) },
    ]);
    expect(kinds(await refer(tenant, referrer, samePhone))).toEqual(['SAME_CONTACT']);
    expect(kinds(await refer(tenant, referrer, otherDomain))).toEqual([]);
    expect(kinds(await refer(tenant, referrer, otherLocal))).toEqual([]);

    // At conversion too: the referee took the referrer's email after being referred; a flagged
    // conversion is held, not rewarded.
    const late = await party(tenant, 'Late');
    const quiet = await party(tenant, 'Quiet referrer', { email: 'quiet@example.com' });
    const made = await refer(tenant, quiet, late);
    expect(kinds(made)).toEqual([]);
    await tenant.query(`mutation ($id: ID!) { updateParty(input: { id: $id, email: "Q.uiet+x@EXAMPLE.com" }) { userErrors { code } } }`, { id: late.id });
    const { referral: converted } = await orderWithHook(tenant, late, '10.00', new Date(Date.parse(made.createdAt) + 10 * minute));
    expect(converted!.status).toBe('CONVERTED');
    expect(converted!.fraudSignals.map((s) => s.kind)).toEqual(['SAME_CONTACT']);
  });

  test('VELOCITY: more than maxReferralsPerHour in the rolling hour', async () => {
    const tenant = await api.newTenant();
    await settings(tenant, { maxReferralsPerHour: 2 });
    const referrer = await party(tenant, 'Busy');
    const referees = [];
    for (let i = 0; i < 4; i++) referees.push(await party(tenant, `R${i}`));
    expect(kinds(await refer(tenant, referrer, referees[0]!))).toEqual([]);
    expect(kinds(await refer(tenant, referrer, referees[1]!))).toEqual([]);
    const third = await refer(tenant, referrer, referees[2]!);
    expect(third.fraudSignals).toEqual([
      { kind: 'VELOCITY', evidence: expect.objectContaining({ referralsInHour: 3, maxReferralsPerHour: 2, referrerId: referrer.uuid }) },
    ]);
    // An hour later the window is empty again.
    await run(tenant, `update referrals set created_at = created_at - interval '61 minutes' where referrer_id = '${referrer.uuid}'`);
    expect(kinds(await refer(tenant, referrer, referees[3]!))).toEqual([]);
    // Another referrer is not counted with this one.
    const calm = await party(tenant, 'Calm');
    expect(kinds(await refer(tenant, calm, await party(tenant, 'R9')))).toEqual([]);
  });

  test('FAST_CONVERSION: sooner than minMinutesToConvert holds the reward; 0 switches it off', async () => {
    const tenant = await api.newTenant();
    const [a, b, c, d] = [await party(tenant, 'A'), await party(tenant, 'B'), await party(tenant, 'C'), await party(tenant, 'D')];
    const fast = await refer(tenant, a, b);
    const { referral: flagged } = await orderWithHook(tenant, b, '10.00', new Date(Date.parse(fast.createdAt) + 30 * 1000));
    expect(flagged).toMatchObject({ status: 'CONVERTED', rewardAmount: null });
    expect(flagged!.fraudSignals).toEqual([
      { kind: 'FAST_CONVERSION', evidence: expect.objectContaining({ minutesToConvert: 0.5, minMinutesToConvert: 2 }) },
    ]);
    // A person decides: a flagged referral may still be rewarded by hand.
    expect((await transition(tenant, 'rewardReferral', { id: fast.id })).referral).toMatchObject({ status: 'REWARDED', reward: { amount: '20.00' } });

    const slow = await refer(tenant, a, c);
    const { referral: clean } = await orderWithHook(tenant, c, '10.00', new Date(Date.parse(slow.createdAt) + 2 * minute));
    expect(clean).toMatchObject({ status: 'REWARDED', fraudSignals: [] });

    await settings(tenant, { minMinutesToConvert: 0 });
    const off = await refer(tenant, a, d);
    const { referral: instant } = await orderWithHook(tenant, d, '10.00', new Date(Date.parse(off.createdAt)));
    expect(instant).toMatchObject({ status: 'REWARDED', fraudSignals: [] });
  });

  test('RING: already tied within 2 hops by other REFERRED edges, either direction; not by other edge types or 3 hops', async () => {
    const tenant = await api.newTenant();
    const p = async (name: string) => party(tenant, name);
    const edge = (from: Ref, to: Ref) =>
      run(tenant, `insert into relationships (tenant_id, type, from_party_id, to_party_id) values ('${tenant.tenantId}', 'REFERRED', '${from.uuid}', '${to.uuid}')`);

    // Two hops: both already "referred" the same party (two accounts of one person, merged data).
    const [a, b, shared] = [await p('A'), await p('B'), await p('Shared')];
    await edge(a, shared);
    await edge(b, shared);
    const two = await refer(tenant, a, b);
    expect(two.fraudSignals).toEqual([{ kind: 'RING', evidence: expect.objectContaining({ hops: 2, via: [shared.uuid] }) }]);

    // One hop, against the direction of the new referral.
    const [c, d] = [await p('C'), await p('D')];
    await edge(d, c);
    expect((await refer(tenant, c, d)).fraudSignals).toEqual([{ kind: 'RING', evidence: expect.objectContaining({ hops: 1 }) }]);

    // Not: three hops apart; tied only by a FRIEND edge; the pair's own REFERRED edge (reused).
    const [e, x, y, f] = [await p('E'), await p('X'), await p('Y'), await p('F')];
    await edge(e, x);
    await edge(y, x);
    await edge(y, f);
    expect(kinds(await refer(tenant, e, f))).toEqual([]);
    const [g, h] = [await p('G'), await p('H')];
    await tenant.query(`mutation ($a: ID!, $b: ID!) { connectParties(input: { fromId: $a, toId: $b, type: FRIEND }) { userErrors { code } } }`, { a: g.id, b: h.id });
    expect(kinds(await refer(tenant, g, h))).toEqual([]);
    const [i, j] = [await p('I'), await p('J')];
    await edge(i, j);
    expect(kinds(await refer(tenant, i, j))).toEqual([]);

    // At conversion: the tie appeared after the referral was made; the reward is held.
    const [k, l, m] = [await p('K'), await p('L'), await p('M')];
    const kl = await refer(tenant, k, l);
    expect(kinds(kl)).toEqual([]);
    await edge(m, k);
    await edge(m, l);
    const { referral: converted } = await orderWithHook(tenant, l, '10.00', new Date(Date.parse(kl.createdAt) + 5 * minute));
    expect(converted).toMatchObject({ status: 'CONVERTED', rewardAmount: null });
    expect(converted!.fraudSignals.map((s) => s.kind)).toEqual(['RING']);
  });

  test('suspiciousReferrals lists flagged referrals newest first, paginated, with totalCount', async () => {
    const tenant = await api.newTenant();
    await settings(tenant, { maxReferralsPerHour: 1 });
    const referrer = await party(tenant, 'Referrer');
    const made = [];
    for (let i = 0; i < 5; i++) made.push(await refer(tenant, referrer, await party(tenant, `R${i}`)));
    const flagged = made.filter((r) => r.fraudSignals.length > 0).map((r) => r.id);
    expect(flagged).toHaveLength(4);
    const query = `query ($first: Int, $after: String) { suspiciousReferrals(first: $first, after: $after) {
      totalCount pageInfo { hasNextPage endCursor } edges { node { id fraudSignals { kind } } } } }`;
    const page1 = (await tenant.query(query, { first: 3 })).suspiciousReferrals;
    expect(page1.totalCount).toBe(4);
    expect(page1.edges.map((e: any) => e.node.id)).toEqual(flagged.slice().reverse().slice(0, 3));
    expect(page1.pageInfo.hasNextPage).toBe(true);
    const page2 = (await tenant.query(query, { first: 3, after: page1.pageInfo.endCursor })).suspiciousReferrals;
    expect(page2.edges.map((e: any) => e.node.id)).toEqual([flagged[0]]);
    expect(page2.pageInfo.hasNextPage).toBe(false);
  });
});
