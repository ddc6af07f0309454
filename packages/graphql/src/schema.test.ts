import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { printedSchema, schemaFile } from './print-schema';

test('schema.graphql is the schema the code builds (run `pnpm schema:print` after a change)', () => {
  expect(readFileSync(schemaFile, 'utf8')).toBe(printedSchema());
});
