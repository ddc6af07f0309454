import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { installSstStub, type SstStub } from './sst-stub';

/**
 * The SST app, evaluated for real: sst.config.ts's `app()` and `run()` with a recording stand-in
 * for SST's globals (test/sst-stub.ts), then assertions on what it declares. No sst CLI (it
 * downloads Pulumi and Bun), no AWS.
 */
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

let stub: SstStub | null = null;
afterEach(() => {
  stub?.uninstall();
  stub = null;
  delete process.env.GUANXI_CORS_ORIGINS;
});

interface Config {
  app(input: { stage?: string } | undefined): Record<string, unknown>;
  run(): Promise<Record<string, any>>;
}

/** Evaluates the config for a stage; modules are reset so infra/* runs again under the new $app. */
async function evaluate(stage: string): Promise<{ config: Config; outputs: Record<string, any>; stub: SstStub }> {
  vi.resetModules();
  stub = installSstStub(stage);
  const config = (await import('../sst.config')).default as unknown as Config;
  const outputs = await config.run();
  return { config, outputs, stub };
}

/** Every function the app declares: standalone, cron jobs', and queue subscribers'. */
function functionsOf(s: SstStub): { name: string; args: any }[] {
  return [
    ...s.of('Function').map((r) => ({ name: r.name, args: r.args })),
    ...s.of('CronV2').map((r) => ({ name: `${r.name}.function`, args: r.args.function })),
    ...s.of('Subscription').map((r) => ({ name: r.name, args: r.args.subscriber })),
  ];
}

const seconds = (duration: string) => {
  const [n, unit] = duration.split(' ') as [string, string];
  return Number(n) * ({ second: 1, minute: 60, hour: 3600, day: 86400 } as Record<string, number>)[unit.replace(/s$/, '')]!;
};

