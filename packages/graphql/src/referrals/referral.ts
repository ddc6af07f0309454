import {
  convertReferral,
  countSuspiciousReferrals,
  createReferral,
  findReferrals,
  fraudSignalKinds,
  listSuspiciousReferrals,
  maxTreeDepth,
  referralChain,
  referralCodesFor,
  referralCounts,
  referralCursor,
  referralPages,
  referralStats,
  referralStatuses,
  referralTree,
  referrersOf,
  referrerRankings,
  rejectReferral,
  rewardReferral,
  topReferrers,
  type FraudSignal,
  type ReferralRow,
  type ReferralStats,
  type ReferralTree,
  type TopReferrer,
} from '@guanxi/core/referrals';
import { builder } from '../builder';
import { defaultPageSize, keysetConnection, partyPages, perPartyConnection } from '../connections';
import { payloadType, runMutation } from '../errors';
import { Order } from '../network/order';
import { Party } from '../network/party';

export const ReferralStatusEnum = builder.enumType('ReferralStatus', {
  description: 'PENDING → CONVERTED → REWARDED, or REJECTED with a reason.',
  values: referralStatuses,
});

export const FraudSignalKindEnum = builder.enumType('FraudSignalKind', {
  description:
    'SAME_CONTACT: same email or phone as the referrer after normalisation; VELOCITY: the referrer made more than maxReferralsPerHour referrals in the hour; FAST_CONVERSION: converted sooner than minMinutesToConvert; RING: referrer and referee already tied within 2 hops by other REFERRED edges.',
  values: fraudSignalKinds,
});

const FraudSignalType = builder.objectRef<FraudSignal>('FraudSignal').implement({
  description: 'Why a referral is held for review instead of being rewarded automatically.',
  fields: (t) => ({
    kind: t.field({ type: FraudSignalKindEnum, resolve: (s) => s.kind }),
    evidence: t.field({ type: 'JSON', description: 'What was found, as recorded when the signal fired.', resolve: (s) => s.evidence }),
  }),
});

const ReferralReward = builder.objectRef<{ amount: string; currency: string }>('ReferralReward').implement({
  description: 'The cash-back paid for a referral, in the tenant currency.',
  fields: (t) => ({
    amount: t.field({ type: 'Decimal', resolve: (r) => r.amount }),
    currency: t.exposeString('currency'),
  }),
});

export const Referral = builder.loadableNode('Referral', {
  description: '转介绍: the referrer brought the referee.',
  id: { resolve: (row: ReferralRow) => row.id },
  load: (ids: string[]) => findReferrals(ids),
  sort: (row) => row.id,
  authScopes: { referralsRead: true },
  fields: (t) => ({
    referrer: t.field({ type: Party, resolve: (r) => r.referrerId }),
    referee: t.field({ type: Party, resolve: (r) => r.refereeId }),
    code: t.exposeString('code', { nullable: true, description: 'The referral code used, when the referral was made with one.' }),
    channel: t.exposeString('channel', { nullable: true }),
    status: t.field({ type: ReferralStatusEnum, resolve: (r) => r.status }),
    reward: t.field({
      type: ReferralReward,
      nullable: true,
      resolve: (r) => (r.rewardAmount !== null && r.rewardCurrency !== null ? { amount: r.rewardAmount, currency: r.rewardCurrency } : null),
    }),
    createdAt: t.field({ type: 'DateTime', resolve: (r) => r.createdAt }),
    convertedAt: t.field({ type: 'DateTime', nullable: true, description: "The converting order's placedAt.", resolve: (r) => r.convertedAt }),
    convertingOrder: t.field({ type: Order, nullable: true, resolve: (r) => r.convertingOrderId }),
    rewardedAt: t.field({ type: 'DateTime', nullable: true, resolve: (r) => r.rewardedAt }),
    rejectedAt: t.field({ type: 'DateTime', nullable: true, resolve: (r) => r.rejectedAt }),
    rejectedReason: t.exposeString('rejectedReason', { nullable: true }),
    fraudSignals: t.field({ type: [FraudSignalType], resolve: (r) => r.fraudSignals }),
  }),
});

// --- Party fields ------------------------------------------------------------------------------

const PartyReferralConnection = perPartyConnection('PartyReferralConnection', {
  node: Referral,
  cursor: referralCursor,
  countDescription: 'Referrals this party made, all pages.',
  count: referralCounts,
});

