import { databaseUrl } from './secrets';
import { environment, handlers, logging, nodejs, runtime } from './shared';

/**
 * Migrations on deploy: a function that applies the committed drizzle migrations (shipped next to
 * its code with copyFiles), invoked by the deploy itself. If it fails, the deploy fails, and the
 * API (which depends on it) keeps its old code: new code never meets an old schema.
 * Migrations are written expand-then-contract, so the old API code keeps working on the new schema
 * while the deploy rolls on.
 */
export const migrator = new sst.aws.Function('Migrate', {
  handler: handlers.migrate,
  description: 'Applies database migrations (invoked on every deploy)',
  runtime,
  architecture: 'arm64',
  memory: '512 MB',
  timeout: '5 minutes',
  link: [databaseUrl],
  copyFiles: [{ from: 'packages/core/migrations', to: 'migrations' }],
  // Lambda unpacks the code in /var/task; migrationsFolder() reads this variable.
  environment: { ...environment, GUANXI_MIGRATIONS_DIR: '/var/task/migrations' },
  logging,
  nodejs,
});

/**
 * Runs the migrator on every deploy (the trigger changes each time): a no-op when nothing is
 * pending, and it also catches a database that was swapped or restored behind the app's back.
 */
export const migration = new aws.lambda.Invocation('MigrateOnDeploy', {
  functionName: migrator.name,
  input: JSON.stringify({}),
  triggers: { deployedAt: new Date().toISOString() },
});
