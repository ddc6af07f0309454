import { and, eq, sql } from 'drizzle-orm';
import * as z from 'zod';
import { currentTenant, pointsSettings, type TenantRow } from '../access';
import { recordAudit } from '../audit';
import { useTenantId, useTransaction } from '../drizzle/transaction';
import { UserError } from '../errors';
import { minorUnitDigits } from '../money';
import { orders } from '../network/orders.sql';
import { earnForReferral } from '../points/earn';
import { lazySchema, parseInput } from '../validation';
import { emitEvent } from '../webhooks';
import { referralEvent } from './create';
import { signalsAtConversion } from './fraud';
import { requireReferral, type ReferralRow } from './read';
import { referrals } from './referrals.sql';
import { referralSettings, type ReferralSettings } from './settings';

/** A reward: money in the tenant's currency, or member points (policy POINTS). */
type Reward = { money: string } | { points: number };

/**
 * The reward of a referral under the tenant's policy: POINTS is that many member points; in money,
 * as exact text in the tenant's currency, FIXED is the amount itself, PERCENT is that percentage
 * of the converting order's amount. Both are computed in SQL numeric and rounded to the currency's
 * minor units (CNY: 2) — half away from zero, as numeric `round` does. Null when a PERCENT reward
 * has no converting order to apply to.
 */
async function rewardFor(referral: ReferralRow, tenant: TenantRow, settings: ReferralSettings): Promise<Reward | null> {
  const { kind, amount } = settings.reward;
  if (kind === 'POINTS' && typeof amount === 'string' && /^[1-9]\d{0,8}$/.test(amount)) return { points: Number(amount) };
  if (typeof amount !== 'string' || !/^\d{1,15}(\.\d{1,10})?$/.test(amount) || (kind !== 'FIXED' && kind !== 'PERCENT')) {
    throw UserError.of('CONFLICT', "The tenant's reward policy is not a valid amount or percentage", []);
  }
  const digits = minorUnitDigits(tenant.currency);
  if (kind === 'FIXED') {
    const { rows } = await useTransaction().execute<{ reward: string }>(
      sql`select round(${amount}::numeric, ${digits}::int)::text as reward`,
    );
    return { money: rows[0]!.reward };
  }
  if (!referral.convertingOrderId) return null;
  const { rows } = await useTransaction().execute<{ reward: string }>(sql`
    select round(o.amount * ${amount}::numeric / 100, ${digits}::int)::text as reward
    from ${orders} o where o.tenant_id = ${useTenantId()} and o.id = ${referral.convertingOrderId}::uuid`);
  return rows[0] ? { money: rows[0].reward } : null;
}

async function applyReward(referral: ReferralRow, reward: Reward, tenant: TenantRow, automatic: boolean): Promise<ReferralRow> {
  const now = new Date();
  const [row] = await useTransaction()
    .update(referrals)
    .set({
      status: 'REWARDED',
      rewardedAt: now,
      ...('money' in reward ? { rewardAmount: reward.money, rewardCurrency: tenant.currency } : { rewardPoints: reward.points }),
    })
    .where(and(eq(referrals.tenantId, useTenantId()), eq(referrals.id, referral.id)))
    .returning();
  // domain (member points): a points reward is an EARN entry of the referrer, available at once.
  if ('points' in reward) await earnForReferral(referral.referrerId, referral.id, reward.points, pointsSettings(tenant.settings), now);
  await recordAudit({
    operation: 'rewardReferral',
    entityType: 'Referral',
    entityIds: [referral.id, referral.referrerId],
    details: { ...('money' in reward ? { amount: reward.money, currency: tenant.currency } : { points: reward.points }), automatic },
  });
  await emitEvent('referral.rewarded', { ...referralEvent(row!), automatic });
  return row!;
}

function statusConflict(referral: ReferralRow, wanted: string): UserError {
  return UserError.of('CONFLICT', `${wanted}; this referral is ${referral.status}`, 'id');
}

