import { correlatedParty } from '@guanxi/core';
import {
  findSnapshots,
  latestSnapshotJson,
  latestSnapshots,
  snapshotCounts,
  snapshotCursor,
  snapshotHistoryPages,
  snapshotFromJson,
  snapshotKey,
  type LoyaltySnapshotRow,
} from '@guanxi/core/loyalty';
import type { PartyRow } from '@guanxi/core/network';
import { encodeGlobalID } from '@pothos/plugin-relay';
import { builder } from '../builder';
import { partyConnections } from '../connections';
import { Money, tenantMoney } from '../money';
import { Party, SegmentEnum, TierEnum } from '../network/party';
import { loadPrefetched, prefetchableOnParty } from '../network/prefetch';

const LoyaltyComponents = builder.objectRef<LoyaltySnapshotRow>('LoyaltyComponents').implement({
  description:
    'The six components of the score, each in [0, 1], as stored (five decimals; the score uses their exact values).',
  fields: (t) => ({
    recency: t.float({ description: '(r − 1) / 4', resolve: (s) => Number(s.recencyComponent) }),
    frequency: t.float({ description: '(f − 1) / 4', resolve: (s) => Number(s.frequencyComponent) }),
    monetary: t.float({ description: '(m − 1) / 4', resolve: (s) => Number(s.monetaryComponent) }),
    satisfaction: t.float({
      description: '(mean order rating in the window − 1) / 4; 0.5 when no order in the window is rated.',
      resolve: (s) => Number(s.satisfactionComponent),
    }),
    referrals: t.float({ description: 'min(1, converted referrals in the window / 3)', resolve: (s) => Number(s.referralsComponent) }),
    engagement: t.float({ description: 'min(1, interactions in the window / 12)', resolve: (s) => Number(s.engagementComponent) }),
  }),
});

export const LoyaltySnapshot = builder.loadableNode('LoyaltySnapshot', {
  description:
    "A party's loyalty score as of a day (客户忠诚度): every input, component and output, and the rule version that produced them.",
  // domain: one snapshot per party and day; that pair is its key (the table has no surrogate id).
  id: {
    description: 'Global id of the party and the day: rescoring the day replaces the snapshot under the same id.',
    resolve: (snapshot: LoyaltySnapshotRow) => snapshotKey(snapshot),
  },
  load: (keys: string[]) => findSnapshots(keys),
  sort: (snapshot) => snapshotKey(snapshot),
  // The same right as Party.loyalty and Party.loyaltyHistory.
  authScopes: { loyaltyRead: true },
  fields: (t) => ({
    party: t.field({ type: Party, description: 'The party scored (reading it needs the network read right).', resolve: (s) => s.partyId }),
    partyId: t.id({
      description: "The party's id (the same as party.id), readable with the loyalty scope alone.",
      resolve: (s) => encodeGlobalID('Party', s.partyId),
    }),
    asOf: t.field({ type: 'Date', description: 'The day D this snapshot scores.', resolve: (s) => s.asOf }),
    recencyDays: t.exposeInt('recencyDays', { description: 'D − date of the last order on or before D.' }),
    frequency: t.exposeInt('frequency', { description: 'Orders in the window.' }),
    monetary: t.field({
      type: Money,
      description: "Sum of the amounts of the party's orders in the window, in the tenant's currency.",
      resolve: (s, _args, context) => tenantMoney(context, s.monetary),
    }),
    satisfactionMean: t.float({
      nullable: true,
      description: 'Mean rating of the rated orders in the window; null when none is rated.',
      resolve: (s) => (s.satisfactionMean === null ? null : Number(s.satisfactionMean)),
    }),
    satisfyingOrders: t.exposeInt('satisfyingOrders', { description: 'Orders in the window rated ≥ 4 or not rated.' }),
    convertedReferrals: t.exposeInt('convertedReferrals', { description: 'Referrals by this party converted in the window.' }),
    interactions: t.exposeInt('interactions', { description: 'Interactions in the window.' }),
    typicalGapDays: t.float({
      description: 'max(1, mean days between consecutive orders in the window), or windowDays / 2 with fewer than 2.',
      resolve: (s) => Number(s.typicalGapDays),
    }),
    r: t.exposeInt('r', { description: 'Recency quintile, 1–5 (5: the most recent buyers).' }),
    f: t.exposeInt('f', { description: 'Frequency quintile, 1–5.' }),
    m: t.exposeInt('m', { description: 'Monetary quintile, 1–5.' }),
    segment: t.field({
      type: SegmentEnum,
      description: "The RFM segment: recency, frequency and monetary each compared with the day's mean over the scored parties.",
      resolve: (s) => s.segment,
    }),
    score: t.float({
      description: 'The loyalty score, 0–100 with one decimal (e.g. 72.5): 100 × the weighted sum of the components, rounded half away from zero.',
      resolve: (s) => Number(s.score),
    }),
    tier: t.field({
      type: TierEnum,
      description:
        "The party's membership tier on D after the tier rules (upgrade at once, downgrade after the grace days, overrides); with the default settings, the tier the score falls in.",
      resolve: (s) => s.tier,
    }),
    qualifyingTier: t.field({
      type: TierEnum,
      description: "What D's value alone gives on the tenant's basis (score, net spend or points earned in the window), before the tier rules.",
      resolve: (s) => s.qualifyingTier ?? s.tier,
    }),
    churnRisk: t.float({ description: '1 − exp(−recencyDays / (2 · typicalGapDays)), in [0, 1].', resolve: (s) => Number(s.churnRisk) }),
    loyal: t.exposeBoolean('loyal', { description: 'Satisfying orders in the window ≥ loyalAfter.' }),
    components: t.field({ type: LoyaltyComponents, description: 'The six weighted parts the score is made of.', resolve: (s) => s }),
    ruleVersion: t.exposeInt('ruleVersion', { description: "The tenant's rule version that produced this snapshot." }),
  }),
});

