import { randomUUID } from 'node:crypto';
import { abandonedRunError } from '@guanxi/core/loyalty';
import { runMaintenance } from '@guanxi/core/maintenance';
import { tenantRows } from '@guanxi/core/test';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApi, type TestApi } from '../../test/helpers';

let api: TestApi;
beforeAll(async () => {
  api = await createTestApi();
});
afterAll(() => api.close());

const runsQuery = `{ scoringRuns { edges { node { triggeredBy status error startedAt finishedAt heartbeatAt } } } }`;

describe('scoringRuns: a run killed before reporting', () => {
  test('reads as FAILED (abandoned) once its heartbeat is older than the lease, and the maintenance job closes it; a live run stays RUNNING', async () => {
    const tenant = await api.newTenant();
    // What a process killed mid-run leaves behind (its heartbeat stopped 10 minutes ago), and a
    // run whose process is alive (its heartbeat is fresh).
    for (const [label, heartbeat] of [['killed', `now() - interval '10 minutes'`], ['alive', 'now()']]) {
      await tenantRows(
        api.handle,
        tenant.tenantId,
        `insert into scoring_runs (tenant_id, id, as_of, status, started_at, heartbeat_at, triggered_by)
         values ('${tenant.tenantId}', '${randomUUID()}', '2025-06-30', 'RUNNING', now() - interval '20 minutes', ${heartbeat}, '${label}')`,
      );
    }
    const stored = () =>
      tenantRows<{ triggered_by: string; status: string; finished_at: string | null; heartbeat_at: string }>(
        api.handle,
        tenant.tenantId,
        `select triggered_by, status::text, to_char(finished_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as finished_at,
                to_char(heartbeat_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as heartbeat_at
           from scoring_runs order by triggered_by`,
      );
    const [alive, killed] = await stored();

    const read = async () => {
      const nodes = (await tenant.query(runsQuery)).scoringRuns.edges.map((edge: any) => edge.node);
      return Object.fromEntries(nodes.map((node: any) => [node.triggeredBy, node]));
    };
    const before = await read();
    expect(before.killed).toMatchObject({ status: 'FAILED', error: abandonedRunError, finishedAt: killed!.heartbeat_at, heartbeatAt: killed!.heartbeat_at });
    expect(before.alive).toMatchObject({ status: 'RUNNING', error: null, finishedAt: null, heartbeatAt: alive!.heartbeat_at });
    // Reading changed nothing.
    expect((await stored()).map((run) => run.status)).toEqual(['RUNNING', 'RUNNING']);

    const result = await runMaintenance(api.handle.db, { tenantIds: [tenant.tenantId] });
    expect(result).toMatchObject({ abandonedScoringRuns: 1, failures: [] });
    expect(await stored()).toEqual([
      { triggered_by: 'alive', status: 'RUNNING', finished_at: null, heartbeat_at: alive!.heartbeat_at },
      { triggered_by: 'killed', status: 'FAILED', finished_at: killed!.heartbeat_at, heartbeat_at: killed!.heartbeat_at },
    ]);
    // Readers see the same before and after the job closed it.
    expect(await read()).toEqual(before);
  });
});
