import { databaseUrl } from './secrets';
import { environment, handlers, logging, nodejs, runtime } from './shared';

/**
 * Nightly loyalty scoring, fanned out: at 02:00 UTC the cron enqueues one message per tenant;
 * the queue's subscriber scores one tenant per invocation. Each tenant thus has a whole Lambda
 * (15 minutes) to itself, a failure retries only that tenant, and after 3 receipts its message
 * waits in the dead-letter queue; every attempt is a row in scoring_runs.
 */

/** 14 days (the SQS maximum): a failure on a Friday night is still there on Monday. */
export const scoringDeadLetters = new sst.aws.Queue('ScoringDeadLetters', {
  transform: { queue: { messageRetentionSeconds: 14 * 24 * 3600 } },
});

/** The subscriber's timeout: scoring one tenant must finish within it. */
export const tenantTimeout = '15 minutes';

/**
 * Visibility timeout 90 minutes: AWS asks for at least six times the subscriber's timeout, so a
 * message is never handed to a second invocation while the first may still be scoring it; it is
 * also the wait before a failed tenant is retried (then 3 attempts end by about 06:30 UTC).
 */
export const scoringQueue = new sst.aws.Queue('ScoringQueue', {
  visibilityTimeout: '90 minutes',
  dlq: { queue: scoringDeadLetters.arn, retry: 3 },
});

scoringQueue.subscribe(
  {
    handler: handlers.scoringTenant,
    description: 'Scores one tenant (nightly scoring queue)',
    runtime,
    architecture: 'arm64',
    memory: '1024 MB',
    timeout: tenantTimeout,
    link: [databaseUrl],
    environment,
    logging,
    nodejs,
  },
  // One tenant per invocation; partial responses so only failed messages come back.
  { batch: { size: 1, partialResponses: true } },
);

export const nightlyScoring = new sst.aws.CronV2('NightlyScoring', {
  // 02:00 UTC every day (EventBridge Scheduler syntax: minute hour day month weekday year).
  schedule: 'cron(0 2 * * ? *)',
  timezone: 'UTC',
  // Enqueueing is idempotent enough to retry: a tenant scored twice for a day ends the same.
  retries: 2,
  function: {
    handler: handlers.scoring,
    description: 'Nightly scoring: one queue message per tenant',
    runtime,
    architecture: 'arm64',
    memory: '512 MB',
    // Enqueueing takes seconds; 15 minutes leaves room for inline mode (GUANXI_SCORING_INLINE=1).
    timeout: '15 minutes',
    link: [databaseUrl, scoringQueue],
    environment,
    logging,
    nodejs,
  },
});
