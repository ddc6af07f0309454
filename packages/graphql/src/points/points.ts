// 会员积分 (domain: member points): a party's balance and ledger, and the redeemPoints and
// adjustPoints mutations. Orders earn points inside recordOrder (core).
import {
  adjustPoints,
  expiringPoints,
  findPointsEntries,
  pointsBalances,
  pointsEntryCursor,
  pointsEntryKinds,
  pointsLedgerCounts,
  pointsLedgerPages,
  pointsSources,
  redeemPoints,
  type PointsBalance as PointsBalanceShape,
  type PointsEntryRow,
} from '@guanxi/core/points';
import { findParties, type PartyRow } from '@guanxi/core/network';
import { GraphQLError } from 'graphql';
import { Actor } from '../access/actor';
import { builder } from '../builder';
import { partyConnections } from '../connections';
import { payloadType, runMutation } from '../errors';
import { Order } from '../network/order';
import { Party, partyReference } from '../network/party';
import { Referral } from '../referrals/referral';

export const PointsEntryKindEnum = builder.enumType('PointsEntryKind', {
  description: 'What a points entry records.',
  values: {
    EARN: { description: 'Points earned: an order (pending through its return window), a points referral reward or a bonus.' },
    REDEEM: { description: 'Points spent by redeemPoints.' },
    EXPIRE: { description: 'Points that expired unspent, written by the nightly job.' },
    ADJUST: { description: 'A manual correction by adjustPoints, either sign, with its reason.' },
    REVERSE: { description: "An order's points taken back by a refund." },
    TRANSFER: { description: 'Points moved between parties by a merge.' },
  } satisfies Record<(typeof pointsEntryKinds)[number], { description: string }>,
});

export const PointsSourceEnum = builder.enumType('PointsSource', {
  description: 'Where a points entry came from.',
  values: {
    ORDER: { description: 'An order (earning) or its refund (reversal).' },
    REFERRAL: { description: 'A referral rewarded in points.' },
    MANUAL: { description: 'A redemption or adjustment made through the API.' },
    JOB: { description: 'The nightly job (expiry).' },
    MERGE: { description: 'A merge of duplicate parties.' },
  } satisfies Record<(typeof pointsSources)[number], { description: string }>,
});

export const PointsEntry = builder.loadableNode('PointsEntry', {
  description:
    "One entry of a party's points ledger. The ledger is append-only: entries are never changed or deleted, and every balance is the sum of what its entries say.",
  id: { resolve: (row: PointsEntryRow) => row.id, description: 'Global id of the entry; load it again with node(id).' },
  load: (ids: string[]) => findPointsEntries(ids),
  sort: (row) => row.id,
  authScopes: { loyaltyRead: true },
  fields: (t) => ({
    party: t.field({ type: Party, description: 'Whose points these are.', resolve: (row, _args, _context, info) => partyReference(row.partyId, info) }),
    kind: t.field({ type: PointsEntryKindEnum, description: 'What the entry records.', resolve: (row) => row.kind }),
    points: t.exposeInt('points', { description: 'Signed: positive adds points (a lot), negative takes them.' }),
    at: t.field({ type: 'DateTime', description: 'When the entry was written.', resolve: (row) => row.at }),
    source: t.field({ type: PointsSourceEnum, description: 'Where the entry came from.', resolve: (row) => row.source }),
    order: t.field({
      type: Order,
      nullable: true,
      description: 'The order that earned these points (EARN) or whose refund took them back (REVERSE); null otherwise.',
      resolve: (row) => row.orderId,
    }),
    referral: t.field({
      type: Referral,
      nullable: true,
      description: 'The referral rewarded with these points; null otherwise.',
      resolve: (row) => row.referralId,
    }),
    reason: t.exposeString('reason', { nullable: true, description: 'Why, as given to redeemPoints or adjustPoints; null when none was given.' }),
    actor: t.field({
      type: Actor,
      description: 'Who wrote the entry: the user or API key of the mutation (or of recordOrder), or SYSTEM for jobs.',
      resolve: (row) => ({ kind: row.actorKind, id: row.actorId }),
    }),
    availableAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: "For points added (positive): when they become spendable (an order's after its return window, pendingDays); null for points taken.",
      resolve: (row) => row.availableAt,
    }),
    expiresAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'For points added: when what is left of them expires (expiryDays after availableAt); null when they never expire and for points taken.',
      resolve: (row) => row.expiresAt,
    }),
    idempotencyKey: t.exposeString('idempotencyKey', {
      nullable: true,
      description: 'The idempotency key of the request that wrote the entry; null when none was given.',
    }),
  }),
});

