import { asTenant, tenantExec, tenantRows } from '@guanxi/core/test';
import { applyStagePolicy, forwardStages, stages, type Stage } from '@guanxi/core/stages';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApi, type TenantClient, type TestApi } from '../../test/helpers';

let api: TestApi;
beforeAll(async () => {
  api = await createTestApi({ rateLimits: null });
});
afterAll(() => api.close());

const DAY = 86_400_000;
const raw = (globalId: string) => Buffer.from(globalId, 'base64').toString().split(':')[1]!;
const daysAgo = (days: number) => new Date(Date.now() - days * DAY).toISOString();
const today = () => new Date().toISOString().slice(0, 10);

async function newParty(tenant: TenantClient, name = 'P', kind = 'CUSTOMER'): Promise<string> {
  const { createParty } = await tenant.query(
    `mutation ($name: String!, $kind: PartyKind!) { createParty(input: { kind: $kind, displayName: $name }) { party { id } } }`,
    { name, kind },
  );
  return createParty.party.id;
}

/** Puts a party in a stage directly (a test fixture; the API only moves by the rules). */
async function placeInStage(tenant: TenantClient, partyId: string, stage: Stage, dormantFrom: Stage | null = null, sinceDaysAgo = 1) {
  await tenantExec(api.handle, tenant.tenantId, (sql) => sql`update parties set stage = ${stage}, dormant_from_stage = ${dormantFrom},
      stage_changed_at = now() - ${`${sinceDaysAgo} days`}::interval where id = ${raw(partyId)}`);
}

async function backdate(tenant: TenantClient, partyId: string, days: number) {
  await tenantExec(api.handle, tenant.tenantId, (sql) => sql`update parties set created_at = now() - ${`${days} days`}::interval,
      stage_changed_at = now() - ${`${days} days`}::interval where id = ${raw(partyId)}`);
}

const move = `mutation ($input: MoveStageInput!) {
  moveStage(input: $input) { party { stage } transition { from to reason automatic actor { kind apiKeyId } secondsInPrevious } userErrors { code field message } }
}`;

/** The domain's table of manual moves, written independently of the code under test. */
function expected(from: Stage, dormantFrom: Stage | null, to: Stage, withReason: boolean): 'OK' | 'CONFLICT' | 'VALIDATION' {
  const fwd = forwardStages as readonly Stage[];
  let reasonRequired: boolean | null = null;
  if (fwd.includes(from)) {
    const i = fwd.indexOf(from);
    if (to === fwd[i + 1]) reasonRequired = false;
    else if (fwd.indexOf(to) >= 0 && fwd.indexOf(to) < i) reasonRequired = true;
    else if (to === 'DORMANT' || to === 'CHURNED') reasonRequired = false;
  } else if (from === 'DORMANT') {
    if (to === dormantFrom) reasonRequired = false;
    else if (fwd.indexOf(to) >= 0 && fwd.indexOf(to) < fwd.indexOf(dormantFrom!)) reasonRequired = true;
    else if (to === 'CHURNED') reasonRequired = false;
  } else if (from === 'CHURNED' && to === 'INITIAL_CONTACT') {
    reasonRequired = false;
  }
  if (reasonRequired === null) return 'CONFLICT';
  return reasonRequired && !withReason ? 'VALIDATION' : 'OK';
}

