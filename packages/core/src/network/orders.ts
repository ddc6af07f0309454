import { and, count, eq, inArray, sql, type SQL } from 'drizzle-orm';
import * as z from 'zod';
import { currentTenant, pointsSettings } from '../access';
import { recordAudit } from '../audit';
import { earnForOrder } from '../points/earn';
import { convertReferralForOrder } from '../referrals/lifecycle';
import type { ReferralRow } from '../referrals/read';
import { useTenantId, useTransaction } from '../drizzle/transaction';
import { UserError } from '../errors';
import { isUuid, uuidv7 } from '../ids';
import { minorUnitDigits } from '../money';
import { decodeCursor, descendingPage, encodeCursor, firstPageJson, rowsByParty, rowsFromJson, type CorrelatedParty, type PageRequest, type PartyRows } from '../pagination';
import { lazySchema, optionalText, parseInput } from '../validation';
import { emitEvent } from '../webhooks';
import { orders } from './orders.sql';
import { parties } from './parties.sql';
import { requireParty } from './parties';

export type OrderRow = typeof orders.$inferSelect;

/**
 * How far ahead of the server's clock a timestamp may be: callers' clocks drift, and an order
 * stamped "now" on a till a minute fast is not an order from the future.
 */
export const clockSkewMs = 5 * 60 * 1000;

// Written like the Decimal scalar: an optional sign, up to 15 integer digits, optional fraction.
const amountPattern = /^(-?)(\d{1,15})(?:\.(\d+))?$/;

/**
 * Why an amount is refused, or null. Checked on the text itself: money is never parsed to a float
 * (domain: exact decimal), so "0.1" stays "0.1" and no digit is rounded away or made up.
 */
export function amountProblem(amount: string, currency: string): string | null {
  const match = amountPattern.exec(amount);
  if (!match) return 'Amount is a decimal number written as a string, e.g. "199.90"';
  const [, sign, whole, fraction = ''] = match;
  if (sign && /[1-9]/.test(`${whole}${fraction}`)) return 'Amount must not be negative';
  const digits = minorUnitDigits(currency);
  if (fraction.length > digits) {
    return digits === 0
      ? `${currency} amounts are whole numbers`
      : `${currency} amounts have at most ${digits} decimal place${digits === 1 ? '' : 's'}`;
  }
  return null;
}

/** A satisfaction rating (orders and interactions): a whole number from 1 to 5. */
export const satisfaction = lazySchema(() =>
  z
    .number()
    .refine((v) => Number.isInteger(v) && v >= 1 && v <= 5, 'Satisfaction is a whole number from 1 to 5'),
);

/** The input schema for one tenant: the currency and its minor units are the tenant's. */
function recordOrderInput(tenantCurrency: string) {
  return z
    .object({
      partyId: z.string(),
      amount: z.string().trim(),
      currency: z
        .string()
        .trim()
        .toUpperCase()
        .transform((value) => (value === '' ? null : value))
        .nullish(),
      placedAt: z
        .date()
        // domain: a future placedAt is refused; the past is fine (order history is imported).
        .refine((date) => date.getTime() <= Date.now() + clockSkewMs, 'An order cannot be placed in the future')
        .nullish(),
      satisfaction: satisfaction().nullish(),
      externalId: optionalText(200, 'External id'),
    })
    .superRefine((input, ctx) => {
      // domain: money is in the tenant's currency; another currency is refused, not converted.
      if (input.currency && input.currency !== tenantCurrency) {
        ctx.addIssue({ code: 'custom', path: ['currency'], message: `Orders are in the tenant's currency, ${tenantCurrency}` });
      }
      const problem = amountProblem(input.amount, tenantCurrency);
      if (problem) ctx.addIssue({ code: 'custom', path: ['amount'], message: problem });
    });
}

export interface RecordOrderInput {
  partyId: string;
  /** An exact decimal as text, e.g. "199.90". */
  amount: string;
  /** Omitted: the tenant's currency (the only one accepted). */
  currency?: string | null;
  /** Omitted: now. */
  placedAt?: Date | null;
  satisfaction?: number | null;
  externalId?: string | null;
}

