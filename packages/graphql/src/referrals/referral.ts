import { correlatedParty } from '@guanxi/core';
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
  treeCursor,
  referralPageJson,
  referralsFromJson,
  referrerJson,
  referrersOf,
  referrerRankings,
  rejectReferral,
  rewardReferral,
  topReferrers,
  type FraudSignal,
  type ReferralRow,
  type ReferralStats,
  type ReferralTree,
  type ReferralTreeNode,
  type TopReferrer,
} from '@guanxi/core/referrals';
import { partyFromColumns, type PartyRow } from '@guanxi/core/network';
import { builder } from '../builder';
import { keysetConnection, partyConnections } from '../connections';
import { payloadType, runMutation } from '../errors';
import { Money, tenantMoney } from '../money';
import { Order, RecordOrderPayload } from '../network/order';
import { RefundOrderPayload } from '../network/refund';
import { Party, partyReference } from '../network/party';
import { loadPrefetched, prefetchableOnParty, prefetchablePageOnParty, prefetchedPages } from '../network/prefetch';

export const ReferralStatusEnum = builder.enumType('ReferralStatus', {
  description: 'PENDING → CONVERTED → REWARDED, or REJECTED with a reason.',
  values: {
    PENDING: { description: 'Made; the referee has not yet placed an order since.' },
    CONVERTED: {
      description:
        "The referee placed a first order at or after the referral was made (or convertReferral was called); waiting for its reward when it carries a fraud signal or autoReward is off.",
    },
    REWARDED: { description: "The referrer's cash-back has been paid (rewardedAt); final." },
    REJECTED: { description: 'Turned down with a reason by rejectReferral; final, and never rewarded.' },
  } satisfies Record<(typeof referralStatuses)[number], { description: string }>,
});

export const FraudSignalKindEnum = builder.enumType('FraudSignalKind', {
  description:
    'SAME_CONTACT: same email or phone as the referrer after normalisation; VELOCITY: the referrer made more than maxReferralsPerHour referrals in the hour; FAST_CONVERSION: converted sooner than minMinutesToConvert; RING: referrer and referee already tied within 2 hops by other REFERRED edges; REFUNDED_AFTER_REWARD: the converting order was fully refunded after the reward.',
  values: {
    SAME_CONTACT: {
      description:
        "The referee's email or phone equals the referrer's after normalisation (case ignored; dots and a +tag in the email's local part ignored).",
    },
    VELOCITY: { description: "The referrer made more than the tenant's maxReferralsPerHour referrals (default 5) within an hour." },
    FAST_CONVERSION: {
      description: "The conversion came less than the tenant's minMinutesToConvert (default 2) after the referral was made.",
    },
    RING: { description: 'Referrer and referee were already connected within 2 hops through the REFERRED edges of other referrals.' },
    REFUNDED_AFTER_REWARD: {
      description: 'The converting order was fully refunded after the reward was paid (refundOrder); the reward is not taken back automatically.',
    },
  } satisfies Record<(typeof fraudSignalKinds)[number], { description: string }>,
});

const FraudSignalType = builder.objectRef<FraudSignal>('FraudSignal').implement({
  description: 'Why a referral is held for review instead of being rewarded automatically.',
  fields: (t) => ({
    kind: t.field({ type: FraudSignalKindEnum, description: 'Which check fired.', resolve: (s) => s.kind }),
    evidence: t.field({ type: 'JSON', description: 'What was found, as recorded when the signal fired.', resolve: (s) => s.evidence }),
  }),
});

