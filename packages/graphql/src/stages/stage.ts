import { correlatedParty } from '@guanxi/core';
import {
  stageHistoryPageJson,
  transitionsFromJson,
  allowedManualMoves,
  applyStagePolicy,
  churnGroupings,
  churnRates,
  findStageTransitions,
  moveStage,
  stageCounts,
  stageFunnel,
  stageHistoryCounts,
  stageHistoryPages,
  transitionCursor,
  type ChurnGrouping,
  type StageTransitionRow,
} from '@guanxi/core/stages';
import type { PartyRow } from '@guanxi/core/network';
import { Actor } from '../access/actor';
import { Tenant } from '../access/tenant';
import { builder } from '../builder';
import { partyConnections } from '../connections';
import { payloadType, runMutation } from '../errors';
import { Party, PartyKindEnum, SegmentEnum, StageEnum, TierEnum } from '../network/party';
import { prefetchablePageOnParty, prefetchedPages } from '../network/prefetch';

export const StageTransition = builder.loadableNode('StageTransition', {
  description:
    'One move of a party between stages, manual (moveStage) or automatic (the stage policy). History is append-only: rows are never edited or deleted.',
  id: { resolve: (row: StageTransitionRow) => row.id },
  load: (ids: string[]) => findStageTransitions(ids),
  sort: (row) => row.id,
  // The same right as Party.stageHistory.
  authScopes: { networkRead: true },
  fields: (t) => ({
    from: t.field({ type: StageEnum, nullable: true, description: 'Null on the first row (the starting stage).', resolve: (row) => row.fromStage }),
    to: t.field({ type: StageEnum, description: 'The stage moved to.', resolve: (row) => row.toStage }),
    at: t.field({ type: 'DateTime', description: 'When the move took effect.', resolve: (row) => row.at }),
    actor: t.field({
      type: Actor,
      description: 'Who made the move: the user or API key that called moveStage (or applyStagePolicy, runScoring), or SYSTEM for the nightly job and the CLI.',
      resolve: (row) => ({ kind: row.actorKind, id: row.actorId }),
    }),
    reason: t.exposeString('reason', {
      nullable: true,
      description: 'Why, as given to moveStage (trimmed, at most 1,000 characters); null when none was given and for automatic moves.',
    }),
    secondsInPrevious: t.float({
      nullable: true,
      description: 'Whole seconds the party spent in the stage it left (`from`); null on the first row.',
      resolve: (row) => row.secondsInPrevious,
    }),
    automatic: t.exposeBoolean('automatic', { description: 'True for a move of the stage policy, false for a manual moveStage.' }),
    rule: t.exposeString('rule', {
      nullable: true,
      description:
        'For automatic moves, the policy rule that fired: FIRST_SATISFYING_ORDER, LOYAL_AFTER, LONG_TERM, DORMANT_AFTER, CHURNED_AFTER or DORMANT_WAKE_UP; null for manual moves.',
    }),
  }),
});

const StageHistoryConnection = builder.connectionObject(
  { type: StageTransition, name: 'StageHistoryConnection', description: "A page of a party's stage moves, newest first." },
  { description: 'One stage move and its cursor.' },
);

const AllowedMove = builder.objectRef<{ to: (typeof StageEnum)['$inferType']; reasonRequired: boolean }>('AllowedMove').implement({
  description: 'A stage moveStage accepts for this party now.',
  fields: (t) => ({
    to: t.field({ type: StageEnum, description: 'The stage the party may be moved to.', resolve: (move) => move.to }),
    reasonRequired: t.exposeBoolean('reasonRequired', {
      description: 'Whether moveStage needs a non-blank reason for this move (a move back to an earlier forward stage).',
    }),
  }),
});

