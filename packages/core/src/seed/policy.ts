import type { ActorKind, ForwardStage, Stage } from '../stages/enums';
import { forwardStages } from '../stages/enums';

export const DAY_MS = 24 * 60 * 60 * 1000;

export interface SeedStagePolicy {
  loyalAfter: number;
  dormantAfterDays: number;
  churnedAfterDays: number;
  longTermAfterDays: number;
  longTermMinOrders: number;
}

export type TimelineEvent =
  | { at: number; kind: 'ORDER'; satisfaction: number | null }
  | { at: number; kind: 'INTERACTION' }
  | { at: number; kind: 'MANUAL'; to: ForwardStage; reason: string; actorKind: ActorKind; actorId: string };

export interface Move {
  from: Stage | null;
  to: Stage;
  at: number;
  automatic: boolean;
  rule: string | null;
  reason: string | null;
  actorKind: ActorKind;
  actorId: string;
}

export interface StageReplay {
  moves: Move[];
  stage: Stage;
  stageChangedAt: number;
  dormantFromStage: Stage | null;
  /** When the party churned; the seed drops its activity from then on (churned stays churned). */
  churnedAt: number | null;
}

const forwardRank = (stage: Stage): number => (forwardStages as readonly Stage[]).indexOf(stage);

/**
 * Replays the automatic stage policy over a party's own history, in time order, as the nightly
 * job would have applied it day by day. `events` must be sorted by `at` and all before `asOf`.
 */
export function replayStages(
  createdAt: number,
  events: readonly TimelineEvent[],
  asOf: number,
  policy: SeedStagePolicy,
): StageReplay {
  const system = { actorKind: 'SYSTEM' as const, actorId: 'seed' };
  const moves: Move[] = [
    {
      from: null,
      to: 'INITIAL_CONTACT',
      at: createdAt,
      automatic: false,
      rule: null,
      reason: null,
      ...system,
    },
  ];
  // Asserted, not annotated: the closures below reassign these, which narrowing cannot see.
  let stage = 'INITIAL_CONTACT' as Stage;
  let dormantFrom = null as Stage | null;
  let lastActivity = createdAt;
  let satisfying = 0;
  const orderTimes: number[] = [];
  let firstOrderAt: number | null = null;
  // domain: LONG_TERM can become true with no new order, when the first order turns a year old.
  let anniversary = null as number | null;
  let churnedAt = null as number | null;

  const move = (to: Stage, at: number, fields: Partial<Move>): void => {
    const previous = moves[moves.length - 1]!;
    // Two moves caused by one order (wake up, then loyal) still need strictly increasing times.
    const when = Math.max(at, previous.at + 1);
    moves.push({
      from: stage,
      to,
      at: when,
      automatic: true,
      rule: null,
      reason: null,
      ...system,
      ...fields,
    });
    stage = to;
  };
  const auto = (to: Stage, at: number, rule: string): void => move(to, at, { automatic: true, rule });

  const ordersInYearBefore = (at: number): number => {
    const since = at - policy.longTermAfterDays * DAY_MS;
    return orderTimes.filter((t) => t > since && t <= at).length;
  };

  // domain: automatic moves only go forward, one step at a time, and never out of DORMANT/CHURNED.
  const advance = (at: number): void => {
    if (stage === 'INITIAL_CONTACT' && satisfying >= 1) auto('TRUST_BUILDING', at, 'FIRST_SATISFYING_ORDER');
    if (stage === 'TRUST_BUILDING' && satisfying >= policy.loyalAfter) {
      auto('LOYALTY_GROWTH', at, 'LOYAL_AFTER');
    }
    if (
      stage === 'LOYALTY_GROWTH' &&
      firstOrderAt !== null &&
      at - firstOrderAt >= policy.longTermAfterDays * DAY_MS &&
      ordersInYearBefore(at) >= policy.longTermMinOrders
    ) {
      auto('LONG_TERM_PARTNERSHIP', at, 'LONG_TERM');
    }
  };

  // Silence thresholds fire at the instant they are crossed: strictly before the next activity,
  // or at asOf itself for the final check.
  const settleSilence = (until: number, inclusive: boolean): void => {
    const crossed = (threshold: number) => (inclusive ? threshold <= until : threshold < until);
    if (stage === 'CHURNED') return;
    const dormantAt = lastActivity + policy.dormantAfterDays * DAY_MS;
    if (stage !== 'DORMANT' && crossed(dormantAt)) {
      // domain: a DORMANT party returns to the stage it left.
      dormantFrom = stage;
      auto('DORMANT', dormantAt, 'DORMANT_AFTER');
    }
    const churnAt = lastActivity + policy.churnedAfterDays * DAY_MS;
    if (stage === 'DORMANT' && crossed(churnAt)) {
      auto('CHURNED', churnAt, 'CHURNED_AFTER');
      dormantFrom = null;
      churnedAt = moves[moves.length - 1]!.at;
    }
  };

  const settleAnniversary = (before: number, inclusive: boolean): void => {
    if (anniversary === null || (inclusive ? anniversary > before : anniversary >= before)) return;
    settleSilence(anniversary, false);
    if (churnedAt === null && forwardRank(stage) >= 0) advance(anniversary);
    anniversary = null;
  };

  for (const event of events) {
    settleAnniversary(event.at, false);
    if (churnedAt !== null) break;
    settleSilence(event.at, false);
    if (churnedAt !== null) break;
    switch (event.kind) {
      case 'ORDER': {
        orderTimes.push(event.at);
        if (firstOrderAt === null) {
          firstOrderAt = event.at;
          anniversary = event.at + policy.longTermAfterDays * DAY_MS;
        }
        // domain: an order satisfies unless it was rated below 4.
        if (event.satisfaction === null || event.satisfaction >= 4) satisfying++;
        if (stage === 'DORMANT') {
          auto(dormantFrom ?? 'INITIAL_CONTACT', event.at, 'DORMANT_WAKE_UP');
          dormantFrom = null;
        }
        advance(event.at);
        lastActivity = Math.max(lastActivity, event.at);
        break;
      }
      case 'INTERACTION':
        lastActivity = Math.max(lastActivity, event.at);
        break;
      case 'MANUAL':
        // The seed's manual moves are a rep's forward step; skipped if the party has moved on.
        if (forwardRank(stage) >= 0 && forwardRank(event.to) > forwardRank(stage)) {
          move(event.to, event.at, {
            automatic: false,
            rule: null,
            reason: event.reason,
            actorKind: event.actorKind,
            actorId: event.actorId,
          });
        }
        break;
    }
  }
  if (churnedAt === null) settleAnniversary(asOf, true);
  if (churnedAt === null) settleSilence(asOf, true);

  const last = moves[moves.length - 1]!;
  return {
    moves,
    stage,
    stageChangedAt: last.at,
    dormantFromStage: stage === 'DORMANT' ? dormantFrom : null,
    churnedAt,
  };
}
