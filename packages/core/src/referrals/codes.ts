import { randomInt } from 'node:crypto';
import { and, eq, inArray } from 'drizzle-orm';
import { recordAudit } from '../audit';
import { useTenantId, useTransaction } from '../drizzle/transaction';
import { isUuid } from '../ids';
import { referralCodes } from './referrals.sql';

/**
 * domain §3: codes are short and easy to read aloud, so the alphabet leaves out 0/O and 1/I/L.
 * 31 symbols, 8 of them: 31^8 ≈ 8.5 × 10^11 codes, drawn with a cryptographic generator so a code
 * says nothing about its party's id (or any other code).
 */
export const referralCodeAlphabet = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
export const referralCodeLength = 8;

export function newReferralCode(): string {
  let code = '';
  for (let i = 0; i < referralCodeLength; i++) code += referralCodeAlphabet[randomInt(referralCodeAlphabet.length)];
  return code;
}

/** A code as people type it back: any case, with spaces or dashes between the groups. */
export function normaliseReferralCode(code: string): string {
  return code.replace(/[\s-]/g, '').toUpperCase();
}

// A clash of two random codes is about one in 10^11 per pair; a few tries is plenty.
const codeAttempts = 5;

/**
 * The referral code of each party, creating the missing ones (api: `Party.referralCode` is made on
 * demand). One read and one insert for the whole batch. The insert skips rows that clash on
 * either unique key: the party (a concurrent request made its code first, which the re-read then
 * finds) or the code (a random clash, retried with a new code).
 */
export async function referralCodesFor(partyIds: readonly string[]): Promise<Map<string, string>> {
  const ids = [...new Set(partyIds.filter(isUuid))];
  const codes = new Map<string, string>();
  if (ids.length === 0) return codes;
  const tx = useTransaction();
  const tenantId = useTenantId();
  const read = async (wanted: string[]) => {
    const rows = await tx
      .select({ partyId: referralCodes.partyId, code: referralCodes.code })
      .from(referralCodes)
      .where(and(eq(referralCodes.tenantId, tenantId), inArray(referralCodes.partyId, wanted)));
    for (const row of rows) codes.set(row.partyId, row.code);
  };
  await read(ids);
  const created: string[] = [];
  for (let attempt = 0; attempt < codeAttempts; attempt++) {
    const missing = ids.filter((id) => !codes.has(id));
    if (missing.length === 0) break;
    const inserted = await tx
      .insert(referralCodes)
      .values(missing.map((partyId) => ({ tenantId, partyId, code: newReferralCode() })))
      .onConflictDoNothing()
      .returning({ partyId: referralCodes.partyId, code: referralCodes.code });
    for (const row of inserted) {
      codes.set(row.partyId, row.code);
      created.push(row.partyId);
    }
    const stillMissing = missing.filter((id) => !codes.has(id));
    if (stillMissing.length > 0) await read(stillMissing);
  }
  if (ids.some((id) => !codes.has(id))) throw new Error('Could not draw a free referral code');
  if (created.length > 0) {
    await recordAudit({ operation: 'createReferralCode', entityType: 'Party', entityIds: created });
  }
  return codes;
}
