import { and, eq, inArray, or, sql } from 'drizzle-orm';
import { recordAudit } from '../audit';
import { useTenantId, useTransaction } from '../drizzle/transaction';
import { UserError } from '../errors';
import { isUuid } from '../ids';
import { lockReferralGraph } from '../referrals/graph';
import { transferPoints } from '../points/transfer';
import { referralCodes, referrals } from '../referrals/referrals.sql';
import { emitEvent } from '../webhooks';
import { directedRelationshipTypes, type RelationshipType } from './enums';
import { interactions } from './interactions.sql';
import { orders } from './orders.sql';
import { requireParty, type PartyRow } from './parties';
import { parties } from './parties.sql';
import { relationships } from './relationships.sql';

export interface MergePartiesInput {
  /** The party that stays: it receives the other's edges, orders, interactions and referrals. */
  keepId: string;
  /** The duplicate: archived afterwards, with `mergedIntoId = keepId`. */
  mergeId: string;
}

export interface MergeSummary {
  relationshipsMoved: number;
  /** Edges that would have duplicated one of the kept party's, or joined it to itself. */
  relationshipsDropped: number;
  orders: number;
  interactions: number;
  referralsAsReferrer: number;
  referralsAsReferee: number;
  referralCode: 'moved' | 'dropped' | null;
  /** Member points moved (unexpired lots), and open points debt moved. */
  points: number;
  pointsDebt: number;
}

/** The key that makes two edges "the same edge" (domain: a symmetric edge is stored once). */
function pairKey(type: RelationshipType, fromId: string, toId: string): string {
  if (directedRelationshipTypes.includes(type)) return `${type}:${fromId}:${toId}`;
  return fromId < toId ? `${type}:${fromId}:${toId}` : `${type}:${toId}:${fromId}`;
}

function laterOrOpen(a: string | null, b: string | null): string | null {
  if (a === null || b === null) return null;
  return a > b ? a : b;
}

function earlierKnown(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return a < b ? a : b;
}

/**
 * Merges a duplicate party into the one that stays, in the caller's transaction (all or
 * nothing: any refusal is a UserError thrown before the first write).
 *
 * Moves to the kept party: relationships (deduplicated), orders, interactions, referrals (as
 * referrer and as referee), the referral code if the kept party has none, and member points
 * (TRANSFER entries, lot by lot, and any open points debt). Stays with the
 * merged party, which is archived with `merged_into_id`: its stage history (append-only, domain)
 * and its loyalty snapshots (history of that record as it was scored).
 *
 * Refused: the same id twice (VALIDATION); an unknown id (NOT_FOUND on that field); a party
 * already merged, erased, or an archived kept party (CONFLICT); a merge that would give the kept
 * party two different referrers, or put a cycle or a self-referral in the referral graph
 * (CONFLICT; domain: one referrer per referee, nobody refers themself, the graph is acyclic).
 */
