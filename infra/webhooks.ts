import { databaseUrl, webhookSigningSettings } from './secrets';
import { environment, handlers, logging, nodejs, runtime } from './shared';

/**
 * Webhook delivery: every minute the worker sends the due deliveries of the outbox. The timeout
 * stays under the schedule's minute so runs rarely overlap (and an overlap is harmless: claims
 * use skip-locked leases). Retries with backoff are the worker's own (rows in webhook_deliveries),
 * not the scheduler's, so the cron does not retry.
 */
export const webhookDelivery = new sst.aws.CronV2('WebhookDelivery', {
  schedule: 'rate(1 minute)',
  retries: 0,
  function: {
    handler: handlers.webhookWorker,
    description: 'Sends due webhook deliveries',
    runtime,
    architecture: 'arm64',
    memory: '512 MB',
    timeout: '50 seconds',
    link: [databaseUrl, webhookSigningSettings],
    environment,
    logging,
    nodejs,
  },
});