export const Referral = builder.loadableNode('Referral', {
  description:
    '转介绍: the referrer brought the referee, a new customer. A referee has at most one referrer and the referral graph has no cycles; each referral also makes a REFERRED edge in the network.',
  id: { resolve: (row: ReferralRow) => row.id },
  load: (ids: string[]) => findReferrals(ids),
  sort: (row) => row.id,
  authScopes: { referralsRead: true },
  fields: (t) => ({
    referrer: t.field({ type: Party, description: 'The party who referred (and is rewarded).', resolve: (r, _args, _context, info) => partyReference(r.referrerId, info) }),
    referee: t.field({ type: Party, description: 'The new customer who was referred.', resolve: (r, _args, _context, info) => partyReference(r.refereeId, info) }),
    code: t.exposeString('code', { nullable: true, description: 'The referral code used, when the referral was made with one.' }),
    channel: t.exposeString('channel', { nullable: true, description: 'Where the referral came from, as given to createReferral (e.g. WECHAT); null when not given.' }),
    status: t.field({ type: ReferralStatusEnum, description: 'Where the referral is in its lifecycle.', resolve: (r) => r.status }),
    reward: t.field({
      type: Money,
      nullable: true,
      description:
        "The cash-back paid to the referrer, FIXED or a PERCENT of the converting order under the tenant's reward policy (rounded to the currency's minor units); null until REWARDED.",
      resolve: (r) => (r.rewardAmount !== null && r.rewardCurrency !== null ? { amount: r.rewardAmount, currency: r.rewardCurrency } : null),
    }),
    rewardPoints: t.exposeInt('rewardPoints', {
      nullable: true,
      description: "The member points paid to the referrer under a POINTS reward policy (then reward is null); null otherwise and until REWARDED.",
    }),
    createdAt: t.field({ type: 'DateTime', description: 'When the referral was made; the periods of the referral metrics count by it.', resolve: (r) => r.createdAt }),
    convertedAt: t.field({ type: 'DateTime', nullable: true, description: "The converting order's placedAt.", resolve: (r) => r.convertedAt }),
    convertingOrder: t.field({
      type: Order,
      nullable: true,
      description: "The referee's first order at or after the referral was made, which converted it; null before conversion, or for a manual conversion without such an order.",
      resolve: (r) => r.convertingOrderId,
    }),
    rewardedAt: t.field({ type: 'DateTime', nullable: true, description: 'When the reward was paid; null unless REWARDED.', resolve: (r) => r.rewardedAt }),
    rejectedAt: t.field({ type: 'DateTime', nullable: true, description: 'When rejectReferral turned it down; null unless REJECTED.', resolve: (r) => r.rejectedAt }),
    rejectedReason: t.exposeString('rejectedReason', { nullable: true, description: 'Why it was rejected, as given to rejectReferral; null unless REJECTED.' }),
    fraudSignals: t.field({
      type: [FraudSignalType],
      description: 'The fraud checks that fired, at most one per kind; empty for a clean referral. Any signal keeps it from being rewarded automatically.',
      resolve: (r) => r.fraudSignals,
    }),
  }),
});

builder.objectField(RefundOrderPayload, 'referral', (t) =>
  t.field({
    type: Referral,
    nullable: true,
    description: 'The referral this order converted, when the (full) refund changed it: REJECTED if it was not rewarded yet, or flagged REFUNDED_AFTER_REWARD; else null.',
    resolve: (p) => p.referral ?? null,
  }),
);

builder.objectField(RecordOrderPayload, 'referral', (t) =>
  t.field({
    type: Referral,
    nullable: true,
    description: "The referral this order converted (the referee's first order since it was made), else null.",
    resolve: (p) => p.referral ?? null,
  }),
);

// --- Party fields ------------------------------------------------------------------------------

const PartyReferralConnection = builder.connectionObject(
  { type: Referral, name: 'PartyReferralConnection', description: 'A page of the referrals a party made, newest first.' },
  { description: 'One referral and its cursor.' },
);

// A page of parties that selects `referredBy` reads the referrers in its own statement.
// Only the columns its selections use when they are among these (a list shows who referred whom).
prefetchableOnParty('referredBy', {
  sql: (properties) => referrerJson(correlatedParty, properties as (keyof PartyRow)[] | undefined),
  decode: (value) => (value && typeof value === 'object' ? partyFromColumns(value as Record<string, unknown>) : null),
  needs: { id: ['id'], displayName: ['displayName'], kind: ['kind'], stage: ['stage'], createdAt: ['createdAt'] },
});

