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
    /** FIXED cash, a PERCENT of the converting order, or POINTS (a whole number of member points). */
    reward: { kind: 'FIXED' | 'PERCENT' | 'POINTS'; amount: string };
    autoReward: boolean;
    maxReferralsPerHour: number;
    minMinutesToConvert: number;
  };
  /** 会员积分 (domain: member points). Absent from documents written before points existed. */
  points?: PointsSettings;
  /** 会员等级 (domain: membership tiers). Absent from documents written before tiers had rules. */
  membership?: MembershipSettings;
  /** 回访: a party whose last interaction is older than this is due a follow-up. */
  followUpDays: number;
  /**
   * Days a finished webhook delivery (DELIVERED or FAILED) is kept for `webhookDeliveries`, 1–3650;
   * a pending one is never removed. Default 30: the log is for debugging a receiver (the last retry
   * comes ~32 h after the first), and each event writes a row per subscribed webhook.
   */
  webhookDeliveryRetentionDays: number;
  /**
   * Days the audit log is kept: 0 = forever (the default), else 180–3650. Forever by default
   * because the log is the tenant's evidence (of erasures, settings and key changes) and a
   * deletion cannot be undone; a tenant whose rules bound it chooses the bound. Never under 180
   * days, the least that log-keeping rules such as China's Cybersecurity Law (art. 21) ask.
   */
  auditLogRetentionDays: number;
}

export interface PointsSettings {
  /** Points per currency unit of an order's net amount, an exact decimal ("1"); "0" turns earning off. */
  pointsPerUnit: string;
  /** Days an order's points stay pending after its placedAt (the return window), 0–365. */
  pendingDays: number;
  /** Days points stay available before they expire, 0 (never) or 1–3650. */
  expiryDays: number;
  /** What an order earns is multiplied by that of the party's membership tier (× 1 without a tier). */
  tierMultipliers: { bronze: string; silver: string; gold: string; platinum: string };
}

export interface TierBenefit {
  code: string;
  description: string;
}

export interface MembershipSettings {
  /** What qualifies a party for a tier: D's loyalty score, net spend or points earned in the window. */
  basis: 'SCORE' | 'SPEND' | 'POINTS';
  /**
   * The lowest net spend (a decimal, SPEND) or points earned (POINTS) of each tier in the window;
   * SCORE uses the scoring tiers (scoring.tiers).
   */
  thresholds: { silver: string; gold: string; platinum: string };
  /** Evaluated days below the tier, besides the day itself, before it drops one level; 0: at once. */
  downgradeGraceDays: number;
  benefits: { bronze: TierBenefit[]; silver: TierBenefit[]; gold: TierBenefit[]; platinum: TierBenefit[] };
}

/** A tenant's membership settings, defaults filled in (documents from before tiers have none). */
export function membershipSettings(settings: Partial<TenantSettings>): MembershipSettings {
  const defaults = defaultMembershipSettings();
  const stored = settings.membership;
  return {
    ...defaults,
    ...stored,
    thresholds: { ...defaults.thresholds, ...stored?.thresholds },
    benefits: { ...defaults.benefits, ...stored?.benefits },
  };
}

function defaultMembershipSettings(): MembershipSettings {
  return {
    basis: 'SCORE',
    thresholds: { silver: '1000', gold: '5000', platinum: '20000' },
    downgradeGraceDays: 0,
    benefits: { bronze: [], silver: [], gold: [], platinum: [] },
  };
}

/** A tenant's points settings, defaults filled in (documents from before points have none). */
export function pointsSettings(settings: Partial<TenantSettings>): PointsSettings {
  const defaults = defaultPointsSettings();
  const stored = settings.points;
  return { ...defaults, ...stored, tierMultipliers: { ...defaults.tierMultipliers, ...stored?.tierMultipliers } };
}

function defaultPointsSettings(): PointsSettings {
  return { pointsPerUnit: '1', pendingDays: 7, expiryDays: 365, tierMultipliers: { bronze: '1', silver: '1.2', gold: '1.5', platinum: '2' } };
}

/**
 * The retention settings of a tenant, defaults filled in: documents written before these settings
 * existed (migration 0008) do not have them, and read as the defaults.
 */
export function retentionSettings(settings: Partial<TenantSettings>): Pick<TenantSettings, 'webhookDeliveryRetentionDays' | 'auditLogRetentionDays'> {
  const defaults = defaultTenantSettings();
  return {
    webhookDeliveryRetentionDays: settings.webhookDeliveryRetentionDays ?? defaults.webhookDeliveryRetentionDays,
    auditLogRetentionDays: settings.auditLogRetentionDays ?? defaults.auditLogRetentionDays,
  };
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
    points: defaultPointsSettings(),
    membership: defaultMembershipSettings(),
    followUpDays: 30,
    webhookDeliveryRetentionDays: 30,
    auditLogRetentionDays: 0,
  };
}
