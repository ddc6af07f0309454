import { sql } from 'drizzle-orm';
import { actorColumns } from '../actor';
import type { PointsSettings } from '../access/settings';
import { useTenantId, useTransaction } from '../drizzle/transaction';
import { uuidv7 } from '../ids';
import { partyLoyalty } from '../loyalty/loyalty.sql';
import type { OrderRow } from '../network/orders';
import { emitEvent } from '../webhooks';
import { addLot, expiryOf, maxEntryPoints } from './lots';
import { pointsEntries } from './points.sql';

/**
 * The points an order earns, in its own transaction (domain: member points): ⌊net amount ×
 * pointsPerUnit × the multiplier of the party's tier⌋, computed by Postgres in exact decimal, as
 * one lot pending until `pendingDays` after the order's placedAt. The tier is the party's current
 * one (its latest scoring's; none: × 1). Nothing is written when that comes to 0 points (earning
 * off, a free order); an order worth more than an entry can hold earns the most one holds.
 */
export async function earnForOrder(order: OrderRow, settings: PointsSettings, now: Date): Promise<{ id: string; points: number } | null> {
  const availableAt = new Date(order.placedAt.getTime() + settings.pendingDays * 86_400_000);
  const expiresAt = expiryOf(availableAt, settings.expiryDays);
  const multipliers = settings.tierMultipliers;
  const actor = actorColumns();
  const tenantId = useTenantId();
  const { rows } = await useTransaction().execute<{ id: string; points: number }>(sql`
    insert into ${pointsEntries} (tenant_id, id, party_id, kind, points, at, source, order_id, actor_kind, actor_id, available_at, expires_at)
    select ${tenantId}, ${uuidv7(now.getTime())}, ${order.partyId}, 'EARN', earned.points, ${now.toISOString()}::timestamptz, 'ORDER',
      ${order.id}, ${actor.actorKind}, ${actor.actorId}, ${availableAt.toISOString()}::timestamptz, ${expiresAt?.toISOString() ?? null}::timestamptz
    from (
      select least(floor(${order.amount}::numeric * ${settings.pointsPerUnit}::numeric * coalesce(case l.tier
        when 'BRONZE' then ${multipliers.bronze}::numeric when 'SILVER' then ${multipliers.silver}::numeric
        when 'GOLD' then ${multipliers.gold}::numeric when 'PLATINUM' then ${multipliers.platinum}::numeric end, 1)), ${maxEntryPoints})::int as points
      from (select 1) one
      left join ${partyLoyalty} l on l.tenant_id = ${tenantId} and l.party_id = ${order.partyId}
    ) earned
    where earned.points > 0
    returning id::text as id, points`);
  const earned = rows[0];
  if (!earned) return null;
  const entry = { id: earned.id, points: Number(earned.points) };
  await emitEvent('points.earned', {
    party: { id: order.partyId },
    order: { id: order.id },
    entry: { ...entry, availableAt: availableAt.toISOString(), expiresAt: expiresAt?.toISOString() ?? null },
  });
  return entry;
}

/**
 * A referral rewarded in points (reward policy POINTS): an EARN entry of the referrer, available
 * at once and expiring like any other (domain: member points).
 */
export async function earnForReferral(referrerId: string, referralId: string, points: number, settings: PointsSettings, now: Date): Promise<{ id: string; points: number }> {
  const entry = await addLot(
    referrerId,
    points,
    { kind: 'EARN', source: 'REFERRAL', referralId },
    { at: now, availableAt: now, expiresAt: expiryOf(now, settings.expiryDays) },
  );
  await emitEvent('points.earned', {
    party: { id: referrerId },
    referral: { id: referralId },
    entry: { id: entry.id, points, availableAt: now.toISOString(), expiresAt: entry.expiresAt?.toISOString() ?? null },
  });
  return { id: entry.id, points };
}
