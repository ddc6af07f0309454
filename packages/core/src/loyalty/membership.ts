import { and, desc, eq, sql } from 'drizzle-orm';
import * as z from 'zod';
import { currentTenant, membershipSettings, pointsSettings, type TierBenefit } from '../access';
import { actorColumns } from '../actor';
import { recordAudit } from '../audit';
import { useTenantId, useTransaction } from '../drizzle/transaction';
import { UserError } from '../errors';
import { isUuid, uuidv7 } from '../ids';
import { requireParty } from '../network/parties';
import { decodeTimelineCursor } from '../network/orders';
import { descendingPage, encodeCursor, rowsByParty, uuidList, type PageRequest, type PartyRows } from '../pagination';
import { calendarDate, lazySchema, parseInput, todayUtc } from '../validation';
import { emitEvent } from '../webhooks';
import { tiers, type Tier } from './enums';
import { partyLoyalty, tierHistory } from './loyalty.sql';

export type TierChangeRow = typeof tierHistory.$inferSelect;

export interface Membership {
  partyId: string;
  /** The tier now: an override in force, else the latest evaluated day's; null for neither. */
  tier: Tier | null;
  /** When the tier last changed (its latest history row). */
  since: Date | null;
  /** What the latest evaluated day's value alone gives. */
  qualifyingTier: Tier | null;
  override: { tier: Tier; reason: string | null; from: string; until: string | null } | null;
  benefits: TierBenefit[];
  /** The points multiplier of the tier (× 1 without one), an exact decimal. */
  multiplier: string;
}

/** The membership of many parties now, one statement. */
export async function memberships(partyIds: readonly string[]): Promise<Map<string, Membership>> {
  const ids = partyIds.filter(isUuid);
  const result = new Map<string, Membership>();
  if (ids.length === 0) return result;
  const tenant = await currentTenant();
  const settings = membershipSettings(tenant.settings);
  const multipliers = pointsSettings(tenant.settings).tierMultipliers;
  const today = todayUtc();
  const { rows } = await useTransaction().execute<{
    party_id: string;
    tier: Tier | null;
    override_tier: Tier | null;
    override_reason: string | null;
    override_from: string | null;
    override_until: string | null;
    qualifying_tier: Tier | null;
    since: string | null;
  }>(sql`
    select l.party_id::text as party_id, l.tier::text as tier, l.override_tier::text as override_tier, l.override_reason,
      l.override_from::text as override_from, l.override_until::text as override_until,
      (select coalesce(s.qualifying_tier, s.tier)::text from loyalty_snapshots s
        where s.tenant_id = l.tenant_id and s.party_id = l.party_id order by s.as_of desc limit 1) as qualifying_tier,
      (select to_char(max(h.at) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') from tier_history h
        where h.tenant_id = l.tenant_id and h.party_id = l.party_id) as since
    from party_loyalty l
    where l.tenant_id = ${useTenantId()} and l.party_id in ${uuidList(ids)}`);
  for (const row of rows) {
    const inForce = row.override_tier !== null && row.override_from! <= today && (row.override_until === null || today <= row.override_until);
    const tier = inForce ? row.override_tier : row.tier;
    const level = tier ? (tier.toLowerCase() as Lowercase<Tier>) : null;
    result.set(row.party_id, {
      partyId: row.party_id,
      tier,
      since: row.since ? new Date(row.since) : null,
      qualifyingTier: row.qualifying_tier,
      override: row.override_tier ? { tier: row.override_tier, reason: row.override_reason, from: row.override_from!, until: row.override_until } : null,
      benefits: level ? settings.benefits[level] : [],
      multiplier: level ? multipliers[level] : '1',
    });
  }
  return result;
}

const overrideInput = lazySchema(() =>
  z.object({
    partyId: z.string(),
    tier: z.enum(tiers).nullable(),
    reason: z.string().trim().min(1, 'An override needs a reason').max(500, 'The reason is at most 500 characters'),
    until: calendarDate()
      .refine((day) => day >= todayUtc(), 'until is today or later')
      .nullish(),
  }),
);

export interface SetMembershipTierInput {
  partyId: string;
  /** The tier to hold; null clears the override. */
  tier: Tier | null;
  reason: string;
  /** The last day the override holds (inclusive); null: until cleared. */
  until?: string | null;
}

/**
 * Holds a party's tier by hand (domain: override): from today through `until` (inclusive; null:
 * until cleared) the nightly rules leave it alone, then apply from the overridden tier. `tier:
 * null` clears the override. Each is a tier history row (OVERRIDE, OVERRIDE_ENDED) and a
 * `loyalty.tier_changed` event.
 */
