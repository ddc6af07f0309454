// Registers the privacy and webhook types before the schema is built (the test helpers import it).
import './privacy';
import '../audit/audit';
import { allowInsecureWebhookTargets } from '../webhooks/webhook';
import { recordAudit } from '@guanxi/core/audit';
import { connectParties, createParty, recordInteraction, recordOrder, refundOrder } from '@guanxi/core/network';
import { createReferral } from '@guanxi/core/referrals';
import { adjustPoints, redeemPoints } from '@guanxi/core/points';
import { setMembershipTier } from '@guanxi/core/loyalty';
import { moveStage } from '@guanxi/core/stages';
import { asTenant, tenantExec, tenantRows } from '@guanxi/core/test';
import { emitEvent } from '@guanxi/core/webhooks';
import { encodeGlobalID } from '@pothos/plugin-relay';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApi, type TestApi } from '../../test/helpers';

let api: TestApi;
beforeAll(async () => {
  api = await createTestApi({ rateLimits: null });
  allowInsecureWebhookTargets(api.handle.db);
});
afterAll(() => api.close());

/** A party with a row in every table that can name one, and personal values unique to this test. */
async function richParty(tenantId: string, tag: string) {
  const personal = {
    displayName: `Zhang Wei ${tag}`,
    email: `zhang.${tag}@example.com`,
    phone: '+8613800138' + String(Math.floor(Math.random() * 900) + 100),
    company: `Lotus Tea ${tag}`,
    externalId: `crm-${tag}`,
    birthday: '1984-03-17',
    notes: `Prefers green tea ${tag}`,
    tags: [`vip-${tag}`],
    decisionStyle: `careful-${tag}`,
  };
  const label = `college roommate ${tag}`;
  const note = `Asked about jasmine ${tag}`;
  const made = await asTenant(api.handle, tenantId, async () => {
    await recordAudit({ operation: 'test', entityType: 'Test', entityIds: [] });
    const party = await createParty({ kind: 'PROSPECT', ...personal });
    const friend = await createParty({ kind: 'CUSTOMER', displayName: `Friend ${tag}` });
    const referee = await createParty({ kind: 'PROSPECT', displayName: `Referee ${tag}` });
    await connectParties({ fromId: party.id, toId: friend.id, type: 'FRIEND', label });
    await connectParties({ fromId: referee.id, toId: party.id, type: 'FOLLOWS' });
    await recordInteraction({ partyId: party.id, kind: 'CALL', note });
    await createReferral({ referrerId: friend.id, refereeId: party.id, channel: 'wechat' } as never);
    await createReferral({ referrerId: party.id, refereeId: referee.id } as never);
    const { order } = await recordOrder({ partyId: party.id, amount: '199.90' } as never);
    // Staff reasons that quote the person: erasure redacts them too.
    await refundOrder({ orderId: order.id, amount: '9.90', reason: `${personal.displayName} returned a cup` });
    await adjustPoints({ partyId: party.id, points: 10, reason: `welcome bonus for ${personal.displayName}` });
    await redeemPoints({ partyId: party.id, points: 4 });
    await setMembershipTier({ partyId: party.id, tier: 'GOLD', reason: `welcome, ${personal.email} asked` });
    await moveStage({ partyId: party.id, to: 'DORMANT', reason: `${personal.displayName} qualified on call` });
    // Personal values copied elsewhere: an audit detail and a queued webhook payload.
    await recordAudit({ operation: 'testCopy', entityType: 'Party', entityIds: [party.id], details: { email: personal.email, name: personal.displayName } });
    await emitEvent('party.created', { party: { id: party.id, displayName: personal.displayName, email: personal.email } });
    return { party, friend, referee, personal, label, note };
  });
  // A snapshot as the nightly job writes it.
  await tenantExec(api.handle, tenantId, (sql) => sql`
    insert into loyalty_snapshots (tenant_id, party_id, as_of, recency_days, frequency, monetary, satisfying_orders,
      converted_referrals, interactions, typical_gap_days, r, f, m, segment, recency_component, frequency_component,
      monetary_component, satisfaction_component, referrals_component, engagement_component, score, tier, churn_risk, loyal, rule_version)
    values (${tenantId}, ${made.party.id}, '2026-01-01', 3, 1, 199.90, 0, 0, 1, 30, 3, 1, 2, 'GENERAL_DEVELOP', 0.5, 0.1, 0.2, 0, 0, 0.3, 42.0, 'BRONZE', 0.2, false, 1)`);
  await tenantExec(api.handle, tenantId, (sql) => sql`insert into referral_codes (tenant_id, party_id, code) values (${tenantId}, ${made.party.id}, ${'C' + Math.random().toString(36).slice(2, 9).toUpperCase()})`);
  return made;
}

