import { sql, type SQL } from 'drizzle-orm';
import { useTenantId, useTransaction } from '../drizzle/transaction';
import { requireParty, type PartyRow } from '../network/parties';
import { relationships } from '../network/relationships.sql';
import type { PageRequest } from '../pagination';
import { decodeReferralCursor, referralColumns, toReferralRow, type ReferralRow } from './read';
import { referrals, type FraudSignal } from './referrals.sql';
import type { ReferralSettings } from './settings';

// domain §3: signals are looked for when a referral is made and again when it converts; a flagged
// conversion is not rewarded automatically, a person decides (rewardReferral or rejectReferral).
export type FraudSignalKind = FraudSignal['kind'];
export const fraudSignalKinds = ['SAME_CONTACT', 'VELOCITY', 'FAST_CONVERSION', 'RING', 'REFUNDED_AFTER_REWARD'] as const satisfies readonly FraudSignalKind[];

/**
 * domain: "case is ignored, and in the email local part dots and a +tag are ignored". So
 * `Li.Wei+promo@Example.com` and `liwei@example.com` are the same address.
 */
export function normaliseEmail(email: string | null | undefined): string | null {
  const value = email?.trim().toLowerCase();
  if (!value) return null;
  const at = value.lastIndexOf('@');
  if (at <= 0) return value;
  const local = value.slice(0, at).split('+')[0]!.replace(/\./g, '');
  return `${local}@${value.slice(at + 1)}`;
}

/**
 * Phones compare on their digits only: `+86 138-0013-8000` and `+8613800138000` match. No
 * country-code or trunk-prefix guessing: parties keep phones in E.164, so the same number is
 * written with the same digits.
 */
export function normalisePhone(phone: string | null | undefined): string | null {
  const digits = phone?.replace(/\D/g, '') ?? '';
  return digits === '' ? null : digits;
}

export function sameContact(referrer: PartyRow, referee: PartyRow): FraudSignal | null {
  const fields: string[] = [];
  const email = normaliseEmail(referrer.email);
  if (email && email === normaliseEmail(referee.email)) fields.push('email');
  const phone = normalisePhone(referrer.phone);
  if (phone && phone === normalisePhone(referee.phone)) fields.push('phone');
  if (fields.length === 0) return null;
  // The evidence names the matching fields, not their values: both parties' contact data is one
  // click away, and personal data must not linger in the referral once a party is erased.
  return {
    kind: 'SAME_CONTACT',
    evidence: {
      fields,
      referrerId: referrer.id,
      refereeId: referee.id,
      rule: 'case ignored; dots and +tag ignored in the email local part; phone digits only',
    },
  };
}

const hourMs = 60 * 60 * 1000;

/**
 * domain: more than `maxReferralsPerHour` referrals by one referrer "in an hour" — the rolling hour
 * (createdAt − 1 h, createdAt] ending at this referral, this one included.
 */
export async function velocity(
  referrerId: string,
  createdAt: Date,
  settings: ReferralSettings,
  self: { id: string } | null,
): Promise<FraudSignal | null> {
  const windowStart = new Date(createdAt.getTime() - hourMs);
  const { rows } = await useTransaction().execute<{ n: number }>(sql`
    select count(*)::int as n from ${referrals} f
    where f.tenant_id = ${useTenantId()} and f.referrer_id = ${referrerId}
      and f.created_at > ${windowStart.toISOString()}::timestamptz and f.created_at <= ${createdAt.toISOString()}::timestamptz
      ${self ? sql`and f.id <> ${self.id}` : sql``}`);
  // The referral itself is counted once, whether or not it is already stored.
  const made = Number(rows[0]?.n ?? 0) + 1;
  if (made <= settings.maxReferralsPerHour) return null;
  return {
    kind: 'VELOCITY',
    evidence: {
      referrerId,
      referralsInHour: made,
      maxReferralsPerHour: settings.maxReferralsPerHour,
      windowStart: windowStart.toISOString(),
      windowEnd: createdAt.toISOString(),
    },
  };
}

/**
 * domain: referrer and referee "already connected within 2 hops through the edges of other
 * referrals": REFERRED edges either way round, leaving out this referral's own referrer→referee
 * edge. Within a forest that the referral rules keep, a new referral can only close such a loop
 * through REFERRED edges that are not mirrored by a referral of the forest — history brought in by
 * an import, or two parties merged into one — which is exactly the trace a ring of accounts leaves.
 */
