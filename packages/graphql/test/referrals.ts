import { randomUUID } from 'node:crypto';
import { useTransaction } from '@guanxi/core';
import { convertReferralForOrder } from '@guanxi/core/referrals';
import { asTenant, tenantRows } from '@guanxi/core/test';
import { expect } from 'vitest';
import type { TenantClient, TestApi } from './helpers';

// What the referral tests (packages/graphql/src/referrals/*.test.ts) share: parties and referrals
// made over GraphQL, and the few writes they make straight to the tables.

export const minute = 60 * 1000;
export const hour = 60 * minute;

/** A party as the API names it (global id) and as the tables do (uuid). */
export interface Ref {
  id: string;
  uuid: string;
}

export const uuidOf = (globalId: string) => Buffer.from(globalId, 'base64').toString().split(':')[1]!;

export async function party(tenant: TenantClient, displayName: string, extra: Record<string, unknown> = {}): Promise<Ref> {
  const { createParty } = await tenant.query(
    `mutation ($input: CreatePartyInput!) { createParty(input: $input) { party { id } userErrors { message } } }`,
    { input: { kind: 'PROSPECT', displayName, ...extra } },
  );
  expect(createParty.userErrors).toEqual([]);
  return { id: createParty.party.id, uuid: uuidOf(createParty.party.id) };
}

export const referralFields = `id status code channel createdAt convertedAt rewardedAt rejectedAt rejectedReason
  reward { amount currency } referrer { id } referee { id } convertingOrder { id } fraudSignals { kind evidence }`;

export const createMutation = `mutation ($input: CreateReferralInput!) {
  createReferral(input: $input) { referral { ${referralFields} } userErrors { code field message } }
}`;

export async function create(tenant: TenantClient, input: Record<string, unknown>) {
  return (await tenant.query(createMutation, { input })).createReferral;
}

/** A referral that must succeed; returns it. */
export async function refer(tenant: TenantClient, referrer: Ref, referee: Ref, extra: Record<string, unknown> = {}) {
  const payload = await create(tenant, { referrerId: referrer.id, refereeId: referee.id, ...extra });
  expect(payload.userErrors).toEqual([]);
  return payload.referral;
}

export async function transition(tenant: TenantClient, name: 'convertReferral' | 'rewardReferral' | 'rejectReferral', input: Record<string, unknown>) {
  const inputType = { convertReferral: 'ConvertReferralInput', rewardReferral: 'RewardReferralInput', rejectReferral: 'RejectReferralInput' }[name];
  const data = await tenant.query(
    `mutation ($input: ${inputType}!) { ${name}(input: $input) { referral { ${referralFields} } userErrors { code field message } } }`,
    { input },
  );
  return data[name];
}

export async function referral(tenant: TenantClient, id: string) {
  return (await tenant.query(`query ($id: ID!) { node(id: $id) { ... on Referral { ${referralFields} } } }`, { id })).node;
}

/**
 * The helpers that use the test file's database. `api` is read when they run: the file creates
 * its API in `beforeAll`.
 */