describe('sst.config.ts', () => {
  test('app: guanxi on AWS; production retained and protected, other stages removable', async () => {
    const { config } = await evaluate('dev');
    expect(config.app({ stage: 'production' })).toEqual({ name: 'guanxi', removal: 'retain', protect: true, home: 'aws' });
    expect(config.app({ stage: 'dev' })).toEqual({ name: 'guanxi', removal: 'remove', protect: false, home: 'aws' });
    expect(config.app(undefined)).toMatchObject({ removal: 'remove', protect: false });
  });

  test('every handler path is a file exporting a handler function', async () => {
    const { stub } = await evaluate('dev');
    const functions = functionsOf(stub);
    expect(functions.map((f) => f.name).sort()).toEqual(
      ['Api', 'Maintenance.function', 'Migrate', 'NightlyScoring.function', 'ScoringQueueSubscriber', 'WebhookDelivery.function'].sort(),
    );
    for (const { name, args } of functions) {
      const match = /^(.+)\.([A-Za-z_$][\w$]*)$/.exec(args.handler);
      expect(match, `${name}: handler "${args.handler}"`).not.toBeNull();
      const file = join(root, `${match![1]}.ts`);
      expect(existsSync(file), `${name}: ${file}`).toBe(true);
      const module = await import(pathToFileURL(file).href);
      expect(typeof module[match![2]!], `${name}: export ${match![2]}`).toBe('function');
    }
  });

  test('every function runs on nodejs24.x, bundled without the dev-only drivers', async () => {
    const { stub } = await evaluate('dev');
    // A plain .mjs script (no types): imported by URL, its export typed here.
    const script = pathToFileURL(join(root, 'packages/functions/scripts/build-functions.mjs')).href;
    const build = (await import(script)) as {
      lambdaExternals: string[];
      lambdaSourcemap: boolean;
      lambdaNodeOptions: string;
      lambdaKeepNames: boolean;
      lambdaMainFields: string[];
    };
    for (const { name, args } of functionsOf(stub)) {
      // The active LTS, the Node version `.ci/run` tests the suite on besides Node 20.
      expect(args.runtime, name).toBe('nodejs24.x');
      // What build-functions.mjs measures is what SST deploys.
      expect(args.nodejs.esbuild.external, name).toEqual(build.lambdaExternals);
      // SST keeps names and reads `module` first unless told otherwise.
      expect(args.nodejs.esbuild.keepNames ?? true, name).toBe(build.lambdaKeepNames);
      expect(args.nodejs.esbuild.mainFields ?? ['module', 'main'], name).toEqual(build.lambdaMainFields);
      expect(args.nodejs.format, name).toBe('esm');
      expect(args.nodejs.sourcemap ?? false, name).toBe(build.lambdaSourcemap);
      expect(args.environment.NODE_OPTIONS ?? '', name).toBe(build.lambdaNodeOptions);
      expect(args.environment.GUANXI_ENV, name).toBe('production');
    }
  });

  test('the API: linked secrets, function URL with CORS for the frontend origins, 29 s, runs after the migration', async () => {
    process.env.GUANXI_CORS_ORIGINS = 'https://app.guanxi.example, https://admin.guanxi.example';
    const { stub, outputs } = await evaluate('production');
    const api = stub.named('Api');
    expect(api.args.link.map((secret: { name: string }) => secret.name).sort()).toEqual(
      ['DatabaseUrl', 'JwksUrl', 'JwtAudience', 'JwtIssuer', 'OperatorKey'].sort(),
    );
    expect(api.args.timeout).toBe('29 seconds');
    expect(api.args.memory).toBe('1024 MB');
    expect(api.args.url.cors).toMatchObject({
      allowOrigins: ['https://app.guanxi.example', 'https://admin.guanxi.example'],
      allowHeaders: ['authorization', 'content-type', 'x-api-key', 'x-request-id'],
      allowMethods: ['GET', 'POST'],
    });
    expect(api.args.environment.GUANXI_GRAPHIQL).toBe('false');
    expect(api.opts.dependsOn).toEqual([stub.named('MigrateOnDeploy').component]);
    expect(outputs.graphql.value).toBe('https://api.lambda-url.eu-central-1.on.aws/graphql');
  });

  test('production refuses to deploy without the frontend origins; dev stages default to localhost', async () => {
    await expect(evaluate('production')).rejects.toThrow(/GUANXI_CORS_ORIGINS/);
    const { stub } = await evaluate('dev');
    expect(stub.named('Api').args.url.cors.allowOrigins).toEqual(['http://localhost:3000', 'http://localhost:5173']);
    expect(stub.named('Api').args.environment.GUANXI_GRAPHIQL).toBe('true');
  });

  test('secrets: DatabaseUrl must be set; the optional ones default to "none"', async () => {
    const { stub } = await evaluate('dev');
    const secrets = Object.fromEntries(stub.of('Secret').map((r) => [r.name, r.args.placeholder]));
    expect(secrets).toEqual({
      DatabaseUrl: undefined,
      JwtIssuer: 'none',
      JwtAudience: 'none',
      JwksUrl: 'none',
      OperatorKey: 'none',
      WebhookSigningSettings: '{}',
    });
  });

  test('nightly scoring: 02:00 UTC, fanned out on a queue with a dead-letter queue', async () => {
    const { stub } = await evaluate('dev');
    const cron = stub.named('NightlyScoring');
    expect(cron.args.schedule).toBe('cron(0 2 * * ? *)');
    expect(cron.args.timezone ?? 'UTC').toBe('UTC');
    expect(cron.args.function.link.map((r: any) => r.name)).toEqual(['DatabaseUrl', 'ScoringQueue']);

    const queue = stub.named('ScoringQueue');
    const deadLetters = stub.named('ScoringDeadLetters');
    expect(queue.args.dlq).toEqual({ queue: deadLetters.component.arn, retry: 3 });
    const subscription = stub.named('ScoringQueueSubscriber');
    expect(subscription.args.batch).toEqual({ size: 1, partialResponses: true });
    expect(subscription.args.subscriber.timeout).toBe('15 minutes');
    // A message must stay invisible for longer than one attempt can run.
    expect(seconds(queue.args.visibilityTimeout)).toBeGreaterThan(seconds(subscription.args.subscriber.timeout));
  });

  test('webhooks every minute; migrations shipped with the migrator and run on every deploy', async () => {
    const { stub } = await evaluate('dev');
    const webhooks = stub.named('WebhookDelivery');
    expect(webhooks.args.schedule).toBe('rate(1 minute)');
    expect(seconds(webhooks.args.function.timeout)).toBeLessThan(60);

    const migrator = stub.named('Migrate');
    expect(migrator.args.copyFiles).toEqual([{ from: 'packages/core/migrations', to: 'migrations' }]);
    expect(existsSync(join(root, 'packages/core/migrations/meta/_journal.json'))).toBe(true);
    expect(migrator.args.environment.GUANXI_MIGRATIONS_DIR).toBe('/var/task/migrations');
    const invocation = stub.named('MigrateOnDeploy');
    expect(invocation.args.functionName).toBe(migrator.component.name);
  });

  test('maintenance every 15 minutes: its handler bundled, its batches inside the timeout, no overlap', async () => {
    const { stub } = await evaluate('dev');
    const cron = stub.named('Maintenance');
    expect(cron.args.schedule).toBe('rate(15 minutes)');
    // What is left waits for the next run (runMaintenance's time budget); no retry piles on.
    expect(cron.args.retries).toBe(0);
    expect(cron.args.function.handler).toBe('packages/functions/src/handlers/maintenance.handler');
    expect(cron.args.function.link.map((r: any) => r.name)).toEqual(['DatabaseUrl']);
    const timeout = seconds(cron.args.function.timeout);
    // The default 4-minute budget of runMaintenance fits, and a run ends before the next starts.
    expect(timeout).toBeGreaterThan(4 * 60);
    expect(timeout).toBeLessThan(15 * 60);
    const script = pathToFileURL(join(root, 'packages/functions/scripts/build-functions.mjs')).href;
    const { handlerEntries } = (await import(script)) as { handlerEntries: Record<string, string> };
    expect(handlerEntries.maintenance).toBe('src/handlers/maintenance.ts');
  });
});
