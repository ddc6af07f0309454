import { sql } from 'drizzle-orm';
import { describe, expect, test } from 'vitest';
import { createTestDatabase, usingPostgres } from '../test';
import { preparedName } from './prepared';

describe('which statements are prepared', () => {
  test('a text is named from its second sighting on, always the same name; control and settings never', () => {
    const text = 'select "id" from "parties" where "tenant_id" = $1';
    expect(preparedName(text)).toBeUndefined();
    expect(preparedName(text)).toMatch(/^gx_[0-9a-f]{24}$/);
    expect(preparedName(text)).toBe(preparedName(text));
    const other = `${text} limit $2`;
    preparedName(other);
    expect(preparedName(other)).not.toBe(preparedName(text));
    preparedName('with x as (select 1) select * from x');
    expect(preparedName('with x as (select 1) select * from x')).toMatch(/^gx_/);
    for (const control of ['begin', 'commit', "select set_config('role', $1, true)"]) {
      preparedName(control);
      expect(preparedName(control)).toBeUndefined();
    }
  });
});

describe.runIf(usingPostgres())('on a connection', () => {
  test('a statement sent again is parsed and planned once: it is in pg_prepared_statements under its name', async () => {
    const handle = await createTestDatabase({ maxConnections: 1 });
    try {
      const statement = sql`select count(*)::int as n from pg_class where relname = ${'parties'}`;
      // Unnamed the first time, named (prepared) the second, run by name after.
      const first = await handle.db.execute<{ n: number }>(statement);
      const second = await handle.db.execute<{ n: number }>(statement);
      const third = await handle.db.execute<{ n: number }>(statement);
      expect(second.rows).toEqual(first.rows);
      expect(third.rows).toEqual(first.rows);
      const name = preparedName('select count(*)::int as n from pg_class where relname = $1');
      const { rows } = await handle.db.execute<{ statement: string }>(sql`select statement from pg_prepared_statements where name = ${name}`);
      expect(rows).toEqual([{ statement: 'select count(*)::int as n from pg_class where relname = $1' }]);
    } finally {
      await handle.close();
    }
  });

  test('with preparedStatements: false, statements run unnamed', async () => {
    const handle = await createTestDatabase({ maxConnections: 1, preparedStatements: false });
    try {
      const statement = sql`select count(*)::int as n from pg_class where relname = ${'orders'}`;
      await handle.db.execute(statement);
      await handle.db.execute(statement);
      const { rows } = await handle.db.execute<{ n: number }>(sql`select count(*)::int as n from pg_prepared_statements`);
      expect(rows[0]!.n).toBe(0);
    } finally {
      await handle.close();
    }
  });
});
