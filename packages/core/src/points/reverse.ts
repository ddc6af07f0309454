import { sql } from 'drizzle-orm';
import { useTenantId, useTransaction } from '../drizzle/transaction';
import { spend } from './lots';
import { pointsEntries } from './points.sql';

/**
 * Takes back an order's points after a refund (domain: refunds): in all, ⌊earned × refunded so
 * far ÷ amount⌋ of what the order earned, so each refund writes the difference as one `REVERSE`
 * entry. Taken from the order's own lot first (even while pending), then from what the party has
 * available, earliest expiry first; what is left becomes the party's debt. The party is locked by
 * the caller. Returns the points taken back by this refund.
 */
export async function reversePointsForRefund(order: { id: string; partyId: string; amount: string }, refundedSoFar: string, now: Date): Promise<number> {
  const tenantId = useTenantId();
  const { rows } = await useTransaction().execute<{ target: number; reversed: number; lot_id: string | null }>(sql`
    select floor(coalesce(sum(e.points) filter (where e.kind = 'EARN'), 0) * ${refundedSoFar}::numeric / ${order.amount}::numeric)::int as target,
           coalesce(-sum(e.points) filter (where e.kind = 'REVERSE'), 0)::int as reversed,
           min(e.id::text) filter (where e.kind = 'EARN') as lot_id
    from ${pointsEntries} e
    where e.tenant_id = ${tenantId} and e.order_id = ${order.id}`);
  const row = rows[0];
  const owed = Number(row?.target ?? 0) - Number(row?.reversed ?? 0);
  if (owed <= 0) return 0;
  await spend(order.partyId, owed, { kind: 'REVERSE', source: 'ORDER', orderId: order.id }, now, { firstLotId: row?.lot_id ?? undefined });
  return owed;
}