export async function setMembershipTier(input: SetMembershipTierInput): Promise<{ change: TierChangeRow }> {
  const data = parseInput(overrideInput(), input);
  if (!isUuid(data.partyId)) throw UserError.of('NOT_FOUND', 'No such party', 'partyId');
  const party = await requireParty(data.partyId, 'partyId', { forUpdate: true });
  if (party.mergedIntoId) throw UserError.of('CONFLICT', 'The party was merged into another', 'partyId');
  const tx = useTransaction();
  const tenantId = useTenantId();
  const before = (await memberships([party.id])).get(party.id)!;
  const today = todayUtc();
  if (data.tier === null && !before.override) throw UserError.of('CONFLICT', 'The party has no override to clear', 'tier');
  await tx
    .update(partyLoyalty)
    .set(
      data.tier === null
        ? { overrideTier: null, overrideReason: null, overrideFrom: null, overrideUntil: null }
        : { overrideTier: data.tier, overrideReason: data.reason, overrideFrom: today, overrideUntil: data.until ?? null },
    )
    .where(and(eq(partyLoyalty.tenantId, tenantId), eq(partyLoyalty.partyId, party.id)));
  const after = (await memberships([party.id])).get(party.id)!;
  const [change] = await tx
    .insert(tierHistory)
    .values({
      tenantId,
      id: uuidv7(),
      partyId: party.id,
      asOf: today,
      fromTier: before.tier,
      toTier: after.tier,
      rule: data.tier === null ? 'OVERRIDE_ENDED' : 'OVERRIDE',
      automatic: false,
      ...actorColumns(),
      reason: data.reason,
    })
    .returning();
  await recordAudit({
    operation: 'setMembershipTier',
    entityType: 'Party',
    entityIds: [party.id, change!.id],
    details: { from: before.tier, to: after.tier, until: data.until ?? null, reason: data.reason },
  });
  await emitEvent('loyalty.tier_changed', { party: { id: party.id }, from: before.tier, to: after.tier, rule: change!.rule, asOf: today });
  return { change: change! };
}

export function tierChangeCursor(row: TierChangeRow): string {
  return encodeCursor([row.at.toISOString(), row.id]);
}

/** Each party's tier history, newest first, one statement for a page of parties. */
export async function tierHistoryPages(partyIds: readonly string[], page: PageRequest): Promise<PartyRows<TierChangeRow>[]> {
  const ids = partyIds.filter(isUuid);
  if (ids.length === 0) return rowsByParty(partyIds, []);
  const { bound, direction } = descendingPage(page, sql`(h.at, h.id)`, (cursor) => {
    const { at, id } = decodeTimelineCursor(cursor);
    return sql`(${at}::timestamptz, ${id}::uuid)`;
  });
  const tenantId = useTenantId();
  const rows = await useTransaction()
    .select()
    .from(tierHistory)
    .where(
      and(
        eq(tierHistory.tenantId, tenantId),
        sql`${tierHistory.id} in (
          select id from (
            select h.id, row_number() over (partition by h.party_id order by h.at ${direction}, h.id ${direction}) as n
            from tier_history h
            where h.tenant_id = ${tenantId} and h.party_id in ${uuidList(ids)} and ${bound}
          ) ranked where n <= ${page.limit})`,
      ),
    );
  // Each party's rows in the page's order (inverted pages come back oldest first; the helper flips).
  const sign = page.inverted ? 1 : -1;
  rows.sort((a, b) => sign * (a.at.getTime() - b.at.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)));
  return rowsByParty(partyIds, rows.map((row) => [row.partyId, row] as const));
}

export async function tierHistoryCounts(partyIds: readonly string[]): Promise<Map<string, number>> {
  const ids = partyIds.filter(isUuid);
  if (ids.length === 0) return new Map();
  const { rows } = await useTransaction().execute<{ party_id: string; n: number }>(sql`
    select h.party_id::text as party_id, count(*)::int as n from tier_history h
    where h.tenant_id = ${useTenantId()} and h.party_id in ${uuidList(ids)} group by h.party_id`);
  return new Map(rows.map((row) => [row.party_id, Number(row.n)]));
}

/** The current tenant's tier history rows with these ids. */
export async function findTierChanges(ids: readonly string[]): Promise<TierChangeRow[]> {
  const valid = ids.filter(isUuid);
  if (valid.length === 0) return [];
  return useTransaction()
    .select()
    .from(tierHistory)
    .where(and(eq(tierHistory.tenantId, useTenantId()), sql`${tierHistory.id} in ${uuidList(valid)}`))
    .orderBy(desc(tierHistory.at));
}