const LoyaltyHistoryConnection = builder.connectionObject(
  { type: LoyaltySnapshot, name: 'LoyaltyHistoryConnection', description: "A page of a party's loyalty snapshots, newest day first." },
  { description: 'One loyalty snapshot and its cursor.' },
);

// A page of parties that selects `loyalty` reads it in its own statement, only the columns its
// selections use when they are among these (a list shows the score, the tier, the day).
prefetchableOnParty('loyalty', {
  sql: (properties) => latestSnapshotJson(correlatedParty, properties as (keyof LoyaltySnapshotRow)[] | undefined),
  decode: snapshotFromJson,
  needs: {
    id: ['partyId', 'asOf'],
    partyId: ['partyId'],
    party: ['partyId'],
    asOf: ['asOf'],
    score: ['score'],
    tier: ['tier'],
    qualifyingTier: ['qualifyingTier', 'tier'],
    segment: ['segment'],
    churnRisk: ['churnRisk'],
    loyal: ['loyal'],
    r: ['r'],
    f: ['f'],
    m: ['m'],
  },
});

builder.objectFields(Party, (t) => ({
  loyalty: t.loadable({
    type: LoyaltySnapshot,
    nullable: true,
    authScopes: { loyaltyRead: true },
    description: 'The latest loyalty snapshot (the most recent scored day); null before the party is first scored.',
    byPath: true,
    // One statement for every party of the page, or none when the page fetched it along.
    load: (partyIds: string[], context) => loadPrefetched(context, 'loyalty', partyIds, latestSnapshots),
    resolve: (party: PartyRow) => party.id,
  }),
  loyaltyHistory: t.loadable({
    type: LoyaltyHistoryConnection,
    authScopes: { loyaltyRead: true },
    description: "The party's loyalty snapshots, newest day first.",
    byPath: true,
    args: t.arg.connectionArgs(),
    load: (partyIds: string[], _context, args) =>
      partyConnections(partyIds, args, {
        cursor: snapshotCursor,
        fetch: (page) => snapshotHistoryPages(partyIds, page),
        count: () => snapshotCounts(partyIds),
      }),
    resolve: (party: PartyRow) => party.id,
  }),
}));
