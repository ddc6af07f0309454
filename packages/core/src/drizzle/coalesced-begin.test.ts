import pg from 'pg';
import { sql } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { createTestDatabase, usingPostgres } from '../test';
import { coalesceBegin, commitWithNextStatement, inlineLiteral } from './coalesced-begin';

describe.runIf(usingPostgres())('begin travels with the first statement', () => {
  let client: pg.Client;
  // What actually goes to the server: the texts the wrapped connection sends, in order.
  let sent: string[];

  beforeEach(async () => {
    client = new pg.Client({ connectionString: process.env.GUANXI_TEST_DATABASE });
    await client.connect();
    sent = [];
    const query = client.query.bind(client) as (config: { text: string }, ...rest: unknown[]) => Promise<unknown>;
    client.query = ((config: { text: string }, ...rest: unknown[]) => {
      sent.push(config.text);
      return query(config, ...rest);
    }) as never;
    coalesceBegin(client);
  });
  afterEach(() => client.end());

  // '' once the setting was ever set on this connection, null before: both mean "not set".
  const setting = async () =>
    ((await client.query({ text: "select current_setting('app.probe', true) as v" })) as pg.QueryResult).rows[0].v ?? '';

  test('a statement without parameters shares the begin’s round trip, and runs inside the transaction', async () => {
    await client.query({ text: 'begin' });
    expect(sent).toEqual([]);
    const result = (await client.query({ text: "select set_config('app.probe', 'inside', true) as v" })) as pg.QueryResult;
    expect(result.rows).toEqual([{ v: 'inside' }]);
    expect(sent).toEqual(["begin; select set_config('app.probe', 'inside', true) as v"]);
    // Transaction-local: still set for the next statement, gone after commit. So the begin ran.
    expect(await setting()).toBe('inside');
    await client.query({ text: 'commit' });
    expect(await setting()).toBe('');
    expect(sent.at(-2)).toBe('commit');
  });

  test('a statement with parameters goes after a begin of its own', async () => {
    await client.query({ text: 'begin' });
    const result = (await client.query({ text: "select set_config('app.probe', $1, true) as v" }, ['bound'])) as pg.QueryResult;
    expect(result.rows).toEqual([{ v: 'bound' }]);
    expect(sent).toEqual(['begin', "select set_config('app.probe', $1, true) as v"]);
    await client.query({ text: 'rollback' });
    expect(await setting()).toBe('');
  });

  test('a callback call after a held begin goes right after it, unchanged', async () => {
    await client.query({ text: 'begin' });
    const result = await new Promise<pg.QueryResult>((resolve, reject) =>
      (client.query as (...args: unknown[]) => void)({ text: "select set_config('app.probe', 'called back', true) as v" }, [], (error: Error | null, answer: pg.QueryResult) =>
        error ? reject(error) : resolve(answer),
      ),
    );
    expect(result.rows).toEqual([{ v: 'called back' }]);
    expect(sent).toEqual(['begin', "select set_config('app.probe', 'called back', true) as v"]);
    expect(await setting()).toBe('called back');
    await client.query({ text: 'rollback' });
    expect(await setting()).toBe('');
  });

  test('a transaction that ran nothing sends nothing, and a failed first statement rolls back', async () => {
    await client.query({ text: 'begin' });
    await client.query({ text: 'commit' });
    await client.query({ text: 'begin' });
    await client.query({ text: 'rollback' });
    expect(sent).toEqual([]);

    await client.query({ text: 'begin' });
    await expect(client.query({ text: "select set_config('app.probe', 'lost', true), 1 / 0" })).rejects.toThrow(/division by zero/);
    // The begin had run: the connection is in a failed transaction until the rollback.
    await expect(client.query({ text: 'select 1' })).rejects.toThrow(/current transaction is aborted/);
    await client.query({ text: 'rollback' });
    expect(await setting()).toBe('');
  });
});

