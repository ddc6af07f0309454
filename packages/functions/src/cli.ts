#!/usr/bin/env node
import { inspect, parseArgs } from 'node:util';
import {
  apiScopes,
  createDatabase,
  migrate,
  roles,
  todayUtc,
  withActor,
  withTenant,
  type DatabaseHandle,
  type Role,
} from '@guanxi/core';
import { applyStagePolicy } from '@guanxi/core/stages';
import { createApiKey, createTenant, listTenants } from '@guanxi/core/access';
import { runMaintenance } from '@guanxi/core/maintenance';
import { seedDemoTenant } from '@guanxi/core/seed';
import { readSettings, type Settings } from './config';
import { createOutput, type Output } from './cli/output';
import { serve } from './cli/serve';
import { describeImport, runImport } from './cli/import';
import { runScoreCommand } from './cli/score';
import { tenantOption } from './cli/tenant-option';
import { loadOrCreateDevKey, mintDevToken } from './local/dev-jwt';

const usage = `guanxi <command> [options]

Commands:
  serve                          Run the API (what pnpm dev runs)
  migrate                        Apply database migrations
  seed [--parties N] [--seed S] [--as-of YYYY-MM-DD]
                                 Create a deterministic demo tenant
  tenant create <name> [--currency CNY]
                                 Create a tenant; prints its id and an admin API key
  key create --tenant <id> --name <name> [--scopes NETWORK_READ,…]
                                 An API key for a partner (default: every scope); printed once
  score [--tenant <id>] [--as-of YYYY-MM-DD]
                                 Score loyalty for a day (default today, UTC) as the nightly job does,
                                 then apply the stage policy; exit code 1 when a tenant failed
  stages apply [--tenant <id>] [--as-of YYYY-MM-DD]
                                 Run the automatic stage policy (the nightly job does it after scoring)
  maintain [--tenant <id>]       Prune what retention allows and close abandoned scoring runs, as the
                                 15-minute job does; exit code 1 when a tenant failed
  token --tenant <id> --role ADMIN|MEMBER|VIEWER [--sub <user>] [--ttl <seconds>]
                                 A development JWT signed with the local dev key
  import <file.csv|file.jsonl> --tenant <id> [--batch 1000] [--errors <file>]
                                 Upsert parties by externalId in batches of up to 1000 rows;
                                 refused rows go to stderr (or --errors) as JSON lines

Every command takes --json: its last line of output is one JSON object.
Configuration comes from the environment (DATABASE_URL, GUANXI_DATA_DIR, PORT, GUANXI_ENV, …).`;

