import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { readSettings } from '../config';
import { serve } from './serve';

// What `pnpm dev` does, on an ephemeral port and a fresh data folder: migrate, seed the demo
// tenant, serve GraphiQL, and answer with the printed credential.
const dir = mkdtempSync(join(tmpdir(), 'guanxi-serve-'));
let server: Awaited<ReturnType<typeof serve>>;
const lines: string[] = [];

beforeAll(async () => {
  const settings = readSettings({ PORT: '0', GUANXI_DATA_DIR: join(dir, 'data') });
  server = await serve(settings, (line) => lines.push(line));
}, 120_000);

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('prints the URL and a working demo credential', async () => {
  expect(lines.join('\n')).toContain(server.url);
  const apiKey = server.credentials!.apiKey;
  expect(lines.join('\n')).toContain(`ApiKey ${apiKey}`);
  const response = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `ApiKey ${apiKey}` },
    body: JSON.stringify({ query: '{ parties(first: 5) { totalCount edges { node { displayName kind } } } }' }),
  });
  expect(response.status).toBe(200);
  const body = (await response.json()) as any;
  expect(body.data.parties.edges).toHaveLength(5);
  expect(body.data.parties.totalCount).toBeGreaterThan(250);
});

test('serves GraphiQL with example operations carrying the credential', async () => {
  const response = await fetch(server.url, { headers: { accept: 'text/html' } });
  expect(response.status).toBe(200);
  const html = await response.text();
  expect(html).toContain('GraphiQL');
  expect(html).toContain('parties(first: 5');
  expect(html).toContain(server.credentials!.apiKey);
  // Assets are inlined: GraphiQL works without reaching a CDN.
  expect(html).not.toMatch(/unpkg\.com|jsdelivr/);
});

test('a second server on the same data folder is refused with a clear message', async () => {
  const settings = readSettings({ PORT: '0', GUANXI_DATA_DIR: join(dir, 'data') });
  await expect(serve(settings, () => {})).rejects.toThrow(/already open|open in process/);
});
