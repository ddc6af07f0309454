import { sql } from 'drizzle-orm';
import { check, foreignKey, index, integer, pgEnum, pgTable, primaryKey, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { tenantColumns, timestamptz } from '../drizzle/columns';
import { parties } from '../network/parties.sql';
import { orders } from '../network/orders.sql';
import { referrals } from '../referrals/referrals.sql';
import { actorKind } from '../stages/enums';

// domain (member points): what an entry is, and where it came from.
export const pointsEntryKinds = ['EARN', 'REDEEM', 'EXPIRE', 'ADJUST', 'REVERSE', 'TRANSFER'] as const;
export type PointsEntryKind = (typeof pointsEntryKinds)[number];
export const pointsEntryKind = pgEnum('points_entry_kind', pointsEntryKinds);

export const pointsSources = ['ORDER', 'REFERRAL', 'MANUAL', 'JOB', 'MERGE'] as const;
export type PointsSource = (typeof pointsSources)[number];
export const pointsSource = pgEnum('points_source', pointsSources);

/**
 * A party's points ledger (domain: member points). Append-only: a trigger (migration 0010)
 * refuses UPDATE and DELETE, so every balance is explained by the entries that make it.
 *
 * An entry with positive points is a lot: it becomes available at `available_at` (an order's
 * points after the return window) and stops being available at `expires_at` (null: never). An
 * entry with negative points spends: its draws (`points_draws`) say which lots it took from,
 * earliest expiry first. A `REVERSE` may draw less than it took back; the rest is the party's
 * debt, which lots that become available pay first (draws added to that same entry later).
 */
export const pointsEntries = pgTable(
  'points_entries',
  {
    ...tenantColumns,
    partyId: uuid('party_id').notNull(),
    kind: pointsEntryKind('kind').notNull(),
    points: integer('points').notNull(),
    at: timestamptz('at').notNull().defaultNow(),
    source: pointsSource('source').notNull(),
    orderId: uuid('order_id'),
    referralId: uuid('referral_id'),
    actorKind: actorKind('actor_kind').notNull(),
    actorId: text('actor_id'),
    reason: text('reason'),
    // Unique per tenant: a retried request finds its first entry instead of writing another.
    idempotencyKey: text('idempotency_key'),
    availableAt: timestamptz('available_at'),
    expiresAt: timestamptz('expires_at'),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.id] }),
    foreignKey({ name: 'points_entries_party_fk', columns: [t.tenantId, t.partyId], foreignColumns: [parties.tenantId, parties.id] }),
    foreignKey({ name: 'points_entries_order_fk', columns: [t.tenantId, t.orderId], foreignColumns: [orders.tenantId, orders.id] }),
    foreignKey({ name: 'points_entries_referral_fk', columns: [t.tenantId, t.referralId], foreignColumns: [referrals.tenantId, referrals.id] }),
    uniqueIndex('points_entries_idempotency_uq').on(t.tenantId, t.idempotencyKey).where(sql`${t.idempotencyKey} is not null`),
    // The ledger page, newest first. Balances read a covering index of their own, written by hand
    // in migration 0010: (tenant_id, party_id) INCLUDE (id, kind, points, available_at, expires_at).
    index('points_entries_party_at_idx').on(t.tenantId, t.partyId, t.at, t.id),
    index('points_entries_order_idx').on(t.tenantId, t.orderId).where(sql`${t.orderId} is not null`),
    // The nightly expiry: lots by expiry, and lots written since the last run (a backdated order's
    // may have expired already). Both hold lots only: a night's range of the second would
    // otherwise walk every entry written since, each fetched from the heap to be thrown away (the
    // night after a first run wrote off 1,000,000 parties' lots: 221 s instead of seconds).
    index('points_lots_expiry_idx').on(t.tenantId, t.expiresAt).where(sql`${t.points} > 0 and ${t.expiresAt} is not null`),
    index('points_lots_written_idx').on(t.tenantId, t.at).where(sql`${t.points} > 0 and ${t.expiresAt} is not null`),
    // Open debts (refunds and merged debts are few): the nightly settles them before expiring.
    index('points_entries_debts_idx')
      .on(t.tenantId, t.partyId)
      .where(sql`${t.points} < 0 and ${t.kind} in ('REVERSE', 'TRANSFER')`),
    check('points_entries_not_zero', sql`${t.points} <> 0`),
    check(
      'points_entries_sign',
      sql`case ${t.kind} when 'EARN' then ${t.points} > 0 when 'REDEEM' then ${t.points} < 0 when 'EXPIRE' then ${t.points} < 0 when 'REVERSE' then ${t.points} < 0 else true end`,
    ),
    // Exactly the positive entries are lots.
    check('points_entries_lot', sql`(${t.points} > 0) = (${t.availableAt} is not null)`),
    check('points_entries_expiry', sql`${t.expiresAt} is null or (${t.availableAt} is not null and ${t.expiresAt} > ${t.availableAt})`),
  ],
);

/** Which lots a spending entry took its points from. Append-only, like the entries. */
export const pointsDraws = pgTable(
  'points_draws',
  {
    ...tenantColumns,
    partyId: uuid('party_id').notNull(),
    // The spending entry (negative points) and the lot (positive points) it drew from.
    entryId: uuid('entry_id').notNull(),
    lotId: uuid('lot_id').notNull(),
    points: integer('points').notNull(),
    at: timestamptz('at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.id] }),
    foreignKey({ name: 'points_draws_entry_fk', columns: [t.tenantId, t.entryId], foreignColumns: [pointsEntries.tenantId, pointsEntries.id] }),
    foreignKey({ name: 'points_draws_lot_fk', columns: [t.tenantId, t.lotId], foreignColumns: [pointsEntries.tenantId, pointsEntries.id] }),
    // (tenant_id, lot_id) INCLUDE (points), written by hand in migration 0010: each lot's draws
    // summed from the index alone (drizzle has no INCLUDE).
    index('points_draws_entry_idx').on(t.tenantId, t.entryId),
    check('points_draws_positive', sql`${t.points} > 0`),
  ],
);
