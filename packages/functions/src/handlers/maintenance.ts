import { isUuid, type Database } from '@guanxi/core';
import { runMaintenance, type MaintenanceResult } from '@guanxi/core/maintenance';
import { readSettings } from '../config';
import { lambdaEnv, logJson, once, openLambdaDatabase } from './lambda';

/**
 * The maintenance cron (infra/maintenance.ts, every 15 minutes): core's `runMaintenance` prunes
 * rate-limit counters, finished webhook deliveries and audit rows past each tenant's retention, and
 * closes scoring runs whose lease ran out. One JSON line with the counts per run. A tenant that
 * failed fails the invocation (after the others ran), so the error shows in the function's metrics.
 */

/** The scheduler sends `{}`; a manual invoke may name the tenants. */
export interface MaintenanceEvent {
  tenantIds?: string[];
}

export interface MaintenanceHandlerOptions {
  db?: Database;
  env?: NodeJS.ProcessEnv;
  now?: () => Date;
}

export function createMaintenanceHandler(options: MaintenanceHandlerOptions = {}) {
  const database = once(async () => {
    if (options.db) return options.db;
    const env = lambdaEnv(options.env);
    return (await openLambdaDatabase(readSettings(env).databaseUrl, { env })).db;
  });
  return async (event: MaintenanceEvent = {}): Promise<MaintenanceResult> => {
    const tenantIds = event.tenantIds?.length ? event.tenantIds : null;
    const wrong = tenantIds?.find((id) => !isUuid(id));
    if (wrong !== undefined) throw new Error(`Not a tenant id: ${wrong}`);
    const result = await runMaintenance(await database(), { now: options.now?.(), tenantIds });
    logJson({ job: 'maintenance', ...(result.failures.length ? { level: 'error' } : {}), ...result });
    if (result.failures.length) {
      throw new Error(`Maintenance failed for ${result.failures.length} tenant(s): ${result.failures.map((f) => `${f.tenantId ?? 'rate limits'}: ${f.error}`).join('; ')}`);
    }
    return result;
  };
}

export const handler = createMaintenanceHandler();
