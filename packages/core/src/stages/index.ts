import { actorColumns } from '../actor';
import { useTenantId, useTransaction } from '../drizzle/transaction';
import { uuidv7 } from '../ids';
import type { Stage } from './enums';
import { stageTransitions } from './stage-transitions.sql';

export * from './enums';
export { stageTransitions } from './stage-transitions.sql';
export * from './machine';
export * from './policy';
export * from './history';

/** domain: a party's first history row records its starting stage (from = null). */
export async function recordInitialStage(partyId: string, stage: Stage, at: Date): Promise<void> {
  await useTransaction()
    .insert(stageTransitions)
    .values({
      tenantId: useTenantId(),
      id: uuidv7(at.getTime()),
      partyId,
      fromStage: null,
      toStage: stage,
      at,
      ...actorColumns(),
      reason: null,
      secondsInPrevious: null,
      automatic: false,
    });
}
