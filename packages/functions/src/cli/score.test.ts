import type { DatabaseHandle } from '@guanxi/core';
import { createTestDatabase, createTestTenant, tenantRows } from '@guanxi/core/test';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runScoreCommand, scoreSummary } from './score';

let handle: DatabaseHandle;
beforeAll(async () => {
  handle = await createTestDatabase();
});
afterAll(() => handle.close());

/** A tenant with `customers` customers, each with one order `daysAgo` days before `asOf`. */
async function tenantWithOrders(customers: number, asOf: string): Promise<string> {
  const { tenant } = await createTestTenant(handle);
  await tenantRows(
    handle,
    tenant.id,
    `with p as (
       insert into parties (tenant_id, id, kind, display_name)
       select '${tenant.id}', gen_random_uuid(), 'CUSTOMER', 'Customer ' || g from generate_series(1, ${customers}) g
       returning id
     )
     insert into orders (tenant_id, id, party_id, amount, currency, placed_at)
     select '${tenant.id}', gen_random_uuid(), p.id, 100, 'CNY', '${asOf}'::date - 3
     from p`,
  );
  return tenant.id;
}

function captured() {
  const text: string[] = [];
  return { stream: { write: (chunk: string) => void text.push(chunk), isTTY: false }, lines: () => text.join('').split('\n').filter(Boolean) };
}

describe('guanxi score', () => {
  const asOf = '2025-06-30';

  test('--tenant --json: scores that tenant, records the run, and ends stdout with the JSON result', async () => {
    const tenantId = await tenantWithOrders(7, asOf);
    const stdout = captured();
    const stderr = captured();
    const result = await runScoreCommand(handle.db, { tenantId, asOf, json: true, stdout: stdout.stream, stderr: stderr.stream });
    expect(result.exitCode).toBe(0);
    const last = JSON.parse(stdout.lines().at(-1)!);
    expect(last).toEqual({ runs: [{ tenantId, asOf, status: 'SUCCEEDED', partiesScored: 7, stageMoves: null, pointsExpired: 0 }] });
    // With --json the table goes to stderr, so stdout holds only the JSON line.
    expect(stdout.lines()).toHaveLength(1);
    expect(stderr.lines().at(-1)).toBe('1 tenant: 1 succeeded, 0 failed; 7 parties scored; 0 points expired');
    const runs = await tenantRows<{ status: string; parties_scored: number; triggered_by: string }>(
      handle,
      tenantId,
      `select status, parties_scored, triggered_by from scoring_runs`,
    );
    expect(runs).toEqual([{ status: 'SUCCEEDED', parties_scored: 7, triggered_by: 'cli' }]);
    expect(await tenantRows(handle, tenantId, `select count(*)::int as n from loyalty_snapshots where as_of = '${asOf}'`)).toEqual([{ n: 7 }]);
  });

  test('a failing tenant is reported FAILED and gives exit code 1; its day stays unscored', async () => {
    const tenantId = await tenantWithOrders(3, asOf);
    const stdout = captured();
    const result = await runScoreCommand(handle.db, {
      tenantId,
      asOf,
      stdout: stdout.stream,
      stderr: captured().stream,
      afterScoring: () => {
        throw new Error('stage policy broke');
      },
    });
    expect(result.exitCode).toBe(1);
    expect(result.runs).toEqual([expect.objectContaining({ tenantId, status: 'FAILED', error: expect.stringContaining('stage policy broke') })]);
    expect(stdout.lines().at(-1)).toBe('1 tenant: 0 succeeded, 1 failed; 0 parties scored; 0 points expired');
    expect(await tenantRows(handle, tenantId, `select count(*)::int as n from loyalty_snapshots`)).toEqual([{ n: 0 }]);
  });

  test('refuses a day in the future, a malformed day and a tenant id that is not one', async () => {
    await expect(runScoreCommand(handle.db, { asOf: '2999-01-01' })).rejects.toThrow(/--as-of/);
    await expect(runScoreCommand(handle.db, { asOf: '2025-02-30' })).rejects.toThrow(/--as-of/);
    await expect(runScoreCommand(handle.db, { tenantId: 'acme', asOf })).rejects.toThrow(/--tenant/);
  });

  test('the summary table aligns its columns and totals the runs', () => {
    const lines = scoreSummary([
      { tenantId: 't1', asOf, status: 'SUCCEEDED', partiesScored: 12_345, durationMs: 1234, stageMoves: { LOYAL_AFTER: 2, parties: 2 }, pointsExpired: 4_321, error: null } as never,
      { tenantId: 't2', asOf, status: 'FAILED', partiesScored: null, durationMs: 15, stageMoves: null, pointsExpired: null, error: 'boom' } as never,
    ]);
    expect(lines[0]).toMatch(/^tenant\s+as of\s+status\s+parties\s+duration\s+stage moves\s+points expired\s+error$/);
    expect(lines[2]).toContain('12,345');
    expect(lines[2]).toMatch(/parties=2\s+4,321/);
    expect(lines[2]).toContain('LOYAL_AFTER=2');
    expect(lines[3]).toMatch(/FAILED .*—.*boom$/);
    expect(lines.at(-1)).toBe('2 tenants: 1 succeeded, 1 failed; 12,345 parties scored; 4,321 points expired');
  });
});
