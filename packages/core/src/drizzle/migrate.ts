import { fileURLToPath } from 'node:url';
import type { DatabaseHandle } from './client';

/** The committed drizzle-kit migrations; a bundle (Lambda) ships them and points here by env. */
export function migrationsFolder(): string {
  return (
    process.env.GUANXI_MIGRATIONS_DIR ?? fileURLToPath(new URL('../../migrations', import.meta.url))
  );
}

/** Applies every migration not yet applied. Safe to call at every start. */
export async function migrate(handle: DatabaseHandle): Promise<void> {
  const config = { migrationsFolder: migrationsFolder() };
  switch (handle.driver) {
    case 'pglite':
    case 'pglite-memory': {
      const { migrate: run } = await import('drizzle-orm/pglite/migrator');
      await run(handle.db as never, config);
      return;
    }
    case 'neon': {
      const { migrate: run } = await import('drizzle-orm/neon-serverless/migrator');
      await run(handle.db as never, config);
      return;
    }
    case 'node-postgres': {
      const { migrate: run } = await import('drizzle-orm/node-postgres/migrator');
      await run(handle.db as never, config);
      return;
    }
  }
}
