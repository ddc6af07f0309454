import { eq, sql } from 'drizzle-orm';
import * as z from 'zod';
import { recordAudit } from '../audit';
import { useTenantId, useTransaction } from '../drizzle/transaction';
import { UserError } from '../errors';
import { lazySchema, parseInput } from '../validation';
import { membershipSettings, pointsSettings, retentionSettings, type TenantSettings } from './settings';
import { tenants } from './tenants.sql';

const whole = (label: string, min: number, max: number) =>
  z.number().int(`${label} is a whole number`).min(min, `${label} is ${min} to ${max}`).max(max, `${label} is ${min} to ${max}`);
/** An exact decimal written as text, 0 to `max`, at most 4 decimals (never parsed to a float for use). */
const decimal = (label: string, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d{1,6}(\.\d{1,4})?$/, `${label} is a decimal number ≥ 0 written as a string, e.g. "1.5"`)
    .refine((value) => Number(value) <= max, `${label} is at most ${max}`);
const share = lazySchema(() => z.number().min(0, 'A weight is between 0 and 1').max(1, 'A weight is between 0 and 1'));

const settingsInput = lazySchema(() =>
  z.object({
    stagePolicy: z
      .object({
        loyalAfter: whole('loyalAfter', 2, 5).optional(),
        dormantAfterDays: whole('dormantAfterDays', 1, 3650).optional(),
        churnedAfterDays: whole('churnedAfterDays', 2, 3650).optional(),
      })
      .optional(),
    scoring: z
      .object({
        windowDays: whole('windowDays', 30, 1095).optional(),
        weights: z
          .object({
            recency: share(),
            frequency: share(),
            monetary: share(),
            satisfaction: share(),
            referrals: share(),
            engagement: share(),
          })
          .optional(),
        tiers: z
          .object({ platinum: whole('platinum', 1, 100), gold: whole('gold', 1, 100), silver: whole('silver', 1, 100) })
          .optional(),
      })
      .optional(),
    referrals: z
      .object({
        reward: z
          .object({
            kind: z.enum(['FIXED', 'PERCENT', 'POINTS']),
            amount: z.string().regex(/^\d{1,12}(\.\d{1,4})?$/, 'Amount is a decimal number ≥ 0, e.g. "20.00"'),
          })
          .optional(),
        autoReward: z.boolean().optional(),
        maxReferralsPerHour: whole('maxReferralsPerHour', 1, 10_000).optional(),
        minMinutesToConvert: whole('minMinutesToConvert', 0, 100_000).optional(),
      })
      .optional(),
    points: z
      .object({
        pointsPerUnit: decimal('pointsPerUnit', 1000).optional(),
        pendingDays: whole('pendingDays', 0, 365).optional(),
        expiryDays: z
          .number()
          .int('expiryDays is a whole number')
          .refine((days) => days >= 0 && days <= 3650, 'expiryDays is 0 (never) or 1 to 3650')
          .optional(),
        tierMultipliers: z
          .object({
            bronze: decimal('bronze', 10).optional(),
            silver: decimal('silver', 10).optional(),
            gold: decimal('gold', 10).optional(),
            platinum: decimal('platinum', 10).optional(),
          })
          .optional(),
      })
      .optional(),
    membership: z
      .object({
        basis: z.enum(['SCORE', 'SPEND', 'POINTS']).optional(),
        thresholds: z
          .object({ silver: decimal('silver', 1e12), gold: decimal('gold', 1e12), platinum: decimal('platinum', 1e12) })
          .optional(),
        downgradeGraceDays: whole('downgradeGraceDays', 0, 365).optional(),
        benefits: z
          .object(
            Object.fromEntries(
              (['bronze', 'silver', 'gold', 'platinum'] as const).map((level) => [
                level,
                z
                  .array(
                    z.object({
                      code: z.string().trim().min(1, 'A benefit has a code').max(50, 'A benefit code is at most 50 characters'),
                      description: z.string().trim().min(1, 'A benefit has a description').max(500, 'A benefit description is at most 500 characters'),
                    }),
                  )
                  .max(20, 'At most 20 benefits a tier')
                  .optional(),
              ]),
            ) as Record<'bronze' | 'silver' | 'gold' | 'platinum', z.ZodOptional<z.ZodArray<z.ZodObject<{ code: z.ZodString; description: z.ZodString }>>>>,
          )
          .optional(),
      })
      .optional(),
    followUpDays: whole('followUpDays', 1, 365).optional(),
    webhookDeliveryRetentionDays: whole('webhookDeliveryRetentionDays', 1, 3650).optional(),
    auditLogRetentionDays: z
      .number()
      .int('auditLogRetentionDays is a whole number')
      .refine((days) => days === 0 || (days >= 180 && days <= 3650), 'auditLogRetentionDays is 0 (keep forever) or 180 to 3650')
      .optional(),
  }),
);

export type TenantSettingsInput = z.input<ReturnType<typeof settingsInput>>;

/** Sums weights in millionths, so 0.1 + 0.2 + … is compared exactly, not in floating point. */
function weightsSumToOne(weights: TenantSettings['scoring']['weights']): boolean {
  return Object.values(weights).reduce((sum, weight) => sum + Math.round(weight * 1_000_000), 0) === 1_000_000;
}

