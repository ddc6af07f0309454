import type { Database } from '@guanxi/core';
import { deliverDueWebhooks, type DeliveryRunSummary } from '@guanxi/core/webhooks';
import { readSettings } from '../config';
import { lambdaEnv, logJson, once, openLambdaDatabase } from './lambda';

/**
 * The webhook delivery worker, every minute (infra/webhooks.ts): sends the due deliveries of the
 * transactional outbox with core's `deliverDueWebhooks` (claims with skip-locked leases, so an
 * overlapping run is harmless). Tunables come from the WebhookSigningSettings secret, a JSON
 * object: `{"limit":100,"timeoutMs":10000}`; each webhook's signing secret lives with the webhook.
 */
export interface WebhookWorkerOptions {
  db?: Database;
  env?: NodeJS.ProcessEnv;
  /** Tests only: a receiver on loopback over http. */
  allowInsecureTargets?: boolean;
  /**
   * Tests only: deliver for these tenants alone (default every tenant). A test database that
   * other test files share holds their due deliveries too.
   */
  tenantIds?: string[];
}

export function readWebhookSettings(env: NodeJS.ProcessEnv): { limit?: number; timeoutMs?: number } {
  const text = env.GUANXI_WEBHOOK_SETTINGS?.trim();
  if (!text) return {};
  const value = JSON.parse(text) as Record<string, unknown>;
  const settings: { limit?: number; timeoutMs?: number } = {};
  for (const key of ['limit', 'timeoutMs'] as const) {
    const n = value[key];
    if (n === undefined) continue;
    if (typeof n !== 'number' || !Number.isInteger(n) || n <= 0) throw new Error(`WebhookSigningSettings.${key} must be a positive integer`);
    settings[key] = n;
  }
  return settings;
}

export function createWebhookWorkerHandler(options: WebhookWorkerOptions = {}) {
  const database = once(async () => {
    if (options.db) return options.db;
    const env = lambdaEnv(options.env);
    return (await openLambdaDatabase(readSettings(env).databaseUrl, { env })).db;
  });
  return async (): Promise<DeliveryRunSummary> => {
    const db = await database();
    const summary = await deliverDueWebhooks(db, {
      ...readWebhookSettings(lambdaEnv(options.env)),
      ...(options.allowInsecureTargets ? { allowInsecureTargets: true } : {}),
      ...(options.tenantIds ? { tenantIds: options.tenantIds } : {}),
    });
    logJson({ job: 'webhooks', ...summary });
    return summary;
  };
}

export const handler = createWebhookWorkerHandler();