builder.objectFields(Party, (t) => ({
  referralCode: t.loadable({
    type: 'String',
    nullable: true,
    authScopes: { referralsRead: true },
    description:
      "The party's referral code: 8 characters without 0/O/1/I/L, unique in the tenant, made on first request. Null for a party whose data was erased or that was merged into another.",
    byPath: true,
    // One read (and at most one insert) for every party of the page.
    load: async (partyIds: string[]) => {
      const codes = await referralCodesFor(partyIds);
      return partyIds.map((id) => codes.get(id) ?? null);
    },
    resolve: (party) => (party.erasedAt || party.mergedIntoId ? null : party.id),
  }),
  referredBy: t.loadable({
    type: Party,
    nullable: true,
    authScopes: { referralsRead: true },
    description: 'Who referred this party (whatever became of the referral); null when nobody did.',
    byPath: true,
    load: async (partyIds: string[]) => {
      const referrers = await referrersOf(partyIds);
      return partyIds.map((id) => referrers.get(id) ?? null);
    },
    resolve: (party) => party.id,
  }),
  referrals: t.loadable({
    type: PartyReferralConnection,
    authScopes: { referralsRead: true },
    description: 'The referrals this party made, newest first.',
    byPath: true,
    args: {
      first: t.arg.int({ defaultValue: defaultPageSize }),
      after: t.arg.string(),
    },
    // One statement for every party of the page (the loader batches by field path and arguments).
    load: (partyIds: string[], _context, args) => partyPages(args, (page) => referralPages(partyIds, page)),
    resolve: (party) => party.id,
  }),
}));

// --- Queries -----------------------------------------------------------------------------------

const ReferralTreeNode = builder.objectRef<{ partyId: string; depth: number }>('ReferralTreeNode').implement({
  fields: (t) => ({
    party: t.field({ type: Party, resolve: (n) => n.partyId }),
    depth: t.exposeInt('depth', { description: '1 = referred directly by the root.' }),
  }),
});

const ReferralTreeType = builder.objectRef<ReferralTree>('ReferralTree').implement({
  fields: (t) => ({
    nodes: t.field({
      type: [ReferralTreeNode],
      description: 'Breadth-first; within a depth by the referral’s creation time, then referral id.',
      resolve: (tree) => tree.nodes,
    }),
    totalCount: t.exposeInt('totalCount', { description: 'All descendants within maxDepth (not only this page).' }),
  }),
});

const ReferrerRankingEnum = builder.enumType('ReferrerRanking', { values: referrerRankings });

const TopReferrerType = builder.objectRef<TopReferrer>('TopReferrer').implement({
  description:
    "A referrer and its numbers over the period's referrals: conversions (now CONVERTED or REWARDED), revenue (its referees' orders since their referral), subtree size (descendants at any depth referred in the period).",
  fields: (t) => ({
    party: t.field({ type: Party, resolve: (r) => r.partyId }),
    conversions: t.exposeInt('conversions'),
    revenue: t.field({ type: 'Decimal', resolve: (r) => r.revenue }),
    subtreeSize: t.exposeInt('subtreeSize'),
  }),
});

const ReferralStatsType = builder.objectRef<ReferralStats>('ReferralStats').implement({
  description: 'domain §3 metrics over [since, until) of referral creation; unrounded.',
  fields: (t) => ({
    referrals: t.exposeInt('referrals'),
    converted: t.exposeInt('converted', { description: 'Of those referrals, how many are now CONVERTED or REWARDED.' }),
    conversionRate: t.exposeFloat('conversionRate', { description: 'converted ÷ referrals; 0 without referrals.' }),
    referrers: t.exposeInt('referrers', { description: 'Distinct referrers of those referrals.' }),
    kFactor: t.exposeFloat('kFactor', { description: '(referrals ÷ referrers) × conversionRate; 0 without referrers.' }),
    rewardsPaid: t.field({
      type: 'Decimal',
      description: 'Sum of the rewards of referrals rewarded (rewardedAt) in the period.',
      resolve: (s) => s.rewardsPaid,
    }),
  }),
});

builder.queryFields((t) => ({
  referralChain: t.field({
    type: [Party],
    nullable: true,
    authScopes: { referralsRead: true },
    description: "The party's referrer, that one's referrer, … up to the root (nearest first); [] for a root, null for an unknown party.",
    args: { partyId: t.arg.globalID({ required: true, for: [Party] }) },
    resolve: (_root, args) => referralChain(args.partyId.id),
  }),
  referralTree: t.field({
    type: ReferralTreeType,
    nullable: true,
    authScopes: { referralsRead: true },
    description: `The root's descendants breadth-first with their depth; maxDepth 1–${maxTreeDepth}, first 0–1000. Null for an unknown root.`,
    args: {
      rootId: t.arg.globalID({ required: true, for: [Party] }),
      maxDepth: t.arg.int({ defaultValue: maxTreeDepth }),
      first: t.arg.int({ defaultValue: 100 }),
    },
    resolve: (_root, args) => referralTree(args.rootId.id, { maxDepth: args.maxDepth, first: args.first }),
  }),
  topReferrers: t.field({
    type: [TopReferrerType],
    authScopes: { referralsRead: true },
    description: 'Referrers of the period’s referrals ([since, until) of creation), ranked by `by` (largest first, ties by party id).',
    args: {
      since: t.arg({ type: 'DateTime' }),
      until: t.arg({ type: 'DateTime' }),
      by: t.arg({ type: ReferrerRankingEnum, defaultValue: 'CONVERSIONS' }),
      first: t.arg.int({ defaultValue: 10, description: 'At most 100.' }),
    },
    resolve: (_root, args) =>
      topReferrers({ since: args.since, until: args.until, by: args.by ?? 'CONVERSIONS', first: args.first }),
  }),
  referralStats: t.field({
    type: ReferralStatsType,
    authScopes: { referralsRead: true },
    args: { since: t.arg({ type: 'DateTime' }), until: t.arg({ type: 'DateTime' }) },
    resolve: (_root, args) => referralStats({ since: args.since, until: args.until }),
  }),
  suspiciousReferrals: t.connection(
    {
      type: Referral,
      authScopes: { referralsRead: true },
      description: 'Referrals carrying at least one fraud signal, newest first, for review.',
      resolve: (_root, args) =>
        keysetConnection<ReferralRow>(args, referralCursor, (page) => listSuspiciousReferrals(page), () => countSuspiciousReferrals()),
    },
    {
      name: 'SuspiciousReferralConnection',
      fields: (c) => ({
        totalCount: c.int({ resolve: (connection) => connection.totalCount() }),
      }),
    },
  ),
}));

