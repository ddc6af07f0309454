import { sql } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestDatabase } from '../test';
import type { DatabaseHandle } from './client';
import { shapeName, statementCache } from './compiled';

const dialect = new PgDialect({ casing: 'snake_case' });

describe('statements compiled once per shape', () => {
  let handle: DatabaseHandle;
  beforeAll(async () => {
    handle = await createTestDatabase({ maxConnections: 1 });
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
      texts.push(dialect.sqlToQuery(statement).sql);
      expect(dialect.sqlToQuery(statement).params).toEqual([a, b, 'fixed', a]);
      const { rows } = await handle.db.execute<{ sum: number; word: string; a: number }>(statement);
      expect(rows).toEqual([{ sum: a + b, word: 'fixed', a }]);
    }
    expect(builds).toBe(1);
    expect(new Set(texts).size).toBe(1);
    statements('other', () => sql`select ${sql.placeholder('x')}::int as x`, { x: 1 });
    expect(builds).toBe(1);
  });

  test('an array value stays one parameter, and a text with a literal $n is refused at its first build', async () => {
    const statements = statementCache();
    const statement = statements('any', () => sql`select 3 = any(${sql.placeholder('ids')}::int[]) as found`, { ids: [1, 2, 3] });
    expect((await handle.db.execute<{ found: boolean }>(statement)).rows).toEqual([{ found: true }]);
    expect(() => statements('dollar', () => sql`select '$1' as text, ${sql.placeholder('x')}::int as x`, { x: 1 })).toThrow(/literal \$n/);
  });

  test('a fragment keeps its name; another fragment, even alike, has another', () => {
    const fragment = sql`select 1`;
    expect(shapeName(fragment)).toBe(shapeName(fragment));
    expect(shapeName(sql`select 1`)).not.toBe(shapeName(fragment));
  });
});
