import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseHandle } from '@guanxi/core';
import { createTestDatabase, createTestTenant, tenantRows } from '@guanxi/core/test';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CsvParser, runImport, type ImportErrorLine, type RunImportOptions } from './import';
import { progressText } from './progress';

let handle: DatabaseHandle;
let dir: string;
beforeAll(async () => {
  handle = await createTestDatabase();
  dir = mkdtempSync(join(tmpdir(), 'guanxi-import-'));
});
afterAll(async () => {
  await handle.close();
  rmSync(dir, { recursive: true, force: true });
});

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

/** runImport with stderr captured: the refused rows come back parsed. */
async function importFile(tenantId: string, path: string, options: Partial<RunImportOptions> = {}) {
  const written: string[] = [];
  const summary = await runImport(handle.db, {
    file: path,
    tenantId,
    stderr: { write: (text: string) => void written.push(text), isTTY: false },
    progress: false,
    ...options,
  });
  const errors = written
    .join('')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as ImportErrorLine);
  return { summary, errors };
}

// Header in another order and spelling; a quoted comma, doubled quotes, a quoted newline (CRLF
// line ends elsewhere), an invalid row, and a blank line.
const csv =
  'External_Id,kind,displayName,email,tags,notes,birthday\r\n' +
  'c-1,CUSTOMER,"Zhang, Wei",zhang@example.com,vip;beijing,,\r\n' +
  'c-2,PROSPECT,"Wang ""Fang""",,a|b| a ,"line one\nline two",1990-05-17\r\n' +
  'c-3,CUSTOMER,Bad Email,not-an-email,,,\r\n' +
  '\r\n' +
  'c-4,PARTNER,Blue Ocean,,,,\r\n';