// A party's own statement can read its first page of history along (prefetch.ts).
prefetchablePageOnParty('stageHistory', {
  sql: (limit, properties) => stageHistoryPageJson(correlatedParty, limit, properties),
  decode: transitionsFromJson,
  needs: {
    id: ['id'],
    from: ['fromStage'],
    to: ['toStage'],
    at: ['at'],
    actor: ['actorKind', 'actorId'],
    reason: ['reason'],
    secondsInPrevious: ['secondsInPrevious'],
    automatic: ['automatic'],
    rule: ['rule'],
  },
});

builder.objectFields(Party, (t) => ({
  stageHistory: t.loadable({
    type: StageHistoryConnection,
    description: 'Every move of this party, newest first.',
    authScopes: { networkRead: true },
    byPath: true,
    args: t.arg.connectionArgs(),
    load: (partyIds: string[], context, args) =>
      partyConnections(partyIds, args, {
        cursor: transitionCursor,
        fetch: async (page) => prefetchedPages(context, 'stageHistory', partyIds, page) ?? stageHistoryPages(partyIds, page),
        count: () => stageHistoryCounts(partyIds),
      }),
    resolve: (party: PartyRow) => party.id,
  }),
  allowedMoves: t.field({
    type: [AllowedMove],
    description: 'The manual moves allowed from the current stage, and whether each needs a reason.',
    resolve: (party) => allowedManualMoves(party.stage, party.dormantFromStage),
  }),
}));

const MoveStageInput = builder.inputType('MoveStageInput', {
  description: 'A manual stage move.',
  fields: (t) => ({
    partyId: t.globalID({ required: true, for: [Party], description: 'Global id of the party to move.' }),
    to: t.field({ type: StageEnum, required: true, description: 'The stage to move to; must be one of Party.allowedMoves.' }),
    reason: t.string({
      description:
        'Why, at most 1,000 characters (blank counts as none). Required for a move back to an earlier forward stage (see AllowedMove.reasonRequired); optional otherwise.',
    }),
  }),
});

const MoveStagePayload = payloadType<{ party: PartyRow; transition: StageTransitionRow }>(
  'MoveStagePayload',
  (t) => ({
    party: t.field({ type: Party, nullable: true, description: 'The party in its new stage.', resolve: (p) => p.party ?? null }),
    transition: t.field({
      type: StageTransition,
      nullable: true,
      description: 'The history row the move appended.',
      resolve: (p) => p.transition ?? null,
    }),
  }),
  'The moved party and its new history row, or why the move was refused.',
);

builder.mutationField('moveStage', (t) =>
  t.field({
    type: MoveStagePayload,
    authScopes: { networkWrite: true },
    description:
      "Moves a party to another stage by hand and records it in the party's history (needs the network write right). Refusals: NOT_FOUND (no such party), CONFLICT (a move not in Party.allowedMoves, or an archived party), VALIDATION (a required reason missing, or a reason over 1,000 characters).",
    args: { input: t.arg({ type: MoveStageInput, required: true, description: 'The party, the stage to move to and why.' }) },
    resolve: (_root, { input }) =>
      runMutation(() => moveStage({ partyId: input.partyId.id, to: input.to, reason: input.reason })),
  }),
);

const FunnelStage = builder
  .objectRef<Awaited<ReturnType<typeof stageFunnel>>[number]>('StageFunnelRow')
  .implement({
    description: 'One stage of the funnel over a period.',
    fields: (t) => ({
      stage: t.field({ type: StageEnum, description: 'The stage this row counts.', resolve: (row) => row.stage }),
      entered: t.exposeInt('entered', { description: 'Moves into the stage in the period (a party entering twice counts twice).' }),
      advanced: t.exposeInt('advanced', {
        description: 'Of those entries, how many were followed, before until, by a move straight to the next forward stage.',
      }),
      conversionRate: t.float({
        nullable: true,
        description: 'advanced ÷ entered, 0–1 unrounded; null for a stage with no next forward stage (LONG_TERM_PARTNERSHIP, DORMANT, CHURNED) or no entries.',
        resolve: (row) => row.conversionRate,
      }),
      medianDaysInStage: t.float({
        nullable: true,
        description: 'Median days spent in the stage by the moves out of it made in the period (fractional days); null when none left it.',
        resolve: (row) => row.medianDaysInStage,
      }),
    }),
  });

