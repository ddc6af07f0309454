import { sql } from 'drizzle-orm';
import { createTenant } from '../access';
import { withActor } from '../actor';
import type { Database } from '../drizzle/client';
import { withTenant } from '../drizzle/transaction';
import { interactions } from '../network/interactions.sql';
import { orders } from '../network/orders.sql';
import { parties } from '../network/parties.sql';
import { relationships } from '../network/relationships.sql';
import { referralCodes, referrals } from '../referrals/referrals.sql';
import { stageTransitions } from '../stages/stage-transitions.sql';
import { runTenantScoring } from '../loyalty/runs';
import { calendarDate, todayUtc } from '../validation';
import { seedPoints } from './points';
import {
  planDemoData,
  type InteractionInsert,
  type OrderInsert,
  type PartyInsert,
  type ReferralCodeInsert,
  type ReferralInsert,
  type RelationshipInsert,
  type TransitionInsert,
} from './generate';

export interface SeedOptions {
  /** How many parties to create (default 300). */
  parties?: number;
  /** The PRNG seed: the same options always produce the same data (default 20261123). */
  seed?: number;
  /** The day the demo is "as of", YYYY-MM-DD (default today, UTC); all history lies before it. */
  asOf?: string;
  /** The demo tenant's name. */
  name?: string;
}

export interface SeedResult {
  tenantId: string;
  apiKey: string;
  counts: Record<string, number>;
}

export const defaultSeedOptions = {
  parties: 300,
  seed: 20261123,
  name: 'Demo tea house 演示茶庄',
} as const;

// Postgres allows 65535 bind parameters per statement; 500 rows of the widest table (parties,
// ~20 columns) stay far below it while keeping round trips few.
const BATCH_ROWS = 500;

// domain: LONG_TERM_PARTNERSHIP needs a year since the first order and 6 orders in the last year.
const LONG_TERM_AFTER_DAYS = 365;
const LONG_TERM_MIN_ORDERS = 6;

/**
 * Creates a demo tenant and fills it with a believable, fully deterministic customer network:
 * the output is a pure function of the options (only the tenant id and API key differ per run).
 */
