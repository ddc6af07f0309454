import { updateTenantSettings, type TenantRow } from '@guanxi/core/access';
import { builder } from '../builder';
import { payloadType, runMutation } from '../errors';
import { Tenant } from './tenant';

const StagePolicyInput = builder.inputType('StagePolicyInput', {
  fields: (t) => ({
    loyalAfter: t.int({ description: 'Satisfying orders that make a party loyal, 2–5 (default 3).' }),
    dormantAfterDays: t.int({ description: 'Days without an order or interaction before DORMANT (default 90).' }),
    churnedAfterDays: t.int({ description: 'Days before CHURNED; more than dormantAfterDays (default 180).' }),
  }),
});

const ScoringWeightsInput = builder.inputType('ScoringWeightsInput', {
  description: 'All six, each 0–1, summing to 1.',
  fields: (t) => ({
    recency: t.float({ required: true }),
    frequency: t.float({ required: true }),
    monetary: t.float({ required: true }),
    satisfaction: t.float({ required: true }),
    referrals: t.float({ required: true }),
    engagement: t.float({ required: true }),
  }),
});

const TierThresholdsInput = builder.inputType('TierThresholdsInput', {
  fields: (t) => ({
    platinum: t.int({ required: true }),
    gold: t.int({ required: true }),
    silver: t.int({ required: true }),
  }),
});

const ScoringSettingsInput = builder.inputType('ScoringSettingsInput', {
  fields: (t) => ({
    windowDays: t.int(),
    weights: t.field({ type: ScoringWeightsInput }),
    tiers: t.field({ type: TierThresholdsInput }),
  }),
});

const RewardKind = builder.enumType('RewardKind', { values: ['FIXED', 'PERCENT'] as const });

const ReferralRewardInput = builder.inputType('ReferralRewardInput', {
  fields: (t) => ({
    kind: t.field({ type: RewardKind, required: true }),
    amount: t.field({ type: 'Decimal', required: true, description: 'Money (FIXED) or a percentage of the first order (PERCENT).' }),
  }),
});

const ReferralSettingsInput = builder.inputType('ReferralSettingsInput', {
  fields: (t) => ({
    reward: t.field({ type: ReferralRewardInput }),
    autoReward: t.boolean(),
    maxReferralsPerHour: t.int(),
    minMinutesToConvert: t.int({ description: '0 turns the fast-conversion signal off.' }),
  }),
});

const UpdateTenantSettingsInput = builder.inputType('UpdateTenantSettingsInput', {
  description: 'Only the given settings change. A change to stage policy or scoring bumps the rule version.',
  fields: (t) => ({
    stagePolicy: t.field({ type: StagePolicyInput }),
    scoring: t.field({ type: ScoringSettingsInput }),
    referrals: t.field({ type: ReferralSettingsInput }),
    followUpDays: t.int({ description: 'A party not contacted for this long is due a follow-up (default 30).' }),
    webhookDeliveryRetentionDays: t.int({
      description: 'Days a delivered or failed webhook delivery is kept, 1–3650 (default 30); pending ones are never removed.',
    }),
    auditLogRetentionDays: t.int({
      description: 'Days the audit log is kept: 0 keeps it forever (the default), else 180–3650.',
    }),
  }),
});

const UpdateTenantSettingsPayload = payloadType<{ tenant: TenantRow }>('UpdateTenantSettingsPayload', (t) => ({
  tenant: t.field({ type: Tenant, nullable: true, resolve: (p) => p.tenant ?? null }),
}));

function defined<T extends object>(value: T | null | undefined): { [K in keyof T]: Exclude<T[K], null> } | undefined {
  if (!value) return undefined;
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null && v !== undefined)) as never;
}

builder.mutationField('updateTenantSettings', (t) =>
  t.field({
    type: UpdateTenantSettingsPayload,
    authScopes: { admin: true },
    args: { input: t.arg({ type: UpdateTenantSettingsInput, required: true }) },
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
          followUpDays: input.followUpDays ?? undefined,
          webhookDeliveryRetentionDays: input.webhookDeliveryRetentionDays ?? undefined,
          auditLogRetentionDays: input.auditLogRetentionDays ?? undefined,
        }),
      })),
  }),
);
