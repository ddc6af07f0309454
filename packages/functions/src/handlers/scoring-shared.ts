import { isUuid, type Database } from '@guanxi/core';
import { assertScorableDay, type AfterScoring } from '@guanxi/core/loyalty';
import { applyStagePolicy } from '@guanxi/core/stages';

/** One queue message: score this tenant as of this day. */
export interface ScoreTenantMessage {
  tenantId: string;
  asOf: string;
}

/**
 * The day the 02:00 UTC run scores: the UTC day that has just ended (domain: scores are "as of a
 * date D"; at 02:00 the current day is two hours old and incomplete). Computed once by the cron and
 * carried in each message, so a retry after midnight still scores the same day.
 */
export function nightlyDay(now: Date = new Date()): string {
  return new Date(now.getTime() - 24 * 3600_000).toISOString().slice(0, 10);
}

/** The nightly job applies the stage policy right after scoring, in the same transaction (runs.ts). */
export const nightlyAfterScoring: AfterScoring = (_tenantId, asOf) => applyStagePolicy(asOf);

/** A message body checked before any work: a malformed one is a bug upstream, not a retryable fault. */
export function parseScoreTenantMessage(body: string): ScoreTenantMessage {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new Error('The message is not JSON');
  }
  const { tenantId, asOf } = (value ?? {}) as Partial<ScoreTenantMessage>;
  if (typeof tenantId !== 'string' || !isUuid(tenantId)) throw new Error('The message has no valid tenantId');
  if (typeof asOf !== 'string') throw new Error('The message has no asOf');
  assertScorableDay(asOf);
  return { tenantId, asOf };
}

export type DatabaseProvider = () => Promise<Database>;
