import {
  allowedManualMoves,
  applyStagePolicy,
  churnGroupings,
  churnRates,
  moveStage,
  stageCounts,
  stageFunnel,
  stageHistoryCounts,
  stageHistoryPages,
  transitionCursor,
  type StageTransitionRow,
} from '@guanxi/core/stages';
import type { PartyRow } from '@guanxi/core/network';
import { ActorKindEnum, Tenant } from '../access/tenant';
import { builder } from '../builder';
import { defaultPageSize, partyPages, perPartyConnection } from '../connections';
import { payloadType, runMutation } from '../errors';
import { Party, StageEnum } from '../network/party';

const Actor = builder.objectRef<{ kind: StageTransitionRow['actorKind']; id: string | null }>('Actor').implement({
  description: 'Who made a change: a user (JWT subject), an API key (its id) or guanxi itself (the job).',
  fields: (t) => ({
    kind: t.field({ type: ActorKindEnum, resolve: (actor) => actor.kind }),
    id: t.string({ nullable: true, resolve: (actor) => actor.id }),
  }),
});

export const StageTransition = builder.objectRef<StageTransitionRow>('StageTransition').implement({
  description: 'One move of a party between stages. History is never rewritten.',
  fields: (t) => ({
    id: t.globalID({ resolve: (row) => ({ type: 'StageTransition', id: row.id }) }),
    from: t.field({ type: StageEnum, nullable: true, description: 'Null on the first row (the starting stage).', resolve: (row) => row.fromStage }),
    to: t.field({ type: StageEnum, resolve: (row) => row.toStage }),
    at: t.field({ type: 'DateTime', resolve: (row) => row.at }),
    actor: t.field({ type: Actor, resolve: (row) => ({ kind: row.actorKind, id: row.actorId }) }),
    reason: t.exposeString('reason', { nullable: true }),
    secondsInPrevious: t.float({ nullable: true, resolve: (row) => row.secondsInPrevious }),
    automatic: t.exposeBoolean('automatic'),
    rule: t.exposeString('rule', { nullable: true, description: 'For automatic moves: the policy rule that fired.' }),
  }),
});

const StageHistoryConnection = perPartyConnection('StageHistoryConnection', {
  node: StageTransition,
  cursor: transitionCursor,
  count: stageHistoryCounts,
});

const AllowedMove = builder.objectRef<{ to: (typeof StageEnum)['$inferType']; reasonRequired: boolean }>('AllowedMove').implement({
  fields: (t) => ({
    to: t.field({ type: StageEnum, resolve: (move) => move.to }),
    reasonRequired: t.exposeBoolean('reasonRequired'),
  }),
});

builder.objectFields(Party, (t) => ({
  stageHistory: t.loadable({
    type: StageHistoryConnection,
    description: 'Every move of this party, newest first.',
    authScopes: { networkRead: true },
    byPath: true,
    args: { first: t.arg.int({ defaultValue: defaultPageSize }), after: t.arg.string() },
    load: (partyIds: string[], _context, args) => partyPages(args, (page) => stageHistoryPages(partyIds, page)),
    resolve: (party: PartyRow) => party.id,
  }),
  allowedMoves: t.field({
    type: [AllowedMove],
    description: 'The manual moves allowed from the current stage, and whether each needs a reason.',
    resolve: (party) => allowedManualMoves(party.stage, party.dormantFromStage),
  }),
}));

const MoveStageInput = builder.inputType('MoveStageInput', {
  fields: (t) => ({
    partyId: t.globalID({ required: true, for: [Party] }),
    to: t.field({ type: StageEnum, required: true }),
    reason: t.string({ description: 'Required for a move back to an earlier stage.' }),
  }),
});

const MoveStagePayload = payloadType<{ party: PartyRow; transition: StageTransitionRow }>('MoveStagePayload', (t) => ({
  party: t.field({ type: Party, nullable: true, resolve: (p) => p.party ?? null }),
  transition: t.field({ type: StageTransition, nullable: true, resolve: (p) => p.transition ?? null }),
}));

