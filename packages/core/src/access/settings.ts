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
    followUpDays: 30,
    webhookDeliveryRetentionDays: 30,
    auditLogRetentionDays: 0,
  };
}
