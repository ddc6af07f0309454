export * from './enums';
export { loyaltySnapshots, scoringRuns } from './loyalty.sql';
export * from './scoring';
