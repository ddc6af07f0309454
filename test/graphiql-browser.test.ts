import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { usingPostgres } from '../packages/core/src/test/index';
import { root, startServeProcess, type ServeProcess } from './serve-process';

/**
 * GraphiQL as a newcomer meets it: `pnpm dev` on a fresh data folder, the page opened in a real
 * (headless) Chromium. The schema must load (GraphiQL's own introspection carries the demo key),
 * the docs must be browsable, and every example tab must answer with data. Debian's chromium
 * package; `.ci/run` installs it, so in CI a missing browser fails instead of skipping. PGlite in
 * memory is what a newcomer runs, so the Postgres project skips it.
 */
const chromiumPath = process.env.GUANXI_CHROMIUM ?? '/usr/bin/chromium';
const haveBrowser = existsSync(chromiumPath);
if (!haveBrowser && process.env.CI) throw new Error(`CI needs Chromium at ${chromiumPath} (apt-get install chromium)`);

let dir = '';
let server: ServeProcess;
let browser: Browser;
let page: Page;
const posts: { authorization: string | undefined; body: string }[] = [];

describe.skipIf(!haveBrowser || usingPostgres())('GraphiQL in a browser, first run of pnpm dev', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'guanxi-graphiql-'));
    const scripts = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts as Record<string, string>;
    const [bin, ...args] = scripts.dev!.split(/\s+/);
    server = await startServeProcess({
      command: join(root, 'node_modules', '.bin', bin!),
      args,
      env: { GUANXI_ENV: 'development', PORT: '0', DATABASE_URL: 'memory://', GUANXI_DATA_DIR: join(dir, 'data') },
      timeoutMs: 120_000,
      ready: (output) => /API key:/.test(output),
    });
    browser = await chromium.launch({
      executablePath: chromiumPath,
      headless: true,
      // No sandbox as root; no background traffic, which this machine's closed network refuses.
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage();
    page.on('request', (request) => {
      if (request.method() === 'POST' && new URL(request.url()).pathname === '/graphql') {
        posts.push({ authorization: request.headers()['authorization'], body: request.postData() ?? '' });
      }
    });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  test('the schema loads with the demo key, the docs open, and every example tab answers', async () => {
    const key = /API key:\s+Authorization: ApiKey (\S+)/.exec(server.output())![1]!;
    const introspection = page.waitForResponse(
      (response) => response.url().endsWith('/graphql') && (response.request().postData() ?? '').includes('__schema'),
    );
    await page.goto(server.url);
    expect((await introspection).status()).toBe(200);
    expect(posts[0]!.authorization).toBe(`ApiKey ${key}`);

    // The docs explorer shows the root types once the schema is in.
    await page.getByRole('button', { name: /documentation explorer/i }).click();
    await expect.poll(() => page.getByText('Query', { exact: true }).count(), { timeout: 15_000 }).toBeGreaterThan(0);

    const tabs = page.locator('.graphiql-tab');
    const names = await tabs.allInnerTexts();
    expect(names.map((name) => name.trim())).toEqual(['Viewer', 'Parties', 'CreateParty']);
    for (const [i, name] of names.map((text) => text.trim()).entries()) {
      // As a person does: click the tab until it is the active one (a click that lands while
      // GraphiQL is still busy with the previous answer can be lost), and wait for its operation
      // in the editor before running it.
      await expect
        .poll(async () => {
          await tabs.nth(i).locator('button').first().click();
          return (await page.locator('.graphiql-tab-active').innerText()).trim();
        }, { timeout: 15_000 })
        .toBe(name);
      await expect.poll(() => page.locator('.graphiql-query-editor').innerText(), { timeout: 15_000 }).toMatch(new RegExp(`(query|mutation)\\s+${name}\\b`));
      // GraphiQL settles the operation name of the new tab a moment after the editor shows it.
      await page.waitForTimeout(500);
      const answer = page.waitForResponse(
        (response) => response.url().endsWith('/graphql') && (response.request().postData() ?? '').includes(`"operationName":"${name}"`),
      );
      await page.locator('.graphiql-execute-button').click();
      const response = await answer;
      expect(response.status()).toBe(200);
      const body = (await response.json()) as { data?: unknown; errors?: unknown };
      expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
      expect(body.data).toBeTruthy();
    }
    // Every request the page sent carried the key.
    expect(posts.length).toBeGreaterThanOrEqual(1 + names.length);
    expect(posts.filter((post) => post.authorization !== `ApiKey ${key}`)).toEqual([]);
  }, 120_000);
});
