import { randomUUID } from 'node:crypto';
import type { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestTenant, tenantRows } from '@guanxi/core/test';
import { createMigrateHandler } from './migrate';
import { createScoringHandler, type QueueClient } from './scoring';
import { nightlyDay } from './scoring-shared';
import { createScoringTenantHandler } from './scoring-tenant';
import { openHandlerTestDatabase, sqsEvent, type HandlerTestDatabase } from './testing';
import { createWebhookWorkerHandler, readWebhookSettings } from './webhook-worker';

let database: HandlerTestDatabase;
const tenants: string[] = [];

/** The SQS client's stand-in: records each SendMessageBatch; can fail chosen entries once. */
function memoryQueue(failOnce: Set<string> = new Set()) {
  const batches: { QueueUrl?: string; Entries?: { Id?: string; MessageBody?: string }[] }[] = [];
  const client: QueueClient = {
    async send(command: SendMessageBatchCommand) {
      batches.push(command.input);
      const Failed = (command.input.Entries ?? [])
        .filter((entry) => entry.Id && failOnce.delete(entry.Id))
        .map((entry) => ({ Id: entry.Id, Code: 'ThrottlingException', Message: 'Rate exceeded', SenderFault: false }));
      return { Successful: [], Failed };
    },
  };
  const messages = () =>
    batches.flatMap((batch) => batch.Entries ?? []).map((entry) => JSON.parse(entry.MessageBody!) as { tenantId: string; asOf: string });
  return { client, batches, messages };
}

interface RunRow extends Record<string, unknown> {
  as_of: string;
  status: string;
  triggered_by: string;
  parties_scored: number | null;
  error: string | null;
}

function runs(tenantId: string): Promise<RunRow[]> {
  return tenantRows<RunRow>(
    database.handle,
    tenantId,
    `select as_of::text, status::text, triggered_by, parties_scored, error from scoring_runs where tenant_id = '${tenantId}' order by started_at`,
  );
}

beforeAll(async () => {
  database = await openHandlerTestDatabase();
  for (let i = 0; i < 12; i++) {
    const { tenant } = await createTestTenant(database.handle, `Scoring tenant ${i}`);
    tenants.push(tenant.id);
  }
});
afterAll(async () => {
  await database?.close();
});

describe('scoring.handler (cron, 02:00 UTC)', () => {
  test('scores the UTC day that just ended', () => {
    expect(nightlyDay(new Date('2025-03-10T02:00:00Z'))).toBe('2025-03-09');
    expect(nightlyDay(new Date('2025-03-01T02:00:00Z'))).toBe('2025-02-28');
  });

  test('queue mode: one message per tenant, in batches of 10, failed entries sent again', async () => {
    const queue = memoryQueue(new Set(['3']));
    const handler = createScoringHandler({
      db: database.handle.db,
      queue: queue.client,
      queueUrl: 'https://sqs.eu-central-1.amazonaws.com/123456789012/guanxi-production-ScoringQueue',
      now: () => new Date('2025-03-10T02:00:07Z'),
    });
    const result = await handler({});
    if (result.mode !== 'queue') throw new Error(`expected queue mode, got ${result.mode}`);
    expect(result.asOf).toBe('2025-03-09');
    expect(result.tenants).toBeGreaterThanOrEqual(tenants.length); // other files' tenants on Postgres too
    expect(result.enqueued).toBe(result.tenants);
    // Every tenant, the failed entry sent twice (the second time alone).
    const sent = queue.messages();
    expect(sent).toHaveLength(result.tenants + 1);
    expect(new Set(sent.map((m) => m.tenantId)).size).toBe(result.tenants);
    for (const tenantId of tenants) expect(sent).toContainEqual({ tenantId, asOf: '2025-03-09' });
    expect(queue.batches.every((batch) => (batch.Entries ?? []).length <= 10)).toBe(true);
    expect(queue.batches[1]!.Entries!.map((entry) => entry.Id)).toEqual(['3']);
    expect(queue.batches[0]!.QueueUrl).toMatch(/ScoringQueue$/);
  });

  test('queue mode: an entry failing twice fails the run (the scheduler retries it)', async () => {
    const failing: QueueClient = {
      send: async (command) => ({ Failed: (command.input.Entries ?? []).map((e) => ({ Id: e.Id, Code: 'KMS.Throttling', Message: 'slow down' })) }),
    };
    const handler = createScoringHandler({ db: database.handle.db, queue: failing, queueUrl: 'https://sqs.test/q' });
    await expect(handler({ tenantIds: [tenants[0]!], asOf: '2025-03-09' })).rejects.toThrow(/Could not enqueue 1 tenant\(s\): KMS.Throttling/);
  });

  test('inline mode (no queue): scores the tenants here and records their runs', async () => {
    const handler = createScoringHandler({ db: database.handle.db, queueUrl: null });
    const result = await handler({ asOf: '2025-03-09', tenantIds: tenants.slice(0, 2) });
    expect(result).toEqual({ mode: 'inline', asOf: '2025-03-09', tenants: 2, succeeded: 2, failed: 0 });
    const [run] = await runs(tenants[1]!);
    expect(run).toMatchObject({ as_of: '2025-03-09', status: 'SUCCEEDED', triggered_by: 'nightly', error: null });
  });

  test('refuses a day in the future', async () => {
    const handler = createScoringHandler({ db: database.handle.db, queueUrl: null });
    await expect(handler({ asOf: '2999-01-01' })).rejects.toThrow(/future/);
  });
});

