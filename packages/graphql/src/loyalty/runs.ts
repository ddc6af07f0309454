import {
  countScoringRuns,
  findScoringRuns,
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

const ScoringRunStatusEnum = builder.enumType('ScoringRunStatus', {
  description: 'Where a scoring run is.',
  values: {
    RUNNING: { description: 'Scoring now (the nightly job or the CLI; a runScoring call answers only when it has finished).' },
    SUCCEEDED: { description: "Finished: the day's snapshots are written and the stage policy applied." },
    FAILED: { description: 'Stopped by an error (see error), or silent for 2 minutes while RUNNING; nothing of the day was changed.' },
  } satisfies Record<(typeof scoringRunStatuses)[number], { description: string }>,
});

export const ScoringRun = builder.loadableNode('ScoringRun', {
  description: 'One attempt at scoring the tenant for a day (the nightly job, the CLI or runScoring).',
  id: { resolve: (run: ScoringRunRow) => run.id },
  load: (ids: string[]) => findScoringRuns(ids),
  sort: (run) => run.id,
  // The same right as the scoringRuns list.
  authScopes: { admin: true },
  fields: (t) => ({
    asOf: t.field({ type: 'Date', description: 'The day scored.', resolve: (run) => run.asOf }),
    status: t.field({ type: ScoringRunStatusEnum, description: 'RUNNING, SUCCEEDED or FAILED.', resolve: (run) => run.status }),
    startedAt: t.field({ type: 'DateTime', description: 'When the run began.', resolve: (run) => run.startedAt }),
    finishedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the run succeeded or failed; null while RUNNING.',
      resolve: (run) => run.finishedAt,
    }),
    heartbeatAt: t.field({
      type: 'DateTime',
      nullable: true,
      description:
        'When a run of the nightly job or the CLI last said it was alive (every 30 s while RUNNING). A RUNNING run silent for 2 minutes was killed: it reads as FAILED, finished at its last heartbeat.',
      resolve: (run) => run.heartbeatAt,
    }),
    durationMs: t.exposeInt('durationMs', { nullable: true, description: 'How long the run took, in milliseconds; null while RUNNING or for a run killed without finishing.' }),
    partiesScored: t.exposeInt('partiesScored', { nullable: true, description: 'Snapshots written (null unless SUCCEEDED).' }),
    stageMoves: t.field({
      type: 'JSON',
      nullable: true,
      description: 'Moves the stage policy made after scoring, per rule.',
      resolve: (run) => run.stageMoves,
    }),
    pointsExpired: t.exposeInt('pointsExpired', {
      nullable: true,
      description: 'Member points the run wrote off as expired on or before asOf (EXPIRE entries); null unless SUCCEEDED.',
    }),
    ruleVersion: t.exposeInt('ruleVersion', {
      nullable: true,
      description: "The tenant's rule version the run scored with (as its snapshots record it).",
    }),
    triggeredBy: t.exposeString('triggeredBy', {
      nullable: true,
      description: 'What started the run: nightly, cli, or the runScoring caller as <actor kind>:<raw id> (e.g. API_KEY:<key id>).',
    }),
    error: t.exposeString('error', { nullable: true, description: 'Why a FAILED run failed.' }),
  }),
});

builder.queryField('scoringRuns', (t) =>
  t.connection(
    {
      type: ScoringRun,
      authScopes: { admin: true },
      description: "The tenant's scoring runs, newest first, failed ones included (ADMIN only).",
      resolve: (_root, args) =>
        keysetConnection<ScoringRunRow>(args, scoringRunCursor, (page) => listScoringRuns(page), () => countScoringRuns()),
    },
    builder.connectionObject(
      { type: ScoringRun, name: 'ScoringRunConnection', description: 'A page of scoring runs, newest first.' },
      { description: 'One scoring run and its cursor.' },
    ),
  ),
);

/** domain: the nightly job applies the stage policy right after scoring; an API run does too. */
const afterScoring: AfterScoring = (_tenantId, asOf) => applyStagePolicy(asOf);

const RunScoringInput = builder.inputType('RunScoringInput', {
  description: 'Which day to score.',
  fields: (t) => ({
    asOf: t.field({ type: 'Date', description: 'The day to score; default today (UTC). Not in the future.' }),
  }),
});

builder.mutationField('runScoring', (t) =>
  t.field({
    type: payloadType<{ runs: ScoringRunRow[] }>(
      'RunScoringPayload',
      (p) => ({
        runs: p.field({
          type: [ScoringRun],
          nullable: true,
          description: "The run of the caller's tenant (one), SUCCEEDED or FAILED with its error.",
          resolve: (payload) => payload.runs ?? null,
        }),
      }),
      'The finished scoring run, or why it could not start.',
    ),
    authScopes: { admin: true },
    description:
      "Scores the caller's tenant for a day now and applies the stage policy, as the nightly job does; scoring the same day again replaces it. ADMIN only. A failure comes back as a FAILED run; an asOf in the future is a VALIDATION user error, and CONFLICT while another run scores the tenant.",
    args: { input: t.arg({ type: RunScoringInput, required: true, description: 'The day to score.' }) },
    resolve: (_root, { input }) =>
      runMutation(async () => ({
        runs: [await runScoringInTransaction(input.asOf ?? todayUtc(), { afterScoring })],
      })),
  }),
);
