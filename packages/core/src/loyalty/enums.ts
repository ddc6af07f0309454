import { pgEnum } from 'drizzle-orm/pg-core';

export const segments = [
  'IMPORTANT_VALUE',
  'IMPORTANT_DEVELOP',
  'IMPORTANT_RETAIN',
  'IMPORTANT_WIN_BACK',
  'GENERAL_VALUE',
  'GENERAL_DEVELOP',
  'GENERAL_RETAIN',
  'GENERAL_WIN_BACK',
] as const;
export type Segment = (typeof segments)[number];
export const segment = pgEnum('segment', segments);

// Highest first, and the order matters: the scoring statement compares tiers as the enum, by
// this declared order (statement.ts, atLeast).
export const tiers = ['PLATINUM', 'GOLD', 'SILVER', 'BRONZE'] as const;
export type Tier = (typeof tiers)[number];
export const tier = pgEnum('tier', tiers);

// domain (membership tiers): why a party's tier changed.
export const tierRules = ['FIRST', 'UPGRADE', 'DOWNGRADE', 'OVERRIDE', 'OVERRIDE_ENDED'] as const;
export type TierRule = (typeof tierRules)[number];
export const tierRule = pgEnum('tier_rule', tierRules);

export const tierBases = ['SCORE', 'SPEND', 'POINTS'] as const;
export type TierBasis = (typeof tierBases)[number];

export const scoringRunStatuses = ['RUNNING', 'SUCCEEDED', 'FAILED'] as const;
export type ScoringRunStatus = (typeof scoringRunStatuses)[number];
export const scoringRunStatus = pgEnum('scoring_run_status', scoringRunStatuses);