// A party's own statement can read its first page of referrals made along (prefetch.ts).
prefetchablePageOnParty('referrals', {
  sql: (limit, properties) => referralPageJson(correlatedParty, limit, properties),
  decode: referralsFromJson,
  needs: {
    id: ['id'],
    referrer: ['referrerId'],
    referee: ['refereeId'],
    code: ['code'],
    channel: ['channel'],
    status: ['status'],
    reward: ['rewardAmount', 'rewardCurrency'],
    rewardPoints: ['rewardPoints'],
    createdAt: ['createdAt'],
    convertedAt: ['convertedAt'],
    convertingOrder: ['convertingOrderId'],
    rewardedAt: ['rewardedAt'],
    rejectedAt: ['rejectedAt'],
    rejectedReason: ['rejectedReason'],
    fraudSignals: ['fraudSignals'],
  },
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
    // The referrers' whole rows in one statement, or none when the page fetched them along.
    load: (partyIds: string[], context) => loadPrefetched(context, 'referredBy', partyIds, referrersOf),
    resolve: (party) => party.id,
  }),
  referrals: t.loadable({
    type: PartyReferralConnection,
    authScopes: { referralsRead: true },
    description: 'The referrals this party made, newest first.',
    byPath: true,
    args: t.arg.connectionArgs(),
    load: (partyIds: string[], context, args) =>
      partyConnections(partyIds, args, {
        cursor: referralCursor,
        fetch: async (page) => prefetchedPages(context, 'referrals', partyIds, page) ?? referralPages(partyIds, page),
        count: () => referralCounts(partyIds),
      }),
    resolve: (party) => party.id,
  }),
}));

// --- Queries -----------------------------------------------------------------------------------

/** An edge of the tree: a descendant (`node`) with its depth under the root. */
type ReferralTreeEdge = { cursor: string; node: string; depth: number };

const ReferralTreeConnection = builder.connectionObject(
  {
    type: Party,
    name: 'ReferralTreeConnection',
    description: 'Descendants of a root party, breadth-first: by depth, within a depth by the referral’s creation time, then referral id.',
  },
  {
    description: 'A descendant of the root and how far below it.',
    fields: (e) => ({
      depth: e.int({ description: '1 = referred directly by the root.', resolve: (edge) => (edge as ReferralTreeEdge).depth }),
    }),
  },
);

const ReferrerRankingEnum = builder.enumType('ReferrerRanking', {
  description: 'What topReferrers ranks referrers by.',
  values: {
    CONVERSIONS: { description: "The number of the referrer's referrals in the period that are now CONVERTED or REWARDED." },
    REVENUE: { description: "The amount of the referees' orders placed since their referral, whatever its status." },
    SUBTREE_SIZE: { description: "The number of the referrer's descendants, at any depth, whose own referral is in the period." },
  } satisfies Record<(typeof referrerRankings)[number], { description: string }>,
});

const TopReferrerType = builder.objectRef<TopReferrer>('TopReferrer').implement({
  description:
    "A referrer and its numbers over the period's referrals: conversions (now CONVERTED or REWARDED), revenue (its referees' orders since their referral), subtree size (descendants at any depth referred in the period).",
  fields: (t) => ({
    party: t.field({ type: Party, description: 'The referrer.', resolve: (r) => r.partyId }),
    conversions: t.exposeInt('conversions', { description: 'Its referrals of the period that are now CONVERTED or REWARDED.' }),
    revenue: t.field({
      type: Money,
      description: "The referees' orders since their referral, in the tenant's currency.",
      resolve: (r, _args, context) => tenantMoney(context, r.revenue),
    }),
    subtreeSize: t.exposeInt('subtreeSize', { description: 'Its descendants at any depth whose own referral was made in the period (all of them without bounds).' }),
  }),
});

const ReferralStatsType = builder.objectRef<ReferralStats>('ReferralStats').implement({
  description: 'domain §3 metrics over [since, until) of referral creation; unrounded.',
  fields: (t) => ({
    referrals: t.exposeInt('referrals', { description: 'Referrals created in the period.' }),
    converted: t.exposeInt('converted', { description: 'Of those referrals, how many are now CONVERTED or REWARDED.' }),
    conversionRate: t.exposeFloat('conversionRate', { description: 'converted ÷ referrals; 0 without referrals.' }),
    referrers: t.exposeInt('referrers', { description: 'Distinct referrers of those referrals.' }),
    kFactor: t.exposeFloat('kFactor', { description: '(referrals ÷ referrers) × conversionRate; 0 without referrers.' }),
    rewardsPaid: t.field({
      type: Money,
      description: "Sum of the rewards of referrals rewarded (rewardedAt) in the period, in the tenant's currency.",
      resolve: (s, _args, context) => tenantMoney(context, s.rewardsPaid),
    }),
    rewardPointsPaid: t.exposeInt('rewardPointsPaid', {
      description: 'Member points paid as rewards (POINTS policy) to referrals rewarded in the period; rewardsPaid counts cash only.',
    }),
  }),
});

