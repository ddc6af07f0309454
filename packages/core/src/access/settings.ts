/**
 * A tenant's settings: the numbers the domain calls defaults. Stored as one JSON document on the
 * tenant row; validated here whenever they are written.
 */
export interface TenantSettings {
  stagePolicy: {
    /** domain: satisfying orders that make a party loyal, 2–5 (default 3). */
    loyalAfter: number;
    dormantAfterDays: number;
    churnedAfterDays: number;
  };
  scoring: {
    windowDays: number;
    weights: {
      recency: number;
      frequency: number;
      monetary: number;
      satisfaction: number;
      referrals: number;
      engagement: number;
    };
    tiers: { platinum: number; gold: number; silver: number };
  };
  referrals: {
    reward: { kind: 'FIXED' | 'PERCENT'; amount: string };
    autoReward: boolean;
    maxReferralsPerHour: number;
    minMinutesToConvert: number;
  };
  /** 回访: a party whose last interaction is older than this is due a follow-up. */
  followUpDays: number;
}

export function defaultTenantSettings(): TenantSettings {
  return {
    stagePolicy: { loyalAfter: 3, dormantAfterDays: 90, churnedAfterDays: 180 },
    scoring: {
      windowDays: 365,
      weights: {
        recency: 0.25,
        frequency: 0.25,
        monetary: 0.2,
        satisfaction: 0.15,
        referrals: 0.1,
        engagement: 0.05,
      },
      tiers: { platinum: 85, gold: 70, silver: 50 },
    },
    referrals: {
      reward: { kind: 'FIXED', amount: '20.00' },
      autoReward: true,
      maxReferralsPerHour: 5,
      minMinutesToConvert: 2,
    },
    followUpDays: 30,
  };
}
