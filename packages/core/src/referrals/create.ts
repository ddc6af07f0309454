import { and, eq } from 'drizzle-orm';
import * as z from 'zod';
import { currentTenant } from '../access';
import { recordAudit } from '../audit';
import { useTenantId, useTransaction } from '../drizzle/transaction';
import { UserError } from '../errors';
import { isUuid, uuidv7 } from '../ids';
import { orders } from '../network/orders.sql';
import { requireParty, type PartyRow } from '../network/parties';
import { relationships } from '../network/relationships.sql';
import { lazySchema, optionalText, parseInput, todayUtc } from '../validation';
import { emitEvent } from '../webhooks';
import { normaliseReferralCode } from './codes';
import { mergeSignals, ring, sameContact, velocity } from './fraud';
import { ancestorIds, lockReferralGraph } from './graph';
import type { ReferralRow } from './read';
import { referralCodes, referrals } from './referrals.sql';
import { referralSettings } from './settings';

const createReferralInput = lazySchema(() =>
  z
    .object({
      referrerId: z.string().trim().nullish(),
      referralCode: z
        .string()
        .transform(normaliseReferralCode)
        .nullish(),
      refereeId: z.string().trim(),
      channel: optionalText(50, 'Channel'),
    })
    .superRefine((input, ctx) => {
      const given = (input.referrerId ? 1 : 0) + (input.referralCode ? 1 : 0);
      if (given !== 1) {
        ctx.addIssue({
          code: 'custom',
          path: [input.referralCode ? 'referralCode' : 'referrerId'],
          message: 'Give exactly one of referrerId and referralCode',
        });
      }
      // domain: nobody can refer themself (a code naming the referee is caught once resolved).
      if (input.referrerId && input.referrerId === input.refereeId) {
        ctx.addIssue({ code: 'custom', path: ['refereeId'], message: 'A party cannot refer itself' });
      }
    }),
);

export type CreateReferralInput = z.input<ReturnType<typeof createReferralInput>>;

/** True when the party has any order (domain: it is then no new customer and cannot be referred). */
export async function refereeHasOrders(partyId: string): Promise<boolean> {
  const [row] = await useTransaction()
    .select({ id: orders.id })
    .from(orders)
    .where(and(eq(orders.tenantId, useTenantId()), eq(orders.partyId, partyId)))
    .limit(1);
  return Boolean(row);
}

/** True when the party already has a referrer (domain: at most one per referee). */
export async function hasReferrer(partyId: string): Promise<boolean> {
  const [row] = await useTransaction()
    .select({ id: referrals.id })
    .from(referrals)
    .where(and(eq(referrals.tenantId, useTenantId()), eq(referrals.refereeId, partyId)))
    .limit(1);
  return Boolean(row);
}

function assertReferable(party: PartyRow, field: string, role: string): void {
  if (party.erasedAt) throw UserError.of('CONFLICT', `The ${role}'s personal data was erased`, field);
  if (party.archivedAt) throw UserError.of('CONFLICT', `The ${role} is archived; restore it first`, field);
}

/**
 * Records that one party brought another (domain §3), with its REFERRED edge and its fraud
 * signals. Refusals, in the order they are checked: exactly one of referrerId/referralCode and no
 * self-referral (VALIDATION); unknown parties or code (NOT_FOUND); archived or erased parties,
 * a referee that already has a referrer or already has orders, and a cycle (CONFLICT).
 */
