// 会员等级 (domain: membership tiers): a party's membership now, its tier history, and
// setMembershipTier. The nightly scoring statement evaluates the tiers (core loyalty/statement.ts).
import { findTierChanges, memberships, setMembershipTier, tierChangeCursor, tierHistoryCounts, tierHistoryPages, tierRules, type Membership as MembershipShape, type TierChangeRow } from '@guanxi/core/loyalty';
import { findParties, type PartyRow } from '@guanxi/core/network';
import { Actor } from '../access/actor';
import { builder } from '../builder';
import { partyConnections } from '../connections';
import { payloadType, runMutation } from '../errors';
import { Party, partyReference, TierEnum } from '../network/party';

const TierRuleEnum = builder.enumType('TierRule', {
  description: 'Why a party’s membership tier changed.',
  values: {
    FIRST: { description: 'The first evaluation: the qualifying tier.' },
    UPGRADE: { description: 'The qualifying tier was above the tier: taken at once.' },
    DOWNGRADE: {
      description: 'The qualifying tier stayed below the tier on the day and the downgradeGraceDays evaluated days before it: one level down (straight to the qualifying tier with no grace).',
    },
    OVERRIDE: { description: 'setMembershipTier held the tier by hand.' },
    OVERRIDE_ENDED: { description: 'An override ran out (its until passed) or was cleared; the rules apply again from the overridden tier.' },
  } satisfies Record<(typeof tierRules)[number], { description: string }>,
});

export const TierChange = builder.loadableNode('TierChange', {
  description: "One change of a party's membership tier, by the nightly rules or by setMembershipTier.",
  id: { resolve: (row: TierChangeRow) => row.id, description: 'Global id of the change; load it again with node(id).' },
  load: (ids: string[]) => findTierChanges(ids),
  sort: (row) => row.id,
  authScopes: { loyaltyRead: true },
  fields: (t) => ({
    party: t.field({ type: Party, description: 'Whose tier changed.', resolve: (row, _args, _context, info) => partyReference(row.partyId, info) }),
    from: t.field({ type: TierEnum, nullable: true, description: 'The tier before; null on the first evaluation.', resolve: (row) => row.fromTier }),
    to: t.field({ type: TierEnum, nullable: true, description: 'The tier after; null when a cleared override leaves a party never evaluated without a tier.', resolve: (row) => row.toTier }),
    rule: t.field({ type: TierRuleEnum, description: 'Why.', resolve: (row) => row.rule }),
    asOf: t.field({ type: 'Date', description: 'The day evaluated (for setMembershipTier: the day it was called).', resolve: (row) => row.asOf }),
    at: t.field({ type: 'DateTime', description: 'When the change was written.', resolve: (row) => row.at }),
    automatic: t.exposeBoolean('automatic', { description: 'True for the nightly rules (scoring the day again replaces these), false for setMembershipTier.' }),
    actor: t.field({ type: Actor, description: 'Who made it: the scoring run’s caller (SYSTEM for the nightly job) or the caller of setMembershipTier.', resolve: (row) => ({ kind: row.actorKind, id: row.actorId }) }),
    reason: t.exposeString('reason', { nullable: true, description: "setMembershipTier's reason; null for the rules." }),
  }),
});

const TierBenefit = builder.objectRef<{ code: string; description: string }>('TierBenefit').implement({
  description: "A privilege of a tier, as the tenant defines it (updateTenantSettings' membership.benefits).",
  fields: (t) => ({
    code: t.exposeString('code', { description: "The tenant's code for the benefit." }),
    description: t.exposeString('description', { description: 'What the member gets.' }),
  }),
});

const MembershipOverride = builder.objectRef<NonNullable<MembershipShape['override']>>('MembershipOverride').implement({
  description: 'A tier held by hand with setMembershipTier.',
  fields: (t) => ({
    tier: t.field({ type: TierEnum, description: 'The tier held.', resolve: (o) => o.tier }),
    reason: t.exposeString('reason', { nullable: true, description: 'Why, as given.' }),
    from: t.field({ type: 'Date', description: 'The first day it holds.', resolve: (o) => o.from }),
    until: t.field({ type: 'Date', nullable: true, description: 'The last day it holds (inclusive); null until cleared.', resolve: (o) => o.until }),
  }),
});

