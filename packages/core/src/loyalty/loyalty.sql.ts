import { sql } from 'drizzle-orm';
import {
  boolean,
  check,
  date,
  foreignKey,
  index,
  integer,
  jsonb,
  numeric,
  pgTable,
  primaryKey,
  smallint,
  text,
  uuid,
} from 'drizzle-orm/pg-core';
import { money, tenantColumns, timestamptz } from '../drizzle/columns';
import { parties } from '../network/parties.sql';
import { actorKind } from '../stages/enums';
import { scoringRunStatus, segment, tier, tierRule } from './enums';

const component = (name: string) => numeric(name, { precision: 6, scale: 5 }).notNull();

/**
 * One row per scored party and day: every input, component and output, and the rule version, so a
 * score can be explained and recomputed (domain: loyalty scoring).
 */
export const loyaltySnapshots = pgTable(
  'loyalty_snapshots',
  {
    tenantId: tenantColumns.tenantId,
    partyId: uuid('party_id').notNull(),
    asOf: date('as_of').notNull(),
    runId: uuid('run_id'),
    recencyDays: integer('recency_days').notNull(),
    frequency: integer('frequency').notNull(),
    monetary: money('monetary').notNull(),
    satisfactionMean: numeric('satisfaction_mean'),
    satisfyingOrders: integer('satisfying_orders').notNull(),
    convertedReferrals: integer('converted_referrals').notNull(),
    interactions: integer('interactions').notNull(),
    typicalGapDays: numeric('typical_gap_days').notNull(),
    r: smallint('r').notNull(),
    f: smallint('f').notNull(),
    m: smallint('m').notNull(),
    segment: segment('segment').notNull(),
    recencyComponent: component('recency_component'),
    frequencyComponent: component('frequency_component'),
    monetaryComponent: component('monetary_component'),
    satisfactionComponent: component('satisfaction_component'),
    referralsComponent: component('referrals_component'),
    engagementComponent: component('engagement_component'),
    score: numeric('score', { precision: 4, scale: 1 }).notNull(),
    // domain (membership tiers): the tier on the day after the tier rules, and what the day's
    // value alone gives (null on snapshots from before tiers had rules).
    tier: tier('tier').notNull(),
    qualifyingTier: tier('qualifying_tier'),
    // Evaluated days in a row, this one included, whose qualifying tier was below the tier: the
    // downgrade grace counts them. Whether an override held the tier on the day.
    belowDays: smallint('below_days').notNull().default(0),
    overridden: boolean('overridden').notNull().default(false),
    churnRisk: numeric('churn_risk', { precision: 6, scale: 5 }).notNull(),
    loyal: boolean('loyal').notNull(),
    ruleVersion: integer('rule_version').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.partyId, t.asOf] }),
    foreignKey({
      name: 'loyalty_snapshots_party_fk',
      columns: [t.tenantId, t.partyId],
      foreignColumns: [parties.tenantId, parties.id],
    }),
    index('loyalty_snapshots_tenant_day_idx').on(t.tenantId, t.asOf, t.segment),
    check('loyalty_snapshots_rfm_range', sql`${t.r} between 1 and 5 and ${t.f} between 1 and 5 and ${t.m} between 1 and 5`),
    check('loyalty_snapshots_score_range', sql`${t.score} between 0 and 100`),
    check('loyalty_snapshots_churn_range', sql`${t.churnRisk} between 0 and 1`),
  ],
);

/**
 * The score, segment and tier of each party's latest snapshot (domain: Party.loyalty is the
 * latest snapshot), so lists filter and sort by them through this table's indexes. One row per
 * party, scored or not (a trigger adds it when the party is inserted, migration 0007), so a list
 * sorted by score walks one index, unscored parties included.
 *
 * Not columns of `parties`, and without the snapshot's day: the scoring run writes a copy only
 * when its values change (most do not from one night to the next), and since score and segment
 * are indexed no such write can be HOT. On `parties` every party's copy (with its day) was
 * rewritten every night, each a wide row and an entry in every one of the parties' ten indexes
 * (trigram and tags GIN included), which doubled the run's time.
 */
