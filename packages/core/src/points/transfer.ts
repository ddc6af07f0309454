import { addLot, lotsOf, openDebts, settleDebt, spend } from './lots';

export interface PointsTransfer {
  /** Points of unexpired lots moved to the kept party. */
  points: number;
  /** Open debt moved to the kept party. */
  debt: number;
}

/**
 * Moves a merged party's points to the party that stays (domain: merge writes TRANSFER entries):
 * one entry out of `fromId`, drawing every unexpired lot, and into `toId` one lot per lot moved,
 * with its pending and expiry dates. An open debt moves too: a lot of that size on `fromId` pays
 * it, and a `TRANSFER` out of `toId` takes it from what `toId` has available, the rest staying
 * debt there. Lots already expired stay behind for the nightly expiry. Both parties are locked by
 * the caller.
 */
export async function transferPoints(fromId: string, toId: string, now: Date): Promise<PointsTransfer> {
  await settleDebt(fromId, now);
  const lots = await lotsOf(fromId, { unexpiredAt: now });
  const moved = lots.reduce((sum, lot) => sum + lot.remaining, 0);
  const fields = { kind: 'TRANSFER' as const, source: 'MERGE' as const, reason: null };
  if (moved > 0) {
    await spend(fromId, moved, fields, now, { lots });
    for (const lot of lots) {
      await addLot(toId, lot.remaining, fields, { at: now, availableAt: lot.availableAt, expiresAt: lot.expiresAt });
    }
  }
  const debt = (await openDebts(fromId)).reduce((sum, open) => sum + open.open, 0);
  if (debt > 0) {
    await addLot(fromId, debt, fields, { at: now, availableAt: now, expiresAt: null });
    await settleDebt(fromId, now);
    await settleDebt(toId, now);
    await spend(toId, debt, fields, now);
  }
  return { points: moved, debt };
}