/** Every (table, column) of a text, varchar, text[] or jsonb type in the public schema. */
async function textColumns(tenantId: string) {
  return tenantRows<{ table_name: string; column_name: string }>(
    api.handle,
    tenantId,
    `select c.table_name, c.column_name from information_schema.columns c
       join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name and t.table_type = 'BASE TABLE'
      where c.table_schema = 'public'
        and (c.data_type in ('text', 'character varying', 'jsonb', 'character') or (c.data_type = 'ARRAY' and c.udt_name in ('_text', '_varchar')))
      order by 1, 2`,
  );
}

describe('exportPartyData / erasePartyData', () => {
  test('the export holds every row of every table that names the party', async () => {
    const tenant = await api.newTenant();
    const { party } = await richParty(tenant.tenantId, 'exp');
    const { exportPartyData } = await tenant.query(
      'mutation ($id: ID!) { exportPartyData(input: { id: $id }) { document userErrors { code } } }',
      { id: encodeGlobalID('Party', party.id) },
    );
    const doc = exportPartyData.document;
    expect(doc.schemaVersion).toBe(3);
    expect(Date.parse(doc.exportedAt)).not.toBeNaN();
    expect(doc.party).toMatchObject({ id: party.id, email: 'zhang.exp@example.com', birthday: '1984-03-17' });

    // Which columns of which tables point at a party, straight from the catalogue (so a new table
    // that names parties without being exported fails this test).
    const refs = await tenantRows<{ table_name: string; column_name: string }>(
      api.handle,
      tenant.tenantId,
      `select table_name, column_name from information_schema.columns
        where table_schema = 'public' and data_type = 'uuid'
          and column_name in ('party_id', 'from_party_id', 'to_party_id', 'referrer_id', 'referee_id')
        order by 1, 2`,
    );
    const exported: Record<string, unknown[]> = {
      relationships: doc.relationships,
      orders: doc.orders,
      interactions: doc.interactions,
      referrals: [...doc.referralsAsReferrer, ...(doc.referralAsReferee ? [doc.referralAsReferee] : [])],
      referral_codes: doc.referralCode ? [doc.referralCode] : [],
      referral_subtree_sizes: doc.referralSubtree ? [doc.referralSubtree] : [],
      loyalty_snapshots: doc.loyaltySnapshots,
      party_loyalty: doc.latestLoyalty ? [doc.latestLoyalty] : [],
      stage_transitions: doc.stageHistory,
      points_entries: doc.pointsLedger,
      points_draws: doc.pointsDraws,
      tier_history: doc.tierHistory,
    };
    const tables = [...new Set(refs.map((r) => r.table_name))];
    for (const table of tables) {
      const columns = refs.filter((r) => r.table_name === table).map((r) => `${r.column_name} = '${party.id}'`);
      const rows = await tenantRows<{ id: string }>(api.handle, tenant.tenantId, `select * from ${table} where ${columns.join(' or ')}`);
      expect([table, exported[table]?.length]).toEqual([table, rows.length]);
      expect([table, rows.length > 0]).toEqual([table, true]);
    }
    // FRIEND and FOLLOWS, plus the REFERRED edge each referral adds.
    expect(doc.relationships).toHaveLength(4);
    expect(doc.referralsAsReferrer).toHaveLength(1);
    expect(doc.referralAsReferee).toMatchObject({ channel: 'wechat' });
    const { auditLog } = await tenant.query('query ($id: String) { auditLog(filter: { operation: "exportPartyData", entityId: $id }) { totalCount } }', {
      id: party.id,
    });
    expect(auditLog.totalCount).toBe(1);
  });

  test('erasure leaves no personal value in any text or JSON column of any table, and keeps the aggregates', async () => {
    const tenant = await api.newTenant();
    await tenant.query('mutation { createWebhook(input: { url: "http://127.0.0.1:9/hook", events: ["*"] }) { secret } }');
    const { party, personal, label, note } = await richParty(tenant.tenantId, 'era');
    const before = await tenantRows(api.handle, tenant.tenantId, `select amount, placed_at from orders where party_id = '${party.id}'`);

    const { erasePartyData } = await tenant.query(
      'mutation ($id: ID!) { erasePartyData(input: { id: $id }) { party { displayName email phone notes tags birthday } userErrors { code } } }',
      { id: encodeGlobalID('Party', party.id) },
    );
    expect(erasePartyData).toEqual({
      party: { displayName: 'Erased party', email: null, phone: null, notes: null, tags: [], birthday: null },
      userErrors: [],
    });

    const values = [...Object.values(personal).flat(), label, note].filter((v): v is string => typeof v === 'string' && v !== '1984-03-17');
    const columns = await textColumns(tenant.tenantId);
    expect(columns.length).toBeGreaterThan(20);
    const hits: string[] = [];
    for (const { table_name, column_name } of columns) {
      for (const value of values) {
        const rows = await tenantExec(api.handle, tenant.tenantId, (sql) =>
          sql`select 1 from ${sql.identifier(table_name)} where ${sql.identifier(column_name)}::text ilike ${'%' + value.replace(/[\\%_]/g, (c) => `\\${c}`) + '%'}`,
        );
        if (rows.length) hits.push(`${table_name}.${column_name} has ${value}`);
      }
    }
    expect(hits).toEqual([]);
    const [row] = await tenantRows<{ birthday: string | null; erased_at: string | null }>(api.handle, tenant.tenantId, `select birthday, erased_at from parties where id = '${party.id}'`);
    expect(row).toMatchObject({ birthday: null });
    expect(row!.erased_at).not.toBeNull();

    // Aggregates stay: orders, referral structure, snapshots.
    expect(await tenantRows(api.handle, tenant.tenantId, `select amount, placed_at from orders where party_id = '${party.id}'`)).toEqual(before);
    expect(await tenantRows(api.handle, tenant.tenantId, `select count(*)::int as n from referrals where referrer_id = '${party.id}' or referee_id = '${party.id}'`)).toEqual([{ n: 2 }]);
    expect(await tenantRows(api.handle, tenant.tenantId, `select score from loyalty_snapshots where party_id = '${party.id}'`)).toEqual([{ score: '42.0' }]);

    // Audited without the values; partners are told, without personal data.
    const audit = await tenantRows<{ details: unknown }>(api.handle, tenant.tenantId, `select details from audit_log where operation = 'erasePartyData'`);
    expect(audit).toHaveLength(1);
    const events = await tenantRows<{ payload: unknown }>(api.handle, tenant.tenantId, `select payload from webhook_deliveries where event = 'party.updated' and payload ? 'erased'`);
    expect(events).toEqual([{ payload: { party: { id: party.id }, erased: true } }]);
    // The copied values were redacted, not the rows dropped.
    const copy = await tenantRows<{ details: Record<string, string> }>(api.handle, tenant.tenantId, `select details from audit_log where operation = 'testCopy'`);
    expect(copy[0]!.details).toEqual({ email: '[erased]', name: '[erased]' });

    const twice = await tenant.query('mutation ($id: ID!) { erasePartyData(input: { id: $id }) { userErrors { code } } }', {
      id: encodeGlobalID('Party', party.id),
    });
    expect(twice.erasePartyData.userErrors).toEqual([{ code: 'CONFLICT' }]);
  });

  test('the audit log stays append-only for the application role', async () => {
    const tenant = await api.newTenant();
    await expect(tenantRows(api.handle, tenant.tenantId, `update audit_log set details = '{}'`)).rejects.toMatchObject({ cause: { message: expect.stringMatching(/permission denied/) } });
  });
});