/**
 * Records a purchase, in one transaction with what it sets off (domain): a PROSPECT becomes a
 * CUSTOMER, and the referee's first order since a PENDING referral converts it (and rewards it
 * under the tenant's autoReward). `referral` is the referral the order converted, else null.
 */
export async function recordOrder(input: RecordOrderInput): Promise<{ order: OrderRow; referral: ReferralRow | null }> {
  const tenant = await currentTenant();
  const data = parseInput(recordOrderInput(tenant.currency), input);
  // An id that is not even a uuid names no party (and must not reach a uuid column as text).
  if (!isUuid(data.partyId)) throw UserError.of('NOT_FOUND', 'No such party', 'partyId');
  // Locked: the kind may change below, and a concurrent first order must not flip it twice.
  const party = await requireParty(data.partyId, 'partyId', { forUpdate: true });
  if (party.archivedAt) throw UserError.of('CONFLICT', 'The party is archived; restore it before recording orders', 'partyId');
  if (party.erasedAt) throw UserError.of('CONFLICT', "This party's personal data was erased", 'partyId');
  const tx = useTransaction();
  const tenantId = useTenantId();
  if (data.externalId) await assertExternalIdFree(data.externalId);
  const now = new Date();
  // "-0.00" is zero, not a negative amount: keep its digits as written, without the sign.
  const amount = data.amount.replace(/^-/, '');
  const inserted = await tx
    .insert(orders)
    .values({
      tenantId,
      id: uuidv7(now.getTime()),
      partyId: party.id,
      externalId: data.externalId ?? null,
      amount,
      currency: tenant.currency,
      placedAt: data.placedAt ?? now,
      satisfaction: data.satisfaction ?? null,
      createdAt: now,
    })
    // A concurrent twin with the same external id may have won since the check: the index decides.
    .onConflictDoNothing()
    .returning();
  const order = inserted[0];
  if (!order) throw duplicateExternalId();
  let becameCustomer = false;
  if (party.kind === 'PROSPECT') {
    // domain: a PROSPECT's order makes it a CUSTOMER; the other kinds keep theirs.
    await tx
      .update(parties)
      .set({ kind: 'CUSTOMER', updatedAt: now })
      .where(and(eq(parties.tenantId, tenantId), eq(parties.id, party.id)));
    becameCustomer = true;
  }
  await recordAudit({
    operation: 'recordOrder',
    entityType: 'Order',
    entityIds: [order.id, party.id],
    details: { amount: order.amount, currency: order.currency, ...(becameCustomer ? { partyKind: { from: 'PROSPECT', to: 'CUSTOMER' } } : {}) },
  });
  if (becameCustomer) await emitEvent('party.updated', { party: { id: party.id }, changedFields: ['kind'] });
  await earnForOrder(order, pointsSettings(tenant.settings), now);
  const referral = await convertReferralForOrder(order);
  return { order, referral };
}

function duplicateExternalId(): UserError {
  return UserError.of('CONFLICT', 'Another order already has this external id', 'externalId');
}

async function assertExternalIdFree(externalId: string): Promise<void> {
  const [clash] = await useTransaction()
    .select({ id: orders.id })
    .from(orders)
    .where(and(eq(orders.tenantId, useTenantId()), eq(orders.externalId, externalId)));
  if (clash) throw duplicateExternalId();
}

/** The current tenant's orders among `ids` (any order; ids of other tenants find nothing). */
export async function findOrders(ids: readonly string[]): Promise<OrderRow[]> {
  const valid = ids.filter(isUuid);
  if (valid.length === 0) return [];
  return useTransaction()
    .select()
    .from(orders)
    .where(and(eq(orders.tenantId, useTenantId()), inArray(orders.id, valid)));
}

export function orderCursor(row: OrderRow): string {
  return encodeCursor([row.placedAt.toISOString(), row.id]);
}

