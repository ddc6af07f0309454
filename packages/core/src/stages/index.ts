export * from './enums';
export { stageTransitions } from './stage-transitions.sql';
export * from './machine';
export * from './policy';
export * from './history';
