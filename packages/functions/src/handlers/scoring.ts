import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Database } from '@guanxi/core';
import { listTenants } from '@guanxi/core/access';
import { assertScorableDay, runNightlyScoring } from '@guanxi/core/loyalty';
import { Resource } from 'sst';
import { readSettings } from '../config';
import { lambdaEnv, logJson, once, openLambdaDatabase } from './lambda';
import { nightlyAfterScoring, nightlyDay, type ScoreTenantMessage } from './scoring-shared';

/**
 * The nightly scoring cron (CronV2, 02:00 UTC). Fan-out: one SQS message per tenant, each scored
 * by `scoring-tenant.handler` in its own invocation with its own 15 minutes, retries and a
 * dead-letter queue, so one slow or failing tenant neither stops nor delays the others.
 * Inline mode (no queue linked, or GUANXI_SCORING_INLINE=1: a stage without the queue, a manual
 * backfill) scores every tenant right here with `runNightlyScoring`.
 */

/** What the handler needs of an SQS client: `SQSClient` has it; tests pass an in-memory stand-in. */
export interface QueueClient {
  send(command: SendMessageBatchCommand): Promise<{ Failed?: { Id?: string; Code?: string; Message?: string }[] }>;
}

/** The scheduler sends `{}`; a manual invoke may name the day and the tenants (backfills). */
export interface ScoringCronEvent {
  asOf?: string;
  tenantIds?: string[];
}

export type ScoringCronResult =
  | { mode: 'queue'; asOf: string; tenants: number; enqueued: number }
  | { mode: 'inline'; asOf: string; tenants: number; succeeded: number; failed: number };

export interface ScoringHandlerOptions {
  db?: Database;
  queue?: QueueClient;
  /** The queue's URL; default the linked `ScoringQueue`; null forces inline. */
  queueUrl?: string | null;
  env?: NodeJS.ProcessEnv;
  now?: () => Date;
}

// SendMessageBatch takes at most 10 entries.
const batchSize = 10;

function linkedQueueUrl(): string | null {
  if (!('ScoringQueue' in Resource)) return null;
  const url = (Resource as unknown as Record<string, { url?: unknown }>).ScoringQueue?.url;
  return typeof url === 'string' && url ? url : null;
}

export function createScoringHandler(options: ScoringHandlerOptions = {}) {
  const env = () => lambdaEnv(options.env);
  const database = once(async () => {
    if (options.db) return options.db;
    // Inline mode scores 4 tenants at a time, each holding one connection, plus one for their
    // heartbeats (a few ms every 30 s each): without it they would wait for a run to finish.
    return (await openLambdaDatabase(readSettings(env()).databaseUrl, { env: env(), maxConnections: 5 })).db;
  });

  return async (event: ScoringCronEvent = {}): Promise<ScoringCronResult> => {
    const asOf = event.asOf ?? nightlyDay(options.now?.() ?? new Date());
    assertScorableDay(asOf);
    const db = await database();
    const tenantIds = event.tenantIds?.length ? event.tenantIds : (await listTenants(db)).map((t) => t.id);
    const queueUrl = options.queueUrl === undefined ? linkedQueueUrl() : options.queueUrl;

    if (!queueUrl || env().GUANXI_SCORING_INLINE === '1') {
      const results = await runNightlyScoring(db, { asOf, tenantIds, afterScoring: nightlyAfterScoring });
      for (const run of results) logJson({ job: 'scoring', ...run });
      const failed = results.filter((run) => run.status === 'FAILED').length;
      return { mode: 'inline', asOf, tenants: tenantIds.length, succeeded: results.length - failed, failed };
    }

    const queue = options.queue ?? new SQSClient({});
    let enqueued = 0;
    for (let start = 0; start < tenantIds.length; start += batchSize) {
      let entries = tenantIds.slice(start, start + batchSize).map((tenantId, i) => ({
        Id: String(start + i),
        MessageBody: JSON.stringify({ tenantId, asOf } satisfies ScoreTenantMessage),
      }));
      // A batch can fail entry by entry (throttling): send those once more, then give up loudly.
      // Giving up throws, so the scheduler retries the run; re-scoring a tenant's day is harmless
      // (the run replaces the day's snapshots and the stage policy has nothing left to do).
      for (let attempt = 1; entries.length > 0; attempt++) {
        const { Failed = [] } = await queue.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
        enqueued += entries.length - Failed.length;
        if (Failed.length === 0) break;
        if (attempt === 2) {
          throw new Error(`Could not enqueue ${Failed.length} tenant(s): ${Failed.map((f) => `${f.Code}: ${f.Message}`).join('; ')}`);
        }
        const failedIds = new Set(Failed.map((f) => f.Id));
        entries = entries.filter((entry) => failedIds.has(entry.Id));
      }
    }
    logJson({ job: 'scoring', mode: 'queue', asOf, tenants: tenantIds.length, enqueued });
    return { mode: 'queue', asOf, tenants: tenantIds.length, enqueued };
  };
}

export const handler = createScoringHandler();
