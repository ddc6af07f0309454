import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { defaultTenantSettings, tenants } from '../access';
import { usingPostgres } from '../test';
import { createDatabase, type Database, type DatabaseHandle, type Transaction } from './client';
import { migrate } from './migrate';
import { parties } from './schema';
import { parseProxyTarget, startWsProxy, type WsProxy } from '../test/ws-proxy';

/**
 * A transaction with the tenant set transaction-locally, on whichever role the handle connects
 * as. Row-level security is forced even for the owner, so tenant rows are only reachable like this.
 */
function inTenant<T>(db: Database, tenantId: string, fn: (tx: Transaction) => Promise<T>): Promise<T> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`select set_config('app.tenant_id', ${tenantId}, true)`);
    return fn(tx);
  });
}

function tenantValues(id: string, name: string) {
  return { id, name, currency: 'CNY', settings: defaultTenantSettings() };
}

async function tenantNames(db: Database, tenantId: string): Promise<string[]> {
  return inTenant(db, tenantId, async (tx) =>
    (await tx.select({ name: tenants.name }).from(tenants).where(eq(tenants.id, tenantId))).map((row) => row.name),
  );
}

class Rollback extends Error {}

// Embedded PGlite is the same whichever database the project runs on: once is enough.
describe.skipIf(usingPostgres())('embedded PGlite', () => {
  test('memory:// is in-memory PGlite', { timeout: 60_000 }, async () => {
    const handle = await createDatabase('memory://');
    try {
      expect(handle.driver).toBe('pglite-memory');
      expect(handle.location).toBe('memory://');
      const { rows } = await handle.db.execute<{ one: number }>(sql`select 1 as one`);
      expect(rows).toEqual([{ one: 1 }]);
    } finally {
      await handle.close();
    }
  });

  test('a data folder keeps its data across close and reopen (dataDir, then file://)', { timeout: 60_000 }, async () => {
    const root = mkdtempSync(join(tmpdir(), 'guanxi-client-'));
    const dataDir = join(root, 'data');
    const tenantId = randomUUID();
    try {
      const first = await createDatabase(null, { dataDir });
      try {
        expect(first.driver).toBe('pglite');
        expect(first.location).toBe(dataDir);
        await migrate(first);
        await first.db.insert(tenants).values(tenantValues(tenantId, 'Persisted 持久'));
      } finally {
        await first.close();
      }

      const second = await createDatabase(`file://${dataDir}`);
      try {
        expect(second.driver).toBe('pglite');
        expect(await tenantNames(second.db, tenantId)).toEqual(['Persisted 持久']);
      } finally {
        await second.close();
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('a data folder reached through a symlink opens, and is the same folder as its real path', { timeout: 60_000 }, async () => {
    const root = mkdtempSync(join(tmpdir(), 'guanxi-client-'));
    const dataDir = join(root, 'data');
    const linked = join(root, 'linked');
    mkdirSync(dataDir);
    symlinkSync(dataDir, linked, 'dir');
    try {
      const throughLink = await createDatabase(null, { dataDir: linked });
      try {
        expect(throughLink.location).toBe(linked);
        await throughLink.db.execute(sql`create table note (body text)`);
        await throughLink.db.execute(sql`insert into note values ('written through the link')`);
        await expect(createDatabase(null, { dataDir })).rejects.toThrow(
          `The embedded database in ${dataDir} is already open in this process`,
        );
      } finally {
        await throughLink.close();
      }

      const direct = await createDatabase(null, { dataDir });
      try {
        const { rows } = await direct.db.execute<{ body: string }>(sql`select body from note`);
        expect(rows).toEqual([{ body: 'written through the link' }]);
      } finally {
        await direct.close();
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('choosing a driver', () => {
  test('refuses a URL that is not Postgres, saying what it accepts', async () => {
    await expect(createDatabase('mysql://x')).rejects.toThrow(/memory:\/\/.*postgres:\/\//);
    await expect(createDatabase('https://example.com/db')).rejects.toThrow(/postgres:\/\//);
  });

  // Pools connect lazily: choosing a driver opens no connection, so no server is needed here.
  test('Neon hosts get the Neon driver, other hosts node-postgres', async () => {
    const cases = [
      ['postgres://u:p@ep-quiet-night-123456.eu-central-1.aws.neon.tech/app', 'neon'],
      ['postgresql://u:p@localhost:5432/app', 'node-postgres'],
      ['postgres://u:p@db.internal.example:5432/app', 'node-postgres'],
    ] as const;
    for (const [url, driver] of cases) {
      const handle = await createDatabase(url);
      expect(handle.driver).toBe(driver);
      expect(handle.location).not.toContain(':p@');
      await handle.close();
    }
  });
});

describe('ws proxy', () => {
  let proxy: WsProxy;
  let echo: Server;
  let echoPort: number;
  // The echo server's end of each proxied connection: what the proxy opened, as Postgres sees it.
  const upstream = new Set<Socket>();

  beforeAll(async () => {
    proxy = await startWsProxy();
    echo = createServer((socket) => {
      upstream.add(socket);
      socket.on('close', () => upstream.delete(socket));
      socket.on('error', () => {});
      socket.pipe(socket);
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    echoPort = (echo.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await proxy.close();
    await new Promise<void>((resolve) => echo.close(() => resolve()));
  });

  /** Connects through the proxy; `closed` is listened for from the start, so no close is missed. */
  function open(path: string): Promise<{ ws: WebSocket; closed: Promise<number> }> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://${proxy.url}${path}`);
      const closed = new Promise<number>((done) => ws.once('close', done));
      ws.once('open', () => resolve({ ws, closed }));
      ws.once('error', reject);
    });
  }

  test('forwards only to loopback addresses', () => {
    expect(parseProxyTarget('127.0.0.1:5432')).toEqual({ host: '127.0.0.1', port: 5432 });
    expect(parseProxyTarget('localhost:5432')).toEqual({ host: 'localhost', port: 5432 });
    expect(parseProxyTarget('[::1]:5432')).toEqual({ host: '::1', port: 5432 });
    expect(parseProxyTarget('::1:5432')).toEqual({ host: '::1', port: 5432 });
    for (const address of [
      null,
      '',
      'example.com:5432',
      '10.0.0.1:5432',
      '127.0.0.2:5432',
      '127.0.0.1',
      '127.0.0.1:0',
      '127.0.0.1:70000',
      '127.0.0.1:54x',
      'localhost.example.com:5432',
    ]) {
      expect(parseProxyTarget(address)).toBeNull();
    }
  });

  test('refuses the handshake for another host or path', async () => {
    await expect(open('/v2?address=example.com:5432')).rejects.toThrow(/403/);
    await expect(open('/v2?address=10.0.0.1:5432')).rejects.toThrow(/403/);
    await expect(open('/v2')).rejects.toThrow(/403/);
    await expect(open(`/v1?address=127.0.0.1:${echoPort}`)).rejects.toThrow(/404/);
  });

  test('pipes binary messages to the TCP server and back; closing the WebSocket closes the TCP leg', async () => {
    const { ws, closed } = await open(`/v2?address=127.0.0.1:${echoPort}`);
    const received: Buffer[] = [];
    let total = 0;
    // Larger than one TCP read, so the reply comes back in several messages.
    const payload = Buffer.from(Array.from({ length: 200_000 }, (_, i) => i % 251));
    const kinds = new Set<boolean>();
    const done = new Promise<void>((resolve) => {
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        kinds.add(isBinary);
        received.push(data);
        total += data.length;
        if (total >= payload.length + 2) resolve();
      });
    });
    ws.send(Buffer.from([1, 2]));
    ws.send(payload);
    await done;
    // Buffer.equals: a deep toEqual over 200 kB takes a second.
    expect(Buffer.concat(received).equals(Buffer.concat([Buffer.from([1, 2]), payload]))).toBe(true);
    expect([...kinds]).toEqual([true]);
    expect(upstream.size).toBe(1);

    ws.close();
    await closed;
    await expect.poll(() => upstream.size).toBe(0);
  });

  test('closes the WebSocket when the TCP server hangs up', async () => {
    const { closed } = await open(`/v2?address=127.0.0.1:${echoPort}`);
    await expect.poll(() => upstream.size).toBe(1);
    for (const socket of upstream) socket.end();
    expect(await closed).toBe(1000);
  });

  test('closes the WebSocket when nothing listens on the target port', async () => {
    const unused = createServer();
    await new Promise<void>((resolve) => unused.listen(0, '127.0.0.1', resolve));
    const port = (unused.address() as AddressInfo).port;
    await new Promise<void>((resolve) => unused.close(() => resolve()));
    const { closed } = await open(`/v2?address=127.0.0.1:${port}`);
    expect(await closed).toBe(1011);
  });
});

// The 'postgres' project (TEST_DATABASE_URL set): both server drivers against a real server.
describe.runIf(usingPostgres())('on a Postgres server', () => {
  const url = process.env.GUANXI_TEST_DATABASE ?? '';
  let pg: DatabaseHandle;
  let neon: DatabaseHandle;
  let proxy: WsProxy;

  beforeAll(async () => {
    // One connection, so the statement after the commit runs on the very session that set it.
    pg = await createDatabase(url, { maxConnections: 1 });
    proxy = await startWsProxy();
    neon = await createDatabase(url, { driver: 'neon', neonWsProxy: proxy.url, maxConnections: 2 });
  });
  afterAll(async () => {
    await neon?.close();
    await pg?.close();
    await proxy?.close();
  });

  test('node-postgres for a loopback server; settings made with is_local end with the transaction', async () => {
    expect(new URL(url).hostname).toMatch(/^(127\.0\.0\.1|localhost|\[::1\])$/);
    expect(pg.driver).toBe('node-postgres');
    expect(pg.location).not.toContain('guanxi:guanxi@');

    const tenantId = randomUUID();
    const inside = await inTenant(pg.db, tenantId, async (tx) => {
      await tx.insert(tenants).values(tenantValues(tenantId, 'Via node-postgres'));
      const { rows } = await tx.execute<{ tenant: string }>(sql`select current_setting('app.tenant_id', true) as tenant`);
      return rows[0]?.tenant;
    });
    expect(inside).toBe(tenantId);
    const { rows } = await pg.db.execute<{ tenant: string | null }>(
      sql`select current_setting('app.tenant_id', true) as tenant`,
    );
    // A placeholder once set reads '' afterwards in the same session; never the old value.
    expect(rows[0]?.tenant ?? '').toBe('');
    expect(await tenantNames(pg.db, tenantId)).toEqual(['Via node-postgres']);

    await expect(
      inTenant(pg.db, tenantId, async (tx) => {
        await tx.update(tenants).set({ name: 'Rolled back' }).where(eq(tenants.id, tenantId));
        throw new Rollback();
      }),
    ).rejects.toBeInstanceOf(Rollback);
    expect(await tenantNames(pg.db, tenantId)).toEqual(['Via node-postgres']);
  });

  test('the Neon driver through the WebSocket proxy: queries, commits, rollbacks', async () => {
    expect(neon.driver).toBe('neon');
    const { rows } = await neon.db.execute<{ answer: number; role: string }>(
      sql`select 6 * 7 as answer, current_user as role`,
    );
    expect(rows).toEqual([{ answer: 42, role: new URL(url).username }]);

    // Two statements in one transaction, both committed.
    const tenantId = randomUUID();
    await inTenant(neon.db, tenantId, async (tx) => {
      await tx.insert(tenants).values(tenantValues(tenantId, 'Via Neon'));
      await tx.insert(parties).values({ tenantId, kind: 'CUSTOMER', displayName: 'Neon customer' });
    });
    const committed = await inTenant(pg.db, tenantId, (tx) =>
      tx.select({ name: parties.displayName }).from(parties).where(eq(parties.tenantId, tenantId)),
    );
    expect(committed).toEqual([{ name: 'Neon customer' }]);

    // A failing statement rolls back the whole transaction, the earlier insert included.
    const doomed = randomUUID();
    const failure = await inTenant(neon.db, doomed, async (tx) => {
      await tx.insert(tenants).values(tenantValues(doomed, 'Never committed'));
      await tx.insert(parties).values({ tenantId: doomed, kind: 'CUSTOMER', displayName: ' ' });
    }).catch((error: unknown) => error as { cause?: { code?: string }; code?: string });
    expect(failure).toBeDefined();
    expect(failure?.cause?.code ?? failure?.code).toBe('23514');
    expect(await tenantNames(neon.db, doomed)).toEqual([]);
    expect(await tenantNames(pg.db, doomed)).toEqual([]);

    // And a transaction the code abandons rolls back too.
    await expect(
      inTenant(neon.db, tenantId, async (tx) => {
        await tx.update(tenants).set({ name: 'Abandoned' }).where(eq(tenants.id, tenantId));
        throw new Rollback();
      }),
    ).rejects.toBeInstanceOf(Rollback);
    expect(await tenantNames(neon.db, tenantId)).toEqual(['Via Neon']);
  });

  test('the two drivers see the same database', async () => {
    const tenantId = randomUUID();
    await inTenant(pg.db, tenantId, (tx) => tx.insert(tenants).values(tenantValues(tenantId, 'Written by pg')));
    expect(await tenantNames(neon.db, tenantId)).toEqual(['Written by pg']);
  });
});
