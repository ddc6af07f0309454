import { and, eq, getTableColumns, inArray, lt, ne, sql, type SQL } from 'drizzle-orm';
import { actorColumns, withActor, type Actor } from '../actor';
import { currentTenant, listTenants } from '../access';
import { recordAudit } from '../audit';
import type { Database } from '../drizzle/client';
import { savepoint, useTenantId, useTransaction, withTenant } from '../drizzle/transaction';
import { UserError } from '../errors';
import { isUuid, uuidv7 } from '../ids';
import { decodeCursor, encodeCursor, type PageRequest } from '../pagination';
import { expirePoints, type ExpiryWindow } from '../points/expiry';
import { todayUtc } from '../validation';
import type { ScoringRunStatus } from './enums';
import { scoringRuns } from './loyalty.sql';
import { assertCalendarDate, scoreCurrentTenant, ScoringAlreadyRunningError, type ScoreResult } from './statement';

export type ScoringRunRow = typeof scoringRuns.$inferSelect;

/**
 * Work done by the same run right after scoring, inside the scoring transaction and under the
 * tenant's lock (so `useTransaction()` and `useTenantId()` work in it): the nightly job's stage
 * policy. Its counts are stored as the run's `stage_moves`. If it throws, the run fails and the
 * day's scores roll back with it, so the next run does both again.
 */
export type AfterScoring = (tenantId: string, asOf: string) => Promise<Record<string, number>>;

export interface RunOptions {
  /** Recorded on the run (`triggered_by`), e.g. "nightly", "cli". Default "nightly". */
  triggeredBy?: string;
  afterScoring?: AfterScoring;
  /** Test hook: called inside the scoring transaction after the rows are written. */
  afterWrite?: (tenantId: string) => Promise<void> | void;
  /** How often the run's heartbeat is refreshed (default `scoringRunHeartbeatMs`; tests shorten it). */
  heartbeatIntervalMs?: number;
}

/** The outcome of one tenant's run, whatever happened (never thrown). */
export interface ScoringRunResult {
  tenantId: string;
  asOf: string;
  /** Null when not even the RUNNING row could be written (e.g. an unknown tenant). */
  runId: string | null;
  status: 'SUCCEEDED' | 'FAILED';
  partiesScored: number | null;
  stageMoves: Record<string, number> | null;
  /** Member points written off as expired on or before the day. */
  pointsExpired: number | null;
  ruleVersion: number | null;
  durationMs: number;
  error: string | null;
}

/** A day that can be scored: a calendar date, not after today (UTC). */
export function assertScorableDay(asOf: string, field: string | string[] = 'asOf'): void {
  assertCalendarDate(asOf, field);
  if (asOf > todayUtc()) throw UserError.of('VALIDATION', 'asOf must not be in the future', field);
}

/**
 * The message worth keeping for a failure: the database's own words, not the driver's wrapper
 * (drizzle puts the whole statement and its parameters in its message).
 */
export function describeError(error: unknown): string {
  let current: unknown = error;
  while (current instanceof Error && current.cause instanceof Error && /^Failed query/.test(current.message)) {
    current = current.cause;
  }
  const message = current instanceof Error ? current.message : String(current);
  return message.length > 2000 ? `${message.slice(0, 2000)}…` : message;
}

/**
 * The work of run `runId` inside its tenant transaction, whoever started it: the day's snapshots
 * (under the tenant's lock), runs abandoned before it closed, then `afterScoring`.
 */
async function scoreForRun(
  runId: string,
  asOf: string,
  options: Pick<RunOptions, 'afterScoring' | 'afterWrite'>,
): Promise<{ scored: ScoreResult; stageMoves: Record<string, number> | null; pointsExpired: number }> {
  const tenantId = useTenantId();
  const scored = await scoreCurrentTenant(asOf, {
    runId,
    ...(options.afterWrite ? { afterWrite: () => options.afterWrite!(tenantId) } : {}),
  });
  await closeAbandonedRuns(runId);
  // Member points that expired on or before the day, in the same transaction (domain: one run per
  // tenant and day does both).
  const pointsExpired = await expirePoints(asOf, await previousExpiry(runId));
  const stageMoves = options.afterScoring ? await options.afterScoring(tenantId, asOf) : null;
  return { scored, stageMoves, pointsExpired };
}

