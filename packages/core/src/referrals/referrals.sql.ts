import { sql } from 'drizzle-orm';
import {
  char,
  check,
  foreignKey,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { createdAt, money, tenantColumns, timestamptz } from '../drizzle/columns';
import { parties } from '../network/parties.sql';

export const referralStatuses = ['PENDING', 'CONVERTED', 'REWARDED', 'REJECTED'] as const;
export type ReferralStatus = (typeof referralStatuses)[number];
export const referralStatus = pgEnum('referral_status', referralStatuses);

export interface FraudSignal {
  kind: 'SAME_CONTACT' | 'VELOCITY' | 'FAST_CONVERSION' | 'RING' | 'REFUNDED_AFTER_REWARD';
  evidence: Record<string, unknown>;
}

/** A party's referral code: short, unique in the tenant, random (not derived from the id). */
export const referralCodes = pgTable(
  'referral_codes',
  {
    tenantId: tenantColumns.tenantId,
    partyId: uuid('party_id').notNull(),
    code: text('code').notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.partyId] }),
    foreignKey({
      name: 'referral_codes_party_fk',
      columns: [t.tenantId, t.partyId],
      foreignColumns: [parties.tenantId, parties.id],
    }),
    uniqueIndex('referral_codes_code_uq').on(t.tenantId, t.code),
  ],
);

/** 转介绍: referrer brought referee. The referral graph is a forest (no cycles). */
export const referrals = pgTable(
  'referrals',
  {
    ...tenantColumns,
    referrerId: uuid('referrer_id').notNull(),
    refereeId: uuid('referee_id').notNull(),
    code: text('code'),
    channel: text('channel'),
    status: referralStatus('status').notNull().default('PENDING'),
    rewardAmount: money('reward_amount'),
    rewardCurrency: char('reward_currency', { length: 3 }),
    // A reward in member points (reward policy POINTS) instead of money; null otherwise.
    rewardPoints: integer('reward_points'),
    convertingOrderId: uuid('converting_order_id'),
    fraudSignals: jsonb('fraud_signals').$type<FraudSignal[]>().notNull().default(sql`'[]'::jsonb`),
    createdAt: createdAt(),
    convertedAt: timestamptz('converted_at'),
    rewardedAt: timestamptz('rewarded_at'),
    rejectedAt: timestamptz('rejected_at'),
    rejectedReason: text('rejected_reason'),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.id] }),
    foreignKey({
      name: 'referrals_referrer_fk',
      columns: [t.tenantId, t.referrerId],
      foreignColumns: [parties.tenantId, parties.id],
    }),
    foreignKey({
      name: 'referrals_referee_fk',
      columns: [t.tenantId, t.refereeId],
      foreignColumns: [parties.tenantId, parties.id],
    }),
    // domain: a referee has at most one referrer.
    uniqueIndex('referrals_referee_uq').on(t.tenantId, t.refereeId),
    index('referrals_referrer_idx').on(t.tenantId, t.referrerId, t.createdAt),
    index('referrals_tenant_created_idx').on(t.tenantId, t.createdAt),
    // suspiciousReferrals: the few flagged referrals, newest first, without scanning the rest.
    index('referrals_flagged_idx')
      .on(t.tenantId, t.createdAt, t.id)
      .where(sql`${t.fraudSignals} <> '[]'::jsonb`),
    // domain: nobody refers themself.
    check('referrals_not_self', sql`${t.referrerId} <> ${t.refereeId}`),
    check('referrals_reward_not_negative', sql`${t.rewardAmount} is null or ${t.rewardAmount} >= 0`),
    check('referrals_reward_points_positive', sql`${t.rewardPoints} is null or ${t.rewardPoints} > 0`),
    check(
      'referrals_status_dates',
      sql`(${t.status} in ('CONVERTED', 'REWARDED')) = (${t.convertedAt} is not null)
        and (${t.status} = 'REWARDED') = (${t.rewardedAt} is not null)
        and (${t.status} = 'REJECTED') = (${t.rejectedAt} is not null)`,
    ),
  ],
);

/**
 * How many descendants (any depth) each party has in the referral forest, for
 * `topReferrers(by: SUBTREE_SIZE)`: counting them with a recursive walk took 14.7 s on a tenant
 * of a million parties (bench/referrals.ts). Only parties with at least one descendant have a row. Kept by triggers on
 * `referrals` (migration 0005), so every writer — the API, the seed, imports, merges — keeps it
 * right; the application only reads it.
 */
export const referralSubtreeSizes = pgTable(
  'referral_subtree_sizes',
  {
    tenantId: tenantColumns.tenantId,
    partyId: uuid('party_id').notNull(),
    descendants: integer('descendants').notNull(),
  },
  (t) => [
    // No foreign key to parties: the triggers only count parties that referrals already point to,
    // and a key check would lock each ancestor's party row on every new referral.
    primaryKey({ columns: [t.tenantId, t.partyId] }),
    // The leaderboard: largest subtrees first, ties by party id.
    index('referral_subtree_sizes_rank_idx').on(t.tenantId, t.descendants.desc(), t.partyId),
    check('referral_subtree_sizes_positive', sql`${t.descendants} > 0`),
  ],
);
