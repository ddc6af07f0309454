export * from './referrals.sql';
export * from './codes';
export {
  findReferrals,
  referralCounts,
  referralCursor,
  referralPages,
  referralPageJson,
  referralsFromJson,
  referrerJson,
  referrersOf,
  type ReferralRow,
} from './read';
export {
  countSuspiciousReferrals,
  fraudSignalKinds,
  listSuspiciousReferrals,
  normaliseEmail,
  normalisePhone,
  type FraudSignalKind,
} from './fraud';
export { createReferral, hasReferrer, refereeHasOrders, type CreateReferralInput } from './create';
export * from './lifecycle';
export { maxTreeDepth, referralChain, referralTree, treeCursor, type ReferralTree, type ReferralTreeNode } from './graph';
export * from './leaderboard';
