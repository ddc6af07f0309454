import { databaseUrl } from './secrets';
import { environment, logging, nodejs, runtime } from './shared';

/**
 * Maintenance every 15 minutes: prunes rate-limit counters (an hour of them is kept), finished
 * webhook deliveries and audit rows past each tenant's retention, and closes scoring runs whose
 * lease ran out (README, "Retention"). Its deletes are batched under a 4-minute budget, inside the
 * 5-minute timeout; what is left waits for the next run, so the cron does not retry.
 */
export const maintenance = new sst.aws.CronV2('Maintenance', {
  schedule: 'rate(15 minutes)',
  retries: 0,
  function: {
    handler: 'packages/functions/src/handlers/maintenance.handler',
    description: 'Prunes the tables that grow (retention) and closes abandoned scoring runs',
    runtime,
    architecture: 'arm64',
    memory: '512 MB',
    timeout: '5 minutes',
    link: [databaseUrl],
    environment,
    logging,
    nodejs,
  },
});
