import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { createDatabase, migrate } from '../packages/core/src/index';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A migrated, empty PGlite data folder (tarball) that each test file starts from. */
    pgliteTemplate: string;
  }
}

/**
 * PGlite: migrate once and hand every test file a copy (loading a dump takes ~1 s, a fresh
 * initdb plus migrations ~5 s). Postgres: migrate the test database once, before any file runs.
 */
export default async function setup(project: TestProject) {
  const target = project.config.env?.GUANXI_TEST_DATABASE ?? 'pglite';
  if (target === 'pglite') {
    const handle = await createDatabase('memory://');
    await migrate(handle);
    const dump = await handle.pglite!.dumpDataDir('gzip');
    await handle.close();
    const dir = mkdtempSync(join(tmpdir(), 'guanxi-test-'));
    const file = join(dir, 'template.tar.gz');
    writeFileSync(file, Buffer.from(await dump.arrayBuffer()));
    project.provide('pgliteTemplate', file);
    return () => rmSync(dir, { recursive: true, force: true });
  }
  const handle = await createDatabase(target);
  await migrate(handle);
  await handle.close();
  project.provide('pgliteTemplate', '');
  return undefined;
}
