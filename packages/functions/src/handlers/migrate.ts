import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { migrate, migrationsFolder, type DatabaseHandle } from '@guanxi/core';
import { sql } from 'drizzle-orm';
import { readSettings } from '../config';
import { lambdaEnv, logJson, openLambdaDatabase } from './lambda';

/**
 * Applies the migrations shipped with the function (copyFiles → GUANXI_MIGRATIONS_DIR). Invoked
 * on every deploy by infra/migrate.ts before the API's new code goes live; safe to run again (a
 * no-op when nothing is pending). A failure throws, which fails the invocation and so the deploy.
 */
export interface MigrationState {
  /** Migrations in the shipped folder. */
  shipped: number;
  /** Migrations recorded as applied in the database. */
  applied: number;
  /** The tag of the newest shipped migration. */
  latest: string | null;
  durationMs: number;
}

export async function applyMigrations(handle: DatabaseHandle): Promise<MigrationState> {
  const started = performance.now();
  await migrate(handle);
  const journal = JSON.parse(readFileSync(join(migrationsFolder(), 'meta', '_journal.json'), 'utf8')) as {
    entries: { tag: string }[];
  };
  const { rows } = await handle.db.execute<{ n: number }>(sql`select count(*)::int as n from drizzle.__drizzle_migrations`);
  return {
    shipped: journal.entries.length,
    applied: rows[0]?.n ?? 0,
    latest: journal.entries.at(-1)?.tag ?? null,
    durationMs: Math.round(performance.now() - started),
  };
}

export function createMigrateHandler(options: { handle?: DatabaseHandle; env?: NodeJS.ProcessEnv } = {}) {
  return async (): Promise<MigrationState> => {
    const env = lambdaEnv(options.env);
    // A connection per deploy, closed afterwards: this function runs once, not per request.
    const handle = options.handle ?? (await openLambdaDatabase(readSettings(env).databaseUrl, { env, maxConnections: 1 }));
    try {
      const state = await applyMigrations(handle);
      logJson({ job: 'migrate', ...state });
      return state;
    } finally {
      if (!options.handle) await handle.close();
    }
  };
}

export const handler = createMigrateHandler();
