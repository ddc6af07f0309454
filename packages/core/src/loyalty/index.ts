export * from './enums';
export { loyaltySnapshots, scoringRuns, tierHistory } from './loyalty.sql';
export * from './scoring';
export * from './membership';
