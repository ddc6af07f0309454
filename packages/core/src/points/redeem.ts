import { and, eq, sql } from 'drizzle-orm';
import * as z from 'zod';
import { currentTenant, pointsSettings } from '../access';
import { recordAudit } from '../audit';
import { useTenantId, useTransaction } from '../drizzle/transaction';
import { UserError } from '../errors';
import { isUuid } from '../ids';
import { requireParty } from '../network/parties';
import { lazySchema, optionalText, parseInput } from '../validation';
import { emitEvent } from '../webhooks';
import { addLot, expiryOf, maxEntryPoints, spend, spendable, type PointsEntryRow } from './lots';
import { pointsEntries, type PointsEntryKind } from './points.sql';

const points = (label: string) =>
  z
    .number()
    .int(`${label} is a whole number`)
    .refine((value) => Math.abs(value) <= maxEntryPoints, `${label} is at most ${maxEntryPoints.toLocaleString('en-US')}`);

const idempotencyKey = () => optionalText(200, 'The idempotency key');

const redeemInput = lazySchema(() =>
  z.object({
    partyId: z.string(),
    points: points('Points').refine((value) => value > 0, 'Points to redeem are more than 0'),
    reason: optionalText(500, 'The reason'),
    idempotencyKey: idempotencyKey(),
  }),
);

const adjustInput = lazySchema(() =>
  z.object({
    partyId: z.string(),
    points: points('Points').refine((value) => value !== 0, 'An adjustment is not 0 points'),
    reason: z.string().trim().min(1, 'An adjustment needs a reason').max(500, 'The reason is at most 500 characters'),
    idempotencyKey: idempotencyKey(),
  }),
);

export interface PointsRequest {
  partyId: string;
  points: number;
  reason?: string | null;
  idempotencyKey?: string | null;
}

export interface PointsWrite {
  entry: PointsEntryRow;
  /** False when an earlier request with the same idempotency key had already written the entry. */
  written: boolean;
}

/**
 * The entry an earlier request with this idempotency key wrote, when it asked for the same thing
 * (a retry: answered with it, nothing written); another request's key is a CONFLICT. Requests
 * with one key wait for each other (a transaction lock on the key), so two of them never both
 * write.
 */
async function earlierRequest(key: string, request: { partyId: string; kind: PointsEntryKind; points: number; reason: string | null }): Promise<PointsEntryRow | null> {
  const tx = useTransaction();
  const tenantId = useTenantId();
  await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`points:${tenantId}:${key}`}, 0))`);
  const [earlier] = await tx
    .select()
    .from(pointsEntries)
    .where(and(eq(pointsEntries.tenantId, tenantId), eq(pointsEntries.idempotencyKey, key)));
  if (!earlier) return null;
  const same =
    earlier.partyId === request.partyId && earlier.kind === request.kind && earlier.points === request.points && (earlier.reason ?? null) === request.reason;
  if (!same) throw UserError.of('CONFLICT', 'This idempotency key was already used for a different request', 'idempotencyKey');
  return earlier;
}

/** The party that points are written for, locked: one writer of its ledger at a time. */
async function lockedParty(partyId: string) {
  if (!isUuid(partyId)) throw UserError.of('NOT_FOUND', 'No such party', 'partyId');
  const party = await requireParty(partyId, 'partyId', { forUpdate: true });
  if (party.mergedIntoId) throw UserError.of('CONFLICT', 'The party was merged into another; its points moved there', 'partyId');
  if (party.erasedAt) throw UserError.of('CONFLICT', "This party's personal data was erased", 'partyId');
  return party;
}

/**
 * Spends a party's available points (domain: member points): 0 < points ≤ available, else
 * CONFLICT and nothing written. Concurrent redemptions of one party wait for each other, so
 * available never goes below 0.
 */
export async function redeemPoints(input: PointsRequest): Promise<PointsWrite> {
  const data = parseInput(redeemInput(), input);
  const reason = data.reason ?? null;
  if (data.idempotencyKey) {
    const earlier = await earlierRequest(data.idempotencyKey, { partyId: data.partyId, kind: 'REDEEM', points: -data.points, reason });
    if (earlier) return { entry: earlier, written: false };
  }
  const party = await lockedParty(data.partyId);
  const now = new Date();
  const available = await spendable(party.id, now);
  if (data.points > available) {
    throw UserError.of('CONFLICT', `Only ${Math.max(available, 0)} points are available to redeem`, 'points');
  }
  const entry = await spend(party.id, data.points, { kind: 'REDEEM', source: 'MANUAL', reason, idempotencyKey: data.idempotencyKey ?? null }, now);
  await recordAudit({ operation: 'redeemPoints', entityType: 'PointsEntry', entityIds: [entry.id, party.id], details: { points: data.points } });
  await emitEvent('points.redeemed', { party: { id: party.id }, entry: { id: entry.id, points: entry.points, reason } });
  return { entry, written: true };
}

/**
 * A manual correction (domain: `ADJUST`, signed, reason required). Positive points are a lot
 * available at once, expiring like any other; negative ones are spent like a redemption, and
 * beyond what is available they are a CONFLICT.
 */
export async function adjustPoints(input: PointsRequest): Promise<PointsWrite> {
  const data = parseInput(adjustInput(), input);
  if (data.idempotencyKey) {
    const earlier = await earlierRequest(data.idempotencyKey, { partyId: data.partyId, kind: 'ADJUST', points: data.points, reason: data.reason });
    if (earlier) return { entry: earlier, written: false };
  }
  const party = await lockedParty(data.partyId);
  const now = new Date();
  const fields = { kind: 'ADJUST' as const, source: 'MANUAL' as const, reason: data.reason, idempotencyKey: data.idempotencyKey ?? null };
  let entry: PointsEntryRow;
  if (data.points > 0) {
    const settings = pointsSettings((await currentTenant()).settings);
    entry = await addLot(party.id, data.points, fields, { at: now, availableAt: now, expiresAt: expiryOf(now, settings.expiryDays) });
  } else {
    const available = await spendable(party.id, now);
    if (-data.points > available) {
      throw UserError.of('CONFLICT', `Only ${Math.max(available, 0)} points are available to take away`, 'points');
    }
    entry = await spend(party.id, -data.points, fields, now);
  }
  await recordAudit({ operation: 'adjustPoints', entityType: 'PointsEntry', entityIds: [entry.id, party.id], details: { points: data.points, reason: data.reason } });
  return { entry, written: true };
}