export function referralTables(api: () => TestApi) {
  /** Statements as the tenant's application role (values are made by the test itself). */
  function run(tenant: TenantClient, statement: string) {
    return asTenant(api().handle, tenant.tenantId, async () => {
      await useTransaction().execute(statement);
    });
  }

  /** Changes the tenant's referral settings in place (settings.referrals ∪ patch). */
  function settings(tenant: TenantClient, patch: Record<string, unknown>) {
    return run(
      tenant,
      `update tenants set settings = jsonb_set(settings, '{referrals}', (settings -> 'referrals') || '${JSON.stringify(patch)}'::jsonb)
       where id = '${tenant.tenantId}'`,
    );
  }

  /**
   * An order row written with SQL, then the order hook called in the same transaction — what
   * recordOrder does, but with any placedAt (recordOrder refuses one in the future, and these tests
   * place orders minutes after a referral made just now). recordOrder itself: 'the order hook'.
   */
  function orderWithHook(tenant: TenantClient, who: Ref, amount: string, placedAt: Date) {
    return asTenant(api().handle, tenant.tenantId, async () => {
      const id = randomUUID();
      await useTransaction().execute(
        `insert into orders (tenant_id, id, party_id, amount, currency, placed_at)
         values ('${tenant.tenantId}', '${id}', '${who.uuid}', ${amount}, 'CNY', '${placedAt.toISOString()}')`,
      );
      const converted = await convertReferralForOrder({ id, partyId: who.uuid, amount, placedAt });
      return { orderId: id, referral: converted };
    });
  }

  /** What a refused mutation must leave untouched, counted in the database. */
  async function state(tenant: TenantClient) {
    const [row] = await tenantRows(
      api().handle,
      tenant.tenantId,
      `select
         (select count(*)::int from referrals) as referrals,
         (select coalesce(string_agg(id || ':' || status || ':' || coalesce(reward_amount::text, '') || ':' || coalesce(rejected_reason, ''), ',' order by id), '') from referrals) as referral_state,
         (select count(*)::int from relationships) as relationships,
         (select count(*)::int from audit_log) as audits,
         (select coalesce(string_agg(party_id || '=' || descendants, ',' order by party_id), '') from referral_subtree_sizes) as sizes`,
    );
    return row;
  }

  async function refused(tenant: TenantClient, work: () => Promise<{ userErrors: unknown[]; referral?: unknown }>, expected: Record<string, unknown>) {
    const before = await state(tenant);
    const payload = await work();
    expect(payload.userErrors).toEqual([expect.objectContaining(expected)]);
    expect(payload.referral).toBeNull();
    expect(await state(tenant)).toEqual(before);
  }

  /**
   * A forest of 38 parties over two days of referrals, with orders (some before their referral),
   * conversions flagged and clean, rewards and rejections — then everything read back, for the
   * tests to compute the API's answers independently.
   */
  async function forest(tenant: TenantClient) {
    await settings(tenant, { maxReferralsPerHour: 1000 });
    const random = rng(7);
    const people: Ref[] = [];
    for (let i = 0; i < 36; i++) people.push(await party(tenant, `P${String(i).padStart(2, '0')}`));
    // Four roots; everyone else is referred by someone made before them (a forest of depth > 3).
    for (let i = 4; i < people.length; i++) {
      const parent = people[Math.floor(random() * i)]!;
      await refer(tenant, parent, people[i]!);
    }
    // One party referred before the others it now refers (a root that gains a referrer keeps its tree).
    const late = await party(tenant, 'Late');
    const lateChild = await party(tenant, 'Late child');
    await refer(tenant, late, lateChild);
    await refer(tenant, people[5]!, late);
    people.push(late, lateChild);

    // Spread creation times over two days, in creation order, so periods mean something.
    const base = Date.UTC(2025, 0, 1);
    await run(
      tenant,
      `update referrals f set created_at = '${new Date(base).toISOString()}'::timestamptz + (o.n * interval '1 hour')
       from (select id, row_number() over (order by created_at, id) as n from referrals) o where o.id = f.id`,
    );
    const firstRows = await tenantRows<Row>(api().handle, tenant.tenantId, `select id::text, referee_id::text, (extract(epoch from created_at) * 1000)::bigint::text as created_ms from referrals`);
    const createdOf = new Map(firstRows.map((r) => [r.referee_id, Number(r.created_ms)]));
    // Orders: some referees buy (once or twice), one before its referral (not counted); some
    // referrals are rejected or rewarded by hand.
    for (const [index, person] of people.entries()) {
      const created = createdOf.get(person.uuid);
      if (created === undefined) continue;
      const roll = random();
      if (roll < 0.55) {
        const amount = `${Math.floor(random() * 900) + 10}.${String(Math.floor(random() * 100)).padStart(2, '0')}`;
        await orderWithHook(tenant, person, amount, new Date(created + (index % 3 === 0 ? 30 * 1000 : 10 * minute)));
        if (roll < 0.25) await orderWithHook(tenant, person, '12.34', new Date(created + 3 * hour));
      } else if (roll < 0.65) {
        await orderWithHook(tenant, person, '999.99', new Date(created - minute));
      }
    }
    const rowsNow = await tenantRows<{ id: string; status: string }>(api().handle, tenant.tenantId, `select id::text, status::text from referrals order by id`);
    const global = (uuid: string) => Buffer.from(`Referral:${uuid}`).toString('base64');
    const converted = rowsNow.filter((r) => r.status === 'CONVERTED');
    if (converted[0]) await transition(tenant, 'rejectReferral', { id: global(converted[0].id), reason: 'duplicate household' });
    if (converted[1]) await transition(tenant, 'rewardReferral', { id: global(converted[1].id) });
    const pending = rowsNow.filter((r) => r.status === 'PENDING');
    if (pending[0]) await transition(tenant, 'rejectReferral', { id: global(pending[0].id), reason: 'no show' });

    // --- Read everything back and compute independently.
    const statuses = await tenantRows<{ status: string; flagged: boolean }>(
      api().handle,
      tenant.tenantId,
      `select status::text, fraud_signals <> '[]'::jsonb as flagged from referrals`,
    );
    // The data exercises every status and flagged conversions (so the numbers below are not all zero).
    for (const status of ['PENDING', 'CONVERTED', 'REWARDED', 'REJECTED']) expect(statuses.some((r) => r.status === status)).toBe(true);
    expect(statuses.some((r) => r.flagged && r.status === 'CONVERTED')).toBe(true);
    const rows = await tenantRows<Row>(
      api().handle,
      tenant.tenantId,
      `select id::text, referrer_id::text, referee_id::text, status::text,
         (extract(epoch from created_at) * 1000)::bigint::text as created_ms,
         (extract(epoch from rewarded_at) * 1000)::bigint::text as rewarded_ms, reward_amount::text
       from referrals`,
    );
    const orderRows = await tenantRows<{ party_id: string; amount: string; placed_ms: string }>(
      api().handle,
      tenant.tenantId,
      `select party_id::text, amount::text, (extract(epoch from placed_at) * 1000)::bigint::text as placed_ms from orders`,
    );
    const parent = new Map(rows.map((r) => [r.referee_id, r.referrer_id]));
    const byReferee = new Map(rows.map((r) => [r.referee_id, r]));
    const children = new Map<string, Row[]>();
    for (const r of rows) children.set(r.referrer_id, [...(children.get(r.referrer_id) ?? []), r]);
    const byCreation = (x: Row, y: Row) => Number(x.created_ms) - Number(y.created_ms) || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0);
    const chainOf = (uuid: string) => {
      const chain: string[] = [];
      for (let at = parent.get(uuid); at; at = parent.get(at)) chain.push(at);
      return chain;
    };
    const bfs = (root: string, maxDepth: number) => {
      const out: { uuid: string; depth: number }[] = [];
      let level = [root];
      for (let depth = 1; depth <= maxDepth && level.length > 0; depth++) {
        const next = level.flatMap((p) => children.get(p) ?? []).sort(byCreation);
        out.push(...next.map((r) => ({ uuid: r.referee_id, depth })));
        level = next.map((r) => r.referee_id);
      }
      return out;
    };
    const partyId = (uuid: string) => people.find((p) => p.uuid === uuid)!.id;
    expect(byReferee.size).toBe(rows.length);
    return { people, base, rows, orderRows, chainOf, bfs, partyId };
  }

  return { run, settings, orderWithHook, state, refused, forest };
}

export type Row = {
  id: string;
  referrer_id: string;
  referee_id: string;
  status: string;
  created_ms: string;
  rewarded_ms: string | null;
  reward_amount: string | null;
};

/** A small deterministic generator, so a failure can be replayed. */
function rng(seed: number) {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
}
