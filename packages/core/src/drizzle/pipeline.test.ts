import pg from 'pg';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { usingPostgres } from '../test';
import { admitWithNextStatement, coalesceBegin, commitWithNextStatement, sendHeldAdmission } from './coalesced-begin';
import type { Pipelining } from './pipeline';

const pipelining = {
  Result: pg.Result,
  prepareValue: (pg as unknown as { utils: { prepareValue(value: unknown): unknown } }).utils.prepareValue,
} as unknown as Pipelining;

describe.runIf(usingPostgres())('an admission held for the first statement', () => {
  let client: pg.Client;
  // What goes to the server, one entry per round trip: a text, or the texts of a pipeline.
  let sent: (string | string[])[];
  let named: string | undefined;
  // The name of the parameterized admission below (every other text is `named`).
  let admissionNamed: string | undefined;

  const connect = async (withPipelining: boolean) => {
    client = new pg.Client({ connectionString: process.env.GUANXI_TEST_DATABASE });
    await client.connect();
    sent = [];
    named = undefined;
    admissionNamed = undefined;
    const query = client.query.bind(client) as (config: { text?: string; statements?: { text: string }[] }, ...rest: unknown[]) => unknown;
    client.query = ((config: { text?: string; statements?: { text: string }[] }, ...rest: unknown[]) => {
      sent.push(config.statements ? config.statements.map((s) => s.text) : config.text!);
      return query(config, ...rest);
    }) as never;
    coalesceBegin(client, () => true, withPipelining ? { ...pipelining, nameOf: (text: string) => (text === parameterized.text ? admissionNamed : named) } : null);
  };
  afterEach(() => client.end());

  const admission = "select set_config('app.probe', 'admitted', true) as v";
  const read = "select current_setting('app.probe', true) as probe, $1::int + 1 as n";
  const parameterized = { text: "select set_config('app.probe', $1, true) as v, $2::int as k", values: ["it's admitted", null] };
  const parsed = () => (client as unknown as { connection: { parsedStatements: Record<string, string> } }).connection.parsedStatements;

  describe('on node-postgres, pipelined', () => {
    beforeEach(() => connect(true));

    test('goes with the held begin and a statement with parameters, in one round trip, in order', async () => {
      await client.query({ text: 'begin' });
      const admitted = admitWithNextStatement(client, admission)!;
      const result = (await client.query({ text: read }, [41])) as pg.QueryResult;
      // The statement saw the admission's setting: it ran after it, in the same transaction.
      expect(result.rows).toEqual([{ probe: 'admitted', n: 42 }]);
      expect(await admitted).toEqual([{ v: 'admitted' }]);
      expect(sent).toEqual([['begin', admission, read]]);
      await client.query({ text: 'commit' });
      expect(((await client.query({ text: "select current_setting('app.probe', true) as v" })) as pg.QueryResult).rows).toEqual([{ v: '' }]);
    });

    test('goes behind a held commit of the transaction before, which commits', async () => {
      await client.query({ text: 'begin' });
      await client.query({ text: "select set_config('app.first', 'yes', false)" });
      commitWithNextStatement(client);
      await client.query({ text: 'commit' });
      await client.query({ text: 'begin' });
      const admitted = admitWithNextStatement(client, admission)!;
      const result = (await client.query({ text: "select current_setting('app.first', true) as first, $1::text as x" }, ['bound'])) as pg.QueryResult;
      expect(result.rows).toEqual([{ first: 'yes', x: 'bound' }]);
      expect(await admitted).toEqual([{ v: 'admitted' }]);
      expect(sent.at(-1)).toEqual(['commit', 'begin', admission, "select current_setting('app.first', true) as first, $1::text as x"]);
      await client.query({ text: 'rollback' });
    });

    test('that fails stops the statement after it, which fails with its error; the connection carries on', async () => {
      await client.query({ text: 'begin' });
      const admitted = admitWithNextStatement(client, "select set_config('app.probe', 'refused', true), 1 / 0")!;
      admitted.catch(() => undefined);
      await expect(client.query({ text: "select set_config('app.probe', $1, true)" }, ['read ran'])).rejects.toThrow(/division by zero/);
      await expect(admitted).rejects.toThrow(/division by zero/);
      await expect(client.query({ text: 'select 1' })).rejects.toThrow(/current transaction is aborted/);
      await client.query({ text: 'rollback' });
      expect(((await client.query({ text: 'select 2 as n' })) as pg.QueryResult).rows).toEqual([{ n: 2 }]);
    });

    test('a named statement is parsed in the pipeline once, then only bound, also by node-postgres itself', async () => {
      named = `gx_pipeline_probe_${process.pid}`;
      for (const value of [1, 2]) {
        await client.query({ text: 'begin' });
        const admitted = admitWithNextStatement(client, admission)!;
        const result = (await client.query({ text: read }, [value])) as pg.QueryResult;
        expect(result.rows).toEqual([{ probe: 'admitted', n: value + 1 }]);
        await admitted;
        await client.query({ text: 'commit' });
        expect(parsed()[named]).toBe(read);
      }
      // node-postgres binds the statement the pipeline parsed (parsing it again would be refused).
      const again = (await client.query({ name: named, text: read, values: [9] })) as pg.QueryResult;
      expect(again.rows).toEqual([{ probe: '', n: 10 }]);
      const { rows } = (await client.query({ text: 'select count(*)::int as n from pg_prepared_statements where name = $1' }, [named])) as pg.QueryResult;
      expect(rows).toEqual([{ n: 1 }]);
    });

    test('an admission with parameters is a named statement too: both parsed in one pipeline, then only bound', async () => {
      named = `gx_pipeline_read_${process.pid}`;
      admissionNamed = `gx_pipeline_admission_${process.pid}`;
      for (const value of [1, 2]) {
        await client.query({ text: 'begin' });
        const admitted = admitWithNextStatement(client, parameterized)!;
        const result = (await client.query({ text: read }, [value])) as pg.QueryResult;
        expect(result.rows).toEqual([{ probe: "it's admitted", n: value + 1 }]);
        expect(await admitted).toEqual([{ v: "it's admitted", k: null }]);
        await client.query({ text: 'commit' });
        expect(parsed()[admissionNamed]).toBe(parameterized.text);
        expect(parsed()[named]).toBe(read);
      }
      expect(sent).toEqual([
        ['begin', parameterized.text, read],
        'commit',
        ['begin', parameterized.text, read],
        'commit',
      ]);
      const { rows } = (await client.query({ text: 'select name from pg_prepared_statements where name = any($1) order by name' }, [[named, admissionNamed]])) as pg.QueryResult;
      expect(rows.map((r) => r.name)).toEqual([admissionNamed, named].sort());
    });

    test('a named statement that a failed admission kept from being parsed is not taken as parsed', async () => {
      named = `gx_pipeline_unparsed_${process.pid}`;
      await client.query({ text: 'begin' });
      const admitted = admitWithNextStatement(client, 'select 1 / 0')!;
      admitted.catch(() => undefined);
      await expect(client.query({ text: read }, [1])).rejects.toThrow(/division by zero/);
      await client.query({ text: 'rollback' });
      expect(parsed()[named]).toBeUndefined();
      const later = (await client.query({ name: named, text: read, values: [5] })) as pg.QueryResult;
      // (null: the setting was never set on this connection, the admission that set it having failed)
      expect(later.rows).toEqual([{ probe: null, n: 6 }]);
    });

    test('sent on its own, with the begin, when no statement takes it along; a rollback sends neither', async () => {
      await client.query({ text: 'begin' });
      const admitted = admitWithNextStatement(client, admission)!;
      sendHeldAdmission(client);
      expect(await admitted).toEqual([{ v: 'admitted' }]);
      expect(sent).toEqual([`begin; ${admission}`]);
      await client.query({ text: 'commit' });

      sent.length = 0;
      await client.query({ text: 'begin' });
      const dropped = admitWithNextStatement(client, admission)!;
      await client.query({ text: 'rollback' });
      await expect(dropped).rejects.toThrow(/rolled back before its admission was sent/);
      expect(sent).toEqual([]);
    });
  });

  describe('without pipelining (the Neon driver)', () => {
    beforeEach(() => connect(false));

    test('goes with the begin in one message before a statement with parameters', async () => {
      await client.query({ text: 'begin' });
      const admitted = admitWithNextStatement(client, admission)!;
      const result = (await client.query({ text: read }, [1])) as pg.QueryResult;
      expect(result.rows).toEqual([{ probe: 'admitted', n: 2 }]);
      expect(await admitted).toEqual([{ v: 'admitted' }]);
      expect(sent).toEqual([`begin; ${admission}`, read]);
      await client.query({ text: 'rollback' });
    });

    test('an admission with parameters goes with its values written in as literals', async () => {
      await client.query({ text: 'begin' });
      const admitted = admitWithNextStatement(client, parameterized)!;
      const result = (await client.query({ text: read }, [1])) as pg.QueryResult;
      expect(result.rows).toEqual([{ probe: "it's admitted", n: 2 }]);
      expect(await admitted).toEqual([{ v: "it's admitted", k: null }]);
      expect(sent).toEqual([`begin; select set_config('app.probe', E'it''s admitted', true) as v, null::int as k`, read]);
      await client.query({ text: 'rollback' });
    });

    test('that fails keeps the statement after it from being sent at all', async () => {
      await client.query({ text: 'begin' });
      const admitted = admitWithNextStatement(client, 'select 1 / 0')!;
      admitted.catch(() => undefined);
      await expect(client.query({ text: read }, [1])).rejects.toThrow(/division by zero/);
      await expect(admitted).rejects.toThrow(/division by zero/);
      expect(sent).toEqual(['begin; select 1 / 0']);
      await client.query({ text: 'rollback' });
    });
  });

  test('is not held on a connection that does not coalesce (PGlite runs it itself)', () => {
    expect(admitWithNextStatement({}, admission)).toBeNull();
  });
});