export async function mergeParties(input: MergePartiesInput): Promise<{ party: PartyRow; summary: MergeSummary }> {
  const { keepId, mergeId } = input;
  if (keepId === mergeId) throw UserError.of('VALIDATION', 'A party cannot be merged into itself', 'mergeId');
  // An id that is not even a uuid names no party (and must not reach a uuid column as text).
  if (!isUuid(keepId)) throw UserError.of('NOT_FOUND', 'No such party', 'keepId');
  if (!isUuid(mergeId)) throw UserError.of('NOT_FOUND', 'No such party', 'mergeId');
  // Locked in id order, so two merges over the same pair queue rather than deadlock.
  const locked = new Map<string, PartyRow>();
  for (const [id, field] of [
    [keepId, 'keepId'],
    [mergeId, 'mergeId'],
  ].sort(([a], [b]) => (a! < b! ? -1 : 1)) as [string, string][]) {
    locked.set(id, await requireParty(id, field, { forUpdate: true }));
  }
  const keep = locked.get(keepId)!;
  const merge = locked.get(mergeId)!;
  if (merge.mergedIntoId) throw UserError.of('CONFLICT', 'This party was already merged into another one', 'mergeId');
  if (keep.mergedIntoId) throw UserError.of('CONFLICT', 'The kept party was itself merged into another one', 'keepId');
  if (keep.erasedAt) throw UserError.of('CONFLICT', "The kept party's personal data was erased", 'keepId');
  if (merge.erasedAt) throw UserError.of('CONFLICT', "This party's personal data was erased", 'mergeId');
  // Like recordOrder: an archived party takes no new history until it is restored.
  if (keep.archivedAt) throw UserError.of('CONFLICT', 'The kept party is archived; restore it before merging into it', 'keepId');

  const tx = useTransaction();
  const tenantId = useTenantId();
  await lockReferralGraph();
  const asReferee = await tx
    .select({ id: referrals.id, referrerId: referrals.referrerId, refereeId: referrals.refereeId })
    .from(referrals)
    .where(and(eq(referrals.tenantId, tenantId), inArray(referrals.refereeId, [keepId, mergeId])));
  const keepReferral = asReferee.find((r) => r.refereeId === keepId);
  const mergeReferral = asReferee.find((r) => r.refereeId === mergeId);
  // domain: a referee has at most one referrer.
  if (keepReferral && mergeReferral && keepReferral.referrerId !== mergeReferral.referrerId) {
    throw UserError.of('CONFLICT', 'Both parties were referred, by different referrers: the merged party would have two', 'mergeId');
  }
  // domain: nobody refers themself and the referral graph stays acyclic. Merging two parties of
  // one referral chain (one is an ancestor of the other: a direct referral included) would do
  // either, so walk each party's chain of referrers up to its root.
  const { rows: related } = await tx.execute<{ start: string }>(sql`
    with recursive chain(start, party_id, depth) as (
      select r.referee_id, r.referrer_id, 1
      from ${referrals} r
      where r.tenant_id = ${tenantId} and r.referee_id in (${keepId}::uuid, ${mergeId}::uuid)
      union
      select c.start, r.referrer_id, c.depth + 1
      from chain c
      join ${referrals} r on r.tenant_id = ${tenantId} and r.referee_id = c.party_id
      where c.depth < 10000
    )
    select start::text as start from chain
    where (start = ${keepId}::uuid and party_id = ${mergeId}::uuid)
       or (start = ${mergeId}::uuid and party_id = ${keepId}::uuid)
    limit 1`);
  if (related.length > 0) {
    throw UserError.of(
      'CONFLICT',
      'One party is in the other\'s chain of referrers: merging them would make a party refer itself',
      'mergeId',
    );
  }

  // Relationships. Each of the merged party's edges gets the kept party in its place; it is
  // dropped when it would join the kept party to itself, or when the kept party already has the
  // same edge (domain: at most one edge of a type per pair), which then keeps the stronger
  // strength and the wider period.
  const mergeEdges = await tx
    .select()
    .from(relationships)
    .where(
      and(
        eq(relationships.tenantId, tenantId),
        or(eq(relationships.fromPartyId, mergeId), eq(relationships.toPartyId, mergeId)),
      ),
    )
    .for('update');
  const keepEdges = await tx
    .select()
    .from(relationships)
    .where(
      and(
        eq(relationships.tenantId, tenantId),
        or(eq(relationships.fromPartyId, keepId), eq(relationships.toPartyId, keepId)),
      ),
    )
    .for('update');
  const keepByPair = new Map(keepEdges.map((edge) => [pairKey(edge.type, edge.fromPartyId, edge.toPartyId), edge]));
  const dropped: string[] = [];
  const moved: string[] = [];
  for (const edge of mergeEdges) {
    const fromId = edge.fromPartyId === mergeId ? keepId : edge.fromPartyId;
    const toId = edge.toPartyId === mergeId ? keepId : edge.toPartyId;
    if (fromId === toId) {
      dropped.push(edge.id);
      continue;
    }
    const twin = keepByPair.get(pairKey(edge.type, fromId, toId));
    if (!twin) {
      moved.push(edge.id);
      continue;
    }
    dropped.push(edge.id);
    const strength = Math.max(twin.strength, edge.strength);
    const label = twin.label ?? edge.label;
    const since = earlierKnown(twin.since, edge.since);
    const until = laterOrOpen(twin.until, edge.until);
    if (strength !== twin.strength || label !== twin.label || since !== twin.since || until !== twin.until) {
      await tx
        .update(relationships)
        .set({ strength, label, since, until })
        .where(and(eq(relationships.tenantId, tenantId), eq(relationships.id, twin.id)));
    }
  }
  // Dropped first: a moved edge can then never meet one of them in the unique pair index.
  if (dropped.length > 0) {
    await tx.delete(relationships).where(and(eq(relationships.tenantId, tenantId), inArray(relationships.id, dropped)));
  }
  if (moved.length > 0) {
    await tx
      .update(relationships)
      .set({
        fromPartyId: sql`case when ${relationships.fromPartyId} = ${mergeId}::uuid then ${keepId}::uuid else ${relationships.fromPartyId} end`,
        toPartyId: sql`case when ${relationships.toPartyId} = ${mergeId}::uuid then ${keepId}::uuid else ${relationships.toPartyId} end`,
      })
      .where(and(eq(relationships.tenantId, tenantId), inArray(relationships.id, moved)));
  }

  const now = new Date();
  const movedOrders = await tx
    .update(orders)
    .set({ partyId: keepId })
    .where(and(eq(orders.tenantId, tenantId), eq(orders.partyId, mergeId)))
    .returning({ id: orders.id });
  const movedInteractions = await tx
    .update(interactions)
    .set({ partyId: keepId })
    .where(and(eq(interactions.tenantId, tenantId), eq(interactions.partyId, mergeId)))
    .returning({ id: interactions.id });

  // Referrals: the merged party's referees now count for the kept party (REVENUE, SUBTREE_SIZE,
  // k-factor); its own referral moves over when the kept party has none. When both were referred
  // by the same referrer the kept party's referral already says so: the merged one's stays with
  // the archived record (it may carry a paid reward, which is history, not something to delete).
  const asReferrer = await tx
    .update(referrals)
    .set({ referrerId: keepId })
    .where(and(eq(referrals.tenantId, tenantId), eq(referrals.referrerId, mergeId)))
    .returning({ id: referrals.id });
  let refereeMoved = 0;
  if (mergeReferral && !keepReferral) {
    await tx
      .update(referrals)
      .set({ refereeId: keepId })
      .where(and(eq(referrals.tenantId, tenantId), eq(referrals.id, mergeReferral.id)));
    refereeMoved = 1;
  }

  // Referral codes: one per party; the kept party's code wins, otherwise the merged one's moves
  // over so links already shared keep working.
  const codes = await tx
    .select({ partyId: referralCodes.partyId })
    .from(referralCodes)
    .where(and(eq(referralCodes.tenantId, tenantId), inArray(referralCodes.partyId, [keepId, mergeId])));
  let referralCode: MergeSummary['referralCode'] = null;
  if (codes.some((c) => c.partyId === mergeId)) {
    const ofMerged = and(eq(referralCodes.tenantId, tenantId), eq(referralCodes.partyId, mergeId));
    if (codes.some((c) => c.partyId === keepId)) {
      await tx.delete(referralCodes).where(ofMerged);
      referralCode = 'dropped';
    } else {
      await tx.update(referralCodes).set({ partyId: keepId }).where(ofMerged);
      referralCode = 'moved';
    }
  }

  // domain: a PROSPECT turns into a CUSTOMER once it has an order; the merged orders count.
  const becameCustomer = keep.kind === 'PROSPECT' && movedOrders.length > 0;
  if (becameCustomer) {
    await tx
      .update(parties)
      .set({ kind: 'CUSTOMER', updatedAt: now })
      .where(and(eq(parties.tenantId, tenantId), eq(parties.id, keepId)));
  }
  const points = await transferPoints(mergeId, keepId, now);
  // Parties merged earlier into the merged one now point at the party that stays, so
  // `mergedInto` always names a live party (one hop, never a chain).
  await tx
    .update(parties)
    .set({ mergedIntoId: keepId, updatedAt: now })
    .where(and(eq(parties.tenantId, tenantId), eq(parties.mergedIntoId, mergeId)));
  await tx
    .update(parties)
    .set({ archivedAt: merge.archivedAt ?? now, mergedIntoId: keepId, updatedAt: now })
    .where(and(eq(parties.tenantId, tenantId), eq(parties.id, mergeId)));

  const summary: MergeSummary = {
    relationshipsMoved: moved.length,
    relationshipsDropped: dropped.length,
    orders: movedOrders.length,
    interactions: movedInteractions.length,
    referralsAsReferrer: asReferrer.length,
    referralsAsReferee: refereeMoved,
    referralCode,
    points: points.points,
    pointsDebt: points.debt,
  };
  await recordAudit({
    operation: 'mergeParties',
    entityType: 'Party',
    entityIds: [keepId, mergeId],
    details: { keepId, mergeId, ...summary },
  });
  // Partners keeping a copy of the network learn which record is gone and where it went.
  await emitEvent('party.merged', { party: { id: mergeId }, mergedInto: { id: keepId } });
  if (becameCustomer) await emitEvent('party.updated', { party: { id: keepId }, changedFields: ['kind'] });
  return { party: await requireParty(keepId, 'keepId'), summary };
}