/** The referee's first order placed at or after the referral was made (domain: the converting order). */
async function firstEligibleOrder(referral: ReferralRow): Promise<{ id: string; placedAt: Date } | null> {
  const [order] = await useTransaction()
    .select({ id: orders.id, placedAt: orders.placedAt })
    .from(orders)
    .where(
      and(
        eq(orders.tenantId, useTenantId()),
        eq(orders.partyId, referral.refereeId),
        sql`${orders.placedAt} >= ${referral.createdAt.toISOString()}::timestamptz`,
      ),
    )
    .orderBy(orders.placedAt, orders.id)
    .limit(1);
  return order ?? null;
}

async function markConverted(
  referral: ReferralRow,
  convertedAt: Date,
  orderId: string | null,
  settings: ReferralSettings,
  automatic: boolean,
): Promise<ReferralRow> {
  const signals = await signalsAtConversion(referral, convertedAt, settings);
  const [row] = await useTransaction()
    .update(referrals)
    .set({ status: 'CONVERTED', convertedAt, convertingOrderId: orderId, fraudSignals: signals })
    .where(and(eq(referrals.tenantId, useTenantId()), eq(referrals.id, referral.id)))
    .returning();
  await recordAudit({
    operation: 'convertReferral',
    entityType: 'Referral',
    entityIds: [referral.id, referral.refereeId, ...(orderId ? [orderId] : [])],
    details: { automatic, orderId, fraudSignals: signals.map((s) => s.kind) },
  });
  await emitEvent('referral.converted', { ...referralEvent(row!), automatic });
  return row!;
}

/**
 * Manual PENDING → CONVERTED (for conversions the order hook did not see, e.g. orders recorded
 * before the referral system). The referee's first order at or after the referral's creation is
 * the converting order and its placedAt the conversion time (domain); without one, now. Manual
 * handling stays manual: the reward is then given with `rewardReferral` (autoReward applies to
 * the automatic conversion by an order).
 */
export async function convertReferral(id: string): Promise<ReferralRow> {
  const referral = await requireReferral(id);
  if (referral.status !== 'PENDING') throw statusConflict(referral, 'Only a PENDING referral can be converted');
  const settings = referralSettings(await currentTenant());
  const order = await firstEligibleOrder(referral);
  return markConverted(referral, order?.placedAt ?? new Date(), order?.id ?? null, settings, false);
}

const rejectInput = lazySchema(() =>
  z.object({
    reason: z
      .string({ message: 'A reason is required' })
      .trim()
      .min(1, 'A reason is required')
      .max(500, 'Reason is at most 500 characters'),
  }),
);

/**
 * PENDING or CONVERTED → REJECTED with a reason (domain: how a referral that will not be rewarded
 * ends). A REWARDED referral has been paid and cannot be rejected. The table's status/date rule
 * keeps `convertedAt` only on CONVERTED and REWARDED rows, so a rejected conversion loses it; the
 * converting order stays, and the audit entry keeps the conversion time.
 */
export async function rejectReferral(id: string, input: { reason?: string | null }): Promise<ReferralRow> {
  const data = parseInput(rejectInput(), { reason: input.reason ?? undefined });
  const referral = await requireReferral(id);
  if (referral.status !== 'PENDING' && referral.status !== 'CONVERTED') {
    throw statusConflict(referral, 'Only a PENDING or CONVERTED referral can be rejected');
  }
  const [row] = await useTransaction()
    .update(referrals)
    .set({ status: 'REJECTED', rejectedAt: new Date(), rejectedReason: data.reason, convertedAt: null })
    .where(and(eq(referrals.tenantId, useTenantId()), eq(referrals.id, referral.id)))
    .returning();
  await recordAudit({
    operation: 'rejectReferral',
    entityType: 'Referral',
    entityIds: [referral.id],
    details: { from: referral.status, reason: data.reason, convertedAt: referral.convertedAt?.toISOString() ?? null },
  });
  return row!;
}