const ChurnGroupBy = builder.enumType('ChurnGroupBy', {
  description: 'How churnRates groups the parties present at since.',
  values: {
    STAGE: { description: 'By the stage each party held at since.' },
    KIND: { description: "By the party's kind." },
    SEGMENT: { description: "By the segment of each party's latest loyalty snapshot on or before since (parties not scored by then form one group)." },
    TIER: { description: "By the tier of each party's latest loyalty snapshot on or before since (parties not scored by then form one group)." },
  } satisfies Record<ChurnGrouping, { description: string }>,
});

type ChurnGroupRow = Awaited<ReturnType<typeof churnRates>>[number] & { groupBy: ChurnGrouping };

// The group is a value of the grouping: one typed field per grouping, set only under its own.
const groupOf = <T,>(row: ChurnGroupRow, grouping: ChurnGrouping): T | null =>
  row.groupBy === grouping && row.group !== 'NO_SNAPSHOT' ? (row.group as T) : null;

const ChurnRate = builder.objectRef<ChurnGroupRow>('ChurnRate').implement({
  description: 'The churn of one group over [since, until); the group is named by the one field of groupBy that is set.',
  fields: (t) => ({
    groupBy: t.field({
      type: ChurnGroupBy,
      description: 'The grouping asked for: which one of stage, kind, segment and tier names this group.',
      resolve: (row) => row.groupBy,
    }),
    stage: t.field({
      type: StageEnum,
      nullable: true,
      description: 'Under STAGE: the stage the parties held at since; null under the other groupings.',
      resolve: (row) => groupOf(row, 'STAGE'),
    }),
    kind: t.field({
      type: PartyKindEnum,
      nullable: true,
      description: "Under KIND: the parties' kind; null under the other groupings.",
      resolve: (row) => groupOf(row, 'KIND'),
    }),
    segment: t.field({
      type: SegmentEnum,
      nullable: true,
      description:
        "Under SEGMENT: the segment of each party's latest loyalty snapshot on or before since; null for the group of parties not scored by then, and under the other groupings.",
      resolve: (row) => groupOf(row, 'SEGMENT'),
    }),
    tier: t.field({
      type: TierEnum,
      nullable: true,
      description:
        "Under TIER: the tier of each party's latest loyalty snapshot on or before since; null for the group of parties not scored by then, and under the other groupings.",
      resolve: (row) => groupOf(row, 'TIER'),
    }),
    partiesAtStart: t.exposeInt('partiesAtStart', {
      description: 'Parties of the group present at since (with a history row before it) and not CHURNED then.',
    }),
    churned: t.exposeInt('churned', { description: 'How many of them moved to CHURNED in [since, until).' }),
    rate: t.exposeFloat('rate', { description: 'churned ÷ partiesAtStart, 0–1 unrounded; 0 for an empty group.' }),
  }),
});

builder.queryFields((t) => ({
  stageFunnel: t.field({
    type: [FunnelStage],
    authScopes: { networkRead: true },
    description:
      'The stage funnel over [since, until): one row per stage, in stage order, zeros included. since must be before until (VALIDATION error otherwise).',
    args: {
      since: t.arg({ type: 'DateTime', description: 'Start of the period, inclusive; leave it out for all time.' }),
      until: t.arg({ type: 'DateTime', description: 'End of the period, exclusive; leave it out for now.' }),
    },
    resolve: (_root, args) => stageFunnel(args),
  }),
  churnRates: t.field({
    type: [ChurnRate],
    authScopes: { networkRead: true },
    description:
      '流失率分布: churn per group over [since, until), one row per group that has parties, ordered by group. since must be before until (VALIDATION error otherwise).',
    args: {
      groupBy: t.arg({ type: ChurnGroupBy, required: true, description: 'What to group the parties by.' }),
      since: t.arg({
        type: 'DateTime',
        description:
          'Start of the period, inclusive: the parties counted are those present and not churned at this instant. Left out, 90 days before until (a quarter).',
      }),
      until: t.arg({ type: 'DateTime', description: 'End of the period, exclusive; leave it out for now.' }),
    },
    resolve: async (_root, args) => (await churnRates(args.groupBy, args)).map((row) => ({ ...row, groupBy: args.groupBy })),
  }),
}));