export async function createReferral(input: CreateReferralInput): Promise<ReferralRow> {
  const data = parseInput(createReferralInput(), input);
  const tx = useTransaction();
  const tenantId = useTenantId();
  const codeOwner = async (code: string) => {
    const [owner] = await tx
      .select({ partyId: referralCodes.partyId })
      .from(referralCodes)
      .where(and(eq(referralCodes.tenantId, tenantId), eq(referralCodes.code, code)));
    return owner?.partyId ?? null;
  };

  const referrerField = data.referralCode ? 'referralCode' : 'referrerId';
  const referrerId = data.referralCode ? await codeOwner(data.referralCode) : data.referrerId!;
  if (!referrerId) throw UserError.of('NOT_FOUND', 'No party has this referral code', 'referralCode');
  if (!isUuid(referrerId)) throw UserError.of('NOT_FOUND', 'No such party', 'referrerId');
  if (!isUuid(data.refereeId)) throw UserError.of('NOT_FOUND', 'No such party', 'refereeId');
  if (referrerId === data.refereeId) throw UserError.of('VALIDATION', 'A party cannot refer itself', 'refereeId');

  // Locks, always in this order: the two parties' rows in id order, then the tenant's referral
  // graph — the order mergeParties takes them in, so the two never wait for each other in a
  // circle. The referee's row lock also keeps out a first order (recordOrder locks the party)
  // between the "no orders yet" check and the insert.
  const locked = new Map<string, PartyRow>();
  for (const [id, field] of ([[referrerId, referrerField], [data.refereeId, 'refereeId']] as const)
    .slice()
    .sort(([a], [b]) => (a < b ? -1 : 1))) {
    locked.set(id, await requireParty(id, field, { forUpdate: true }));
  }
  const referrer = locked.get(referrerId)!;
  const referee = locked.get(data.refereeId)!;
  // domain: acyclic "including when referrals are written concurrently". The graph lock is held to
  // the end of the transaction and taken before any check of the graph, so the checks below see
  // every referral committed before this one and no other can be added until this one commits:
  // of A→B and B→A sent together (or B→C and D→A after A→B and C→D, which share no party),
  // the second waits, then finds the first.
  await lockReferralGraph();
  // A merge may have moved the code to another party before the graph lock was ours.
  if (data.referralCode && (await codeOwner(data.referralCode)) !== referrerId) {
    throw UserError.of('CONFLICT', 'This referral code changed hands meanwhile; try again', 'referralCode');
  }
  assertReferable(referrer, referrerField, 'referrer');
  assertReferable(referee, 'refereeId', 'referee');
  if (await hasReferrer(referee.id)) {
    throw UserError.of('CONFLICT', 'This party already has a referrer', 'refereeId');
  }
  if (await refereeHasOrders(referee.id)) {
    throw UserError.of('CONFLICT', 'This party already has orders: it is not a new customer', 'refereeId');
  }
  // The referee has no referrer, so the new edge closes a cycle exactly when the referee is an
  // ancestor of the referrer.
  if ((await ancestorIds(referrer.id)).includes(referee.id)) {
    throw UserError.of('CONFLICT', 'The referee is already up the referrer’s chain: this referral would make a cycle', 'refereeId');
  }

  const tenant = await currentTenant();
  const settings = referralSettings(tenant);
  const now = new Date();
  const signals = mergeSignals([], [
    sameContact(referrer, referee),
    await velocity(referrer.id, now, settings, null),
    await ring(referrer.id, referee.id),
  ]);
  const inserted = await tx
    .insert(referrals)
    .values({
      tenantId,
      id: uuidv7(now.getTime()),
      referrerId: referrer.id,
      refereeId: referee.id,
      code: data.referralCode ?? null,
      channel: data.channel ?? null,
      status: 'PENDING',
      fraudSignals: signals,
      createdAt: now,
    })
    // Under the lock nothing can race the check above; the unique index stays the last word.
    .onConflictDoNothing()
    .returning();
  const referral = inserted[0];
  if (!referral) throw UserError.of('CONFLICT', 'This party already has a referrer', 'refereeId');

  // domain: a referral creates its REFERRED edge (an existing one for the pair is reused).
  const edge = await tx
    .insert(relationships)
    .values({
      tenantId,
      id: uuidv7(now.getTime()),
      type: 'REFERRED',
      fromPartyId: referrer.id,
      toPartyId: referee.id,
      since: todayUtc(now),
      createdAt: now,
    })
    .onConflictDoNothing()
    .returning({ id: relationships.id });
  let edgeId = edge[0]?.id;
  if (!edgeId) {
    const [existing] = await tx
      .select({ id: relationships.id })
      .from(relationships)
      .where(
        and(
          eq(relationships.tenantId, tenantId),
          eq(relationships.type, 'REFERRED'),
          eq(relationships.fromPartyId, referrer.id),
          eq(relationships.toPartyId, referee.id),
        ),
      );
    edgeId = existing?.id;
  }
  await recordAudit({
    operation: 'createReferral',
    entityType: 'Referral',
    entityIds: [referral.id, referrer.id, referee.id],
    details: {
      relationshipId: edgeId ?? null,
      edgeReused: !edge[0],
      viaCode: Boolean(data.referralCode),
      fraudSignals: signals.map((s) => s.kind),
    },
  });
  await emitEvent('referral.created', referralEvent(referral));
  return referral;
}

/**
 * What a referral.* webhook carries: ids, status, dates and money, no personal fields (a partner
 * reads the parties by id; an erasure then has nothing of the person in the outbox to redact).
 */
export function referralEvent(row: ReferralRow): Record<string, unknown> {
  return {
    referral: {
      id: row.id,
      referrer: { id: row.referrerId },
      referee: { id: row.refereeId },
      status: row.status,
      channel: row.channel,
      createdAt: row.createdAt.toISOString(),
      convertedAt: row.convertedAt?.toISOString() ?? null,
      convertingOrder: row.convertingOrderId ? { id: row.convertingOrderId } : null,
      reward: row.rewardAmount === null ? null : { amount: row.rewardAmount, currency: row.rewardCurrency },
      rewardPoints: row.rewardPoints,
      fraudSignals: row.fraudSignals.map((signal) => signal.kind),
    },
  };
}