/** CONVERTED → REWARDED with the policy's reward, flagged or not (a person decided). */
export async function rewardReferral(id: string): Promise<ReferralRow> {
  const referral = await requireReferral(id);
  if (referral.status !== 'CONVERTED') throw statusConflict(referral, 'Only a CONVERTED referral can be rewarded');
  const tenant = await currentTenant();
  const reward = await rewardFor(referral, tenant, referralSettings(tenant));
  if (reward === null) {
    throw UserError.of('CONFLICT', 'The reward is a percentage of the first order, and this conversion has no order', 'id');
  }
  return applyReward(referral, reward, tenant, false);
}

/**
 * The order hook (domain: "the referee's first order converts the referral automatically, in the
 * same transaction"). Call it from recordOrder right after the order row is inserted. When the
 * order's party is the referee of a PENDING referral created at or before `placedAt`, and no
 * other order of that party placed since the referral comes before this one, the referral
 * converts with this order (convertedAt = placedAt), its fraud signals are computed again, and a
 * clean conversion is rewarded at once under `autoReward`; a flagged one waits for a person.
 * Returns the converted (or rewarded) referral, or null when the order converted nothing.
 */
export async function convertReferralForOrder(order: {
  id: string;
  partyId: string;
  amount: string;
  placedAt: Date;
}): Promise<ReferralRow | null> {
  const tx = useTransaction();
  const tenantId = useTenantId();
  const [referral] = await tx
    .select()
    .from(referrals)
    .where(
      and(
        eq(referrals.tenantId, tenantId),
        eq(referrals.refereeId, order.partyId),
        eq(referrals.status, 'PENDING'),
        sql`${referrals.createdAt} <= ${order.placedAt.toISOString()}::timestamptz`,
      ),
    )
    .for('update');
  if (!referral) return null;
  const placedAt = order.placedAt.toISOString();
  const [earlier] = await tx
    .select({ id: orders.id })
    .from(orders)
    .where(
      and(
        eq(orders.tenantId, tenantId),
        eq(orders.partyId, order.partyId),
        sql`${orders.id} <> ${order.id}::uuid`,
        sql`${orders.placedAt} >= ${referral.createdAt.toISOString()}::timestamptz`,
        sql`(${orders.placedAt}, ${orders.id}) < (${placedAt}::timestamptz, ${order.id}::uuid)`,
      ),
    )
    .limit(1);
  if (earlier) return null;
  const tenant = await currentTenant();
  const settings = referralSettings(tenant);
  const converted = await markConverted(referral, order.placedAt, order.id, settings, true);
  if (!settings.autoReward || converted.fraudSignals.length > 0) return converted;
  const reward = await rewardFor(converted, tenant, settings);
  return reward === null ? converted : applyReward(converted, reward, tenant, true);
}

/**
 * What a full refund of a referral's converting order does to it (domain: refunds): a CONVERTED
 * referral, not yet rewarded, is rejected ("converting order refunded"); a REWARDED one keeps its
 * reward and gets the fraud signal REFUNDED_AFTER_REWARD, for a person to look at (no automatic
 * claw-back). Returns the referral changed, or null when the order converted none.
 */
export async function onConvertingOrderRefunded(orderId: string, refundId: string): Promise<ReferralRow | null> {
  const [referral] = await useTransaction()
    .select()
    .from(referrals)
    .where(and(eq(referrals.tenantId, useTenantId()), eq(referrals.convertingOrderId, orderId)))
    .for('update');
  if (!referral) return null;
  if (referral.status === 'CONVERTED') return rejectReferral(referral.id, { reason: 'converting order refunded' });
  if (referral.status !== 'REWARDED' || referral.fraudSignals.some((signal) => signal.kind === 'REFUNDED_AFTER_REWARD')) return null;
  const signals = [...referral.fraudSignals, { kind: 'REFUNDED_AFTER_REWARD' as const, evidence: { orderId, refundId } }];
  const [row] = await useTransaction()
    .update(referrals)
    .set({ fraudSignals: signals })
    .where(and(eq(referrals.tenantId, useTenantId()), eq(referrals.id, referral.id)))
    .returning();
  await recordAudit({
    operation: 'flagReferral',
    entityType: 'Referral',
    entityIds: [referral.id, orderId],
    details: { fraudSignal: 'REFUNDED_AFTER_REWARD', refundId },
  });
  return row!;
}
