import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { DatabaseHandle } from '../drizzle/client';
import { createTestDatabase, createTestTenant, tenantRows, usingPostgres } from '../test';
import { runTenantScoring, startRunHeartbeat } from './runs';

/** Every statement sent, so a test can tell whether a heartbeat was (still) being sent. */
const statements: string[] = [];
let handle: DatabaseHandle;
beforeAll(async () => {
  handle = await createTestDatabase({ logger: { logQuery: (query) => void statements.push(query) } });
});
afterAll(() => handle.close());

const heartbeatsSent = () => statements.filter((query) => /^update "scoring_runs" set "heartbeat_at"/.test(query)).length;
const D = '2025-06-30';

interface RunRow extends Record<string, unknown> {
  status: string;
  heartbeat_at: string | null;
  finished_at: string | null;
  started_at: string;
}

async function run(tenantId: string, id: string): Promise<RunRow> {
  const [row] = await tenantRows<RunRow>(
    handle,
    tenantId,
    `select status::text, heartbeat_at::text, finished_at::text, started_at::text from scoring_runs where id = '${id}'`,
  );
  return row!;
}

async function insertRun(tenantId: string, status: 'RUNNING' | 'SUCCEEDED', heartbeatAgo: string): Promise<string> {
  const id = randomUUID();
  await tenantRows(
    handle,
    tenantId,
    `insert into scoring_runs (tenant_id, id, as_of, status, started_at, heartbeat_at, finished_at, triggered_by)
     values ('${tenantId}', '${id}', '${D}', '${status}', now() - interval '1 hour', now() - interval '${heartbeatAgo}',
             ${status === 'RUNNING' ? 'null' : `now() - interval '30 minutes'`}, 'nightly')`,
  );
  return id;
}

async function until(condition: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error('the condition never held');
    await sleep(10);
  }
}

describe('scoring run heartbeat (the lease of a RUNNING run)', () => {
  test('refreshes a RUNNING run, and never touches a finished one', async () => {
    const { tenant } = await createTestTenant(handle);
    const running = await insertRun(tenant.id, 'RUNNING', '10 minutes');
    const before = await run(tenant.id, running);
    const heartbeat = startRunHeartbeat(handle.db, tenant.id, running, { intervalMs: 20 });
    await until(async () => (await run(tenant.id, running)).heartbeat_at !== before.heartbeat_at);
    await heartbeat.stop();
    const after = await run(tenant.id, running);
    expect(after.status).toBe('RUNNING');
    expect(Date.parse(after.heartbeat_at!)).toBeGreaterThan(Date.parse(before.heartbeat_at!));

    const finished = await insertRun(tenant.id, 'SUCCEEDED', '40 minutes');
    const final = await run(tenant.id, finished);
    const sentBefore = heartbeatsSent();
    const late = startRunHeartbeat(handle.db, tenant.id, finished, { intervalMs: 20 });
    // The positive control: heartbeats were sent for it, and changed nothing.
    await until(async () => heartbeatsSent() >= sentBefore + 3);
    await late.stop();
    expect(await run(tenant.id, finished)).toEqual(final);
  });

  test('runTenantScoring stops its heartbeat whether the run succeeds or fails', async () => {
    const { tenant } = await createTestTenant(handle);
    for (const failing of [false, true]) {
      const sentBefore = heartbeatsSent();
      const result = await runTenantScoring(handle.db, tenant.id, D, {
        heartbeatIntervalMs: 10,
        // Long enough for several heartbeats to be due while the run works.
        afterWrite: async () => {
          await sleep(120);
          if (failing) throw new Error('killed half-way (test)');
        },
      });
      expect(result.status).toBe(failing ? 'FAILED' : 'SUCCEEDED');
      expect(heartbeatsSent()).toBeGreaterThan(sentBefore);
      const sentAtEnd = heartbeatsSent();
      await sleep(100);
      expect(heartbeatsSent()).toBe(sentAtEnd);
      const row = await run(tenant.id, result.runId!);
      expect(row).toMatchObject({ status: result.status, finished_at: expect.any(String) });
      expect(Date.parse(row.heartbeat_at!)).toBeGreaterThanOrEqual(Date.parse(row.started_at));
    }
  });

  // PGlite has one connection: a heartbeat waits until the scoring transaction ends.
  test.runIf(usingPostgres())('is committed beside the scoring transaction, so others see the run alive while it works', async () => {
    const { tenant } = await createTestTenant(handle);
    let seenWhileScoring: RunRow | undefined;
    const result = await runTenantScoring(handle.db, tenant.id, D, {
      heartbeatIntervalMs: 20,
      afterWrite: async () => {
        const [row] = await tenantRows<RunRow & { id: string }>(
          handle,
          tenant.id,
          `select id::text, status::text, heartbeat_at::text, finished_at::text, started_at::text from scoring_runs`,
        );
        const id = row!.id;
        await until(async () => Date.parse((await run(tenant.id, id)).heartbeat_at!) > Date.parse(row!.started_at));
        seenWhileScoring = await run(tenant.id, id);
      },
    });
    expect(result.status).toBe('SUCCEEDED');
    expect(seenWhileScoring).toMatchObject({ status: 'RUNNING', finished_at: null });
    expect(Date.parse(seenWhileScoring!.heartbeat_at!)).toBeGreaterThan(Date.parse(seenWhileScoring!.started_at));
  });
});