describe.runIf(usingPostgres())('a read’s commit travels with the next transaction’s first statement', () => {
  let client: pg.Client;
  // Another connection, to see what is committed.
  let observer: pg.Client;
  let sent: string[];
  let othersWaiting: boolean;
  const table = `held_commit_probe_${process.pid}`;

  beforeEach(async () => {
    observer = new pg.Client({ connectionString: process.env.GUANXI_TEST_DATABASE });
    await observer.connect();
    await observer.query(`create table if not exists ${table} (v int)`);
    await observer.query(`truncate ${table}`);
    client = new pg.Client({ connectionString: process.env.GUANXI_TEST_DATABASE });
    await client.connect();
    sent = [];
    othersWaiting = true;
    const query = client.query.bind(client) as (config: { text: string }, ...rest: unknown[]) => Promise<unknown>;
    client.query = ((config: { text: string }, ...rest: unknown[]) => {
      sent.push(config.text);
      return query(config, ...rest);
    }) as never;
    coalesceBegin(client, () => othersWaiting);
  });
  afterEach(async () => {
    await client.end();
    await observer.query(`drop table if exists ${table}`);
    await observer.end();
  });

  const committed = async () => ((await observer.query(`select count(*)::int as n from ${table}`)) as pg.QueryResult).rows[0].n as number;
  const write = async (v: number) => {
    await client.query({ text: 'begin' });
    await client.query({ text: `insert into ${table} values (${v})` });
  };

  test('held while another transaction waits, then sent in front of its first statement', async () => {
    await write(1);
    commitWithNextStatement(client);
    const answer = (await client.query({ text: 'commit' })) as pg.QueryResult;
    expect(answer.command).toBe('COMMIT');
    expect(sent).toEqual([`begin; insert into ${table} values (1)`]);
    await client.query({ text: 'begin' });
    const read = (await client.query({ text: `select count(*)::int as n from ${table}` })) as pg.QueryResult;
    expect(sent.at(-1)).toBe(`commit; begin; select count(*)::int as n from ${table}`);
    expect(read.rows).toEqual([{ n: 1 }]);
    // The first transaction is committed for everyone, and the second is a transaction of its own.
    expect(await committed()).toBe(1);
    await client.query({ text: `insert into ${table} values (2)` });
    await client.query({ text: 'rollback' });
    expect(await committed()).toBe(1);
  });

  test('a statement with parameters gets the held commit and begin in a message before it', async () => {
    await write(1);
    commitWithNextStatement(client);
    await client.query({ text: 'commit' });
    await client.query({ text: 'begin' });
    const read = (await client.query({ text: `select count(*)::int + $1 as n from ${table}` }, [10])) as pg.QueryResult;
    expect(read.rows).toEqual([{ n: 11 }]);
    expect(sent.slice(1)).toEqual(['commit; begin', `select count(*)::int + $1 as n from ${table}`]);
    await client.query({ text: 'commit' });
    expect(await committed()).toBe(1);
  });

  test('sent on its own within the turn of the event loop when nobody follows', async () => {
    await write(1);
    commitWithNextStatement(client);
    await client.query({ text: 'commit' });
    expect(sent).not.toContain('commit');
    await new Promise((resolve) => setImmediate(resolve));
    expect(sent.at(-1)).toBe('commit');
    await expect.poll(committed).toBe(1);
  });

  test('never held without the mark, nor when nobody waits, nor for a rollback', async () => {
    await write(1);
    await client.query({ text: 'commit' });
    expect(sent.at(-1)).toBe('commit');
    expect(await committed()).toBe(1);

    othersWaiting = false;
    await write(2);
    commitWithNextStatement(client);
    await client.query({ text: 'commit' });
    expect(sent.at(-1)).toBe('commit');
    expect(await committed()).toBe(2);

    othersWaiting = true;
    await write(3);
    commitWithNextStatement(client);
    await client.query({ text: 'rollback' });
    expect(sent.at(-1)).toBe('rollback');
    expect(await committed()).toBe(2);
    // The mark is for the statement right after it only: a later commit is sent as usual.
    await write(4);
    await client.query({ text: 'commit' });
    expect(sent.at(-1)).toBe('commit');
    expect(await committed()).toBe(3);
  });
});

describe('inlined literals', () => {
  let handle: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeEach(async () => {
    handle = await createTestDatabase({ maxConnections: 1 });
  });
  afterEach(() => handle.close());

  test('mean the string itself under either standard_conforming_strings', async () => {
    const tricky = ["it's", 'back\\slash', "\\'; select 1; --", 'E\'x\'', '关系 🌱', '', "''"];
    for (const conforming of ['on', 'off']) {
      const read = await handle.db.transaction(async (tx) => {
        await tx.execute(sql.raw(`set local standard_conforming_strings = ${conforming}`));
        const { rows } = await tx.execute<{ v: string }>(sql.raw(`select ${tricky.map((value, i) => `${inlineLiteral(value)} as v${i}`).join(', ')}`));
        return Object.values(rows[0]!);
      });
      expect(read).toEqual(tricky);
    }
    expect(() => inlineLiteral('a\u0000b')).toThrow(/NUL/);
  });

  test('a drizzle transaction on the pool sees its first statement’s settings (the coalesced path)', async () => {
    const inside = await handle.db.transaction(async (tx) => {
      await tx.execute(sql.raw(`select set_config('app.probe', ${inlineLiteral('set')}, true)`));
      return (await tx.execute<{ v: string }>(sql`select current_setting('app.probe', true) as v`)).rows[0]!.v;
    });
    expect(inside).toBe('set');
    const after = (await handle.db.execute<{ v: string | null }>(sql`select current_setting('app.probe', true) as v`)).rows[0]!.v;
    expect(after ?? '').toBe('');
  });
});
