// Every table of guanxi, for drizzle's typed queries and for drizzle-kit.
export * from '../access/tenants.sql';
export * from '../access/api-keys.sql';
export * from '../access/rate-limit.sql';
export * from '../network/enums';
export * from '../network/parties.sql';
export * from '../network/relationships.sql';
export * from '../network/orders.sql';
export * from '../network/interactions.sql';
export * from '../stages/enums';
export * from '../stages/stage-transitions.sql';
export * from '../referrals/referrals.sql';
export * from '../loyalty/enums';
export * from '../loyalty/loyalty.sql';
export * from '../webhooks/webhooks.sql';
export * from '../webhooks/deliveries.sql';
export * from '../audit/audit.sql';
export * from '../points/points.sql';
