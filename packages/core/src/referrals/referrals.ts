import { randomInt } from 'node:crypto';
import { and, count, eq, inArray, sql, type SQL } from 'drizzle-orm';
import * as z from 'zod';
import { currentTenant, defaultTenantSettings, type TenantRow, type TenantSettings } from '../access';
import { recordAudit } from '../audit';
import { useTenantId, useTransaction } from '../drizzle/transaction';
import { UserError } from '../errors';
import { isUuid, uuidv7 } from '../ids';
// The one lock on a tenant's referral graph, shared with mergeParties (which re-points referrals):
// of two requests A→B and B→A the second waits for the first to commit, then sees its referral.
import { lockReferralGraph } from '../network/merge';
import { minorUnitDigits } from '../network/orders';
import { orders } from '../network/orders.sql';
import { parties } from '../network/parties.sql';
import { requireParty, type PartyRow } from '../network/parties';
import { relationships } from '../network/relationships.sql';
import { decodeCursor, encodeCursor, pagesByParty, type PageRequest } from '../pagination';
import { lazySchema, optionalText, parseInput, todayUtc } from '../validation';
import { emitEvent } from '../webhooks';
import {
  referralCodes,
  referrals,
  referralSubtreeSizes,
  type FraudSignal,
  type ReferralStatus,
} from './referrals.sql';

export type ReferralRow = typeof referrals.$inferSelect;
export type FraudSignalKind = FraudSignal['kind'];
export const fraudSignalKinds = ['SAME_CONTACT', 'VELOCITY', 'FAST_CONVERSION', 'RING'] as const satisfies readonly FraudSignalKind[];

// ---------------------------------------------------------------------------------------------
// Codes
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Reading referrals
// ---------------------------------------------------------------------------------------------

export async function findReferrals(ids: readonly string[]): Promise<ReferralRow[]> {
  const valid = ids.filter(isUuid);
  if (valid.length === 0) return [];
  return useTransaction()
    .select()
    .from(referrals)
    .where(and(eq(referrals.tenantId, useTenantId()), inArray(referrals.id, valid)));
}

async function requireReferral(id: string, field = 'id'): Promise<ReferralRow> {
  if (!isUuid(id)) throw UserError.of('NOT_FOUND', 'No such referral', field);
  // Locked: every transition reads the status and then writes it.
  const [row] = await useTransaction()
    .select()
    .from(referrals)
    .where(and(eq(referrals.tenantId, useTenantId()), eq(referrals.id, id)))
    .for('update');
  if (!row) throw UserError.of('NOT_FOUND', 'No such referral', field);
  return row;
}

/**
 * The columns of `referrals f` as text in fixed formats, for raw statements (which bypass
 * drizzle's mapping): money stays text so no digit passes through a float.
 */