async function withDatabase<T>(settings: Settings, fn: (handle: DatabaseHandle) => Promise<T>): Promise<T> {
  const handle = await createDatabase(settings.databaseUrl, { dataDir: settings.dataDir });
  try {
    await migrate(handle);
    return await fn(handle);
  } finally {
    await handle.close();
  }
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
      parties: { type: 'string' },
      seed: { type: 'string' },
      'as-of': { type: 'string' },
      currency: { type: 'string' },
      tenant: { type: 'string' },
      role: { type: 'string' },
      sub: { type: 'string' },
      ttl: { type: 'string' },
      batch: { type: 'string' },
      errors: { type: 'string' },
      name: { type: 'string' },
      scopes: { type: 'string' },
    },
  });
  const out: Output = createOutput(values.json);
  const [command, ...rest] = positionals;
  // Every command that takes --tenant gets the tenant's uuid, whichever form was given.
  const tenantArg = tenantOption(values.tenant);
  if (values.help || !command) {
    out.line(usage);
    return command || values.help ? 0 : 1;
  }
  const settings = readSettings();

  switch (command) {
    case 'serve': {
      const server = await serve(settings, out.line);
      // Close the database cleanly on Ctrl-C / SIGTERM: PGlite flushes and releases its lock.
      const stop = () => {
        out.line('Shutting down…');
        server.close().then(() => process.exit(0), () => process.exit(1));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      return -1; // keep running
    }
    case 'migrate': {
      await withDatabase(settings, async (handle) => {
        out.line(`Migrated ${handle.driver} (${handle.location})`);
      });
      out.result({ migrated: true });
      return 0;
    }
    case 'seed': {
      const parties = values.parties ? Number(values.parties) : undefined;
      if (parties !== undefined && (!Number.isInteger(parties) || parties < 10 || parties > 1_000_000)) {
        throw new Error('--parties must be a whole number between 10 and 1000000');
      }
      const result = await withDatabase(settings, (handle) =>
        seedDemoTenant(handle.db, {
          ...(parties ? { parties } : {}),
          ...(values.seed ? { seed: Number(values.seed) } : {}),
          ...(values['as-of'] ? { asOf: values['as-of'] } : {}),
        }),
      );
      out.line(`Demo tenant ${result.tenantId}: ${JSON.stringify(result.counts)}`);
      out.line(`API key: ${result.apiKey}`);
      out.result({ tenantId: result.tenantId, apiKey: result.apiKey, counts: result.counts });
      return 0;
    }
    case 'tenant': {
      const [sub, name] = rest;
      if (sub !== 'create' || !name) throw new Error('usage: guanxi tenant create <name> [--currency CNY]');
      const { tenant, apiKey } = await withDatabase(settings, (handle) =>
        createTenant(handle.db, { name, currency: values.currency ?? null }),
      );
      out.line(`Tenant ${tenant.name}: ${tenant.id}`);
      out.line(`Admin API key (shown once): ${apiKey}`);
      out.result({ tenantId: tenant.id, apiKey });
      return 0;
    }
    case 'key': {
      if (rest[0] !== 'create' || !tenantArg || !values.name) {
        throw new Error('usage: guanxi key create --tenant <id> --name <name> [--scopes NETWORK_READ,…]');
      }
      const tenantId = tenantArg;
      const scopes = values.scopes ? values.scopes.split(',').map((scope) => scope.trim().toUpperCase()) : [...apiScopes];
      const { apiKey, secret } = await withDatabase(settings, (handle) =>
        withActor({ kind: 'SYSTEM', tenantId, name: 'cli' }, () =>
          withTenant(handle.db, tenantId, () => createApiKey({ name: values.name!, scopes: scopes as never })),
        ),
      );
      out.line(`API key ${apiKey.name} (${apiKey.scopes.join(', ')}), shown once: ${secret}`);
      out.result({ tenantId, apiKeyId: apiKey.id, apiKey: secret, scopes: apiKey.scopes });
      return 0;
    }
    case 'score': {
      const result = await withDatabase(settings, (handle) =>
        runScoreCommand(handle.db, {
          tenantId: tenantArg ?? null,
          asOf: values['as-of'] ?? null,
          json: values.json,
          afterScoring: (_tenantId, asOf) => applyStagePolicy(asOf),
        }),
      );
      // runScoreCommand wrote the summary (and the JSON line) itself.
      return result.exitCode;
    }
    case 'stages': {
      if (rest[0] !== 'apply') throw new Error('usage: guanxi stages apply [--tenant <id>] [--as-of YYYY-MM-DD]');
      const asOf = values['as-of'] ?? todayUtc();
      const runs = await withDatabase(settings, async (handle) => {
        const tenantIds = tenantArg ? [tenantArg] : (await listTenants(handle.db)).map((t) => t.id);
        const results = [];
        for (const tenantId of tenantIds) {
          const moves = await withActor({ kind: 'SYSTEM', tenantId, name: 'stage-policy' }, () =>
            withTenant(handle.db, tenantId, () => applyStagePolicy(asOf)),
          );
          out.line(`${tenantId}  ${asOf}  ${moves.parties} parties moved  ${JSON.stringify(moves)}`);
          results.push({ tenantId, asOf, ...moves });
        }
        return results;
      });
      out.result({ runs });
      return 0;
    }
    case 'maintain': {
      const result = await withDatabase(settings, (handle) =>
        runMaintenance(handle.db, { tenantIds: tenantArg ? [tenantArg] : null }),
      );
      out.line(
        `Pruned ${result.rateLimitCounters} rate-limit counters, ${result.webhookDeliveries} webhook deliveries, ` +
          `${result.auditLog} audit rows; closed ${result.abandonedScoringRuns} abandoned scoring runs ` +
          `(${result.tenants} tenants, ${result.durationMs} ms${result.complete ? '' : ', more left for the next run'})`,
      );
      for (const failure of result.failures) out.line(`${failure.tenantId ?? 'rate limits'}: FAILED: ${failure.error}`);
      out.result(result);
      return result.failures.length ? 1 : 0;
    }
    case 'token': {
      if (settings.env !== 'development' || settings.jwt) {
        throw new Error('guanxi token signs with the local development key: development only, without an identity provider');
      }
      const role = (values.role ?? '').toUpperCase();
      if (!tenantArg) throw new Error('--tenant <tenant id> is required');
      if (!(roles as readonly string[]).includes(role)) throw new Error(`--role must be one of ${roles.join(', ')}`);
      const ttlSeconds = Number(values.ttl ?? 3600);
      if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > 7 * 24 * 3600) {
        throw new Error('--ttl is a number of seconds, at most a week');
      }
      const token = await mintDevToken(await loadOrCreateDevKey(settings.dataDir), {
        tenantId: tenantArg,
        role: role as Role,
        subject: values.sub ?? 'dev-user',
        ttlSeconds,
      });
      out.line(`Authorization: Bearer ${token}`);
      out.result({ token });
      return 0;
    }
    case 'import': {
      const [file] = rest;
      const tenantId = tenantArg;
      if (!file || !tenantId) {
        throw new Error('usage: guanxi import <file.csv|file.jsonl> --tenant <id> [--batch 1000] [--errors <file>]');
      }
      const summary = await withDatabase(settings, (handle) =>
        runImport(handle.db, {
          file,
          tenantId,
          ...(values.batch !== undefined ? { batchSize: Number(values.batch) } : {}),
          errorsFile: values.errors ?? null,
        }),
      );
      out.line(describeImport(summary));
      out.result(summary);
      return 0;
    }
    default:
      throw new Error(`Unknown command "${command}"\n\n${usage}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (error: unknown) => {
    // Not everything thrown is an Error (WebAssembly file systems throw plain objects): String()
    // of one prints "[object Object]".
    const message =
      error instanceof Error
        ? error.message
        : typeof error === 'string'
          ? error
          : inspect(error, { breakLength: Infinity });
    const details =
      error && typeof error === 'object' && 'errors' in error ? JSON.stringify((error as { errors: unknown }).errors) : '';
    process.stderr.write(`guanxi: ${message}${details ? `\n${details}` : ''}\n`);
    process.exit(1);
  },
);