const PointsExpiry = builder.objectRef<{ points: number; expiresAt: Date }>('PointsExpiry').implement({
  description: 'Points that expire together.',
  fields: (t) => ({
    points: t.exposeInt('points', { description: 'How many points expire then (what is left of them after any open debt).' }),
    expiresAt: t.field({ type: 'DateTime', description: 'The instant they stop being spendable.', resolve: (row) => row.expiresAt }),
  }),
});

type BalanceShape = PointsBalanceShape & { partyId: string };

const PointsBalance = builder.objectRef<BalanceShape>('PointsBalance').implement({
  description:
    "A party's member points now, derived from its ledger: available = what the party can spend; balance = available − debt (negative while refunds have taken back more than there was).",
  fields: (t) => ({
    available: t.exposeInt('available', { description: 'Points the party can redeem now: available lots, after any open debt.' }),
    pending: t.exposeInt('pending', { description: "Points of orders still in their return window (the tenant's pendingDays); spendable once it ends." }),
    lifetimeEarned: t.exposeInt('lifetimeEarned', { description: 'Every point ever earned, before spending, expiry and refunds.' }),
    debt: t.exposeInt('debt', { description: 'What refunds took back beyond what was available, paid first by points that become available.' }),
    balance: t.exposeInt('balance', { description: 'available − debt: negative while a debt is open, and then redemptions are refused.' }),
    expiringSoon: t.loadableList({
      type: PointsExpiry,
      description: 'Points that expire within the next `days` days, soonest first, grouped by the instant they expire.',
      args: { days: t.arg.int({ defaultValue: 30, description: 'How far ahead to look, 1 to 3,650 days (default 30).' }) },
      byPath: true,
      load: async (partyIds: string[], _context, args) => {
        const now = new Date();
        const found = await expiringPoints(partyIds, now, new Date(now.getTime() + (args.days ?? 30) * 86_400_000));
        return partyIds.map((id) => found.get(id) ?? []);
      },
      resolve: (balance, args) => {
        if (args.days !== null && args.days !== undefined && (args.days < 1 || args.days > 3650)) {
          throw new GraphQLError('days is 1 to 3,650', { extensions: { code: 'BAD_USER_INPUT', argumentName: 'days' } });
        }
        return balance.partyId;
      },
    }),
  }),
});

const PartyPointsConnection = builder.connectionObject(
  { type: PointsEntry, name: 'PartyPointsEntryConnection', description: "A page of a party's points ledger, newest first." },
  { description: 'One ledger entry and its cursor.' },
);

builder.objectFields(Party, (t) => ({
  points: t.loadable({
    type: PointsBalance,
    authScopes: { loyaltyRead: true },
    description: "The party's member points now (会员积分): available, pending, debt and balance, from its ledger.",
    byPath: true,
    // One statement for every party of the page.
    load: async (partyIds: string[]) => {
      const balances = await pointsBalances(partyIds);
      return partyIds.map((partyId) => ({ partyId, ...balances.get(partyId)! }));
    },
    resolve: (party: PartyRow) => party.id,
  }),
  pointsLedger: t.loadable({
    type: PartyPointsConnection,
    authScopes: { loyaltyRead: true },
    description: "The party's points ledger, newest entry first.",
    byPath: true,
    args: t.arg.connectionArgs(),
    load: (partyIds: string[], _context, args) =>
      partyConnections(partyIds, args, {
        cursor: pointsEntryCursor,
        fetch: (page) => pointsLedgerPages(partyIds, page),
        count: () => pointsLedgerCounts(partyIds),
      }),
    resolve: (party: PartyRow) => party.id,
  }),
}));

