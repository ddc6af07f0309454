import { updateTenantSettings, type TenantRow } from '@guanxi/core/access';
import { builder } from '../builder';
import { payloadType, runMutation } from '../errors';
import { Tenant } from './tenant';

const StagePolicyInput = builder.inputType('StagePolicyInput', {
  description: 'The thresholds of the nightly stage policy; a setting left out keeps its current value.',
  fields: (t) => ({
    loyalAfter: t.int({
      description: 'Satisfying orders (rated 4 or more, or unrated) that move a party to LOYALTY_GROWTH and make it loyal, 2–5 (default 3).',
    }),
    dormantAfterDays: t.int({ description: 'Days without an order or interaction before DORMANT, 1–3650 (default 90).' }),
    churnedAfterDays: t.int({
      description: 'Days without an order or interaction before CHURNED, 2–3650 and more than dormantAfterDays (default 180).',
    }),
  }),
});

const ScoringWeightsInput = builder.inputType('ScoringWeightsInput', {
  description:
    'The weight of each loyalty component in the score: all six, each 0–1, summing to exactly 1 (compared to the millionth; VALIDATION otherwise).',
  fields: (t) => ({
    recency: t.float({ required: true, description: 'Weight of the recency component, (r − 1) / 4 (default 0.25).' }),
    frequency: t.float({ required: true, description: 'Weight of the frequency component, (f − 1) / 4 (default 0.25).' }),
    monetary: t.float({ required: true, description: 'Weight of the monetary component, (m − 1) / 4 (default 0.20).' }),
    satisfaction: t.float({ required: true, description: 'Weight of the mean order rating in the window (default 0.15).' }),
    referrals: t.float({ required: true, description: 'Weight of converted referrals in the window, full at 3 (default 0.10).' }),
    engagement: t.float({ required: true, description: 'Weight of interactions in the window, full at 12 (default 0.05).' }),
  }),
});

const TierThresholdsInput = builder.inputType('TierThresholdsInput', {
  description:
    'The lowest loyalty score (1–100) of each tier; platinum > gold > silver (VALIDATION otherwise). A score below silver is BRONZE.',
  fields: (t) => ({
    platinum: t.int({ required: true, description: 'Lowest score of PLATINUM (default 85).' }),
    gold: t.int({ required: true, description: 'Lowest score of GOLD (default 70).' }),
    silver: t.int({ required: true, description: 'Lowest score of SILVER (default 50).' }),
  }),
});

const ScoringSettingsInput = builder.inputType('ScoringSettingsInput', {
  description: 'The loyalty scoring rules; a setting left out keeps its current value, weights and tiers are replaced as a whole.',
  fields: (t) => ({
    windowDays: t.int({
      description: 'Days of orders and interactions that count, ending on the scoring date, 30–1095 (default 365); also the churn-risk fallback gap (half of it).',
    }),
    weights: t.field({ type: ScoringWeightsInput, description: 'The weights of the six components of the score.' }),
    tiers: t.field({ type: TierThresholdsInput, description: 'The score thresholds of the tiers.' }),
  }),
});

const RewardKind = builder.enumType('RewardKind', {
  description: 'How the reward of a converted referral is computed: cash-back, or member points.',
  values: {
    FIXED: { description: "The same amount for every referral, in the tenant's currency." },
    PERCENT: { description: "A percentage (0–100) of the referee's first order." },
    POINTS: { description: "The same whole number of member points for every referral, available to the referrer at once." },
  } as const,
});

const ReferralRewardInput = builder.inputType('ReferralRewardInput', {
  description: "The tenant's reward policy for converted referrals (default a fixed 20.00).",
  fields: (t) => ({
    kind: t.field({ type: RewardKind, required: true, description: 'Fixed amount, percentage of the first order, or points.' }),
    amount: t.field({
      type: 'Decimal',
      required: true,
      description: 'Money (FIXED), a percentage of the first order (PERCENT), or a whole number of points, 1–999999999 (POINTS).',
    }),
  }),
});

