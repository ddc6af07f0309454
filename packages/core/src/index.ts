export * from './actor';
export * from './errors';
export * from './ids';
export * from './pagination';
export * from './validation';
export * from './drizzle/client';
export * from './drizzle/migrate';
export * from './drizzle/transaction';