describe('runImport', () => {
  test('imports a CSV file; the second run finds every row unchanged', async () => {
    const { tenant } = await createTestTenant(handle);
    const path = file('parties.csv', csv);

    const first = await importFile(tenant.id, path);
    expect(first.summary).toEqual({ created: 3, updated: 0, unchanged: 0, failed: 1, rows: 4, seconds: expect.any(Number) });
    expect(first.errors).toEqual([
      {
        row: 3,
        line: 5, // c-2 spans lines 3 and 4
        externalId: 'c-3',
        errors: [{ code: 'VALIDATION', field: ['email'], message: 'Email is not a valid address' }],
      },
    ]);
    const stored = await tenantRows<Record<string, unknown>>(
      handle,
      tenant.id,
      `select external_id, kind::text, display_name, email, tags, notes, birthday::text from parties order by external_id`,
    );
    expect(stored).toEqual([
      { external_id: 'c-1', kind: 'CUSTOMER', display_name: 'Zhang, Wei', email: 'zhang@example.com', tags: ['vip', 'beijing'], notes: null, birthday: null },
      { external_id: 'c-2', kind: 'PROSPECT', display_name: 'Wang "Fang"', email: null, tags: ['a', 'b'], notes: 'line one\nline two', birthday: '1990-05-17' },
      { external_id: 'c-4', kind: 'PARTNER', display_name: 'Blue Ocean', email: null, tags: [], notes: null, birthday: null },
    ]);

    const second = await importFile(tenant.id, path);
    expect(second.summary).toMatchObject({ created: 0, updated: 0, unchanged: 3, failed: 1, rows: 4 });
    const [audit] = await tenantRows<{ n: number }>(
      handle,
      tenant.id,
      `select count(*)::int as n from audit_log where operation = 'importParties'`,
    );
    expect(audit!.n).toBe(1); // the unchanged run wrote nothing
  });

  test('imports JSON lines: absent keys stay, null clears, bad lines are reported', async () => {
    const { tenant } = await createTestTenant(handle);
    const path = file(
      'parties.jsonl',
      [
        '{"externalId":"j-1","kind":"CUSTOMER","displayName":"Li Lei","tags":["x"],"email":"li@example.com"}',
        '{"externalId":"j-2","kind":"PARTNER","displayName":"Acme","phone":null}',
        '',
        'not json',
        '{"externalId":"j-3","kind":"SOCIAL_CONTACT","displayName":"Han Meimei","mood":"happy"}',
        '{"externalId":"j-4","kind":"CUSTOMER","displayName":"Tags as text","tags":"a;b"}',
      ].join('\n'),
    );
    const first = await importFile(tenant.id, path);
    expect(first.summary).toMatchObject({ created: 3, updated: 0, unchanged: 0, failed: 2, rows: 5 });
    expect(first.errors.map((e) => [e.row, e.line, e.externalId, e.errors[0]!.field])).toEqual([
      [3, 4, null, null],
      [4, 5, 'j-3', ['mood']],
    ]);
    const second = await importFile(tenant.id, path);
    expect(second.summary).toMatchObject({ created: 0, updated: 0, unchanged: 3, failed: 2, rows: 5 });

    // Absent email keeps it; null clears it.
    const update = file('update.jsonl', '{"externalId":"j-1","displayName":"Li Lei 2"}\n{"externalId":"j-4","tags":null}\n');
    const third = await importFile(tenant.id, update);
    expect(third.summary).toMatchObject({ updated: 2, failed: 0, rows: 2 });
    const stored = await tenantRows<Record<string, unknown>>(
      handle,
      tenant.id,
      `select external_id, display_name, email, tags from parties where external_id in ('j-1', 'j-4') order by external_id`,
    );
    expect(stored).toEqual([
      { external_id: 'j-1', display_name: 'Li Lei 2', email: 'li@example.com', tags: ['x'] },
      { external_id: 'j-4', display_name: 'Tags as text', tags: [], email: null },
    ]);
  });

  test('applies small batches one by one and writes refused rows to --errors', async () => {
    const { tenant } = await createTestTenant(handle);
    const lines = ['externalId,kind,displayName'];
    for (let i = 1; i <= 7; i++) lines.push(`b-${i},CUSTOMER,${i === 5 ? '' : `Party ${i}`}`);
    const path = file('batches.csv', `${lines.join('\n')}\n`);
    const errorsPath = join(dir, 'errors.jsonl');
    const { summary, errors } = await importFile(tenant.id, path, { batchSize: 2, errorsFile: errorsPath });
    expect(summary).toMatchObject({ created: 6, failed: 1, rows: 7 });
    expect(errors).toEqual([]); // nothing on stderr: errors went to the file
    const written = readFileSync(errorsPath, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(written).toEqual([
      { row: 5, line: 6, externalId: 'b-5', errors: [{ code: 'VALIDATION', field: ['displayName'], message: expect.any(String) }] },
    ]);
    // One audit row per batch (each batch is its own transaction).
    const [audit] = await tenantRows<{ n: number }>(handle, tenant.id, `select count(*)::int as n from audit_log where operation = 'importParties'`);
    expect(audit!.n).toBe(4);
  });

  test('refuses an unknown column, a missing tenant or a bad batch size before writing anything', async () => {
    const { tenant } = await createTestTenant(handle);
    const typo = file('typo.csv', 'externalId,kind,displayName,emial\nt-1,CUSTOMER,T,t@example.com\n');
    await expect(importFile(tenant.id, typo)).rejects.toThrow(/Unknown column "emial"/);
    const noKey = file('nokey.csv', 'kind,displayName\nCUSTOMER,T\n');
    await expect(importFile(tenant.id, noKey)).rejects.toThrow(/no externalId column/);
    const good = file('good.csv', 'externalId,kind,displayName\ng-1,CUSTOMER,G\n');
    await expect(importFile('00000000-0000-7000-8000-000000000000', good)).rejects.toThrow(/No tenant/);
    await expect(importFile(tenant.id, good, { batchSize: 1001 })).rejects.toThrow(/--batch/);
    await expect(importFile(tenant.id, join(dir, 'parties.txt'))).rejects.toThrow(/\.csv or \.jsonl/);
    const [count] = await tenantRows<{ n: number }>(handle, tenant.id, `select count(*)::int as n from parties`);
    expect(count!.n).toBe(0);
  });
});

describe('CsvParser', () => {
  const text = '\uFEFFa,b,c\r\n1,"x, ""y""\r\nz",3\n\n"",,"q"\r\nlast,"row",without newline';
  const expected = [
    { fields: ['a', 'b', 'c'], line: 1 },
    { fields: ['1', 'x, "y"\r\nz', '3'], line: 2 },
    { fields: ['', '', 'q'], line: 5 },
    { fields: ['last', 'row', 'without newline'], line: 6 },
  ];

  function parse(chunks: string[]) {
    const parser = new CsvParser();
    const records = [];
    for (const chunk of chunks) {
      parser.push(chunk);
      records.push(...parser.take());
    }
    parser.end();
    return [...records, ...parser.take()];
  }

  test('parses quoted commas, doubled quotes and newlines, whatever the chunk boundaries', () => {
    expect(parse([text])).toEqual(expected);
    // One character at a time: every boundary (inside "", between CR and LF…) is crossed.
    expect(parse([...text])).toEqual(expected);
  });

  test('reports a file that ends inside quotes', () => {
    expect(parse(['a,"open\nstill open'])).toEqual([
      { fields: ['a', 'open\nstill open'], line: 1, error: 'The file ends inside a quoted field' },
    ]);
  });
});

test('progress text shows the share, the count and the rate', () => {
  expect(progressText('import', 'rows', { done: 500, total: 1000, estimated: true, fraction: 0.5 }, 1000)).toBe(
    'import [##########----------] 50% 500/~1,000 rows 500 rows/s ETA 1s',
  );
  expect(progressText('score', 'parties', { done: 42 }, 2000)).toBe('score ⠋ 42 parties 21 parties/s');
});