const ReferralSettingsInput = builder.inputType('ReferralSettingsInput', {
  description: 'The referral rules; a setting left out keeps its current value.',
  fields: (t) => ({
    reward: t.field({ type: ReferralRewardInput, description: 'The reward paid for each converted referral.' }),
    autoReward: t.boolean({
      description: 'Whether conversions without any fraud signal are rewarded at once (default true); flagged ones always wait for rewardReferral or rejectReferral.',
    }),
    maxReferralsPerHour: t.int({
      description: 'Referrals one referrer may make in an hour before further ones carry a VELOCITY fraud signal, 1–10000 (default 5).',
    }),
    minMinutesToConvert: t.int({
      description: 'A conversion sooner than this many minutes after the referral carries a FAST_CONVERSION signal, 0–100000 (default 2); 0 turns the signal off.',
    }),
  }),
});

const TierMultipliersInput = builder.inputType('TierMultipliersInput', {
  description: "What an order's points are multiplied by for a party of each membership tier (a party without a tier earns × 1); each a decimal 0–10 with at most 4 decimals.",
  fields: (t) => ({
    bronze: t.field({ type: 'Decimal', description: 'BRONZE (default 1).' }),
    silver: t.field({ type: 'Decimal', description: 'SILVER (default 1.2).' }),
    gold: t.field({ type: 'Decimal', description: 'GOLD (default 1.5).' }),
    platinum: t.field({ type: 'Decimal', description: 'PLATINUM (default 2).' }),
  }),
});

const PointsSettingsInput = builder.inputType('PointsSettingsInput', {
  description: 'Member points (会员积分): how orders earn them and how long they last; a setting left out keeps its current value.',
  fields: (t) => ({
    pointsPerUnit: t.field({
      type: 'Decimal',
      description: 'Points per currency unit of an order, before the tier multiplier; the product is rounded down. 0–1000, at most 4 decimals (default 1); 0 turns earning off.',
    }),
    pendingDays: t.int({ description: "Days an order's points stay pending after it was placed (the return window), 0–365 (default 7)." }),
    expiryDays: t.int({ description: 'Days points stay available before what is left of them expires: 0 (never) or 1–3650 (default 365).' }),
    tierMultipliers: t.field({ type: TierMultipliersInput, description: 'The multiplier of each membership tier.' }),
  }),
});

const TierBasisEnum = builder.enumType('TierBasis', {
  description: 'What qualifies a party for a membership tier on an evaluated day.',
  values: {
    SCORE: { description: "The day's loyalty score, by the scoring tier thresholds (the default)." },
    SPEND: { description: 'Net spend (amounts less refunds) in the scoring window, by membership.thresholds.' },
    POINTS: { description: 'Member points earned in the scoring window, by membership.thresholds.' },
  },
});

const MembershipThresholdsInput = builder.inputType('MembershipThresholdsInput', {
  description: 'The lowest net spend (SPEND) or points earned (POINTS) in the window of each tier; platinum > gold > silver. Unused with the SCORE basis.',
  fields: (t) => ({
    silver: t.field({ type: 'Decimal', required: true, description: 'Lowest value of SILVER (default 1000).' }),
    gold: t.field({ type: 'Decimal', required: true, description: 'Lowest value of GOLD (default 5000).' }),
    platinum: t.field({ type: 'Decimal', required: true, description: 'Lowest value of PLATINUM (default 20000).' }),
  }),
});

const TierBenefitInput = builder.inputType('TierBenefitInput', {
  description: 'A privilege of a tier.',
  fields: (t) => ({
    code: t.string({ required: true, description: 'Your code for it, 1–50 characters.' }),
    description: t.string({ required: true, description: 'What the member gets, 1–500 characters.' }),
  }),
});

const TierBenefitsInput = builder.inputType('TierBenefitsInput', {
  description: 'The benefits of each tier (at most 20 each); a tier left out keeps its list.',
  fields: (t) => ({
    bronze: t.field({ type: [TierBenefitInput], description: 'Benefits of BRONZE.' }),
    silver: t.field({ type: [TierBenefitInput], description: 'Benefits of SILVER.' }),
    gold: t.field({ type: [TierBenefitInput], description: 'Benefits of GOLD.' }),
    platinum: t.field({ type: [TierBenefitInput], description: 'Benefits of PLATINUM.' }),
  }),
});