/** What the tenant's latest successful run with an expiry covered (see `expirePoints`). */
async function previousExpiry(currentRunId: string): Promise<ExpiryWindow> {
  const [previous] = await useTransaction()
    .select({ asOf: scoringRuns.asOf, startedAt: scoringRuns.startedAt })
    .from(scoringRuns)
    .where(
      and(
        eq(scoringRuns.tenantId, useTenantId()),
        eq(scoringRuns.status, 'SUCCEEDED'),
        sql`${scoringRuns.pointsExpired} is not null`,
        ne(scoringRuns.id, currentRunId),
      ),
    )
    .orderBy(sql`${scoringRuns.startedAt} desc`)
    .limit(1);
  return { previousAsOf: previous?.asOf ?? null, previousStartedAt: previous?.startedAt ?? null };
}

/**
 * Runs still RUNNING that started before this transaction, while it holds the tenant's lock: none
 * of them is scoring (the lock would have refused us), so they were killed before reporting. They
 * are closed as FAILED; a run that was merely between its own transactions then overwrites this
 * with its real outcome.
 */
async function closeAbandonedRuns(currentRunId: string): Promise<void> {
  await useTransaction()
    .update(scoringRuns)
    .set({
      status: 'FAILED',
      finishedAt: sql`clock_timestamp()`,
      error: 'Abandoned: the run stopped without reporting (process killed?); a later run scored the tenant',
    })
    .where(
      and(
        eq(scoringRuns.tenantId, useTenantId()),
        eq(scoringRuns.status, 'RUNNING'),
        ne(scoringRuns.id, currentRunId),
        lt(scoringRuns.startedAt, sql`now()`),
      ),
    );
}

/** How often a RUNNING run of `runTenantScoring` refreshes its heartbeat. */
export const scoringRunHeartbeatMs = 30_000;

/**
 * A RUNNING run whose heartbeat is older than this was killed (a Lambda timeout, a crash): readers
 * see it FAILED and the maintenance job closes it. Four heartbeats: one may wait up to 5 s for a
 * pooled connection and a busy event loop delays timers, but not by minutes; a scoring run takes
 * minutes itself, so a live one is never mistaken for a dead one by a shorter lease.
 */
export const scoringRunLeaseMs = 4 * scoringRunHeartbeatMs;

/** The error a run closed for its expired lease carries, as readers and the job both show it. */
export const abandonedRunError = 'Abandoned: the run stopped sending its heartbeat (process killed?)';

export interface RunHeartbeat {
  /** Stops the timer and waits for a heartbeat under way, so nothing is written after it. */
  stop(): Promise<void>;
}

/**
 * Refreshes run `runId`'s heartbeat every `intervalMs` until stopped, each in a short transaction
 * of its own: the scoring transaction's writes are invisible until it commits, so the lease must
 * be renewed beside it, through the pool. Only a RUNNING row is touched, so a heartbeat that
 * arrives after the outcome (it waited for the row while the final update committed) changes
 * nothing. A failed heartbeat is reported and the next one tries again; the timer never keeps the
 * process alive. (On PGlite, one connection: heartbeats wait until the scoring transaction ends,
 * when they have nothing left to do; nobody else can read the database meanwhile either.)
 */
export function startRunHeartbeat(
  db: Database,
  tenantId: string,
  runId: string,
  options: { intervalMs?: number; onError?: (error: unknown) => void } = {},
): RunHeartbeat {
  const onError = options.onError ?? reportHeartbeatFailure(runId);
  let beating: Promise<void> | null = null;
  const beat = () =>
    withTenant(db, tenantId, async (tx) => {
      await tx
        .update(scoringRuns)
        .set({ heartbeatAt: sql`now()` })
        .where(and(eq(scoringRuns.tenantId, tenantId), eq(scoringRuns.id, runId), eq(scoringRuns.status, 'RUNNING')));
    });
  const timer = setInterval(() => {
    // One at a time: a slow heartbeat is not joined by a queue of others.
    beating ??= beat()
      .catch(onError)
      .finally(() => {
        beating = null;
      });
  }, options.intervalMs ?? scoringRunHeartbeatMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await beating;
    },
  };
}