const StageCount = builder.objectRef<{ stage: (typeof StageEnum)['$inferType']; count: number }>('StageCount').implement({
  description: 'How many parties hold one stage now.',
  fields: (t) => ({
    stage: t.field({ type: StageEnum, description: 'The stage counted.', resolve: (row) => row.stage }),
    count: t.exposeInt('count', { description: 'Unarchived parties in the stage now.' }),
  }),
});

builder.objectField(Tenant, 'stageCounts', (t) =>
  t.field({
    type: [StageCount],
    description: 'Unarchived parties per stage now, one row per stage in stage order, zeros included.',
    authScopes: { networkRead: true },
    resolve: () => stageCounts(),
  }),
);

const StagePolicyRun = builder
  .objectRef<Awaited<ReturnType<typeof applyStagePolicy>>>('StagePolicyRun')
  .implement({
    description: 'Moves made by one run of the stage policy, per rule.',
    fields: (t) => ({
      parties: t.exposeInt('parties', { description: 'Parties that moved.' }),
      firstSatisfyingOrder: t.int({
        description: 'Moves to TRUST_BUILDING on a first satisfying order (rule FIRST_SATISFYING_ORDER).',
        resolve: (r) => r.FIRST_SATISFYING_ORDER,
      }),
      loyalAfter: t.int({ description: 'Moves to LOYALTY_GROWTH after loyalAfter satisfying orders (rule LOYAL_AFTER).', resolve: (r) => r.LOYAL_AFTER }),
      longTerm: t.int({ description: 'Moves to LONG_TERM_PARTNERSHIP (rule LONG_TERM).', resolve: (r) => r.LONG_TERM }),
      dormantAfter: t.int({ description: 'Moves to DORMANT after dormantAfterDays of silence (rule DORMANT_AFTER).', resolve: (r) => r.DORMANT_AFTER }),
      churnedAfter: t.int({ description: 'Moves to CHURNED after churnedAfterDays of silence (rule CHURNED_AFTER).', resolve: (r) => r.CHURNED_AFTER }),
      dormantWakeUp: t.int({
        description: 'DORMANT parties back in the stage they left after a new order (rule DORMANT_WAKE_UP).',
        resolve: (r) => r.DORMANT_WAKE_UP,
      }),
    }),
  });

const ApplyStagePolicyInput = builder.inputType('ApplyStagePolicyInput', {
  description: 'The day to apply the stage policy for.',
  fields: (t) => ({
    asOf: t.field({ type: 'Date', description: 'The day whose end the rules are judged at; default today (UTC).' }),
  }),
});

builder.mutationField('applyStagePolicy', (t) =>
  t.field({
    type: payloadType<{ run: Awaited<ReturnType<typeof applyStagePolicy>> }>(
      'ApplyStagePolicyPayload',
      (p) => ({
        run: p.field({
          type: StagePolicyRun,
          nullable: true,
          description: 'How many moves the run made, per rule.',
          resolve: (payload) => payload.run ?? null,
        }),
      }),
      'The moves the stage policy made, or why it could not run.',
    ),
    authScopes: { admin: true },
    description:
      'Runs the automatic stage policy now for the tenant (ADMIN only; the nightly job runs it after scoring). Idempotent per day: a second run the same day moves nobody.',
    args: { input: t.arg({ type: ApplyStagePolicyInput, required: true, description: 'The day to apply the policy for.' }) },
    resolve: (_root, { input }) =>
      runMutation(async () => ({ run: await applyStagePolicy(input.asOf ?? new Date().toISOString().slice(0, 10)) })),
  }),
);