/**
 * Equal as JSON documents, whatever the order of their keys: the stored settings come back from
 * jsonb with its own key order (shortest first), never the order they were written in.
 */
function sameJson(a: unknown, b: unknown): boolean {
  const canonical = (value: unknown): unknown =>
    value && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value).sort(([x], [y]) => (x < y ? -1 : 1)).map(([k, v]) => [k, canonical(v)]))
      : value;
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

/** The settings given: a key present but undefined (not sent) keeps the current value, not erases it. */
function given<T extends object>(value: T | undefined): Partial<T> {
  return Object.fromEntries(Object.entries(value ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Changes some of the tenant's settings, validated as a whole (e.g. dormant < churned, weights
 * summing to 1). A change to the stage policy or the scoring rules bumps the rule version, so
 * every snapshot and automatic move says which rules produced it.
 */
export async function updateTenantSettings(input: TenantSettingsInput) {
  const data = parseInput(settingsInput(), input);
  const tx = useTransaction();
  const [tenant] = await tx.select().from(tenants).where(eq(tenants.id, useTenantId())).for('update');
  if (!tenant) throw new Error('The current tenant does not exist');
  const current = tenant.settings;
  const retention = retentionSettings(current);
  const next: TenantSettings = {
    stagePolicy: { ...current.stagePolicy, ...given(data.stagePolicy) },
    scoring: {
      windowDays: data.scoring?.windowDays ?? current.scoring.windowDays,
      weights: data.scoring?.weights ?? current.scoring.weights,
      tiers: data.scoring?.tiers ?? current.scoring.tiers,
    },
    referrals: { ...current.referrals, ...given(data.referrals) },
    points: {
      ...pointsSettings(current),
      ...given({ ...data.points, tierMultipliers: undefined }),
      tierMultipliers: { ...pointsSettings(current).tierMultipliers, ...given(data.points?.tierMultipliers) },
    },
    membership: {
      ...membershipSettings(current),
      ...given({ ...data.membership, thresholds: undefined, benefits: undefined }),
      thresholds: data.membership?.thresholds ?? membershipSettings(current).thresholds,
      benefits: { ...membershipSettings(current).benefits, ...given(data.membership?.benefits) },
    },
    followUpDays: data.followUpDays ?? current.followUpDays,
    webhookDeliveryRetentionDays: data.webhookDeliveryRetentionDays ?? retention.webhookDeliveryRetentionDays,
    auditLogRetentionDays: data.auditLogRetentionDays ?? retention.auditLogRetentionDays,
  };
  const problems: { field: string[]; message: string }[] = [];
  if (next.stagePolicy.dormantAfterDays >= next.stagePolicy.churnedAfterDays) {
    problems.push({ field: ['input', 'stagePolicy', 'churnedAfterDays'], message: 'churnedAfterDays must be greater than dormantAfterDays' });
  }
  if (!weightsSumToOne(next.scoring.weights)) {
    problems.push({ field: ['input', 'scoring', 'weights'], message: 'The scoring weights must sum to 1' });
  }
  const { platinum, gold, silver } = next.scoring.tiers;
  if (!(platinum > gold && gold > silver)) {
    problems.push({ field: ['input', 'scoring', 'tiers'], message: 'Tier thresholds must satisfy platinum > gold > silver' });
  }
  const levels = next.membership!.thresholds;
  if (!(Number(levels.platinum) > Number(levels.gold) && Number(levels.gold) > Number(levels.silver))) {
    problems.push({ field: ['input', 'membership', 'thresholds'], message: 'Tier thresholds must satisfy platinum > gold > silver' });
  }
  if (next.referrals.reward.kind === 'POINTS' && !/^[1-9]\d{0,8}$/.test(next.referrals.reward.amount)) {
    problems.push({ field: ['input', 'referrals', 'reward', 'amount'], message: 'A points reward is a whole number of points, 1 to 999999999' });
  }
  if (next.referrals.reward.kind === 'PERCENT' && Number(next.referrals.reward.amount) > 100) {
    problems.push({ field: ['input', 'referrals', 'reward', 'amount'], message: 'A percentage reward is at most 100' });
  }
  if (problems.length) throw new UserError(problems.map((p) => ({ code: 'VALIDATION' as const, ...p })));

  const rulesChanged =
    !sameJson(next.stagePolicy, current.stagePolicy) ||
    !sameJson(next.scoring, current.scoring) ||
    !sameJson({ ...next.membership, benefits: null }, { ...membershipSettings(current), benefits: null });
  const [updated] = await tx
    .update(tenants)
    .set({ settings: next, ruleVersion: rulesChanged ? sql`${tenants.ruleVersion} + 1` : tenant.ruleVersion })
    .where(eq(tenants.id, tenant.id))
    .returning();
  await recordAudit({
    operation: 'updateTenantSettings',
    entityType: 'Tenant',
    entityIds: [tenant.id],
    details: { changed: Object.keys(data), ruleVersion: updated!.ruleVersion },
  });
  return updated!;
}