// --- Mutations ---------------------------------------------------------------------------------

const ReferralPayload = (name: string) =>
  payloadType<{ referral: ReferralRow }>(name, (t) => ({
    referral: t.field({ type: Referral, nullable: true, resolve: (p) => p.referral ?? null }),
  }));

const CreateReferralInput = builder.inputType('CreateReferralInput', {
  description: 'Exactly one of referrerId and referralCode names the referrer.',
  fields: (t) => ({
    referrerId: t.globalID({ for: [Party] }),
    referralCode: t.string({ description: 'The referrer’s code; case, spaces and dashes are ignored.' }),
    refereeId: t.globalID({ required: true, for: [Party] }),
    channel: t.string({ description: 'Where the referral came from, e.g. WECHAT (at most 50 characters).' }),
  }),
});

builder.mutationField('createReferral', (t) =>
  t.field({
    type: ReferralPayload('CreateReferralPayload'),
    authScopes: { referralsWrite: true },
    description:
      'Records a referral and its REFERRED edge. Refused: both or neither of referrerId/referralCode, self-referral (VALIDATION); a referee that already has a referrer or orders, a cycle (CONFLICT).',
    args: { input: t.arg({ type: CreateReferralInput, required: true }) },
    resolve: (_root, { input }) =>
      runMutation(async () => ({
        referral: await createReferral({
          referrerId: input.referrerId?.id ?? null,
          referralCode: input.referralCode ?? null,
          refereeId: input.refereeId.id,
          channel: input.channel ?? null,
        }),
      })),
  }),
);

const ReferralIdInput = builder.inputType('ConvertReferralInput', {
  fields: (t) => ({ id: t.globalID({ required: true, for: [Referral] }) }),
});

builder.mutationField('convertReferral', (t) =>
  t.field({
    type: ReferralPayload('ConvertReferralPayload'),
    authScopes: { referralsWrite: true },
    description: "PENDING → CONVERTED by hand; the referee's first order since the referral, if any, is the converting order.",
    args: { input: t.arg({ type: ReferralIdInput, required: true }) },
    resolve: (_root, { input }) => runMutation(async () => ({ referral: await convertReferral(input.id.id) })),
  }),
);

const RejectReferralInput = builder.inputType('RejectReferralInput', {
  fields: (t) => ({
    id: t.globalID({ required: true, for: [Referral] }),
    reason: t.string({ required: true, description: 'Required, not blank (at most 500 characters).' }),
  }),
});

builder.mutationField('rejectReferral', (t) =>
  t.field({
    type: ReferralPayload('RejectReferralPayload'),
    authScopes: { referralsWrite: true },
    description: 'PENDING or CONVERTED → REJECTED with a reason; a REWARDED referral cannot be rejected.',
    args: { input: t.arg({ type: RejectReferralInput, required: true }) },
    resolve: (_root, { input }) =>
      runMutation(async () => ({ referral: await rejectReferral(input.id.id, { reason: input.reason }) })),
  }),
);

const RewardReferralInput = builder.inputType('RewardReferralInput', {
  fields: (t) => ({ id: t.globalID({ required: true, for: [Referral] }) }),
});

builder.mutationField('rewardReferral', (t) =>
  t.field({
    type: ReferralPayload('RewardReferralPayload'),
    authScopes: { referralsWrite: true },
    description: "CONVERTED → REWARDED with the tenant's reward policy (also for a flagged referral: a person decided).",
    args: { input: t.arg({ type: RewardReferralInput, required: true }) },
    resolve: (_root, { input }) => runMutation(async () => ({ referral: await rewardReferral(input.id.id) })),
  }),
);
