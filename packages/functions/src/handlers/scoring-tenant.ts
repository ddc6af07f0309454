import type { Database } from '@guanxi/core';
import { runTenantScoring } from '@guanxi/core/loyalty';
import { readSettings } from '../config';
import { lambdaEnv, logJson, once, openLambdaDatabase, type SqsBatchResponse, type SqsEvent } from './lambda';
import { nightlyAfterScoring, parseScoreTenantMessage } from './scoring-shared';

/**
 * The scoring queue's subscriber: scores the tenant of each message (one per batch in
 * infra/scoring.ts, so each tenant has the function's whole 15 minutes). A failed run is recorded
 * as FAILED in scoring_runs by `runTenantScoring` and its message reported in `batchItemFailures`:
 * only that message comes back after the visibility timeout, and after 3 receipts it moves to the
 * dead-letter queue.
 */
export interface ScoringTenantHandlerOptions {
  db?: Database;
  env?: NodeJS.ProcessEnv;
}

export function createScoringTenantHandler(options: ScoringTenantHandlerOptions = {}) {
  const database = once(async () => {
    if (options.db) return options.db;
    const env = lambdaEnv(options.env);
    return (await openLambdaDatabase(readSettings(env).databaseUrl, { env, maxConnections: 2 })).db;
  });

  return async (event: SqsEvent): Promise<SqsBatchResponse> => {
    const db = await database();
    const failures: SqsBatchResponse['batchItemFailures'] = [];
    for (const record of event.Records) {
      const receipt = Number(record.attributes?.ApproximateReceiveCount ?? 1);
      let message;
      try {
        message = parseScoreTenantMessage(record.body);
      } catch (error) {
        // Retrying cannot fix it: let it reach the dead-letter queue, where it can be read.
        logJson({ job: 'scoring-tenant', messageId: record.messageId, status: 'MALFORMED', error: (error as Error).message });
        failures.push({ itemIdentifier: record.messageId });
        continue;
      }
      const run = await runTenantScoring(db, message.tenantId, message.asOf, {
        triggeredBy: 'nightly',
        afterScoring: nightlyAfterScoring,
      });
      logJson({ job: 'scoring-tenant', messageId: record.messageId, receipt, ...run });
      if (run.status === 'FAILED') failures.push({ itemIdentifier: record.messageId });
    }
    return { batchItemFailures: failures };
  };
}

export const handler = createScoringTenantHandler();
