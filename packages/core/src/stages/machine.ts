import { and, eq } from 'drizzle-orm';
import { actorColumns } from '../actor';
import { recordAudit } from '../audit';
import { emitEvent } from '../webhooks';
import { useTenantId, useTransaction } from '../drizzle/transaction';
import { UserError } from '../errors';
import { uuidv7 } from '../ids';
import { parties } from '../network/parties.sql';
import { requireParty, type PartyRow } from '../network/parties';
import { forwardStages, stages, type ForwardStage, type Stage } from './enums';
import type { StageTransitionRow } from './history';
import { stageTransitions } from './stage-transitions.sql';

export interface AllowedMove {
  to: Stage;
  reasonRequired: boolean;
}

function isForward(stage: Stage | null | undefined): stage is ForwardStage {
  return (forwardStages as readonly string[]).includes(stage ?? '');
}

/**
 * domain: the manual moves. The one place that knows them; `moveStage` and the API's
 * "allowed moves" both ask here.
 */
export function allowedManualMoves(current: Stage, dormantFrom: Stage | null): AllowedMove[] {
  if (isForward(current)) {
    const index = forwardStages.indexOf(current);
    const moves: AllowedMove[] = [];
    const next = forwardStages[index + 1];
    if (next) moves.push({ to: next, reasonRequired: false });
    for (const earlier of forwardStages.slice(0, index)) moves.push({ to: earlier, reasonRequired: true });
    moves.push({ to: 'DORMANT', reasonRequired: false }, { to: 'CHURNED', reasonRequired: false });
    return moves;
  }
  if (current === 'DORMANT') {
    // A dormant party returns to the stage it left (optional reason) or to an earlier one (reason
    // required). Without a record of the stage it left, every forward stage counts as earlier.
    const left = isForward(dormantFrom) ? dormantFrom : null;
    const moves: AllowedMove[] = [];
    if (left) moves.push({ to: left, reasonRequired: false });
    const earlier = left ? forwardStages.slice(0, forwardStages.indexOf(left)) : forwardStages;
    for (const stage of earlier) moves.push({ to: stage, reasonRequired: true });
    moves.push({ to: 'CHURNED', reasonRequired: false });
    return moves;
  }
  // CHURNED: only the win-back.
  return [{ to: 'INITIAL_CONTACT', reasonRequired: false }];
}

function describeMoves(moves: AllowedMove[]): string {
  return moves.map((m) => (m.reasonRequired ? `${m.to} (with a reason)` : m.to)).join(', ');
}

/** Writes one move: the history row, then the party's current stage. Shared by manual and automatic moves. */
export async function recordMove(
  party: PartyRow,
  to: Stage,
  details: { reason?: string | null; automatic?: boolean; rule?: string | null; at?: Date },
): Promise<StageTransitionRow> {
  const at = details.at ?? new Date();
  const secondsInPrevious = Math.max(0, Math.floor((at.getTime() - party.stageChangedAt.getTime()) / 1000));
  const [transition] = await useTransaction()
    .insert(stageTransitions)
    .values({
      tenantId: useTenantId(),
      id: uuidv7(at.getTime()),
      partyId: party.id,
      fromStage: party.stage,
      toStage: to,
      at,
      ...actorColumns(),
      reason: details.reason ?? null,
      secondsInPrevious,
      automatic: details.automatic ?? false,
      rule: details.rule ?? null,
    })
    .returning();
  await useTransaction()
    .update(parties)
    .set({
      stage: to,
      stageChangedAt: at,
      // domain: a DORMANT party returns to the stage it left, so remember it.
      dormantFromStage: to === 'DORMANT' ? (isForward(party.stage) ? party.stage : party.dormantFromStage) : null,
      updatedAt: at,
    })
    .where(and(eq(parties.tenantId, useTenantId()), eq(parties.id, party.id)));
  await emitEvent('stage.changed', {
    party: { id: party.id },
    from: party.stage,
    to,
    automatic: details.automatic ?? false,
    rule: details.rule ?? null,
    at: at.toISOString(),
  });
  return transition!;
}

/**
 * A manual move, or a refusal naming the moves allowed from the current stage (CONFLICT), or a
 * missing required reason (VALIDATION, field `reason`).
 */
export async function moveStage(input: {
  partyId: string;
  to: Stage;
  reason?: string | null;
}): Promise<{ party: PartyRow; transition: StageTransitionRow }> {
  if (!(stages as readonly string[]).includes(input.to)) {
    throw UserError.of('VALIDATION', `Stage is one of ${stages.join(', ')}`, 'to');
  }
  const reason = input.reason?.trim() || null;
  if (reason && reason.length > 1000) throw UserError.of('VALIDATION', 'Reason is at most 1000 characters', 'reason');
  const party = await requireParty(input.partyId, 'partyId', { forUpdate: true });
  if (party.archivedAt) throw UserError.of('CONFLICT', 'An archived party cannot change stage', 'partyId');
  const allowed = allowedManualMoves(party.stage, party.dormantFromStage);
  const move = allowed.find((m) => m.to === input.to);
  if (!move) {
    throw UserError.of(
      'CONFLICT',
      `${party.stage} → ${input.to} is not allowed. From ${party.stage} a party may move to: ${describeMoves(allowed)}`,
      'to',
    );
  }
  if (move.reasonRequired && !reason) {
    throw UserError.of('VALIDATION', `Moving back from ${party.stage} to ${input.to} needs a reason`, 'reason');
  }
  const transition = await recordMove(party, input.to, { reason });
  await recordAudit({
    operation: 'moveStage',
    entityType: 'Party',
    entityIds: [party.id, transition.id],
    details: { from: party.stage, to: input.to },
  });
  const updated = await requireParty(party.id);
  return { party: updated, transition };
}