function reportHeartbeatFailure(runId: string) {
  return (error: unknown) =>
    console.error(JSON.stringify({ level: 'warn', event: 'scoring-heartbeat-failed', runId, message: describeError(error) }));
}

/** A RUNNING run whose lease ran out before `cutoff` (default: the lease before the database's now). */
function leaseExpired(cutoff?: Date): SQL {
  const before = cutoff ? sql`${cutoff.toISOString()}::timestamptz` : sql`now() - ${scoringRunLeaseMs}::integer * interval '1 millisecond'`;
  return sql`(${scoringRuns.status} = 'RUNNING' and ${lastSignOfLife} < ${before})`;
}

const lastSignOfLife = sql`coalesce(${scoringRuns.heartbeatAt}, ${scoringRuns.startedAt})`;

/**
 * The columns of a run as readers see it: one whose lease has expired is FAILED (abandoned),
 * finished at its last heartbeat, before the maintenance job has closed it — and after, the same.
 */
function presentedRun() {
  const expired = leaseExpired();
  return {
    ...getTableColumns(scoringRuns),
    status: sql<ScoringRunStatus>`case when ${expired} then 'FAILED' else ${scoringRuns.status}::text end`,
    finishedAt: sql<Date | null>`case when ${expired} then ${lastSignOfLife} else ${scoringRuns.finishedAt} end`.mapWith(
      scoringRuns.finishedAt,
    ),
    error: sql<string | null>`case when ${expired} then ${abandonedRunError} else ${scoringRuns.error} end`,
  };
}

/**
 * Closes the current tenant's RUNNING runs whose lease ran out before `cutoff` (the maintenance
 * job: now − `scoringRunLeaseMs`) as FAILED, finished at their last heartbeat. A run that was only
 * slow then overwrites this with its real outcome, as after `closeAbandonedRuns`.
 */
export async function closeExpiredRuns(cutoff: Date): Promise<number> {
  const closed = await useTransaction()
    .update(scoringRuns)
    .set({ status: 'FAILED', finishedAt: lastSignOfLife, error: abandonedRunError })
    .where(and(eq(scoringRuns.tenantId, useTenantId()), leaseExpired(cutoff)))
    .returning({ id: scoringRuns.id });
  return closed.length;
}

/**
 * One tenant's scoring run for the nightly job and the CLI, in three transactions:
 * 1. the RUNNING row, committed at once so the run is visible while it works;
 * 2. under the tenant's lock: the day's snapshots, then `afterScoring` (the stage policy), then
 *    the row marked SUCCEEDED — all or nothing, so a SUCCEEDED run always has its rows;
 * 3. on failure only: the row marked FAILED with the error.
 * A second run for a tenant whose scoring is under way does not wait: it is recorded as FAILED
 * ("already running") and scores nothing. Never throws: the outcome is in the result.
 */