builder.mutationField('moveStage', (t) =>
  t.field({
    type: MoveStagePayload,
    authScopes: { networkWrite: true },
    args: { input: t.arg({ type: MoveStageInput, required: true }) },
    resolve: (_root, { input }) =>
      runMutation(() => moveStage({ partyId: input.partyId.id, to: input.to, reason: input.reason })),
  }),
);

const FunnelStage = builder
  .objectRef<Awaited<ReturnType<typeof stageFunnel>>[number]>('StageFunnelRow')
  .implement({
    fields: (t) => ({
      stage: t.field({ type: StageEnum, resolve: (row) => row.stage }),
      entered: t.exposeInt('entered', { description: 'Parties that entered the stage in the period.' }),
      advanced: t.exposeInt('advanced', { description: 'Of those, how many then moved to the next forward stage.' }),
      conversionRate: t.float({ nullable: true, resolve: (row) => row.conversionRate }),
      medianDaysInStage: t.float({ nullable: true, resolve: (row) => row.medianDaysInStage }),
    }),
  });

const ChurnGroupBy = builder.enumType('ChurnGroupBy', { values: churnGroupings });

const ChurnRate = builder.objectRef<Awaited<ReturnType<typeof churnRates>>[number]>('ChurnRate').implement({
  fields: (t) => ({
    group: t.exposeString('group', { description: 'The stage, kind, segment or tier; NO_SNAPSHOT for parties never scored.' }),
    partiesAtStart: t.exposeInt('partiesAtStart'),
    churned: t.exposeInt('churned'),
    rate: t.exposeFloat('rate'),
  }),
});

builder.queryFields((t) => ({
  stageFunnel: t.field({
    type: [FunnelStage],
    authScopes: { networkRead: true },
    args: { since: t.arg({ type: 'DateTime' }), until: t.arg({ type: 'DateTime' }) },
    resolve: (_root, args) => stageFunnel(args),
  }),
  churnRates: t.field({
    type: [ChurnRate],
    authScopes: { networkRead: true },
    description: '流失率分布: churn per group over [since, until).',
    args: {
      groupBy: t.arg({ type: ChurnGroupBy, required: true }),
      since: t.arg({ type: 'DateTime' }),
      until: t.arg({ type: 'DateTime' }),
    },
    resolve: (_root, args) => churnRates(args.groupBy, args),
  }),
}));

const StageCount = builder.objectRef<{ stage: (typeof StageEnum)['$inferType']; count: number }>('StageCount').implement({
  fields: (t) => ({
    stage: t.field({ type: StageEnum, resolve: (row) => row.stage }),
    count: t.exposeInt('count'),
  }),
});

builder.objectField(Tenant, 'stageCounts', (t) =>
  t.field({
    type: [StageCount],
    description: 'Active parties per stage now, zeros included.',
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
      firstSatisfyingOrder: t.int({ resolve: (r) => r.FIRST_SATISFYING_ORDER }),
      loyalAfter: t.int({ resolve: (r) => r.LOYAL_AFTER }),
      longTerm: t.int({ resolve: (r) => r.LONG_TERM }),
      dormantAfter: t.int({ resolve: (r) => r.DORMANT_AFTER }),
      churnedAfter: t.int({ resolve: (r) => r.CHURNED_AFTER }),
      dormantWakeUp: t.int({ resolve: (r) => r.DORMANT_WAKE_UP }),
    }),
  });

const ApplyStagePolicyInput = builder.inputType('ApplyStagePolicyInput', {
  fields: (t) => ({ asOf: t.field({ type: 'Date', description: 'Default: today (UTC).' }) }),
});

builder.mutationField('applyStagePolicy', (t) =>
  t.field({
    type: payloadType<{ run: Awaited<ReturnType<typeof applyStagePolicy>> }>('ApplyStagePolicyPayload', (p) => ({
      run: p.field({ type: StagePolicyRun, nullable: true, resolve: (payload) => payload.run ?? null }),
    })),
    authScopes: { admin: true },
    description: 'Runs the automatic stage policy now (the nightly job runs it after scoring). Idempotent per day.',
    args: { input: t.arg({ type: ApplyStagePolicyInput, required: true }) },
    resolve: (_root, { input }) =>
      runMutation(async () => ({ run: await applyStagePolicy(input.asOf ?? new Date().toISOString().slice(0, 10)) })),
  }),
);
