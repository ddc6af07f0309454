export * from './enums';
export { parties } from './parties.sql';
export { relationships } from './relationships.sql';
export { orders } from './orders.sql';
export { interactions } from './interactions.sql';
export * from './parties';
