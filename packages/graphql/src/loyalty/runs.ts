import {
  countScoringRuns,
  listScoringRuns,
  runScoringInTransaction,
  scoringRunCursor,
  scoringRunStatuses,
  type AfterScoring,
  type ScoringRunRow,
} from '@guanxi/core/loyalty';
import { todayUtc } from '@guanxi/core';
import { applyStagePolicy } from '@guanxi/core/stages';
import { builder } from '../builder';
import { keysetConnection } from '../connections';
import { payloadType, runMutation } from '../errors';

const ScoringRunStatusEnum = builder.enumType('ScoringRunStatus', { values: scoringRunStatuses });

export const ScoringRun = builder.objectRef<ScoringRunRow>('ScoringRun').implement({
  description: 'One attempt at scoring the tenant for a day (the nightly job, the CLI or runScoring).',
  fields: (t) => ({
    id: t.globalID({ resolve: (run) => ({ type: 'ScoringRun', id: run.id }) }),
    asOf: t.field({ type: 'Date', description: 'The day scored.', resolve: (run) => run.asOf }),
    status: t.field({ type: ScoringRunStatusEnum, resolve: (run) => run.status }),
    startedAt: t.field({ type: 'DateTime', resolve: (run) => run.startedAt }),
    finishedAt: t.field({ type: 'DateTime', nullable: true, resolve: (run) => run.finishedAt }),
    heartbeatAt: t.field({
      type: 'DateTime',
      nullable: true,
      description:
        'When a run of the nightly job or the CLI last said it was alive (every 30 s while RUNNING). A RUNNING run silent for 2 minutes was killed: it reads as FAILED, finished at its last heartbeat.',
      resolve: (run) => run.heartbeatAt,
    }),
    durationMs: t.exposeInt('durationMs', { nullable: true }),
    partiesScored: t.exposeInt('partiesScored', { nullable: true, description: 'Snapshots written (null unless SUCCEEDED).' }),
    stageMoves: t.field({
      type: 'JSON',
      nullable: true,
      description: 'Moves the stage policy made after scoring, per rule.',
      resolve: (run) => run.stageMoves,
    }),
    ruleVersion: t.exposeInt('ruleVersion', { nullable: true }),
    triggeredBy: t.exposeString('triggeredBy', { nullable: true, description: 'nightly, cli, or the API caller (kind:id).' }),
    error: t.exposeString('error', { nullable: true, description: 'Why a FAILED run failed.' }),
  }),
});

builder.queryField('scoringRuns', (t) =>
  t.connection(
    {
      type: ScoringRun,
      authScopes: { admin: true },
      description: "The tenant's scoring runs, newest first.",
      resolve: (_root, args) =>
        keysetConnection<ScoringRunRow>(args, scoringRunCursor, (page) => listScoringRuns(page), () => countScoringRuns()),
    },
    {
      name: 'ScoringRunConnection',
      fields: (c) => ({ totalCount: c.int({ resolve: (connection) => connection.totalCount() }) }),
    },
  ),
);

/** domain: the nightly job applies the stage policy right after scoring; an API run does too. */
const afterScoring: AfterScoring = (_tenantId, asOf) => applyStagePolicy(asOf);

const RunScoringInput = builder.inputType('RunScoringInput', {
  fields: (t) => ({
    asOf: t.field({ type: 'Date', description: 'The day to score; default today (UTC). Not in the future.' }),
  }),
});

builder.mutationField('runScoring', (t) =>
  t.field({
    type: payloadType<{ runs: ScoringRunRow[] }>('RunScoringPayload', (p) => ({
      runs: p.field({ type: [ScoringRun], nullable: true, resolve: (payload) => payload.runs ?? null }),
    })),
    authScopes: { admin: true },
    description:
      "Scores the caller's tenant for a day now and applies the stage policy, as the nightly job does; scoring the same day again replaces it. A failure comes back as a FAILED run; CONFLICT while another run scores the tenant.",
    args: { input: t.arg({ type: RunScoringInput, required: true }) },
    resolve: (_root, { input }) =>
      runMutation(async () => ({
        runs: [await runScoringInTransaction(input.asOf ?? todayUtc(), { afterScoring })],
      })),
  }),
);