const MembershipSettingsInput = builder.inputType('MembershipSettingsInput', {
  description: 'Membership tiers (会员等级): what qualifies a party, how slowly it drops, and what each tier brings; a setting left out keeps its value.',
  fields: (t) => ({
    basis: t.field({ type: TierBasisEnum, description: 'What qualifies a party for a tier (default SCORE).' }),
    thresholds: t.field({ type: MembershipThresholdsInput, description: 'Thresholds of the SPEND and POINTS bases.' }),
    downgradeGraceDays: t.int({
      description: 'Evaluated days, besides the day itself, a party must stay below its tier before it drops one level, 0–365; 0 (the default) drops it to its qualifying tier at once.',
    }),
    benefits: t.field({ type: TierBenefitsInput, description: 'What each tier brings.' }),
  }),
});

const UpdateTenantSettingsInput = builder.inputType('UpdateTenantSettingsInput', {
  description: 'Only the given settings change. A change to stage policy or scoring bumps the rule version.',
  fields: (t) => ({
    stagePolicy: t.field({ type: StagePolicyInput, description: 'Thresholds of the automatic stage moves.' }),
    scoring: t.field({ type: ScoringSettingsInput, description: 'Window, weights and tiers of the loyalty score.' }),
    referrals: t.field({ type: ReferralSettingsInput, description: 'Reward policy and fraud thresholds of referrals.' }),
    followUpDays: t.int({ description: 'Days without contact after which a party is due a follow-up, 1–365 (default 30).' }),
    webhookDeliveryRetentionDays: t.int({
      description: 'Days a delivered or failed webhook delivery is kept, 1–3650 (default 30); pending ones are never removed.',
    }),
    auditLogRetentionDays: t.int({
      description: 'Days the audit log is kept: 0 keeps it forever (the default), else 180–3650.',
    }),
    points: t.field({ type: PointsSettingsInput, description: 'How orders earn member points and how long they last.' }),
    membership: t.field({ type: MembershipSettingsInput, description: 'Membership tiers: basis, thresholds, downgrade grace and benefits.' }),
  }),
});

const UpdateTenantSettingsPayload = payloadType<{ tenant: TenantRow }>(
  'UpdateTenantSettingsPayload',
  (t) => ({
    tenant: t.field({
      type: Tenant,
      nullable: true,
      description: 'The tenant with its new settings and rule version.',
      resolve: (p) => p.tenant ?? null,
    }),
  }),
  'The tenant after the change, or why the settings were refused.',
);

function defined<T extends object>(value: T | null | undefined): { [K in keyof T]: Exclude<T[K], null> } | undefined {
  if (!value) return undefined;
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null && v !== undefined)) as never;
}

builder.mutationField('updateTenantSettings', (t) =>
  t.field({
    type: UpdateTenantSettingsPayload,
    authScopes: { admin: true },
    description:
      "Changes some of the tenant's settings (ADMIN only), checked as a whole: a value out of its range, churnedAfterDays not above dormantAfterDays, weights not summing to 1, tiers out of order or a percentage reward over 100 is a VALIDATION user error and changes nothing.",
    args: { input: t.arg({ type: UpdateTenantSettingsInput, required: true, description: 'The settings to change.' }) },
    resolve: (_root, { input }) =>
      runMutation(async () => ({
        tenant: await updateTenantSettings({
          stagePolicy: defined(input.stagePolicy),
          scoring: input.scoring
            ? { windowDays: input.scoring.windowDays ?? undefined, weights: input.scoring.weights ?? undefined, tiers: input.scoring.tiers ?? undefined }
            : undefined,
          referrals: input.referrals
            ? {
                reward: input.referrals.reward ?? undefined,
                autoReward: input.referrals.autoReward ?? undefined,
                maxReferralsPerHour: input.referrals.maxReferralsPerHour ?? undefined,
                minMinutesToConvert: input.referrals.minMinutesToConvert ?? undefined,
              }
            : undefined,
          points: input.points
            ? { ...defined({ ...input.points, tierMultipliers: null }), tierMultipliers: defined(input.points.tierMultipliers) }
            : undefined,
          membership: input.membership
            ? {
                ...defined({ ...input.membership, benefits: null }),
                benefits: input.membership.benefits ? (defined(input.membership.benefits) as never) : undefined,
              }
            : undefined,
          followUpDays: input.followUpDays ?? undefined,
          webhookDeliveryRetentionDays: input.webhookDeliveryRetentionDays ?? undefined,
          auditLogRetentionDays: input.auditLogRetentionDays ?? undefined,
        }),
      })),
  }),
);
