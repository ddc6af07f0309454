import { pgEnum } from 'drizzle-orm/pg-core';

// domain: the four forward stages in order, then the two off-path stages.
export const forwardStages = [
  'INITIAL_CONTACT',
  'TRUST_BUILDING',
  'LOYALTY_GROWTH',
  'LONG_TERM_PARTNERSHIP',
] as const;
export const stages = [...forwardStages, 'DORMANT', 'CHURNED'] as const;
export type Stage = (typeof stages)[number];
export type ForwardStage = (typeof forwardStages)[number];
export const stage = pgEnum('stage', stages);

/** Who made a change: a signed-in user, a partner's API key, or guanxi itself (nightly job, seed). */
export const actorKinds = ['USER', 'API_KEY', 'SYSTEM'] as const;
export type ActorKind = (typeof actorKinds)[number];
export const actorKind = pgEnum('actor_kind', actorKinds);
