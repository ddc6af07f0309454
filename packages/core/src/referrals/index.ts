export * from './referrals.sql';
export * from './referrals';