builder.queryFields((t) => ({
  referralChain: t.field({
    type: [Party],
    nullable: true,
    authScopes: { referralsRead: true },
    description: "The party's referrer, that one's referrer, … up to the root (nearest first); [] for a root, null for an unknown party.",
    args: { partyId: t.arg.globalID({ required: true, for: [Party], description: 'Global id of the party to start from (not listed itself).' }) },
    resolve: (_root, args) => referralChain(args.partyId.id),
  }),
  referralTree: t.connection(
    {
      type: Party,
      nullable: true,
      authScopes: { referralsRead: true },
      description: `The root's descendants breadth-first, each edge with its depth; maxDepth 1–${maxTreeDepth}. Pages both ways by keyset (first/after, last/before). Null for an unknown root.`,
      args: {
        rootId: t.arg.globalID({ required: true, for: [Party], description: 'Global id of the party whose descendants to list (not listed itself).' }),
        maxDepth: t.arg.int({
          defaultValue: maxTreeDepth,
          description: `How many levels below the root to go, 1–${maxTreeDepth} (default ${maxTreeDepth}); else a VALIDATION error. totalCount counts the descendants within it.`,
        }),
      },
      resolve: async (_root, args) => {
        // The page and the count of the whole walk come from one statement.
        const found: { tree?: ReferralTree | null } = {};
        const connection = await keysetConnection<ReferralTreeNode>(
          args,
          treeCursor,
          async (page) => (found.tree = await referralTree(args.rootId.id, page, { maxDepth: args.maxDepth }))?.nodes ?? [],
          async () => found.tree?.totalCount ?? 0,
        );
        if (!found.tree) return null;
        const edges: ReferralTreeEdge[] = connection.edges.map((edge) => ({ cursor: edge.cursor, node: edge.node.partyId, depth: edge.node.depth }));
        return { ...connection, edges };
      },
    },
    ReferralTreeConnection,
  ),
  topReferrers: t.field({
    type: [TopReferrerType],
    authScopes: { referralsRead: true },
    description: 'Referrers of the period’s referrals ([since, until) of creation), ranked by `by` (largest first, ties by party id).',
    args: {
      since: t.arg({ type: 'DateTime', description: 'Count referrals created at or after this instant; leave it out for no lower bound.' }),
      until: t.arg({
        type: 'DateTime',
        description: 'Count referrals created before this instant; leave it out for no upper bound. Before since is a VALIDATION error.',
      }),
      by: t.arg({ type: ReferrerRankingEnum, defaultValue: 'CONVERSIONS', description: 'What to rank by (default CONVERSIONS).' }),
      first: t.arg.int({ defaultValue: 10, description: 'How many referrers to return, 0–100 (default 10); else a VALIDATION error.' }),
    },
    resolve: (_root, args) =>
      topReferrers({ since: args.since, until: args.until, by: args.by ?? 'CONVERSIONS', first: args.first }),
  }),
  referralStats: t.field({
    type: ReferralStatsType,
    authScopes: { referralsRead: true },
    description: 'Referral metrics (conversion rate, k-factor, rewards) over the referrals created in [since, until); without bounds, all time.',
    args: {
      since: t.arg({ type: 'DateTime', description: 'Count referrals created at or after this instant; leave it out for no lower bound.' }),
      until: t.arg({
        type: 'DateTime',
        description: 'Count referrals created before this instant; leave it out for no upper bound. Before since is a VALIDATION error.',
      }),
    },
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
    builder.connectionObject(
      { type: Referral, name: 'SuspiciousReferralConnection', description: 'A page of referrals with fraud signals, newest first.' },
      { description: 'One flagged referral and its cursor.' },
    ),
  ),
}));

// --- Mutations ---------------------------------------------------------------------------------

const ReferralPayload = (name: string, description: string) =>
  payloadType<{ referral: ReferralRow }>(
    name,
    (t) => ({
      referral: t.field({ type: Referral, nullable: true, description: 'The referral after the change.', resolve: (p) => p.referral ?? null }),
    }),
    description,
  );

const CreateReferralInput = builder.inputType('CreateReferralInput', {
  description: 'Exactly one of referrerId and referralCode names the referrer.',
  fields: (t) => ({
    referrerId: t.globalID({ for: [Party], description: 'Global id of the referrer; or give referralCode instead.' }),
    referralCode: t.string({ description: 'The referrer’s code; case, spaces and dashes are ignored.' }),
    refereeId: t.globalID({
      required: true,
      for: [Party],
      description: 'Global id of the new customer referred: not the referrer, with no referrer yet and no orders.',
    }),
    channel: t.string({ description: 'Where the referral came from, e.g. WECHAT (at most 50 characters).' }),
  }),
});

builder.mutationField('createReferral', (t) =>
  t.field({
    type: ReferralPayload('CreateReferralPayload', 'The new PENDING referral, or why it was refused.'),
    authScopes: { referralsWrite: true },
    description:
      'Records a PENDING referral and its REFERRED edge (needs the referrals write right). Refused: both or neither of referrerId/referralCode, self-referral (VALIDATION); an unknown party or code (NOT_FOUND); a referee that already has a referrer or orders, an archived or erased party, a cycle (CONFLICT).',
    args: { input: t.arg({ type: CreateReferralInput, required: true, description: 'Who referred whom, and through which channel.' }) },
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
  description: 'The referral to convert.',
  fields: (t) => ({ id: t.globalID({ required: true, for: [Referral], description: 'Global id of a PENDING referral.' }) }),
});

builder.mutationField('convertReferral', (t) =>
  t.field({
    type: ReferralPayload('ConvertReferralPayload', 'The CONVERTED referral, or why it could not be converted.'),
    authScopes: { referralsWrite: true },
    description:
      "PENDING → CONVERTED by hand, for a conversion no order recorded; the referee's first order since the referral, if any, is the converting order and its time the conversion time (else now). Fraud checks run as for an automatic conversion, but the reward is never automatic: call rewardReferral. NOT_FOUND for an unknown id, CONFLICT unless PENDING.",
    args: { input: t.arg({ type: ReferralIdInput, required: true, description: 'Which referral to convert.' }) },
    resolve: (_root, { input }) => runMutation(async () => ({ referral: await convertReferral(input.id.id) })),
  }),
);

const RejectReferralInput = builder.inputType('RejectReferralInput', {
  description: 'The referral to reject, and why.',
  fields: (t) => ({
    id: t.globalID({ required: true, for: [Referral], description: 'Global id of a PENDING or CONVERTED referral.' }),
    reason: t.string({ required: true, description: 'Required, not blank (at most 500 characters).' }),
  }),
});

builder.mutationField('rejectReferral', (t) =>
  t.field({
    type: ReferralPayload('RejectReferralPayload', 'The REJECTED referral, or why it could not be rejected.'),
    authScopes: { referralsWrite: true },
    description:
      'PENDING or CONVERTED → REJECTED with a reason; it will never be rewarded. A REWARDED or already REJECTED referral is a CONFLICT, a blank reason VALIDATION, an unknown id NOT_FOUND.',
    args: { input: t.arg({ type: RejectReferralInput, required: true, description: 'Which referral to reject, and why.' }) },
    resolve: (_root, { input }) =>
      runMutation(async () => ({ referral: await rejectReferral(input.id.id, { reason: input.reason }) })),
  }),
);

const RewardReferralInput = builder.inputType('RewardReferralInput', {
  description: 'The referral to reward.',
  fields: (t) => ({ id: t.globalID({ required: true, for: [Referral], description: 'Global id of a CONVERTED referral.' }) }),
});

builder.mutationField('rewardReferral', (t) =>
  t.field({
    type: ReferralPayload('RewardReferralPayload', 'The REWARDED referral with its reward, or why it could not be rewarded.'),
    authScopes: { referralsWrite: true },
    description:
      "CONVERTED → REWARDED with the tenant's reward policy (also for a flagged referral: a person decided). CONFLICT unless CONVERTED, or for a PERCENT reward when the conversion has no order; NOT_FOUND for an unknown id.",
    args: { input: t.arg({ type: RewardReferralInput, required: true, description: 'Which referral to reward.' }) },
    resolve: (_root, { input }) => runMutation(async () => ({ referral: await rewardReferral(input.id.id) })),
  }),
);