export const partyLoyalty = pgTable(
  'party_loyalty',
  {
    tenantId: tenantColumns.tenantId,
    partyId: uuid('party_id').notNull(),
    score: numeric('score', { precision: 4, scale: 1 }),
    segment: segment('segment'),
    tier: tier('tier'),
    // setMembershipTier: the tier held from `overrideFrom` through `overrideUntil` (null: until
    // cleared), whatever the rules say; null when there is none.
    overrideTier: tier('override_tier'),
    overrideReason: text('override_reason'),
    overrideFrom: date('override_from'),
    overrideUntil: date('override_until'),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.partyId] }),
    foreignKey({
      name: 'party_loyalty_party_fk',
      columns: [t.tenantId, t.partyId],
      foreignColumns: [parties.tenantId, parties.id],
    }).onDelete('cascade'),
    // Sort by latest score, unscored last; the cursor carries the same expression.
    index('party_loyalty_score_idx').on(t.tenantId, sql`coalesce(${t.score}, -1)`, t.partyId),
    index('party_loyalty_segment_idx')
      .on(t.tenantId, t.segment)
      .where(sql`${t.segment} is not null`),
    check('party_loyalty_scored', sql`(${t.score} is null) = (${t.segment} is null) and (${t.segment} is null) = (${t.tier} is null)`),
  ],
);

/** One nightly (or on-demand) scoring attempt of a tenant for a day. */
export const scoringRuns = pgTable(
  'scoring_runs',
  {
    ...tenantColumns,
    asOf: date('as_of').notNull(),
    status: scoringRunStatus('status').notNull().default('RUNNING'),
    startedAt: timestamptz('started_at').notNull().defaultNow(),
    finishedAt: timestamptz('finished_at'),
    // The run's lease: refreshed every few seconds from outside the scoring transaction while it
    // is RUNNING; one silent for longer than its lease was killed (runs.ts, scoringRunLeaseMs).
    heartbeatAt: timestamptz('heartbeat_at'),
    durationMs: integer('duration_ms'),
    partiesScored: integer('parties_scored'),
    stageMoves: jsonb('stage_moves').$type<Record<string, number>>(),
    // Member points the run's expiry wrote off (EXPIRE entries), null before it ran.
    pointsExpired: integer('points_expired'),
    ruleVersion: integer('rule_version'),
    triggeredBy: text('triggered_by'),
    error: text('error'),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.id] }),
    index('scoring_runs_tenant_day_idx').on(t.tenantId, t.asOf, t.startedAt),
    check('scoring_runs_finished', sql`(${t.status} = 'RUNNING') = (${t.finishedAt} is null)`),
  ],
);

/**
 * Every change of a party's membership tier (domain: membership tiers): by the nightly rules
 * (FIRST, UPGRADE, DOWNGRADE, OVERRIDE_ENDED), on the day evaluated, or by setMembershipTier
 * (OVERRIDE, and OVERRIDE_ENDED when cleared). Scoring a day again replaces that day's rows of the
 * rules.
 */
export const tierHistory = pgTable(
  'tier_history',
  {
    ...tenantColumns,
    partyId: uuid('party_id').notNull(),
    asOf: date('as_of').notNull(),
    at: timestamptz('at').notNull().defaultNow(),
    fromTier: tier('from_tier'),
    toTier: tier('to_tier'),
    rule: tierRule('rule').notNull(),
    // True for the nightly rules' rows (a re-run replaces them), false for setMembershipTier's.
    automatic: boolean('automatic').notNull(),
    actorKind: actorKind('actor_kind').notNull(),
    actorId: text('actor_id'),
    reason: text('reason'),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.id] }),
    foreignKey({ name: 'tier_history_party_fk', columns: [t.tenantId, t.partyId], foreignColumns: [parties.tenantId, parties.id] }),
    index('tier_history_party_at_idx').on(t.tenantId, t.partyId, t.at, t.id),
    index('tier_history_day_idx').on(t.tenantId, t.asOf),
  ],
);