const PointsPayload = (name: string, description: string) =>
  payloadType<{ entry: PointsEntryRow; party: PartyRow }>(
    name,
    (t) => ({
      entry: t.field({
        type: PointsEntry,
        nullable: true,
        description: 'The ledger entry written, or the one an earlier request with the same idempotency key wrote (a retry writes nothing).',
        resolve: (p) => p.entry ?? null,
      }),
      party: t.field({ type: Party, nullable: true, description: 'The party, with its points after the entry.', resolve: (p) => p.party ?? null }),
    }),
    description,
  );

const pointsInputFields = (verb: string) =>
  builder.inputType(`${verb}PointsInput`, {
    description: verb === 'Redeem' ? 'Points to spend.' : 'A manual correction of a party’s points.',
    fields: (t) => ({
      partyId: t.globalID({ required: true, for: [Party], description: 'Whose points.' }),
      points: t.int({
        required: true,
        description:
          verb === 'Redeem'
            ? 'How many to spend: more than 0 and at most Party.points.available.'
            : 'Signed, not 0: positive adds points available at once (expiring after expiryDays), negative takes them like a redemption.',
      }),
      reason: t.string({
        required: verb === 'Adjust',
        description: verb === 'Redeem' ? 'What they were spent on, at most 500 characters; optional.' : 'Why, at most 500 characters; required.',
      }),
      idempotencyKey: t.string({
        description:
          'Your unique key for this request, at most 200 characters: the same key again returns the first entry and writes nothing (a retry is safe); the same key with different fields is a CONFLICT. Unique in the tenant.',
      }),
    }),
  });

const RedeemPointsInput = pointsInputFields('Redeem');
const AdjustPointsInput = pointsInputFields('Adjust');
const RedeemPointsPayload = PointsPayload('RedeemPointsPayload', 'The redemption written (or found, for a retry), or why it was refused.');
const AdjustPointsPayload = PointsPayload('AdjustPointsPayload', 'The adjustment written (or found, for a retry), or why it was refused.');

async function withParty(write: Promise<{ entry: PointsEntryRow }>) {
  const { entry } = await write;
  const [party] = await findParties([entry.partyId]);
  return { entry, party: party! };
}

builder.mutationFields((t) => ({
  redeemPoints: t.field({
    type: RedeemPointsPayload,
    authScopes: { loyaltyWrite: true },
    description:
      "Spends a party's available points (needs the loyalty write right). Points are taken from the lots that expire first. Concurrent redemptions never take available below 0. Refusals: NOT_FOUND (no such party), CONFLICT (more than available — also while the balance is negative — a merged or erased party, or an idempotency key used for a different request), VALIDATION (points not a whole number above 0, a reason over 500 characters). Sends points.redeemed.",
    args: { input: t.arg({ type: RedeemPointsInput, required: true, description: 'The party, the points and optionally why and an idempotency key.' }) },
    resolve: (_root, { input }) =>
      runMutation(() =>
        withParty(redeemPoints({ partyId: input.partyId.id, points: input.points, reason: input.reason, idempotencyKey: input.idempotencyKey })),
      ),
  }),
  adjustPoints: t.field({
    type: AdjustPointsPayload,
    authScopes: { loyaltyWrite: true },
    description:
      "Corrects a party's points by hand, with a reason (needs the loyalty write right). Refusals: NOT_FOUND (no such party), CONFLICT (taking more than available, a merged or erased party, or an idempotency key used for a different request), VALIDATION (0 points, no reason, a reason over 500 characters).",
    args: { input: t.arg({ type: AdjustPointsInput, required: true, description: 'The party, the signed points, why and optionally an idempotency key.' }) },
    resolve: (_root, { input }) =>
      runMutation(() =>
        withParty(adjustPoints({ partyId: input.partyId.id, points: input.points, reason: input.reason ?? '', idempotencyKey: input.idempotencyKey })),
      ),
  }),
}));