describe('moveStage', () => {
  test('every manual move from every stage is allowed or refused as the domain table says', async () => {
    const tenant = await api.newTenant();
    const party = await newParty(tenant);
    const starts: [Stage, Stage | null][] = [...forwardStages.map((s) => [s, null] as [Stage, null]), ['DORMANT', 'LOYALTY_GROWTH'], ['CHURNED', null]];
    let checked = 0;
    for (const [from, dormantFrom] of starts) {
      for (const to of stages) {
        for (const withReason of [false, true]) {
          await placeInStage(tenant, party, from, dormantFrom);
          const { moveStage } = await tenant.query(move, { input: { partyId: party, to, reason: withReason ? 'Agreed on the phone' : null } });
          const want = expected(from, dormantFrom, to, withReason);
          const got = moveStage.userErrors[0]?.code ?? 'OK';
          expect([from, to, withReason, got]).toEqual([from, to, withReason, want]);
          if (got === 'OK') {
            expect(moveStage.party.stage).toBe(to);
            expect(moveStage.transition).toMatchObject({ from, to, automatic: false, actor: { kind: 'API_KEY' } });
          } else if (got === 'CONFLICT') {
            // The refusal says which moves are allowed.
            expect(moveStage.userErrors[0].message).toMatch(/may move to:/);
          } else {
            expect(moveStage.userErrors[0].field).toEqual(['input', 'reason']);
          }
          checked++;
        }
      }
    }
    expect(checked).toBe(6 * 6 * 2);
  });

  test('history: every move is a row with from, to, actor, reason and seconds in the previous stage; newest first', async () => {
    const tenant = await api.newTenant();
    const party = await newParty(tenant);
    await placeInStage(tenant, party, 'INITIAL_CONTACT', null, 3);
    await tenant.query(move, { input: { partyId: party, to: 'TRUST_BUILDING' } });
    const back = await tenant.query(move, { input: { partyId: party, to: 'INITIAL_CONTACT', reason: '  Wrong contact person ' } });
    expect(back.moveStage.transition.reason).toBe('Wrong contact person');
    const { party: read } = await tenant.query(
      `query ($id: ID!) { party(id: $id) { stage stageHistory { totalCount edges { node { from to reason automatic secondsInPrevious } } } allowedMoves { to reasonRequired } } }`,
      { id: party },
    );
    expect(read.stageHistory.totalCount).toBe(3);
    expect(read.stageHistory.edges.map((e: any) => [e.node.from, e.node.to])).toEqual([
      ['TRUST_BUILDING', 'INITIAL_CONTACT'],
      ['INITIAL_CONTACT', 'TRUST_BUILDING'],
      [null, 'INITIAL_CONTACT'],
    ]);
    expect(read.stageHistory.edges[1].node.secondsInPrevious).toBeGreaterThanOrEqual(3 * 86_400 - 5);
    expect(read.allowedMoves).toEqual([
      { to: 'TRUST_BUILDING', reasonRequired: false },
      { to: 'DORMANT', reasonRequired: false },
      { to: 'CHURNED', reasonRequired: false },
    ]);
  });
});

async function order(tenant: TenantClient, partyId: string, daysBack: number, satisfaction: number | null = 5) {
  const { recordOrder } = await tenant.query(
    `mutation ($input: RecordOrderInput!) { recordOrder(input: $input) { order { id } userErrors { code field message } } }`,
    { input: { partyId, amount: '100.00', placedAt: daysAgo(daysBack), satisfaction } },
  );
  expect(recordOrder.userErrors).toEqual([]);
}

async function policy(tenant: TenantClient, asOf = today()) {
  return asTenant(api.handle, tenant.tenantId, () => applyStagePolicy(asOf));
}

async function stageOf(tenant: TenantClient, partyId: string) {
  const { party } = await tenant.query(
    `query ($id: ID!) { party(id: $id) { stage stageHistory(first: 10) { edges { node { from to automatic rule } } } } }`,
    { id: partyId },
  );
  return { stage: party.stage as Stage, moves: party.stageHistory.edges.map((e: any) => e.node).filter((n: any) => n.automatic) };
}