const referralColumns = sql.raw(`f.tenant_id::text as tenant_id, f.id::text as id,
  f.referrer_id::text as referrer_id, f.referee_id::text as referee_id, f.code, f.channel,
  f.status::text as status, f.reward_amount::text as reward_amount, f.reward_currency::text as reward_currency,
  f.converting_order_id::text as converting_order_id, f.fraud_signals,
  ${['created_at', 'converted_at', 'rewarded_at', 'rejected_at']
    .map((c) => `to_char(f.${c} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as ${c}`)
    .join(', ')},
  f.rejected_reason`);

const dateOrNull = (value: unknown) => (value === null || value === undefined ? null : new Date(String(value)));
const textOrNull = (value: unknown) => (value === null || value === undefined ? null : String(value));

function toReferralRow(row: Record<string, unknown>): ReferralRow {
  const signals = typeof row.fraud_signals === 'string' ? JSON.parse(row.fraud_signals) : row.fraud_signals;
  return {
    tenantId: String(row.tenant_id),
    id: String(row.id),
    referrerId: String(row.referrer_id),
    refereeId: String(row.referee_id),
    code: textOrNull(row.code),
    channel: textOrNull(row.channel),
    status: row.status as ReferralStatus,
    rewardAmount: textOrNull(row.reward_amount),
    rewardCurrency: textOrNull(row.reward_currency),
    convertingOrderId: textOrNull(row.converting_order_id),
    fraudSignals: (signals ?? []) as FraudSignal[],
    createdAt: new Date(String(row.created_at)),
    convertedAt: dateOrNull(row.converted_at),
    rewardedAt: dateOrNull(row.rewarded_at),
    rejectedAt: dateOrNull(row.rejected_at),
    rejectedReason: textOrNull(row.rejected_reason),
  };
}

/** Keyset of lists of referrals, newest first: (createdAt, id). */
export function referralCursor(row: ReferralRow): string {
  return encodeCursor([row.createdAt.toISOString(), row.id]);
}

function decodeReferralCursor(cursor: string): { at: string; id: string } {
  const [at, id] = decodeCursor(cursor, 2);
  if (typeof at !== 'string' || typeof id !== 'string' || !isUuid(id) || Number.isNaN(Date.parse(at))) {
    throw UserError.of('VALIDATION', 'The cursor is not one this list handed out', []);
  }
  return { at, id };
}

function uuidList(ids: readonly string[]): SQL {
  return sql`(${sql.join(ids.map((id) => sql`${id}::uuid`), sql`, `)})`;
}

export interface ReferralPage {
  partyId: string;
  rows: ReferralRow[];
  hasNextPage: boolean;
}

/**
 * One page of the referrals each party made, newest first (ties by id): one statement for the
 * whole batch, a window function numbering each referrer's referrals.
 */
export async function referralPages(
  partyIds: readonly string[],
  options: { first: number; after?: string | null },
): Promise<ReferralPage[]> {
  const ids = [...new Set(partyIds.filter(isUuid))];
  if (ids.length === 0) return pagesByParty(partyIds, options.first, []);
  let afterKey = sql`true`;
  if (options.after) {
    const { at, id } = decodeReferralCursor(options.after);
    afterKey = sql`(f.created_at, f.id) < (${at}::timestamptz, ${id}::uuid)`;
  }
  const { rows } = await useTransaction().execute<Record<string, unknown>>(sql`
    select * from (
      select ${referralColumns}, row_number() over (partition by f.referrer_id order by f.created_at desc, f.id desc) as n
      from ${referrals} f
      where f.tenant_id = ${useTenantId()} and f.referrer_id in ${uuidList(ids)} and ${afterKey}
    ) ranked
    where n <= ${options.first + 1}
    order by referrer_id, n`);
  const found = rows.map(toReferralRow);
  return pagesByParty(partyIds, options.first, found.map((row) => [row.referrerId, row]));
}

/** How many referrals each party made (for `totalCount`), one statement. */
export async function referralCounts(partyIds: readonly string[]): Promise<Map<string, number>> {
  const ids = [...new Set(partyIds.filter(isUuid))];
  if (ids.length === 0) return new Map();
  const rows = await useTransaction()
    .select({ partyId: referrals.referrerId, n: count() })
    .from(referrals)
    .where(and(eq(referrals.tenantId, useTenantId()), inArray(referrals.referrerId, ids)))
    .groupBy(referrals.referrerId);
  return new Map(rows.map((row) => [row.partyId, Number(row.n)]));
}

/**
 * The referrer of each party that has one (api: `Party.referredBy`), one statement. The referral
 * graph is structure: a REJECTED referral still names the referee's referrer (one per referee).
 */
export async function referrersOf(partyIds: readonly string[]): Promise<Map<string, string>> {
  const ids = [...new Set(partyIds.filter(isUuid))];
  if (ids.length === 0) return new Map();
  const rows = await useTransaction()
    .select({ refereeId: referrals.refereeId, referrerId: referrals.referrerId })
    .from(referrals)
    .where(and(eq(referrals.tenantId, useTenantId()), inArray(referrals.refereeId, ids)));
  return new Map(rows.map((row) => [row.refereeId, row.referrerId]));
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

// ---------------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------------

type ReferralSettings = TenantSettings['referrals'];

/** The tenant's referral settings, defaults filling whatever an older settings document lacks. */
function referralSettings(tenant: TenantRow): ReferralSettings {
  const defaults = defaultTenantSettings().referrals;
  const stored: Partial<ReferralSettings> = tenant.settings?.referrals ?? {};
  return { ...defaults, ...stored, reward: { ...defaults.reward, ...stored.reward } };
}

// ---------------------------------------------------------------------------------------------
// Fraud signals (domain §3)
// ---------------------------------------------------------------------------------------------

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

function sameContact(referrer: PartyRow, referee: PartyRow): FraudSignal | null {
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
async function velocity(
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
async function ring(referrerId: string, refereeId: string): Promise<FraudSignal | null> {
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
function mergeSignals(existing: FraudSignal[], found: (FraudSignal | null)[]): FraudSignal[] {
  const merged = [...existing];
  for (const signal of found) {
    if (signal && !merged.some((s) => s.kind === signal.kind)) merged.push(signal);
  }
  return merged;
}

/** Every signal of a referral as it stands (domain: computed at creation and at conversion). */
async function signalsAtConversion(row: ReferralRow, convertedAt: Date, settings: ReferralSettings): Promise<FraudSignal[]> {
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

// ---------------------------------------------------------------------------------------------
// createReferral
// ---------------------------------------------------------------------------------------------

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

/**
 * One step of a walk over the referral forest, as a LATERAL subquery: up to a party's referrer
 * (through referrals_referee_uq) or down to its referees (through referrals_referrer_idx). Written
 * so the planner has no choice but an index lookup per party reached, so a walk costs what it
 * visits, whatever the table's statistics say (a hash join would read the whole table per step).
 */
function parentOf(party: SQL): SQL {
  return sql`select p.referrer_id from ${referrals} p where p.tenant_id = ${useTenantId()} and p.referee_id = ${party} limit 1`;
}

function childrenOf(party: SQL): SQL {
  return sql`select c.referee_id, c.created_at, c.id from ${referrals} c where c.tenant_id = ${useTenantId()} and c.referrer_id = ${party}`;
}

/** The referrer chain of a party, nearest first (its referrer, that one's referrer, … the root). */
async function ancestorIds(partyId: string): Promise<string[]> {
  const tenantId = useTenantId();
  const { rows } = await useTransaction().execute<{ id: string }>(sql`
    with recursive up(id, n) as (
      select f.referrer_id, 1 from ${referrals} f where f.tenant_id = ${tenantId} and f.referee_id = ${partyId}::uuid
      union all
      select f.referrer_id, up.n + 1 from up cross join lateral (${parentOf(sql`up.id`)}) f
      where up.n < 100000
    )
    select id::text as id from up order by n`);
  return rows.map((row) => row.id);
}

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
function referralEvent(row: ReferralRow): Record<string, unknown> {
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
      fraudSignals: row.fraudSignals.map((signal) => signal.kind),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Lifecycle
// ---------------------------------------------------------------------------------------------

/**
 * The reward of a referral under the tenant's policy, as exact text in the tenant's currency:
 * FIXED is the amount itself, PERCENT is that percentage of the converting order's amount. Both
 * are computed in SQL numeric and rounded to the currency's minor units (CNY: 2) — half away from
 * zero, as numeric `round` does. Null when a PERCENT reward has no converting order to apply to.
 */
async function rewardFor(referral: ReferralRow, tenant: TenantRow, settings: ReferralSettings): Promise<string | null> {
  const { kind, amount } = settings.reward;
  if (typeof amount !== 'string' || !/^\d{1,15}(\.\d{1,10})?$/.test(amount) || (kind !== 'FIXED' && kind !== 'PERCENT')) {
    throw UserError.of('CONFLICT', "The tenant's reward policy is not a valid amount or percentage", []);
  }
  const digits = minorUnitDigits(tenant.currency);
  if (kind === 'FIXED') {
    const { rows } = await useTransaction().execute<{ reward: string }>(
      sql`select round(${amount}::numeric, ${digits}::int)::text as reward`,
    );
    return rows[0]!.reward;
  }
  if (!referral.convertingOrderId) return null;
  const { rows } = await useTransaction().execute<{ reward: string }>(sql`
    select round(o.amount * ${amount}::numeric / 100, ${digits}::int)::text as reward
    from ${orders} o where o.tenant_id = ${useTenantId()} and o.id = ${referral.convertingOrderId}::uuid`);
  return rows[0]?.reward ?? null;
}

async function applyReward(referral: ReferralRow, reward: string, currency: string, automatic: boolean): Promise<ReferralRow> {
  const [row] = await useTransaction()
    .update(referrals)
    .set({ status: 'REWARDED', rewardedAt: new Date(), rewardAmount: reward, rewardCurrency: currency })
    .where(and(eq(referrals.tenantId, useTenantId()), eq(referrals.id, referral.id)))
    .returning();
  await recordAudit({
    operation: 'rewardReferral',
    entityType: 'Referral',
    entityIds: [referral.id, referral.referrerId],
    details: { amount: reward, currency, automatic },
  });
  await emitEvent('referral.rewarded', { ...referralEvent(row!), automatic });
  return row!;
}

function statusConflict(referral: ReferralRow, wanted: string): UserError {
  return UserError.of('CONFLICT', `${wanted}; this referral is ${referral.status}`, 'id');
}

/** The referee's first order placed at or after the referral was made (domain: the converting order). */
async function firstEligibleOrder(referral: ReferralRow): Promise<{ id: string; placedAt: Date } | null> {
  const [order] = await useTransaction()
    .select({ id: orders.id, placedAt: orders.placedAt })
    .from(orders)
    .where(
      and(
        eq(orders.tenantId, useTenantId()),
        eq(orders.partyId, referral.refereeId),
        sql`${orders.placedAt} >= ${referral.createdAt.toISOString()}::timestamptz`,
      ),
    )
    .orderBy(orders.placedAt, orders.id)
    .limit(1);
  return order ?? null;
}

async function markConverted(
  referral: ReferralRow,
  convertedAt: Date,
  orderId: string | null,
  settings: ReferralSettings,
  automatic: boolean,
): Promise<ReferralRow> {
  const signals = await signalsAtConversion(referral, convertedAt, settings);
  const [row] = await useTransaction()
    .update(referrals)
    .set({ status: 'CONVERTED', convertedAt, convertingOrderId: orderId, fraudSignals: signals })
    .where(and(eq(referrals.tenantId, useTenantId()), eq(referrals.id, referral.id)))
    .returning();
  await recordAudit({
    operation: 'convertReferral',
    entityType: 'Referral',
    entityIds: [referral.id, referral.refereeId, ...(orderId ? [orderId] : [])],
    details: { automatic, orderId, fraudSignals: signals.map((s) => s.kind) },
  });
  await emitEvent('referral.converted', { ...referralEvent(row!), automatic });
  return row!;
}

/**
 * Manual PENDING → CONVERTED (for conversions the order hook did not see, e.g. orders recorded
 * before the referral system). The referee's first order at or after the referral's creation is
 * the converting order and its placedAt the conversion time (domain); without one, now. Manual
 * handling stays manual: the reward is then given with `rewardReferral` (autoReward applies to
 * the automatic conversion by an order).
 */
export async function convertReferral(id: string): Promise<ReferralRow> {
  const referral = await requireReferral(id);
  if (referral.status !== 'PENDING') throw statusConflict(referral, 'Only a PENDING referral can be converted');
  const settings = referralSettings(await currentTenant());
  const order = await firstEligibleOrder(referral);
  return markConverted(referral, order?.placedAt ?? new Date(), order?.id ?? null, settings, false);
}

const rejectInput = lazySchema(() =>
  z.object({
    reason: z
      .string({ message: 'A reason is required' })
      .trim()
      .min(1, 'A reason is required')
      .max(500, 'Reason is at most 500 characters'),
  }),
);

/**
 * PENDING or CONVERTED → REJECTED with a reason (domain: how a referral that will not be rewarded
 * ends). A REWARDED referral has been paid and cannot be rejected. The table's status/date rule
 * keeps `convertedAt` only on CONVERTED and REWARDED rows, so a rejected conversion loses it; the
 * converting order stays, and the audit entry keeps the conversion time.
 */
export async function rejectReferral(id: string, input: { reason?: string | null }): Promise<ReferralRow> {
  const data = parseInput(rejectInput(), { reason: input.reason ?? undefined });
  const referral = await requireReferral(id);
  if (referral.status !== 'PENDING' && referral.status !== 'CONVERTED') {
    throw statusConflict(referral, 'Only a PENDING or CONVERTED referral can be rejected');
  }
  const [row] = await useTransaction()
    .update(referrals)
    .set({ status: 'REJECTED', rejectedAt: new Date(), rejectedReason: data.reason, convertedAt: null })
    .where(and(eq(referrals.tenantId, useTenantId()), eq(referrals.id, referral.id)))
    .returning();
  await recordAudit({
    operation: 'rejectReferral',
    entityType: 'Referral',
    entityIds: [referral.id],
    details: { from: referral.status, reason: data.reason, convertedAt: referral.convertedAt?.toISOString() ?? null },
  });
  return row!;
}

/** CONVERTED → REWARDED with the policy's reward, flagged or not (a person decided). */
export async function rewardReferral(id: string): Promise<ReferralRow> {
  const referral = await requireReferral(id);
  if (referral.status !== 'CONVERTED') throw statusConflict(referral, 'Only a CONVERTED referral can be rewarded');
  const tenant = await currentTenant();
  const reward = await rewardFor(referral, tenant, referralSettings(tenant));
  if (reward === null) {
    throw UserError.of('CONFLICT', 'The reward is a percentage of the first order, and this conversion has no order', 'id');
  }
  return applyReward(referral, reward, tenant.currency, false);
}

/**
 * The order hook (domain: "the referee's first order converts the referral automatically, in the
 * same transaction"). Call it from recordOrder right after the order row is inserted. When the
 * order's party is the referee of a PENDING referral created at or before `placedAt`, and no
 * other order of that party placed since the referral comes before this one, the referral
 * converts with this order (convertedAt = placedAt), its fraud signals are computed again, and a
 * clean conversion is rewarded at once under `autoReward`; a flagged one waits for a person.
 * Returns the converted (or rewarded) referral, or null when the order converted nothing.
 */
export async function convertReferralForOrder(order: {
  id: string;
  partyId: string;
  amount: string;
  placedAt: Date;
}): Promise<ReferralRow | null> {
  const tx = useTransaction();
  const tenantId = useTenantId();
  const [referral] = await tx
    .select()
    .from(referrals)
    .where(
      and(
        eq(referrals.tenantId, tenantId),
        eq(referrals.refereeId, order.partyId),
        eq(referrals.status, 'PENDING'),
        sql`${referrals.createdAt} <= ${order.placedAt.toISOString()}::timestamptz`,
      ),
    )
    .for('update');
  if (!referral) return null;
  const placedAt = order.placedAt.toISOString();
  const [earlier] = await tx
    .select({ id: orders.id })
    .from(orders)
    .where(
      and(
        eq(orders.tenantId, tenantId),
        eq(orders.partyId, order.partyId),
        sql`${orders.id} <> ${order.id}::uuid`,
        sql`${orders.placedAt} >= ${referral.createdAt.toISOString()}::timestamptz`,
        sql`(${orders.placedAt}, ${orders.id}) < (${placedAt}::timestamptz, ${order.id}::uuid)`,
      ),
    )
    .limit(1);
  if (earlier) return null;
  const tenant = await currentTenant();
  const settings = referralSettings(tenant);
  const converted = await markConverted(referral, order.placedAt, order.id, settings, true);
  if (!settings.autoReward || converted.fraudSignals.length > 0) return converted;
  const reward = await rewardFor(converted, tenant, settings);
  return reward === null ? converted : applyReward(converted, reward, tenant.currency, true);
}

// ---------------------------------------------------------------------------------------------
// Graph queries (domain §3, chain and tree)
// ---------------------------------------------------------------------------------------------

/**
 * domain: p's referrer, that party's referrer, … up to the root, nearest first; [] for a root.
 * Null when the tenant has no such party. One statement: a recursive walk up the referee index.
 */
export async function referralChain(partyId: string): Promise<string[] | null> {
  if (!isUuid(partyId)) return null;
  const tenantId = useTenantId();
  const { rows } = await useTransaction().execute<{ chain: string[] | string }>(sql`
    with recursive up(id, n) as (
      select f.referrer_id, 1 from ${referrals} f where f.tenant_id = ${tenantId} and f.referee_id = ${partyId}::uuid
      union all
      select f.referrer_id, up.n + 1 from up cross join lateral (${parentOf(sql`up.id`)}) f
      where up.n < 100000
    )
    select array(select up.id::text from up order by up.n) as chain
    from ${parties} p where p.tenant_id = ${tenantId} and p.id = ${partyId}::uuid`);
  const row = rows[0];
  return row ? textArray(row.chain) : null;
}

/** Some drivers hand a text[] over as its literal ({a,b}); uuids need no unquoting. */
function textArray(value: string[] | string | null | undefined): string[] {
  if (Array.isArray(value)) return value;
  if (!value || value === '{}') return [];
  return value.replace(/^\{|\}$/g, '').split(',');
}

export const maxTreeDepth = 10;
export const maxTreePage = 1000;

export interface ReferralTree {
  nodes: { partyId: string; depth: number }[];
  /** Descendants within maxDepth, all of them (not just the page). */
  totalCount: number;
}

/**
 * domain: the root's descendants (root not listed) breadth-first with their depth (1 = referred by
 * the root). Within a depth, nodes come in the order of their referral's creation, then referral
 * id — stable, and in a BFS the order among one level's nodes is ours to choose. Null for an
 * unknown root. One statement: a recursive walk down the referrer index, cut at maxDepth.
 */
export async function referralTree(
  rootId: string,
  options: { maxDepth?: number | null; first?: number | null } = {},
): Promise<ReferralTree | null> {
  const maxDepth = options.maxDepth ?? maxTreeDepth;
  const first = options.first ?? 100;
  if (!Number.isInteger(maxDepth) || maxDepth < 1 || maxDepth > maxTreeDepth) {
    throw UserError.of('VALIDATION', `maxDepth is 1 to ${maxTreeDepth}`, ['maxDepth']);
  }
  if (!Number.isInteger(first) || first < 0 || first > maxTreePage) {
    throw UserError.of('VALIDATION', `first is 0 to ${maxTreePage}`, ['first']);
  }
  if (!isUuid(rootId)) return null;
  const tenantId = useTenantId();
  const { rows } = await useTransaction().execute<{ root: string; id: string | null; depth: number | null; total: number | null }>(sql`
    with recursive tree(id, depth, created_at, referral_id) as (
      select f.referee_id, 1, f.created_at, f.id from ${referrals} f
      where f.tenant_id = ${tenantId} and f.referrer_id = ${rootId}::uuid
      union all
      select f.referee_id, tree.depth + 1, f.created_at, f.id
      from tree cross join lateral (${childrenOf(sql`tree.id`)}) f
      where tree.depth < ${maxDepth}::int
    ),
    page as (
      select id, depth, count(*) over () as total from tree
      order by depth, created_at, referral_id
      limit ${first}::int
    )
    select p.id::text as root, page.id::text as id, page.depth, page.total::int as total
    from ${parties} p left join page on true
    where p.tenant_id = ${tenantId} and p.id = ${rootId}::uuid`);
  if (rows.length === 0) return null;
  const nodes = rows.filter((row) => row.id !== null).map((row) => ({ partyId: row.id!, depth: Number(row.depth) }));
  let totalCount = Number(rows[0]!.total ?? 0);
  if (first === 0) {
    const { rows: counted } = await useTransaction().execute<{ n: number }>(sql`
      with recursive tree(id, depth) as (
        select f.referee_id, 1 from ${referrals} f where f.tenant_id = ${tenantId} and f.referrer_id = ${rootId}::uuid
        union all
        select f.referee_id, tree.depth + 1 from tree cross join lateral (${childrenOf(sql`tree.id`)}) f
        where tree.depth < ${maxDepth}::int
      )
      select count(*)::int as n from tree`);
    totalCount = Number(counted[0]?.n ?? 0);
  }
  return { nodes, totalCount };
}

// ---------------------------------------------------------------------------------------------
// Leaderboard and metrics
// ---------------------------------------------------------------------------------------------

export interface Period {
  since?: Date | null;
  until?: Date | null;
}

function checkPeriod(period: Period): void {
  if (period.since && period.until && period.since.getTime() > period.until.getTime()) {
    throw UserError.of('VALIDATION', 'until must not be before since', ['until']);
  }
}

/** domain: the half-open period [since, until) of referral creation; no bound, all time. */
function inPeriod(period: Period, column: SQL = sql`f.created_at`): SQL {
  const parts: SQL[] = [];
  if (period.since) parts.push(sql`${column} >= ${period.since.toISOString()}::timestamptz`);
  if (period.until) parts.push(sql`${column} < ${period.until.toISOString()}::timestamptz`);
  return parts.length ? sql.join(parts, sql` and `) : sql`true`;
}

/**
 * Runs the leaderboard and metric statements without JIT compilation. A recursive walk is costed
 * as if each step multiplied the rows, which puts it above jit_above_cost: on a tenant of a
 * million parties the compilation took ~0.9 s for a walk that ran in 0.2 s. The setting is local
 * to the transaction and put back afterwards.
 */
async function withoutJit<T>(work: () => Promise<T>): Promise<T> {
  const tx = useTransaction();
  const { rows } = await tx.execute<{ jit: string }>(sql`select current_setting('jit') as jit, set_config('jit', 'off', true)`);
  try {
    return await work();
  } finally {
    await tx.execute(sql`select set_config('jit', ${rows[0]?.jit ?? 'on'}, true)`);
  }
}

export const referrerRankings = ['CONVERSIONS', 'REVENUE', 'SUBTREE_SIZE'] as const;
export type ReferrerRanking = (typeof referrerRankings)[number];

export interface TopReferrer {
  partyId: string;
  conversions: number;
  /** Exact decimal text in the tenant's currency. */
  revenue: string;
  subtreeSize: number;
}

/**
 * The leaderboard (domain §3, top referrers). The period selects referrals by creation time, as
 * for referralStats, and every number counts only those referrals:
 * - the ranked parties are the referrers of the period's referrals (as `referrers` in the stats);
 * - conversions: their referrals that are now CONVERTED or REWARDED;
 * - revenue: the amounts of their referees' orders placed at or after the referral (the orders
 *   the referral brought), whatever the referral's status;
 * - subtreeSize: their descendants at any depth whose own referral is in the period — without
 *   bounds, all descendants (read from the materialised counts, referral_subtree_sizes).
 * Ranked by the chosen number, largest first, ties by party id.
 */
export async function topReferrers(options: Period & { by: ReferrerRanking; first?: number | null }): Promise<TopReferrer[]> {
  checkPeriod(options);
  const first = options.first ?? 10;
  if (!Number.isInteger(first) || first < 0 || first > 100) {
    throw UserError.of('VALIDATION', 'first is 0 to 100', ['first']);
  }
  if (first === 0) return [];
  return withoutJit(() => rankReferrers(options, first));
}

async function rankReferrers(options: Period & { by: ReferrerRanking }, first: number): Promise<TopReferrer[]> {
  const tx = useTransaction();
  const tenantId = useTenantId();
  const digits = minorUnitDigits((await currentTenant()).currency);
  const allTime = !options.since && !options.until;
  const period = inPeriod(options);

  // The period's subtree sizes: every referral of the period counts once for each of its
  // ancestors. Walks up from the period's referrals only, so it costs what the period holds.
  const periodSubtrees = sql`
    with recursive up(ancestor, n) as (
      select f.referrer_id, 1 from ${referrals} f where f.tenant_id = ${tenantId} and ${period}
      union all
      select f.referrer_id, up.n + 1 from up cross join lateral (${parentOf(sql`up.ancestor`)}) f
      where up.n < 100000
    )
    select ancestor as party_id, count(*)::int as size from up group by ancestor`;

  // 1. The ranking: ids in order.
  let ranked: string[];
  if (options.by === 'SUBTREE_SIZE' && allTime) {
    const rows = await tx
      .select({ partyId: referralSubtreeSizes.partyId })
      .from(referralSubtreeSizes)
      .where(eq(referralSubtreeSizes.tenantId, tenantId))
      // As the index sorts (descendants DESC NULLS LAST): a plain DESC means NULLS FIRST and sorts the tenant.
      .orderBy(sql`${referralSubtreeSizes.descendants} desc nulls last`, referralSubtreeSizes.partyId)
      .limit(first);
    ranked = rows.map((row) => row.partyId);
  } else if (options.by === 'SUBTREE_SIZE') {
    const { rows } = await tx.execute<{ id: string }>(sql`
      with sizes as (${periodSubtrees})
      select s.party_id::text as id from sizes s
      where s.party_id in (select f.referrer_id from ${referrals} f where f.tenant_id = ${tenantId} and ${period})
      order by s.size desc, s.party_id
      limit ${first}::int`);
    ranked = rows.map((row) => row.id);
  } else {
    const metric =
      options.by === 'CONVERSIONS'
        ? sql`count(*) filter (where f.status in ('CONVERTED', 'REWARDED'))`
        : sql`coalesce(sum(o.amount), 0)`;
    const { rows } = await tx.execute<{ id: string }>(sql`
      select f.referrer_id::text as id from ${referrals} f
      ${options.by === 'REVENUE' ? revenueJoin(tenantId) : sql``}
      where f.tenant_id = ${tenantId} and ${period}
      group by f.referrer_id
      order by ${metric} desc, f.referrer_id
      limit ${first}::int`);
    ranked = rows.map((row) => row.id);
  }
  if (ranked.length === 0) return [];

  // 2. Every number for the ranked parties. Conversions and revenue are summed per referral
  // first, so one referee's many orders never count its referral twice.
  const ids = uuidList(ranked);
  const { rows: numbers } = await tx.execute<{ id: string; conversions: number; revenue: string }>(sql`
    select f.referrer_id::text as id,
      count(*) filter (where f.status in ('CONVERTED', 'REWARDED'))::int as conversions,
      round(coalesce(sum(rev.amount), 0), ${digits}::int)::text as revenue
    from ${referrals} f
    left join lateral (
      select sum(o.amount) as amount from ${orders} o
      where o.tenant_id = f.tenant_id and o.party_id = f.referee_id and o.placed_at >= f.created_at
    ) rev on true
    where f.tenant_id = ${tenantId} and f.referrer_id in ${ids} and ${period}
    group by f.referrer_id`);
  const sizes = new Map<string, number>();
  if (allTime) {
    const rows = await tx
      .select({ partyId: referralSubtreeSizes.partyId, descendants: referralSubtreeSizes.descendants })
      .from(referralSubtreeSizes)
      .where(and(eq(referralSubtreeSizes.tenantId, tenantId), inArray(referralSubtreeSizes.partyId, ranked)));
    for (const row of rows) sizes.set(row.partyId, row.descendants);
  } else {
    const { rows } = await tx.execute<{ id: string; size: number }>(sql`
      with sizes as (${periodSubtrees})
      select party_id::text as id, size from sizes where party_id in ${ids}`);
    for (const row of rows) sizes.set(row.id, Number(row.size));
  }
  const byId = new Map(numbers.map((row) => [row.id, row]));
  const zero = (0).toFixed(digits);
  return ranked.map((partyId) => ({
    partyId,
    conversions: Number(byId.get(partyId)?.conversions ?? 0),
    revenue: byId.get(partyId)?.revenue ?? zero,
    subtreeSize: sizes.get(partyId) ?? 0,
  }));
}

function revenueJoin(tenantId: string): SQL {
  return sql`left join ${orders} o on o.tenant_id = ${tenantId} and o.party_id = f.referee_id and o.placed_at >= f.created_at`;
}

export interface ReferralStats {
  referrals: number;
  converted: number;
  conversionRate: number;
  referrers: number;
  kFactor: number;
  /** Exact decimal text in the tenant's currency. */
  rewardsPaid: string;
}

/**
 * domain §3 metrics over [since, until) of creation time, unrounded: referrals, converted (now
 * CONVERTED or REWARDED), conversion rate = converted ÷ referrals (0 without referrals), referrers
 * (distinct), k-factor = (referrals ÷ referrers) × conversion rate (0 without referrers). Rewards
 * paid: the rewards of referrals rewarded in the period, i.e. whose `rewardedAt` lies in
 * [since, until) — money paid out in the period, whenever the referral was made.
 */
export async function referralStats(period: Period = {}): Promise<ReferralStats> {
  checkPeriod(period);
  const tenantId = useTenantId();
  const digits = minorUnitDigits((await currentTenant()).currency);
  const { rows } = await withoutJit(() => useTransaction().execute<{ referrals: number; converted: number; referrers: number; rewards_paid: string }>(sql`
    select
      (select count(*)::int from ${referrals} f where f.tenant_id = ${tenantId} and ${inPeriod(period)}) as referrals,
      (select count(*)::int from ${referrals} f where f.tenant_id = ${tenantId} and ${inPeriod(period)}
         and f.status in ('CONVERTED', 'REWARDED')) as converted,
      (select count(distinct f.referrer_id)::int from ${referrals} f where f.tenant_id = ${tenantId} and ${inPeriod(period)}) as referrers,
      (select round(coalesce(sum(f.reward_amount), 0), ${digits}::int)::text from ${referrals} f
         where f.tenant_id = ${tenantId} and f.status = 'REWARDED' and ${inPeriod(period, sql`f.rewarded_at`)}) as rewards_paid`));
  const row = rows[0]!;
  const made = Number(row.referrals);
  const converted = Number(row.converted);
  const referrers = Number(row.referrers);
  const conversionRate = made === 0 ? 0 : converted / made;
  const kFactor = referrers === 0 ? 0 : (made / referrers) * conversionRate;
  return { referrals: made, converted, conversionRate, referrers, kFactor, rewardsPaid: String(row.rewards_paid) };
}
