import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { DatabaseHandle, Transaction } from '../drizzle/client';
import { asTenant, createTestDatabase, createTestTenant, generateApiKeySecret, usingPostgres } from '../test';
import { admitApiKey, admitUser } from './admission';
import { listApiKeys, revokeApiKey } from './index';

let handle: DatabaseHandle;
beforeAll(async () => {
  handle = await createTestDatabase();
});
afterAll(() => handle.close());

const limits = { perTenant: 1000, perCaller: 2, windowSeconds: 60 };

/** What the transaction is after its admission: whose role, which tenant, whether a key hash is still set. */
async function settingsOf(tx: Transaction) {
  const { rows } = await tx.execute<{ role: string; tenant: string; hash: string | null }>(
    sql`select current_user as role, current_setting('app.tenant_id', true) as tenant, nullif(current_setting('app.api_key_hash', true), '') as hash`,
  );
  return rows[0]!;
}

describe('an API key request, admitted by its first statement', () => {
  test("sets the application role and the key's tenant, and leaves no key hash behind", async () => {
    const { tenant, apiKey } = await createTestTenant(handle);
    await handle.db.transaction(async (tx) => {
      const admitted = await admitApiKey(tx, apiKey, null);
      expect(admitted?.actor).toMatchObject({ kind: 'API_KEY', tenantId: tenant.id });
      expect(admitted?.rateLimit).toEqual({ allowed: true });
      expect(await settingsOf(tx)).toEqual({ role: 'guanxi_app', tenant: tenant.id, hash: null });
      // Row-level security now shows this tenant's rows, and only its.
      const { rows } = await tx.execute<{ n: number }>(sql`select count(*)::int as n from tenants`);
      expect(rows[0]!.n).toBe(1);
    });
  });

  test('an unknown or revoked key is refused (null) and sets no tenant', async () => {
    const { tenant, apiKey } = await createTestTenant(handle);
    await handle.db.transaction(async (tx) => {
      expect(await admitApiKey(tx, generateApiKeySecret(), limits)).toBeNull();
      expect((await settingsOf(tx)).tenant ?? '').toBe('');
    });
    const keys = await asTenant(handle, tenant.id, () => listApiKeys());
    await asTenant(handle, tenant.id, () => revokeApiKey(keys[0]!.id));
    await handle.db.transaction(async (tx) => {
      expect(await admitApiKey(tx, apiKey, limits)).toBeNull();
      expect((await settingsOf(tx)).tenant ?? '').toBe('');
    });
  });

  test("counts the request: the caller's third in a window of two is refused, with the seconds left", async () => {
    const { apiKey } = await createTestTenant(handle);
    const now = new Date('2026-12-07T10:00:15Z');
    const verdicts = [];
    for (let i = 0; i < 3; i++) verdicts.push((await handle.db.transaction((tx) => admitApiKey(tx, apiKey, limits, now)))?.rateLimit);
    expect(verdicts).toEqual([{ allowed: true }, { allowed: true }, { allowed: false, limit: 'caller', retryAfterSeconds: 45 }]);
  });
});

describe('a signed-in user, admitted by its first statement', () => {
  test("sets the role and the token's tenant; a tenant that does not exist is refused and counts nothing", async () => {
    const { tenant } = await createTestTenant(handle);
    const user = { kind: 'USER' as const, tenantId: tenant.id, userId: 'u-1', role: 'MEMBER' as const };
    await handle.db.transaction(async (tx) => {
      expect(await admitUser(tx, user, limits)).toEqual({ allowed: true });
      expect(await settingsOf(tx)).toEqual({ role: 'guanxi_app', tenant: tenant.id, hash: null });
    });
    const ghost = { ...user, tenantId: '00000000-0000-7000-8000-000000000000' };
    await handle.db.transaction(async (tx) => {
      expect(await admitUser(tx, ghost, limits)).toBeNull();
      expect(await admitUser(tx, ghost, null)).toBeNull();
      const { rows } = await tx.execute<{ n: number }>(sql`select count(*)::int as n from rate_limit_counters`);
      expect(rows[0]!.n).toBe(0);
    });
  });
});

describe.runIf(usingPostgres())('counting inside the request transaction never queues requests', () => {
  test('a request still open does not make the next one of the same key wait; both are counted once committed', async () => {
    const { apiKey } = await createTestTenant(handle);
    const roomy = { perTenant: 1000, perCaller: 1000, windowSeconds: 60 };
    const now = new Date();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let firstAdmitted!: () => void;
    const admittedOnce = new Promise<void>((resolve) => (firstAdmitted = resolve));
    // The first request: admitted, then still executing (its transaction open, its slot locked).
    const first = handle.db.transaction(async (tx) => {
      await admitApiKey(tx, apiKey, roomy, now);
      firstAdmitted();
      await held;
    });
    await admittedOnce;
    try {
      // The second: would wait on the first's counter row were there only one; a lock timeout
      // turns such a wait into a failure instead of a hang.
      const second = await handle.db.transaction(async (tx) => {
        await tx.execute(sql`select set_config('lock_timeout', '1s', true)`);
        return admitApiKey(tx, apiKey, roomy, now);
      });
      expect(second?.rateLimit).toEqual({ allowed: true });
    } finally {
      release();
      await first;
    }
    const third = await handle.db.transaction((tx) => admitApiKey(tx, apiKey, roomy, now));
    expect(third?.rateLimit).toEqual({ allowed: true });
    const { rows } = await handle.db.transaction(async (tx) => {
      await admitApiKey(tx, apiKey, null, now);
      return tx.execute<{ subject: string; n: number; slots: number }>(
        sql`select subject, sum(count)::int as n, count(*)::int as slots from rate_limit_counters
            where window_start = ${new Date(Math.floor(now.getTime() / 60_000) * 60_000).toISOString()}::timestamptz group by subject order by subject`,
      );
    });
    // Three requests counted for the tenant and for the key, over two slots each (two were open at once).
    expect(rows.map((r) => [r.subject.startsWith('key:') ? 'key' : r.subject, r.n, r.slots])).toEqual([
      ['key', 3, 2],
      ['tenant', 3, 2],
    ]);
  });
});
