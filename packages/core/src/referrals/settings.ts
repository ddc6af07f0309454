import { defaultTenantSettings, type TenantRow, type TenantSettings } from '../access';

export type ReferralSettings = TenantSettings['referrals'];

/** The tenant's referral settings, defaults filling whatever an older settings document lacks. */
export function referralSettings(tenant: TenantRow): ReferralSettings {
  const defaults = defaultTenantSettings().referrals;
  const stored: Partial<ReferralSettings> = tenant.settings?.referrals ?? {};
  return { ...defaults, ...stored, reward: { ...defaults.reward, ...stored.reward } };
}
