import { and, eq, sql } from 'drizzle-orm';
import * as z from 'zod';
import { actorColumns } from '../actor';
import { currentTenant } from '../access';
import { recordAudit } from '../audit';
import { useTenantId, useTransaction } from '../drizzle/transaction';
import { UserError } from '../errors';
import { isUuid, uuidv7 } from '../ids';
import { reversePointsForRefund } from '../points/reverse';
import { onConvertingOrderRefunded } from '../referrals/lifecycle';
import type { ReferralRow } from '../referrals/read';
import { uuidList } from '../pagination';
import { lazySchema, optionalText, parseInput } from '../validation';
import { emitEvent } from '../webhooks';
import { amountProblem, type OrderRow } from './orders';
import { orders } from './orders.sql';
import { requireParty } from './parties';
import { orderRefunds } from './refunds.sql';

export type OrderRefundRow = typeof orderRefunds.$inferSelect;

const refundInput = lazySchema(() =>
  z.object({
    orderId: z.string(),
    amount: z.string().trim().nullish(),
    reason: optionalText(500, 'The reason'),
  }),
);

export interface RefundOrderInput {
  orderId: string;
  /** An exact decimal as text; omitted: what is left of the order. */
  amount?: string | null;
  reason?: string | null;
}

export interface RefundOrderResult {
  order: OrderRow;
  refund: OrderRefundRow;
  /** Points this refund took back (domain: ⌊earned × refunded ÷ amount⌋ in all). */
  reversedPoints: number;
  /** The referral the order converted, when the refund changed it (rejected or flagged). */
  referral: ReferralRow | null;
}

/**
 * Refunds part or all of an order (domain: refunds): a refund row of its own (the order keeps its
 * amount), the order's points taken back in proportion, and a full refund of a referral's
 * converting order rejects or flags that referral. Refunds never exceed the order (VALIDATION).
 * The order's party is locked: two refunds of one order cannot both take the last of it.
 */
export async function refundOrder(input: RefundOrderInput): Promise<RefundOrderResult> {
  const data = parseInput(refundInput(), input);
  if (!isUuid(data.orderId)) throw UserError.of('NOT_FOUND', 'No such order', 'orderId');
  const tx = useTransaction();
  const tenantId = useTenantId();
  const [found] = await tx.select().from(orders).where(and(eq(orders.tenantId, tenantId), eq(orders.id, data.orderId)));
  if (!found) throw UserError.of('NOT_FOUND', 'No such order', 'orderId');
  await requireParty(found.partyId, 'orderId', { forUpdate: true });
  // Read again under the lock: a merge may have moved the order meanwhile.
  const [order] = await tx.select().from(orders).where(and(eq(orders.tenantId, tenantId), eq(orders.id, data.orderId))).for('update');
  const tenant = await currentTenant();
  const { rows: sums } = await tx.execute<{ refunded: string; left: string }>(sql`
    select coalesce(sum(f.amount), 0)::text as refunded, (${order!.amount}::numeric - coalesce(sum(f.amount), 0))::text as left
    from ${orderRefunds} f where f.tenant_id = ${tenantId} and f.order_id = ${order!.id}`);
  const left = sums[0]!.left;
  if (Number(left) <= 0) throw UserError.of('VALIDATION', 'The order is already fully refunded', 'orderId');
  const amount = data.amount ?? left;
  const problem = amountProblem(amount, tenant.currency);
  if (problem) throw UserError.of('VALIDATION', problem, 'amount');
  const { rows: checks } = await tx.execute<{ positive: boolean; fits: boolean; full: boolean; refunded: string }>(sql`
    select ${amount}::numeric > 0 as positive, ${amount}::numeric <= ${left}::numeric as fits,
      ${amount}::numeric = ${left}::numeric as full, (${sums[0]!.refunded}::numeric + ${amount}::numeric)::text as refunded`);
  const check = checks[0]!;
  if (!check.positive) throw UserError.of('VALIDATION', 'A refund is more than 0', 'amount');
  if (!check.fits) throw UserError.of('VALIDATION', `The refunds of an order never exceed it: ${left} is left to refund`, 'amount');
  const now = new Date();
  const [refund] = await tx
    .insert(orderRefunds)
    .values({ tenantId, id: uuidv7(now.getTime()), orderId: order!.id, amount, currency: order!.currency, reason: data.reason ?? null, ...actorColumns(), createdAt: now })
    .returning();
  const reversedPoints = await reversePointsForRefund(order!, check.refunded, now);
  const referral = check.full ? await onConvertingOrderRefunded(order!.id, refund!.id) : null;
  await recordAudit({
    operation: 'refundOrder',
    entityType: 'Order',
    entityIds: [order!.id, order!.partyId, refund!.id],
    details: { amount, refunded: check.refunded, full: check.full, reversedPoints, ...(referral ? { referral: referral.id, referralStatus: referral.status } : {}) },
  });
  await emitEvent('order.refunded', {
    order: { id: order!.id },
    party: { id: order!.partyId },
    refund: { id: refund!.id, amount: { amount, currency: order!.currency } },
    refunded: { amount: check.refunded, currency: order!.currency },
    full: check.full,
    reversedPoints,
    ...(referral ? { referral: { id: referral.id, status: referral.status } } : {}),
  });
  return { order: order!, refund: refund!, reversedPoints, referral };
}

/** What has been refunded of each of these orders, and what is left (net), as exact decimals. */
export async function refundTotals(orderIds: readonly string[]): Promise<Map<string, { refunded: string; net: string; currency: string }>> {
  const ids = orderIds.filter(isUuid);
  const result = new Map<string, { refunded: string; net: string; currency: string }>();
  if (ids.length === 0) return result;
  const { rows } = await useTransaction().execute<{ id: string; refunded: string; net: string; currency: string }>(sql`
    select o.id::text as id, coalesce(f.refunded, 0)::text as refunded, (o.amount - coalesce(f.refunded, 0))::text as net, o.currency::text as currency
    from ${orders} o
    left join (
      select order_id, sum(amount) as refunded from ${orderRefunds}
      where tenant_id = ${useTenantId()} and order_id in ${uuidList(ids)}
      group by order_id
    ) f on f.order_id = o.id
    where o.tenant_id = ${useTenantId()} and o.id in ${uuidList(ids)}`);
  for (const row of rows) result.set(row.id, { refunded: row.refunded, net: row.net, currency: row.currency });
  return result;
}

/** The refunds of each of these orders, oldest first. */
export async function refundsOfOrders(orderIds: readonly string[]): Promise<Map<string, OrderRefundRow[]>> {
  const ids = orderIds.filter(isUuid);
  const result = new Map<string, OrderRefundRow[]>(orderIds.map((id) => [id, []]));
  if (ids.length === 0) return result;
  const rows = await useTransaction()
    .select()
    .from(orderRefunds)
    .where(and(eq(orderRefunds.tenantId, useTenantId()), sql`${orderRefunds.orderId} in ${uuidList(ids)}`))
    .orderBy(orderRefunds.createdAt, orderRefunds.id);
  for (const row of rows) result.get(row.orderId)?.push(row);
  return result;
}

/** The current tenant's refunds with these ids (unknown ids are left out). */
export async function findRefunds(ids: readonly string[]): Promise<OrderRefundRow[]> {
  const valid = ids.filter(isUuid);
  if (valid.length === 0) return [];
  return useTransaction()
    .select()
    .from(orderRefunds)
    .where(and(eq(orderRefunds.tenantId, useTenantId()), sql`${orderRefunds.id} in ${uuidList(valid)}`));
}