export async function runTenantScoring(
  db: Database,
  tenantId: string,
  asOf: string,
  options: RunOptions = {},
): Promise<ScoringRunResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const outcome = (fields: Partial<ScoringRunResult>): ScoringRunResult => ({
    tenantId,
    asOf,
    runId: null,
    status: 'FAILED',
    partiesScored: null,
    stageMoves: null,
    pointsExpired: null,
    ruleVersion: null,
    durationMs: elapsed(),
    error: null,
    ...fields,
  });
  if (!isUuid(tenantId)) return outcome({ error: `Not a tenant id: ${tenantId}` });
  try {
    assertScorableDay(asOf);
  } catch (error) {
    return outcome({ error: describeError(error) });
  }
  const triggeredBy = options.triggeredBy ?? 'nightly';
  const actor: Actor = { kind: 'SYSTEM', tenantId, name: `scoring:${triggeredBy}` };
  const inTenant = <T>(fn: () => Promise<T>) => withActor(actor, () => withTenant(db, tenantId, fn));

  const runId = uuidv7();
  try {
    await inTenant(async () => {
      const tenant = await currentTenant();
      await useTransaction()
        .insert(scoringRuns)
        .values({ tenantId, id: runId, asOf, status: 'RUNNING', triggeredBy, ruleVersion: tenant.ruleVersion, heartbeatAt: sql`now()` });
    });
  } catch (error) {
    return outcome({ error: describeError(error) });
  }

  const heartbeat = startRunHeartbeat(db, tenantId, runId, { intervalMs: options.heartbeatIntervalMs });
  try {
    return await inTenant(async () => {
      const { scored, stageMoves, pointsExpired } = await scoreForRun(runId, asOf, options);
      const durationMs = elapsed();
      await useTransaction()
        .update(scoringRuns)
        .set({
          status: 'SUCCEEDED',
          finishedAt: sql`clock_timestamp()`,
          durationMs,
          partiesScored: scored.partiesScored,
          stageMoves,
          pointsExpired,
          ruleVersion: scored.ruleVersion,
          // A slow run closed as abandoned meanwhile: its real outcome replaces that.
          error: null,
        })
        .where(and(eq(scoringRuns.tenantId, tenantId), eq(scoringRuns.id, runId)));
      return outcome({
        runId,
        status: 'SUCCEEDED',
        partiesScored: scored.partiesScored,
        stageMoves,
        pointsExpired,
        ruleVersion: scored.ruleVersion,
        durationMs,
      });
    });
  } catch (error) {
    const message = describeError(error);
    const durationMs = elapsed();
    try {
      await inTenant(() =>
        useTransaction()
          .update(scoringRuns)
          .set({ status: 'FAILED', finishedAt: sql`clock_timestamp()`, durationMs, error: message })
          .where(and(eq(scoringRuns.tenantId, tenantId), eq(scoringRuns.id, runId))),
      );
    } catch {
      // The database is gone as well: the result still reports the failure; once the heartbeat
      // has stopped, its lease runs out and readers and the maintenance job see it abandoned.
    }
    return outcome({ runId, error: message, durationMs });
  } finally {
    await heartbeat.stop();
  }
}

export interface NightlyScoringOptions extends RunOptions {
  /** The day scored, D. Default: today (UTC). */
  asOf?: string;
  /** Only these tenants (default: every tenant). */
  tenantIds?: readonly string[] | null;
  /** Tenants scored at the same time (default 4). Each holds one connection while it runs. */
  concurrency?: number;
  /** After each tenant's run, in the order runs finish. */
  onProgress?: (progress: { done: number; total: number; result: ScoringRunResult }) => void;
}

/**
 * Scores every tenant (domain §4: every night, for each tenant) with bounded concurrency. One
 * tenant's failure is recorded on its run and does not stop the others. Results are in the order
 * of the tenants.
 */
export async function runNightlyScoring(db: Database, options: NightlyScoringOptions = {}): Promise<ScoringRunResult[]> {
  const asOf = options.asOf ?? todayUtc();
  assertScorableDay(asOf);
  const tenantIds = options.tenantIds ? [...options.tenantIds] : (await listTenants(db)).map((tenant) => tenant.id);
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? 4));
  const results: ScoringRunResult[] = new Array(tenantIds.length);
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < tenantIds.length) {
      const index = next++;
      const result = await runTenantScoring(db, tenantIds[index]!, asOf, options);
      results[index] = result;
      done++;
      options.onProgress?.({ done, total: tenantIds.length, result });
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, tenantIds.length) }, worker));
  return results;
}

/**
 * A scoring run inside the current tenant transaction (the API's `runScoring`: a request already
 * is one transaction). No separate RUNNING row: nothing outside the request could see it before
 * the request commits. The work runs in a savepoint: a failure undoes the day's partial work and
 * is recorded as a FAILED run instead. Refused with CONFLICT while another run scores the tenant.
 */
