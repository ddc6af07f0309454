import { sql } from 'drizzle-orm';
import { pointsSettings, type TenantSettings } from '../access/settings';
import { withActor } from '../actor';
import type { Database } from '../drizzle/client';
import { withTenant } from '../drizzle/transaction';
import { pointsBalances } from '../points/balances';
import { refundOrder } from '../network/refunds';
import { redeemPoints } from '../points/redeem';

/**
 * The demo tenant's member points: every seeded order earns as `recordOrder` would have (no tier
 * yet: × 1), with ids derived from the order's, then some members redeem part of what they can
 * spend, and a few orders are refunded. Older lots are expired by the first scoring runs (`seedDemoTenant`). Deterministic:
 * which members redeem and how much follows from the seeded data alone.
 */
export async function seedPoints(db: Database, tenantId: string, settings: TenantSettings): Promise<{ earned: number; redeemed: number; refunds: number }> {
  const points = pointsSettings(settings);
  return withActor({ kind: 'SYSTEM', tenantId, name: 'seed' }, () =>
    withTenant(db, tenantId, async (tx) => {
      const pending = `${points.pendingDays} days`;
      const expiry = points.expiryDays === 0 ? null : `${points.pendingDays + points.expiryDays} days`;
      const { rows } = await tx.execute<{ n: number }>(sql`
        with earned as (
          insert into points_entries (tenant_id, id, party_id, kind, points, at, source, order_id, actor_kind, actor_id, available_at, expires_at)
          select o.tenant_id, md5(o.id::text || ':earn')::uuid, o.party_id, 'EARN', floor(o.amount * ${points.pointsPerUnit}::numeric)::int,
            o.placed_at, 'ORDER', o.id, 'SYSTEM', 'seed', o.placed_at + ${pending}::interval,
            o.placed_at + ${expiry}::interval
          from orders o
          where o.tenant_id = ${tenantId} and floor(o.amount * ${points.pointsPerUnit}::numeric) > 0
          returning 1)
        select count(*)::int as n from earned`);
      // Every third member with at least 100 points to spend redeems a third of them.
      const { rows: members } = await tx.execute<{ id: string }>(sql`
        select distinct o.party_id::text as id from orders o where o.tenant_id = ${tenantId} order by 1`);
      // As redeemPoints sees them: now.
      const balances = await pointsBalances(members.map((m) => m.id));
      let redeemed = 0;
      for (const [index, member] of members.entries()) {
        const available = balances.get(member.id)?.available ?? 0;
        if (index % 3 !== 0 || available < 100) continue;
        await redeemPoints({ partyId: member.id, points: Math.floor(available / 3), reason: index % 2 ? 'Tea set' : 'Gift card' });
        redeemed++;
      }
      // A few refunds (退款): every 40th order of the last year, in full or a third of it.
      const { rows: refundable } = await tx.execute<{ id: string; amount: string }>(sql`
        select o.id::text as id, o.amount::text as amount from orders o
        where o.tenant_id = ${tenantId} and o.amount > 0 and o.placed_at > now() - interval '365 days'
        order by o.placed_at, o.id`);
      let refunds = 0;
      for (const [index, sold] of refundable.entries()) {
        if (index % 40 !== 7) continue;
        const third = (Math.floor((Number(sold.amount) * 100) / 3) / 100).toFixed(2);
        await refundOrder({ orderId: sold.id, amount: index % 80 === 7 ? null : third, reason: index % 80 === 7 ? 'Returned unopened' : 'Damaged in delivery' });
        refunds++;
      }
      return { earned: Number(rows[0]?.n ?? 0), redeemed, refunds };
    }),
  );
}