export async function seedDemoTenant(db: Database, options: SeedOptions = {}): Promise<SeedResult> {
  const partyCount = options.parties ?? defaultSeedOptions.parties;
  if (!Number.isInteger(partyCount) || partyCount < 10) {
    throw new Error('parties must be a whole number of at least 10');
  }
  const seed = options.seed ?? defaultSeedOptions.seed;
  if (!Number.isInteger(seed)) throw new Error('seed must be a whole number');
  const asOfDay = options.asOf ?? todayUtc();
  if (!calendarDate().safeParse(asOfDay).success) {
    throw new Error('asOf must be a date written YYYY-MM-DD');
  }
  const asOf = Date.parse(`${asOfDay}T00:00:00.000Z`);

  const { tenant, apiKey } = await createTenant(db, {
    name: options.name ?? defaultSeedOptions.name,
    currency: 'CNY',
  });
  const tenantId = tenant.id;
  const settings = tenant.settings;

  const counts = {
    parties: 0,
    relationships: 0,
    orders: 0,
    interactions: 0,
    referrals: 0,
    referralCodes: 0,
    stageTransitions: 0,
  };

  const plan = () =>
    planDemoData({
      tenantId,
      parties: partyCount,
      seed,
      asOf,
      policy: {
        ...settings.stagePolicy,
        longTermAfterDays: LONG_TERM_AFTER_DAYS,
        longTermMinOrders: LONG_TERM_MIN_ORDERS,
      },
      rewardAmount: settings.referrals.reward.amount,
      currency: tenant.currency,
    });

  await withActor({ kind: 'SYSTEM', tenantId, name: 'seed' }, () =>
    withTenant(db, tenantId, async (tx) => {
      const pending = {
        parties: [] as PartyInsert[],
        orders: [] as OrderInsert[],
        interactions: [] as InteractionInsert[],
        stageTransitions: [] as TransitionInsert[],
        referralCodes: [] as ReferralCodeInsert[],
        referrals: [] as ReferralInsert[],
        relationships: [] as RelationshipInsert[],
      };
      // `final` false writes only full batches and keeps the rest for later, so statements stay
      // BATCH_ROWS wide; memory stays bounded by a few batches even for a very large book.
      const flush = async (final: boolean) => {
        counts.parties += await inBatches(pending.parties, final, (rows) => tx.insert(parties).values(rows));
        counts.orders += await inBatches(pending.orders, final, (rows) => tx.insert(orders).values(rows));
        counts.interactions += await inBatches(pending.interactions, final, (rows) =>
          tx.insert(interactions).values(rows),
        );
        counts.stageTransitions += await inBatches(pending.stageTransitions, final, (rows) =>
          tx.insert(stageTransitions).values(rows),
        );
        counts.referralCodes += await inBatches(pending.referralCodes, final, (rows) =>
          tx.insert(referralCodes).values(rows),
        );
        counts.referrals += await inBatches(pending.referrals, final, (rows) =>
          tx.insert(referrals).values(rows),
        );
        counts.relationships += await inBatches(pending.relationships, final, (rows) =>
          tx.insert(relationships).values(rows),
        );
      };

      // Every party goes in before any row that points at one. Postgres plans a foreign key's
      // lookup once per session; planned against a near-empty, never-analysed parties table it
      // can pick an index on tenant_id alone and then scan the whole tenant for every check
      // (20 000 parties took minutes). The plan is deterministic, so the second pass simply
      // generates the same parties again and keeps what points at them.
      for (const bundle of plan().parties()) {
        pending.parties.push(bundle.party);
        await flush(false);
      }
      await flush(true);

      const second = plan();
      let buffered = 0;
      for (const bundle of second.parties()) {
        pending.orders.push(...bundle.orders);
        pending.interactions.push(...bundle.interactions);
        pending.stageTransitions.push(...bundle.transitions);
        if (bundle.referralCode) pending.referralCodes.push(bundle.referralCode);
        if (bundle.referral) pending.referrals.push(bundle.referral);
        if (bundle.referredEdge) pending.relationships.push(bundle.referredEdge);
        if (++buffered % BATCH_ROWS === 0) await flush(false);
      }
      // Not push(...edges): a large book has more edges than a call may take arguments.
      for (const edge of second.relationships()) pending.relationships.push(edge);
      await flush(true);
    }),
  );

  const points = await seedPoints(db, tenantId, settings);
  // Fresh statistics for the planner: embedded PGlite has no autovacuum to gather them, and a
  // never-analysed table can get poor plans for its foreign-key checks.
  await db.execute(sql`analyze`);
  // Scored for the day before and the day itself, as two nights would have: segments, tiers and
  // segment migration have data from the first start, and expired points are written off.
  let pointsExpired = 0;
  for (const day of [todayUtc(new Date(asOf - 86_400_000)), asOfDay]) {
    if (day > todayUtc()) continue; // a demo dated ahead is scored by the nights to come
    const run = await runTenantScoring(db, tenantId, day, { triggeredBy: 'seed' });
    if (run.status !== 'SUCCEEDED') throw new Error(`Scoring the demo tenant for ${day} failed: ${run.error}`);
    pointsExpired += run.pointsExpired ?? 0;
  }
  return { tenantId, apiKey, counts: { ...counts, pointsEarned: points.earned, pointsRedemptions: points.redeemed, refunds: points.refunds, pointsExpired } };
}

/**
 * Writes `rows` BATCH_ROWS per statement and removes what it wrote: all of them when `final`,
 * otherwise only full batches. Returns how many rows it wrote.
 */
async function inBatches<Row>(
  rows: Row[],
  final: boolean,
  write: (chunk: Row[]) => Promise<unknown>,
): Promise<number> {
  const count = final ? rows.length : rows.length - (rows.length % BATCH_ROWS);
  for (let start = 0; start < count; start += BATCH_ROWS) {
    await write(rows.slice(start, start + BATCH_ROWS));
  }
  rows.splice(0, count);
  return count;
}
