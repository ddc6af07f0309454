/**
 * `guanxi score [--tenant <id>] [--as-of YYYY-MM-DD] [--json]`
 *
 * Scores every tenant (or one) as of a day, default today (UTC), exactly as the nightly job does
 * (`runNightlyScoring`: bounded concurrency, one run row per tenant, a failing tenant does not
 * stop the others). A progress bar runs on stderr; a summary table follows, on stdout — or, with
 * `--json`, on stderr, the last stdout line then being
 * `{"runs":[{"tenantId","asOf","status","partiesScored","stageMoves","pointsExpired"}]}` (api: command line).
 * The exit code is 1 when any tenant's run failed, so a cron wrapper notices.
 */
import { isUuid, todayUtc, UserError, type Database } from '@guanxi/core';
import { assertScorableDay, runNightlyScoring, type AfterScoring, type ScoringRunResult } from '@guanxi/core/loyalty';
import { createProgress, type Progress, type ProgressStream } from './progress';

export interface ScoreCommandOptions {
  /** Only this tenant (`--tenant`); default every tenant. */
  tenantId?: string | null;
  /** `--as-of`; default today (UTC). */
  asOf?: string | null;
  /** `--json`: human lines go to stderr, the last stdout line is the JSON result. */
  json?: boolean;
  /** Tenants scored at the same time (default 4). */
  concurrency?: number;
  /** What each run does after scoring (the stage policy). */
  afterScoring?: AfterScoring;
  stdout?: { write(text: string): unknown };
  stderr?: ProgressStream;
  /** Show the progress bar; default: stderr is a terminal. */
  progress?: boolean;
}

export interface ScoreCommandResult {
  exitCode: number;
  runs: ScoringRunResult[];
}

const number = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(2)} s` : `${(ms / 1000).toFixed(1)} s`;
}

function movesText(moves: Record<string, number> | null): string {
  if (!moves) return '—';
  const nonZero = Object.entries(moves).filter(([, n]) => n > 0);
  return nonZero.length ? nonZero.map(([rule, n]) => `${rule}=${n}`).join(' ') : '0';
}

/** The summary table: one row per tenant, then a totals line. */
export function scoreSummary(runs: readonly ScoringRunResult[]): string[] {
  const header = ['tenant', 'as of', 'status', 'parties', 'duration', 'stage moves', 'points expired', 'error'];
  const rows = runs.map((run) => [
    run.tenantId,
    run.asOf,
    run.status,
    run.partiesScored === null ? '—' : number.format(run.partiesScored),
    seconds(run.durationMs),
    movesText(run.stageMoves),
    run.pointsExpired === null ? '—' : number.format(run.pointsExpired),
    run.error ?? '',
  ]);
  // The error column is last and left unpadded: it may be long.
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : i === 3 || i === 4 || i === 6 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const failed = runs.filter((run) => run.status === 'FAILED').length;
  const scored = runs.reduce((sum, run) => sum + (run.partiesScored ?? 0), 0);
  const expired = runs.reduce((sum, run) => sum + (run.pointsExpired ?? 0), 0);
  return [
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    `${runs.length} tenant${runs.length === 1 ? '' : 's'}: ${runs.length - failed} succeeded, ${failed} failed; ${number.format(scored)} parties scored; ${number.format(expired)} points expired`,
  ];
}

export async function runScoreCommand(db: Database, options: ScoreCommandOptions = {}): Promise<ScoreCommandResult> {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const human = options.json ? stderr : stdout;
  const asOf = options.asOf ?? todayUtc();
  try {
    assertScorableDay(asOf);
  } catch (error) {
    throw new Error(`--as-of: ${error instanceof UserError ? error.message : String(error)}`);
  }
  if (options.tenantId !== undefined && options.tenantId !== null && !isUuid(options.tenantId)) {
    throw new Error('--tenant <tenant id> must be a tenant id (a UUID)');
  }

  const progress: Progress | null =
    (options.progress ?? Boolean(stderr.isTTY)) ? createProgress({ label: `score ${asOf}`, unit: 'tenants', stream: stderr }) : null;
  progress?.update({ done: 0 });
  const runs = await runNightlyScoring(db, {
    asOf,
    triggeredBy: 'cli',
    ...(options.tenantId ? { tenantIds: [options.tenantId] } : {}),
    ...(options.concurrency ? { concurrency: options.concurrency } : {}),
    ...(options.afterScoring ? { afterScoring: options.afterScoring } : {}),
    onProgress: ({ done, total, result }) => {
      if (result.status === 'FAILED') progress?.log(`${result.tenantId}: FAILED: ${result.error}`);
      progress?.update({ done, total });
    },
  });
  progress?.finish();

  for (const line of scoreSummary(runs)) human.write(`${line}\n`);
  if (options.json) {
    const summary = runs.map(({ tenantId, asOf: day, status, partiesScored, stageMoves, pointsExpired }) => ({
      tenantId,
      asOf: day,
      status,
      partiesScored,
      stageMoves,
      pointsExpired,
    }));
    stdout.write(`${JSON.stringify({ runs: summary })}\n`);
  }
  return { exitCode: runs.some((run) => run.status === 'FAILED') ? 1 : 0, runs };
}