describe('applyStagePolicy', () => {
  test('first satisfying order, loyalAfter, long-term, dormant, churned and wake-up on hand-made timelines', async () => {
    const tenant = await api.newTenant();
    const unrated = await newParty(tenant, 'unrated order');
    await backdate(tenant, unrated, 30);
    await order(tenant, unrated, 10, null);
    const unhappy = await newParty(tenant, 'unhappy');
    await backdate(tenant, unhappy, 30);
    await order(tenant, unhappy, 10, 2);
    const loyal = await newParty(tenant, 'three satisfying');
    await backdate(tenant, loyal, 60);
    for (const days of [40, 20, 5]) await order(tenant, loyal, days, 4);
    const longTerm = await newParty(tenant, 'long term');
    await backdate(tenant, longTerm, 500);
    await order(tenant, longTerm, 400, 5);
    for (const days of [300, 250, 200, 150, 100, 10]) await order(tenant, longTerm, days, 5);
    const dormant = await newParty(tenant, 'quiet 100 days');
    await backdate(tenant, dormant, 200);
    await order(tenant, dormant, 100, 5);
    const churned = await newParty(tenant, 'quiet 200 days');
    await backdate(tenant, churned, 300);
    await order(tenant, churned, 200, 5);
    const fresh = await newParty(tenant, 'new prospect', 'PROSPECT');

    const first = await policy(tenant);
    expect((await stageOf(tenant, unrated)).stage).toBe('TRUST_BUILDING');
    expect((await stageOf(tenant, unhappy)).stage).toBe('INITIAL_CONTACT');
    const loyalState = await stageOf(tenant, loyal);
    expect(loyalState.stage).toBe('LOYALTY_GROWTH');
    expect(loyalState.moves.map((m: any) => m.rule)).toEqual(['LOYAL_AFTER', 'FIRST_SATISFYING_ORDER']);
    expect((await stageOf(tenant, longTerm)).stage).toBe('LONG_TERM_PARTNERSHIP');
    const dormantState = await stageOf(tenant, dormant);
    expect(dormantState.stage).toBe('DORMANT');
    expect(dormantState.moves[0]).toMatchObject({ from: 'TRUST_BUILDING', to: 'DORMANT', rule: 'DORMANT_AFTER' });
    const churnedState = await stageOf(tenant, churned);
    expect(churnedState.stage).toBe('CHURNED');
    expect(churnedState.moves.map((m: any) => m.rule)).toEqual(['CHURNED_AFTER', 'DORMANT_AFTER', 'FIRST_SATISFYING_ORDER']);
    expect((await stageOf(tenant, fresh)).stage).toBe('INITIAL_CONTACT');
    expect(first).toMatchObject({
      FIRST_SATISFYING_ORDER: 5,
      LOYAL_AFTER: 2,
      LONG_TERM: 1,
      DORMANT_AFTER: 2,
      CHURNED_AFTER: 1,
      DORMANT_WAKE_UP: 0,
      parties: 5,
    });

    // Idempotent: the same day again moves nothing.
    const again = await policy(tenant);
    expect(again.parties).toBe(0);
    expect(Object.entries(again).filter(([, n]) => n !== 0)).toEqual([]);

    // Wake-up: a new order returns a DORMANT party to the stage it left.
    await order(tenant, dormant, 0, 5);
    const woke = await policy(tenant);
    expect(woke.DORMANT_WAKE_UP).toBe(1);
    const wokeState = await stageOf(tenant, dormant);
    expect(wokeState.stage).toBe('TRUST_BUILDING');
    expect(wokeState.moves[0]).toMatchObject({ from: 'DORMANT', to: 'TRUST_BUILDING', rule: 'DORMANT_WAKE_UP' });
    // A churned party stays churned: only the manual win-back brings it back.
    await order(tenant, churned, 0, 5);
    await policy(tenant);
    expect((await stageOf(tenant, churned)).stage).toBe('CHURNED');
  });

  test.each([2, 5])('the loyalAfter threshold at %i', async (loyalAfter) => {
    const tenant = await api.newTenant();
    const updated = await tenant.query(
      `mutation ($n: Int!) { updateTenantSettings(input: { stagePolicy: { loyalAfter: $n } }) { tenant { ruleVersion settings } userErrors { code field } } }`,
      { n: loyalAfter },
    );
    expect(updated.updateTenantSettings.userErrors).toEqual([]);
    expect(updated.updateTenantSettings.tenant.ruleVersion).toBe(2);
    const below = await newParty(tenant, 'below');
    const at = await newParty(tenant, 'at');
    for (let i = 0; i < loyalAfter - 1; i++) await order(tenant, below, 10 + i, 5);
    for (let i = 0; i < loyalAfter; i++) await order(tenant, at, 10 + i, 5);
    await policy(tenant);
    expect((await stageOf(tenant, below)).stage).toBe(loyalAfter - 1 >= 1 ? 'TRUST_BUILDING' : 'INITIAL_CONTACT');
    expect((await stageOf(tenant, at)).stage).toBe('LOYALTY_GROWTH');
  });

  test('every automatic and manual move is queued for webhooks subscribed to stage events', async () => {
    const tenant = await api.newTenant();
    await tenantExec(api.handle, tenant.tenantId, (sql) => sql`insert into webhooks (tenant_id, id, url, events, secret)
      values (${tenant.tenantId}, gen_random_uuid(), 'https://partner.example/hooks', array['stage.*'], 'whsec_test')`);
    const party = await newParty(tenant);
    for (const days of [30, 20, 10]) await order(tenant, party, days, 5);
    await policy(tenant);
    await tenant.query(move, { input: { partyId: party, to: 'TRUST_BUILDING', reason: 'Late deliveries' } });
    const queued = await tenantRows<{ event: string; to_stage: string; automatic: boolean }>(
      api.handle,
      tenant.tenantId,
      `select event, payload->>'to' as to_stage, (payload->>'automatic')::boolean as automatic from webhook_deliveries order by created_at, payload->>'at'`,
    );
    expect(queued.map((q) => [q.event, q.to_stage, q.automatic])).toEqual([
      ['stage.changed', 'TRUST_BUILDING', true],
      ['stage.changed', 'LOYALTY_GROWTH', true],
      ['stage.changed', 'TRUST_BUILDING', false],
    ]);
  });

  test('a manual step back is not undone by the next run on old evidence', async () => {
    const tenant = await api.newTenant();
    const party = await newParty(tenant);
    for (const days of [30, 20, 10]) await order(tenant, party, days, 5);
    await policy(tenant);
    expect((await stageOf(tenant, party)).stage).toBe('LOYALTY_GROWTH');
    await tenant.query(move, { input: { partyId: party, to: 'TRUST_BUILDING', reason: 'Complaint about the last delivery' } });
    await policy(tenant);
    expect((await stageOf(tenant, party)).stage).toBe('TRUST_BUILDING');
  });
});