export async function ring(referrerId: string, refereeId: string): Promise<FraudSignal | null> {
  const tenantId = useTenantId();
  const pair = sql`(${referrerId}::uuid, ${refereeId}::uuid)`;
  const { rows } = await useTransaction().execute<{ direct: string[] | null; via: string[] | null }>(sql`
    with edges as (
      select r.id, r.from_party_id as p, r.to_party_id as q from ${relationships} r
      where r.tenant_id = ${tenantId} and r.type = 'REFERRED' and r.from_party_id in ${pair}
        and not (r.from_party_id = ${referrerId}::uuid and r.to_party_id = ${refereeId}::uuid)
      union all
      select r.id, r.to_party_id, r.from_party_id from ${relationships} r
      where r.tenant_id = ${tenantId} and r.type = 'REFERRED' and r.to_party_id in ${pair}
        and not (r.from_party_id = ${referrerId}::uuid and r.to_party_id = ${refereeId}::uuid)
    )
    select
      array(select distinct e.id::text from edges e where e.p = ${referrerId}::uuid and e.q = ${refereeId}::uuid order by 1) as direct,
      array(select distinct a.q::text from edges a join edges b on b.q = a.q
            where a.p = ${referrerId}::uuid and b.p = ${refereeId}::uuid order by 1 limit 20) as via`);
  const direct = rows[0]?.direct ?? [];
  const via = rows[0]?.via ?? [];
  if (direct.length === 0 && via.length === 0) return null;
  return {
    kind: 'RING',
    evidence: {
      referrerId,
      refereeId,
      hops: direct.length > 0 ? 1 : 2,
      directEdgeIds: direct,
      // Parties tied to both by REFERRED edges (at most 20 listed).
      via,
    },
  };
}

/** domain: converted less than `minMinutesToConvert` minutes after the referral; 0 disables it. */
function fastConversion(createdAt: Date, convertedAt: Date, settings: ReferralSettings): FraudSignal | null {
  if (!(settings.minMinutesToConvert > 0)) return null;
  const elapsedMs = convertedAt.getTime() - createdAt.getTime();
  if (elapsedMs >= settings.minMinutesToConvert * 60_000) return null;
  return {
    kind: 'FAST_CONVERSION',
    evidence: {
      minutesToConvert: elapsedMs / 60_000,
      minMinutesToConvert: settings.minMinutesToConvert,
      createdAt: createdAt.toISOString(),
      convertedAt: convertedAt.toISOString(),
    },
  };
}

/**
 * Signals found again at conversion join those found at creation; none is ever withdrawn (a
 * referee who changes their email after being referred does not clear SAME_CONTACT). One entry
 * per kind: the first evidence found stays.
 */
export function mergeSignals(existing: FraudSignal[], found: (FraudSignal | null)[]): FraudSignal[] {
  const merged = [...existing];
  for (const signal of found) {
    if (signal && !merged.some((s) => s.kind === signal.kind)) merged.push(signal);
  }
  return merged;
}

/** Every signal of a referral as it stands (domain: computed at creation and at conversion). */
export async function signalsAtConversion(row: ReferralRow, convertedAt: Date, settings: ReferralSettings): Promise<FraudSignal[]> {
  // One after the other: statements of one transaction share its connection.
  const referrer = await requireParty(row.referrerId);
  const referee = await requireParty(row.refereeId);
  return mergeSignals(row.fraudSignals, [
    sameContact(referrer, referee),
    await velocity(row.referrerId, row.createdAt, settings, row),
    fastConversion(row.createdAt, convertedAt, settings),
    await ring(row.referrerId, row.refereeId),
  ]);
}

/** Flagged referrals (any fraud signal), newest first, keyset-paginated like the other lists. */
export async function listSuspiciousReferrals(page: PageRequest): Promise<ReferralRow[]> {
  const conditions: SQL[] = [sql`f.tenant_id = ${useTenantId()}`, sql`f.fraud_signals <> '[]'::jsonb`];
  // Newest first; paging backwards (before/last) reads the other way and the helper flips it back.
  if (page.after) {
    const { at, id } = decodeReferralCursor(page.after);
    conditions.push(sql`(f.created_at, f.id) < (${at}::timestamptz, ${id}::uuid)`);
  }
  if (page.before) {
    const { at, id } = decodeReferralCursor(page.before);
    conditions.push(sql`(f.created_at, f.id) > (${at}::timestamptz, ${id}::uuid)`);
  }
  const direction = page.inverted ? sql`asc` : sql`desc`;
  const { rows } = await useTransaction().execute<Record<string, unknown>>(sql`
    select ${referralColumns} from ${referrals} f
    where ${sql.join(conditions, sql` and `)}
    order by f.created_at ${direction}, f.id ${direction}
    limit ${page.limit}`);
  return rows.map(toReferralRow);
}

export async function countSuspiciousReferrals(): Promise<number> {
  const { rows } = await useTransaction().execute<{ n: number }>(sql`
    select count(*)::int as n from ${referrals} f
    where f.tenant_id = ${useTenantId()} and f.fraud_signals <> '[]'::jsonb`);
  return Number(rows[0]?.n ?? 0);
}
