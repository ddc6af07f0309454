import { referralCodeAlphabet } from '@guanxi/core/referrals';
import { tenantRows } from '@guanxi/core/test';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApi, type TestApi } from '../../test/helpers';
import { create, party } from '../../test/referrals';

let api: TestApi;
beforeAll(async () => {
  api = await createTestApi({ rateLimits: null });
});
afterAll(() => api.close());

describe('referral codes', () => {
  test('made on first request: 8 readable random characters, stable, unique, usable case- and dash-insensitively', async () => {
    const tenant = await api.newTenant();
    const parties = [];
    for (let i = 0; i < 6; i++) parties.push(await party(tenant, `P${i}`));
    const page = `{ parties(first: 10) { edges { node { id referralCode } } } }`;
    const first = (await tenant.query(page)).parties.edges.map((e: any) => e.node);
    const codes = first.map((n: any) => n.referralCode as string);
    for (const code of codes) {
      expect(code).toHaveLength(8);
      expect([...code].every((c) => referralCodeAlphabet.includes(c))).toBe(true);
    }
    expect(referralCodeAlphabet).not.toMatch(/[0O1IL]/);
    expect(new Set(codes).size).toBe(codes.length);
    // Asked again: the same codes, no new rows.
    const again = (await tenant.query(page)).parties.edges.map((e: any) => e.node.referralCode);
    expect(again).toEqual(codes);
    const stored = await tenantRows<{ n: number }>(api.handle, tenant.tenantId, `select count(*)::int as n from referral_codes`);
    expect(stored[0]!.n).toBe(6);

    // Referring by code, written the way people type it back.
    const [referrer, referee] = [first[0], parties[1]!];
    const typed = `${referrer.referralCode.slice(0, 4).toLowerCase()}-${referrer.referralCode.slice(4)}`;
    const made = await create(tenant, { referralCode: typed, refereeId: referee.id, channel: 'WECHAT' });
    expect(made.userErrors).toEqual([]);
    expect(made.referral).toMatchObject({ code: referrer.referralCode, channel: 'WECHAT', status: 'PENDING', referrer: { id: referrer.id } });
  });
});