/** The (timestamp, id) keyset of a cursor this kind of list handed out. */
export function decodeTimelineCursor(cursor: string): { at: string; id: string } {
  const [at, id] = decodeCursor(cursor, 2);
  if (typeof at !== 'string' || typeof id !== 'string' || !isUuid(id) || Number.isNaN(Date.parse(at))) {
    throw UserError.of('VALIDATION', 'The cursor is not one this list handed out', []);
  }
  return { at, id };
}

/**
 * One page of orders for each of many parties, newest `placedAt` first (ties by id): one statement
 * for the whole batch, a window function numbering each party's orders.
 */
export async function orderPages(partyIds: readonly string[], page: PageRequest): Promise<PartyRows<OrderRow>[]> {
  const ids = partyIds.filter(isUuid);
  if (ids.length === 0) return rowsByParty(partyIds, []);
  const { bound, direction } = descendingPage(page, sql`(o.placed_at, o.id)`, (cursor) => {
    const { at, id } = decodeTimelineCursor(cursor);
    return sql`(${at}::timestamptz, ${id}::uuid)`;
  });
  const { rows } = await useTransaction().execute<Record<string, unknown> & { party_id: string }>(sql`
    select * from (
      select ${orderColumns}, row_number() over (partition by o.party_id order by o.placed_at ${direction}, o.id ${direction}) as n
      from ${orders} o
      where o.tenant_id = ${useTenantId()}
        and o.party_id in (${sql.join(ids.map((id) => sql`${id}::uuid`), sql`, `)})
        and ${bound}
    ) ranked
    where n <= ${page.limit}
    order by party_id, n`);
  return rowsByParty(partyIds, rows.map((row) => [row.party_id, toOrderRow(row)]));
}

/**
 * A party's first page of orders (`orderPages` without a cursor) as JSON, correlated with a
 * parties row, for a party's own statement to carry along; decode it with `ordersFromJson`. With
 * `properties`, only those (and the cursor's) are read (`firstPageJson`).
 */
export function orderPageJson(party: CorrelatedParty, limit: number, properties?: readonly string[]): SQL<unknown[]> {
  return firstPageJson({
    columns: orderColumns,
    from: sql`${orders} o`,
    where: sql`o.tenant_id = ${party.tenantId} and o.party_id = ${party.id}`,
    order: sql`o.placed_at desc, o.id desc`,
    limit,
    // Only what is asked, with the cursor's keys (every edge's cursor is computed).
    properties: properties && ['id', 'placedAt', ...properties],
  });
}

export function ordersFromJson(json: unknown): OrderRow[] {
  return rowsFromJson(json, toOrderRow);
}

/** Order counts for many parties at once (for `totalCount`), one statement. */
export async function orderCounts(partyIds: readonly string[]): Promise<Map<string, number>> {
  const ids = partyIds.filter(isUuid);
  if (ids.length === 0) return new Map();
  const rows = await useTransaction()
    .select({ partyId: orders.partyId, n: count() })
    .from(orders)
    .where(and(eq(orders.tenantId, useTenantId()), inArray(orders.partyId, ids)))
    .groupBy(orders.partyId);
  return new Map(rows.map((row) => [row.partyId, Number(row.n)]));
}

/**
 * The columns of `orders o` as text in fixed formats: raw statements bypass drizzle's column
 * mapping, and each driver would otherwise parse numerics and dates its own way. The amount stays
 * text so not a digit of it passes through a float.
 */
const orderColumns = sql.raw(`o.tenant_id::text as tenant_id, o.id::text as id, o.party_id::text as party_id,
  o.external_id, o.amount::text as amount, o.currency::text as currency,
  to_char(o.placed_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as placed_at,
  o.satisfaction::int as satisfaction,
  to_char(o.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as created_at`);

function toOrderRow(row: Record<string, unknown>): OrderRow {
  return {
    tenantId: String(row.tenant_id),
    id: String(row.id),
    partyId: String(row.party_id),
    externalId: (row.external_id as string | null) ?? null,
    amount: String(row.amount),
    currency: String(row.currency),
    placedAt: new Date(String(row.placed_at)),
    satisfaction: row.satisfaction === null || row.satisfaction === undefined ? null : Number(row.satisfaction),
    createdAt: new Date(String(row.created_at)),
  };
}
