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

export const tiers = ['PLATINUM', 'GOLD', 'SILVER', 'BRONZE'] as const;
export type Tier = (typeof tiers)[number];
export const tier = pgEnum('tier', tiers);

export const scoringRunStatuses = ['RUNNING', 'SUCCEEDED', 'FAILED'] as const;
export type ScoringRunStatus = (typeof scoringRunStatuses)[number];
export const scoringRunStatus = pgEnum('scoring_run_status', scoringRunStatuses);
