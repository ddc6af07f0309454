import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestDatabase } from '../test';
import type { DatabaseHandle } from './client';
import { executeCompiled, shapeName, statementCache } from './compiled';

describe('statements compiled once per shape', () => {
  let handle: DatabaseHandle;
  const logged: { text: string; params: unknown[] }[] = [];
  beforeAll(async () => {
    handle = await createTestDatabase({ maxConnections: 1, logger: { logQuery: (text, params) => logged.push({ text, params }) } });
  });
  afterAll(() => handle.close());

  test('built on the first run of a shape only, then bound: the same text, the new values', async () => {
    const statements = statementCache();
    let builds = 0;
    const build = () => {
      builds += 1;
      return sql`select ${sql.placeholder('a')}::int + ${sql.placeholder('b')}::int as sum, ${'fixed'}::text as word, ${sql.placeholder('a')}::int as a`;
    };
    const texts: string[] = [];
    for (const [a, b] of [[1, 2], [40, 2], [-5, 5]] as const) {
      const statement = statements('sum', build, { a, b });
      texts.push(statement.sql);
      expect(statement.params).toEqual([a, b, 'fixed', a]);
      logged.length = 0;
      const { rows } = await executeCompiled<{ sum: number; word: string; a: number }>(handle.db, statement);
      expect(rows).toEqual([{ sum: a + b, word: 'fixed', a }]);
      // Run and logged as drizzle's execute() would be: the text and values, as they are.
      expect(logged).toEqual([{ text: statement.sql, params: [a, b, 'fixed', a] }]);
    }
    expect(builds).toBe(1);
    expect(new Set(texts).size).toBe(1);
    statements('other', () => sql`select ${sql.placeholder('x')}::int as x`, { x: 1 });
    expect(builds).toBe(1);
  });

  test('an array value stays one parameter; a literal $1 in the text is left alone; a transaction runs it too', async () => {
    const statements = statementCache();
    const found = statements('any', () => sql`select 3 = any(${sql.placeholder('ids')}::int[]) as found, '$1' as dollar`, { ids: [1, 2, 3] });
    expect((await executeCompiled<{ found: boolean; dollar: string }>(handle.db, found)).rows).toEqual([{ found: true, dollar: '$1' }]);
    // The shape is known now: only bound, its build not called again.
    const unused = () => {
      throw new Error('built twice');
    };
    const inTransaction = await handle.db.transaction((tx) => executeCompiled<{ found: boolean }>(tx, statements('any', unused, { ids: [4] })));
    expect(inTransaction.rows).toEqual([{ found: false, dollar: '$1' }]);
  });

  test('a fragment keeps its name; another fragment, even alike, has another', () => {
    const fragment = sql`select 1`;
    expect(shapeName(fragment)).toBe(shapeName(fragment));
    expect(shapeName(sql`select 1`)).not.toBe(shapeName(fragment));
  });
});
