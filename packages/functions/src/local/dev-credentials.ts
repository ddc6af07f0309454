import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { withActor, withTenant, type Database } from '@guanxi/core';
import { authenticateApiKey, issueApiKey, listTenants } from '@guanxi/core/access';
import { apiScopes } from '@guanxi/core';
import { seedDemoTenant } from '@guanxi/core/seed';

/**
 * Development credentials, made on first run and kept beside the embedded database (git-ignored),
 * so no key is ever committed and a restart prints the same ones.
 */
export interface DevCredentials {
  tenantId: string;
  apiKey: string;
  operatorKey: string;
}

function credentialsFile(dataDir: string): string {
  return join(dirname(dataDir), 'dev-credentials.json');
}

function readCredentials(file: string): Partial<DevCredentials> {
  if (!existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Partial<DevCredentials>;
  } catch {
    return {};
  }
}

/**
 * A working API key for the demo tenant and an operator key. Seeds the demo tenant when the
 * database has no tenant yet; issues a fresh key when the stored one no longer works.
 */
export async function ensureDevCredentials(
  db: Database,
  dataDir: string,
  log: (line: string) => void,
): Promise<DevCredentials & { seeded: boolean }> {
  const file = credentialsFile(dataDir);
  const stored = readCredentials(file);
  const operatorKey = stored.operatorKey ?? `dev-operator-${randomBytes(18).toString('base64url')}`;
  let seeded = false;
  let tenantId = stored.tenantId;
  let apiKey = stored.apiKey;
  const actor = apiKey ? (await authenticateApiKey(db, apiKey))?.actor : null;
  if (!actor) {
    const tenants = await listTenants(db);
    if (tenants.length === 0) {
      log('Empty database: seeding the demo tenant…');
      const started = Date.now();
      const result = await seedDemoTenant(db);
      log(`Seeded in ${Date.now() - started} ms: ${JSON.stringify(result.counts)}`);
      tenantId = result.tenantId;
      apiKey = result.apiKey;
      seeded = true;
    } else {
      const tenant = tenants.find((t) => t.id === stored.tenantId) ?? tenants[0]!;
      tenantId = tenant.id;
      apiKey = await withActor({ kind: 'SYSTEM', tenantId, name: 'dev-server' }, () =>
        withTenant(db, tenant.id, async () => {
          const issued = await issueApiKey({ name: 'Development key', scopes: [...apiScopes] });
          return issued.secret;
        }),
      );
    }
  }
  const credentials: DevCredentials = { tenantId: tenantId!, apiKey: apiKey!, operatorKey };
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
  return { ...credentials, seeded };
}