describe('scoring-tenant.handler (queue subscriber)', () => {
  test('scores the tenant of each message; reports only the failed ones', async () => {
    const today = new Date().toISOString().slice(0, 10);
    const handler = createScoringTenantHandler({ db: database.handle.db });
    const event = sqsEvent([
      JSON.stringify({ tenantId: tenants[0], asOf: today }),
      JSON.stringify({ tenantId: randomUUID(), asOf: today }), // no such tenant
      'not json',
      JSON.stringify({ tenantId: tenants[2], asOf: '2999-01-01' }), // in the future
      JSON.stringify({ tenantId: tenants[2], asOf: today }),
    ]);
    const response = await handler(event);
    const ids = event.Records.map((r) => r.messageId);
    expect(response.batchItemFailures).toEqual([ids[1], ids[2], ids[3]].map((id) => ({ itemIdentifier: id })));

    const scored = (await runs(tenants[0]!)).filter((run) => run.as_of === today);
    expect(scored).toHaveLength(1);
    expect(scored[0]).toMatchObject({ as_of: today, status: 'SUCCEEDED', triggered_by: 'nightly', parties_scored: 0, error: null });
    expect(await runs(tenants[2]!)).toMatchObject([{ as_of: today, status: 'SUCCEEDED' }]);
  });

  test('a redelivered message scores the day again: one more run row, same outcome', async () => {
    const handler = createScoringTenantHandler({ db: database.handle.db });
    const body = JSON.stringify({ tenantId: tenants[3], asOf: '2025-03-08' });
    expect(await handler(sqsEvent([body]))).toEqual({ batchItemFailures: [] });
    expect(await handler(sqsEvent([body], 2))).toEqual({ batchItemFailures: [] });
    expect((await runs(tenants[3]!)).map((r) => r.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
  });
});

describe('migrate.handler and webhook-worker.handler', () => {
  test('migrate: applies nothing twice and reports the state', async () => {
    const state = await createMigrateHandler({ handle: database.handle })();
    expect(state.shipped).toBeGreaterThan(0);
    expect(state.applied).toBe(state.shipped);
    expect(state.latest).toMatch(/^\d{4}_/);
  });

  test('webhook worker: a run with nothing due delivers nothing', async () => {
    // This file's tenants only: on Postgres every test file shares the database, and the others'
    // due deliveries (to unreachable receivers) would make this run long and its outcome theirs.
    const summary = await createWebhookWorkerHandler({ db: database.handle.db, tenantIds: tenants })();
    expect(summary).toMatchObject({ delivered: 0, failed: 0 });
  });

  test('webhook settings: JSON tunables, checked', () => {
    expect(readWebhookSettings({ GUANXI_WEBHOOK_SETTINGS: '{"limit":50,"timeoutMs":5000}' })).toEqual({ limit: 50, timeoutMs: 5000 });
    expect(readWebhookSettings({ GUANXI_WEBHOOK_SETTINGS: '{}' })).toEqual({});
    expect(() => readWebhookSettings({ GUANXI_WEBHOOK_SETTINGS: '{"limit":-1}' })).toThrow(/positive integer/);
  });
});