export async function runScoringInTransaction(
  asOf: string,
  options: Omit<RunOptions, 'triggeredBy'> & { triggeredBy?: string } = {},
): Promise<ScoringRunRow> {
  assertScorableDay(asOf);
  const tenantId = useTenantId();
  const actor = actorColumns();
  const triggeredBy = options.triggeredBy ?? `${actor.actorKind}:${actor.actorId}`;
  const runId = uuidv7();
  const startedAt = new Date();
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  try {
    return await savepoint(async () => {
      const { scored, stageMoves, pointsExpired } = await scoreForRun(runId, asOf, options);
      const [run] = await useTransaction()
        .insert(scoringRuns)
        .values({
          tenantId,
          id: runId,
          asOf,
          status: 'SUCCEEDED',
          startedAt,
          finishedAt: sql`clock_timestamp()`,
          durationMs: elapsed(),
          partiesScored: scored.partiesScored,
          stageMoves,
          pointsExpired,
          ruleVersion: scored.ruleVersion,
          triggeredBy,
        })
        .returning();
      await recordAudit({
        operation: 'runScoring',
        entityType: 'ScoringRun',
        entityIds: [runId],
        details: { asOf, partiesScored: scored.partiesScored, ruleVersion: scored.ruleVersion, stageMoves, pointsExpired },
      });
      return run!;
    });
  } catch (error) {
    if (error instanceof ScoringAlreadyRunningError) {
      throw UserError.of('CONFLICT', 'Scoring of this tenant is already running; try again when it has finished');
    }
    if (error instanceof UserError) throw error;
    const [run] = await useTransaction()
      .insert(scoringRuns)
      .values({
        tenantId,
        id: runId,
        asOf,
        status: 'FAILED',
        startedAt,
        finishedAt: sql`clock_timestamp()`,
        durationMs: elapsed(),
        triggeredBy,
        error: describeError(error),
      })
      .returning();
    return run!;
  }
}

export function scoringRunCursor(run: ScoringRunRow): string {
  return encodeCursor([run.startedAt.toISOString(), run.id]);
}

/**
 * The current tenant's runs, newest first (started, then id), keyset-paginated; a RUNNING run
 * whose lease has expired reads as FAILED (abandoned).
 */
export async function listScoringRuns(page: PageRequest): Promise<ScoringRunRow[]> {
  const tenantId = useTenantId();
  const conditions = [eq(scoringRuns.tenantId, tenantId)];
  const boundary = (cursor: string, side: 'after' | 'before') => {
    const [startedAt, id] = decodeCursor(cursor, 2);
    if (typeof startedAt !== 'string' || typeof id !== 'string' || !isUuid(id) || Number.isNaN(Date.parse(startedAt))) {
      throw UserError.of('VALIDATION', 'The cursor is not one this list handed out', []);
    }
    // Newest first: "after" is older.
    const beyond = side === 'after' ? sql`<` : sql`>`;
    return sql`(${scoringRuns.startedAt}, ${scoringRuns.id}) ${beyond} (${startedAt}::timestamptz, ${id}::uuid)`;
  };
  if (page.after) conditions.push(boundary(page.after, 'after'));
  if (page.before) conditions.push(boundary(page.before, 'before'));
  const direction = page.inverted ? sql`asc` : sql`desc`;
  return useTransaction()
    .select(presentedRun())
    .from(scoringRuns)
    .where(and(...conditions))
    .orderBy(sql`${scoringRuns.startedAt} ${direction}`, sql`${scoringRuns.id} ${direction}`)
    .limit(page.limit);
}

/** The current tenant's runs with these ids, presented as `listScoringRuns` presents them. */
export async function findScoringRuns(ids: readonly string[]): Promise<ScoringRunRow[]> {
  if (ids.length === 0) return [];
  return useTransaction()
    .select(presentedRun())
    .from(scoringRuns)
    .where(and(eq(scoringRuns.tenantId, useTenantId()), inArray(scoringRuns.id, [...ids])));
}

export async function countScoringRuns(): Promise<number> {
  const [row] = await useTransaction()
    .select({ n: sql<number>`count(*)::int` })
    .from(scoringRuns)
    .where(eq(scoringRuns.tenantId, useTenantId()));
  return Number(row?.n ?? 0);
}
