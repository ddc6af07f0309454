// Filled in by the referrals issue.
export {};