const Membership = builder.objectRef<MembershipShape>('Membership').implement({
  description: "A party's membership (会员等级) now: its tier, why, and what the tier brings.",
  fields: (t) => ({
    tier: t.field({
      type: TierEnum,
      nullable: true,
      description: 'The tier now: an override in force, else the latest evaluated day’s; null for a party never scored and not overridden.',
      resolve: (m) => m.tier,
    }),
    since: t.field({ type: 'DateTime', nullable: true, description: 'When the tier last changed.', resolve: (m) => m.since }),
    qualifyingTier: t.field({
      type: TierEnum,
      nullable: true,
      description: "What the latest evaluated day's value alone gives, before the rules; null before the first scoring.",
      resolve: (m) => m.qualifyingTier,
    }),
    override: t.field({ type: MembershipOverride, nullable: true, description: 'The override set with setMembershipTier, if any (also one that ran out and is not cleared).', resolve: (m) => m.override }),
    benefits: t.field({ type: [TierBenefit], description: "The tier's benefits, as the tenant defines them.", resolve: (m) => m.benefits }),
    multiplier: t.field({ type: 'Decimal', description: 'What the tier multiplies the points an order earns by (1 without a tier).', resolve: (m) => m.multiplier }),
  }),
});

const TierHistoryConnection = builder.connectionObject(
  { type: TierChange, name: 'PartyTierChangeConnection', description: "A page of a party's tier changes, newest first." },
  { description: 'One tier change and its cursor.' },
);

builder.objectFields(Party, (t) => ({
  membership: t.loadable({
    type: Membership,
    authScopes: { loyaltyRead: true },
    description: "The party's membership tier now, its qualifying tier, any override, the tier's benefits and points multiplier.",
    byPath: true,
    load: async (partyIds: string[]) => {
      const found = await memberships(partyIds);
      return partyIds.map((id) => found.get(id) ?? new Error('No such party'));
    },
    resolve: (party: PartyRow) => party.id,
  }),
  tierHistory: t.loadable({
    type: TierHistoryConnection,
    authScopes: { loyaltyRead: true },
    description: "Every change of the party's membership tier, newest first.",
    byPath: true,
    args: t.arg.connectionArgs(),
    load: (partyIds: string[], _context, args) =>
      partyConnections(partyIds, args, {
        cursor: tierChangeCursor,
        fetch: (page) => tierHistoryPages(partyIds, page),
        count: () => tierHistoryCounts(partyIds),
      }),
    resolve: (party: PartyRow) => party.id,
  }),
}));

const SetMembershipTierInput = builder.inputType('SetMembershipTierInput', {
  description: "Holds a party's tier by hand, or clears such an override.",
  fields: (t) => ({
    partyId: t.globalID({ required: true, for: [Party], description: 'Whose tier.' }),
    tier: t.field({ type: TierEnum, description: 'The tier to hold from today; null (or left out) clears the override.' }),
    reason: t.string({ required: true, description: 'Why, 1–500 characters.' }),
    until: t.field({ type: 'Date', description: 'The last day it holds (inclusive), today or later; left out: until cleared.' }),
  }),
});

const SetMembershipTierPayload = payloadType<{ party: PartyRow; change: TierChangeRow }>(
  'SetMembershipTierPayload',
  (t) => ({
    party: t.field({ type: Party, nullable: true, description: 'The party, with its membership now.', resolve: (p) => p.party ?? null }),
    change: t.field({ type: TierChange, nullable: true, description: 'The tier history row written (OVERRIDE or OVERRIDE_ENDED).', resolve: (p) => p.change ?? null }),
  }),
  'The override written or cleared, or why it was refused.',
);

builder.mutationField('setMembershipTier', (t) =>
  t.field({
    type: SetMembershipTierPayload,
    authScopes: { loyaltyWrite: true },
    description:
      "Holds a party's membership tier by hand through `until` (needs the loyalty write right): the nightly rules leave it alone until then, and apply again from the held tier after. A null tier clears the override. userErrors: NOT_FOUND (no such party), CONFLICT (a merged party, no override to clear), VALIDATION (no reason, a reason over 500 characters, until before today). Sends loyalty.tier_changed.",
    args: { input: t.arg({ type: SetMembershipTierInput, required: true, description: 'The party, the tier (or null), why and until when.' }) },
    resolve: (_root, { input }) =>
      runMutation(async () => {
        const { change } = await setMembershipTier({ partyId: input.partyId.id, tier: input.tier ?? null, reason: input.reason, until: input.until ?? null });
        const [party] = await findParties([change.partyId]);
        return { party: party!, change };
      }),
  }),
);