describe('updateTenantSettings', () => {
  test('validates the stage policy and weights, changes nothing when refused, and is ADMIN only', async () => {
    const tenant = await api.newTenant();
    const mutation = `mutation ($input: UpdateTenantSettingsInput!) { updateTenantSettings(input: $input) { tenant { ruleVersion settings } userErrors { code field } } }`;
    const bad = await tenant.query(mutation, {
      input: {
        stagePolicy: { loyalAfter: 6, dormantAfterDays: 200 },
        scoring: { weights: { recency: 0.5, frequency: 0.5, monetary: 0.2, satisfaction: 0, referrals: 0, engagement: 0 } },
      },
    });
    expect(bad.updateTenantSettings.userErrors.map((e: any) => e.field.join('.'))).toEqual(['input.stagePolicy.loyalAfter']);
    const crossField = await tenant.query(mutation, {
      input: {
        stagePolicy: { dormantAfterDays: 200 },
        scoring: { weights: { recency: 0.5, frequency: 0.5, monetary: 0.2, satisfaction: 0, referrals: 0, engagement: 0 } },
      },
    });
    expect(crossField.updateTenantSettings.userErrors.map((e: any) => e.field.join('.')).sort()).toEqual([
      'input.scoring.weights',
      'input.stagePolicy.churnedAfterDays',
    ]);
    const ok = await tenant.query(mutation, {
      input: { scoring: { weights: { recency: 0.1, frequency: 0.2, monetary: 0.3, satisfaction: 0.15, referrals: 0.15, engagement: 0.1 } }, followUpDays: 14 },
    });
    expect(ok.updateTenantSettings.userErrors).toEqual([]);
    expect(ok.updateTenantSettings.tenant.ruleVersion).toBe(2);
    expect(ok.updateTenantSettings.tenant.settings.stagePolicy.dormantAfterDays).toBe(90);
    const member = await tenant.query(`mutation { createApiKey(input: { name: "writer", scopes: [NETWORK_WRITE] }) { secret } }`);
    const { postGraphQL } = await import('../../test/helpers');
    const forbidden = await postGraphQL(api.server, mutation, { input: { followUpDays: 3 } }, { authorization: `ApiKey ${member.createApiKey.secret}` });
    expect(forbidden.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});

describe('stageFunnel and churnRates', () => {
  test('match counts computed from the raw history rows', async () => {
    const tenant = await api.newTenant();
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(await newParty(tenant, `F${i}`));
    await tenant.query(move, { input: { partyId: ids[0], to: 'TRUST_BUILDING' } });
    await tenant.query(move, { input: { partyId: ids[0], to: 'LOYALTY_GROWTH' } });
    await tenant.query(move, { input: { partyId: ids[1], to: 'TRUST_BUILDING' } });
    await tenant.query(move, { input: { partyId: ids[2], to: 'CHURNED' } });
    await tenant.query(move, { input: { partyId: ids[3], to: 'DORMANT' } });
    await tenant.query(move, { input: { partyId: ids[3], to: 'CHURNED' } });
    const since = new Date(Date.now() - 3_600_000).toISOString();
    const { stageFunnel, churnRates, viewer } = await tenant.query(
      `query ($since: DateTime) { stageFunnel(since: $since) { stage entered advanced conversionRate medianDaysInStage }
         churnRates(groupBy: KIND, since: "2000-01-01T00:00:00Z") { groupBy kind partiesAtStart churned rate }
         viewer { tenant { stageCounts { stage count } } } }`,
      { since },
    );
    const rows = await tenantRows<{ party_id: string; from_stage: string | null; to_stage: string; at: string }>(
      api.handle,
      tenant.tenantId,
      `select party_id::text, from_stage::text, to_stage::text, at::text from stage_transitions order by party_id, at, id`,
    );
    for (const stage of stages) {
      const entered = rows.filter((r) => r.to_stage === stage).length;
      const next = forwardStages[forwardStages.indexOf(stage as never) + 1];
      const advanced = rows.filter((r, i) => r.to_stage === stage && rows[i + 1]?.party_id === r.party_id && rows[i + 1]?.to_stage === next).length;
      const row = stageFunnel.find((f: any) => f.stage === stage);
      expect([stage, row.entered, row.advanced]).toEqual([stage, entered, next ? advanced : 0]);
    }
    expect(stageFunnel.find((f: any) => f.stage === 'INITIAL_CONTACT').conversionRate).toBeCloseTo(2 / 6);
    // Parties created before 2000 do not exist: nobody is "at the start" of that period.
    expect(churnRates).toEqual([]);
    const counts = Object.fromEntries(viewer.tenant.stageCounts.map((c: any) => [c.stage, c.count]));
    expect(counts).toEqual({ INITIAL_CONTACT: 2, TRUST_BUILDING: 1, LOYALTY_GROWTH: 1, LONG_TERM_PARTNERSHIP: 0, DORMANT: 0, CHURNED: 2 });

    const later = await tenant.query(
      `query ($since: DateTime) {
        churnRates(groupBy: STAGE, since: $since) { groupBy stage kind segment tier partiesAtStart churned rate }
        kinds: churnRates(groupBy: KIND, since: $since) { groupBy stage kind partiesAtStart }
        seg: churnRates(groupBy: SEGMENT, since: $since) { groupBy segment partiesAtStart churned }
      }`,
      { since: new Date(Date.now() + 5).toISOString() },
    );
    // Everyone exists now; churn in a period starting now counts nobody yet.
    expect(later.churnRates.reduce((n: number, r: any) => n + r.partiesAtStart, 0)).toBe(4);
    // The group is the grouping's own enum value; the other groupings' fields are null.
    expect(later.churnRates.map((r: any) => r.stage).sort()).toEqual(['INITIAL_CONTACT', 'LOYALTY_GROWTH', 'TRUST_BUILDING']);
    expect(later.churnRates.every((r: any) => r.groupBy === 'STAGE' && r.kind === null && r.segment === null && r.tier === null)).toBe(true);
    expect(later.kinds.every((r: any) => r.groupBy === 'KIND' && r.stage === null && typeof r.kind === 'string')).toBe(true);
    // Never scored before since: the SEGMENT group with a null segment.
    expect(later.seg).toEqual([{ groupBy: 'SEGMENT', segment: null, partiesAtStart: 4, churned: 0 }]);
  });

  test('churnRates without since measures the last 90 days: parties present then, and those that churned since', async () => {
    const tenant = await api.newTenant();
    const [stays, leaves] = [await newParty(tenant, 'Stays'), await newParty(tenant, 'Leaves')];
    // Made today, so not present at the start of the period: not counted.
    await newParty(tenant, 'Newcomer');
    // Two parties known for 100 days (their first stage backdated; history is append-only, so
    // the fixture adds an earlier row).
    for (const id of [stays, leaves]) {
      await tenantExec(api.handle, tenant.tenantId, (sql) => sql`insert into stage_transitions (tenant_id, id, party_id, to_stage, at, actor_kind)
        values (${tenant.tenantId}, gen_random_uuid(), ${raw(id)}, 'INITIAL_CONTACT', now() - interval '100 days', 'SYSTEM')`);
    }
    const { moveStage } = await tenant.query(move, { input: { partyId: leaves, to: 'CHURNED', reason: 'moved away' } });
    expect(moveStage.userErrors).toEqual([]);
    const query = `query ($since: DateTime) { churnRates(groupBy: KIND, since: $since) { kind partiesAtStart churned rate } }`;
    const { churnRates } = await tenant.query(query);
    expect(churnRates).toEqual([{ kind: 'CUSTOMER', partiesAtStart: 2, churned: 1, rate: 0.5 }]);
    // The same as asking for it: 90 days back.
    const quarter = await tenant.query(query, { since: new Date(Date.now() - 90 * 86_400_000).toISOString() });
    expect(quarter.churnRates).toEqual(churnRates);
    // Before anyone was known, nobody is present at the start.
    expect((await tenant.query(query, { since: new Date(Date.now() - 200 * 86_400_000).toISOString() })).churnRates).toEqual([]);
  });
});
