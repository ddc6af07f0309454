// Registers the webhook and audit types before the schema is built (the test helpers import it).
import { allowInsecureWebhookTargets } from './webhook';
import '../audit/audit';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { savepoint } from '@guanxi/core';
import { asTenant, tenantRows } from '@guanxi/core/test';
import {
  createWebhook,
  deliverDueWebhooks,
  emitEvent,
  maxDeliveryAttempts,
  refuseTarget,
  retryDelayMs,
  verifySignature,
} from '@guanxi/core/webhooks';
import { decodeGlobalID } from '@pothos/plugin-relay';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { createTestApi, postGraphQL, type TenantClient, type TestApi } from '../../test/helpers';

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

/** A real HTTP receiver on 127.0.0.1: answers each request with the next scripted reply. */
let receiver: Server;
let receiverUrl: string;
let received: Received[] = [];
let replies: (number | 'hang')[] = [];
const hanging: ServerResponse[] = [];

let api: TestApi;

beforeAll(async () => {
  api = await createTestApi({ rateLimits: null });
  allowInsecureWebhookTargets(api.handle.db);
  receiver = createHttpServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      const reply = replies.shift() ?? 200;
      if (reply === 'hang') {
        hanging.push(response);
        return;
      }
      response.writeHead(reply).end(reply === 200 ? 'ok' : 'nope');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
});

afterAll(async () => {
  for (const response of hanging) response.destroy();
  receiver.closeAllConnections();
  await new Promise((resolve) => receiver.close(resolve));
  await api.close();
});

beforeEach(() => {
  received = [];
  replies = [];
});

const createMutation = `mutation ($input: CreateWebhookInput!) {
  createWebhook(input: $input) { webhook { id url events } secret userErrors { code field message } }
}`;

async function subscribe(tenant: TenantClient, events: string[], url = receiverUrl) {
  const { createWebhook } = await tenant.query(createMutation, { input: { url, events, description: 'test' } });
  expect(createWebhook.userErrors).toEqual([]);
  return { id: createWebhook.webhook.id as string, rawId: decodeGlobalID(createWebhook.webhook.id).id, secret: createWebhook.secret as string };
}

const deliveriesQuery = `query ($id: ID!) {
  webhookDeliveries(webhookId: $id, first: 10) {
    totalCount
    edges { node { id deliveryId event status attempts responseCode lastError nextAttemptAt createdAt deliveredAt } }
  }
}`;

async function deliveries(tenant: TenantClient, webhookId: string) {
  const { webhookDeliveries } = await tenant.query(deliveriesQuery, { id: webhookId });
  return webhookDeliveries.edges.map((edge: { node: unknown }) => edge.node) as any[];
}

describe('webhooks', () => {
  test('a delivery is signed as documented and logged', async () => {
    const tenant = await api.newTenant();
    const hook = await subscribe(tenant, ['party.*']);
    expect(hook.secret).toMatch(/^whsec_/);
    const { webhooks } = await tenant.query('{ webhooks { id url events } }');
    expect(webhooks).toEqual([{ id: hook.id, url: receiverUrl, events: ['party.*'] }]);

    await asTenant(api.handle, tenant.tenantId, () => emitEvent('party.created', { party: { id: 'p1' } }));
    const summary = await deliverDueWebhooks(api.handle.db, { tenantIds: [tenant.tenantId], allowInsecureTargets: true });
    expect(summary).toMatchObject({ attempted: 1, delivered: 1 });

    expect(received).toHaveLength(1);
    const [request] = received;
    const body = JSON.parse(request!.body);
    expect(body).toMatchObject({ event: 'party.created', data: { party: { id: 'p1' } } });
    expect(request!.headers['x-guanxi-event']).toBe('party.created');
    expect(request!.headers['x-guanxi-delivery']).toBe(body.id);
    // The documented recipe: HMAC-SHA256(secret, `${timestamp}.${rawBody}`), hex, after "v1=".
    const { createHmac } = await import('node:crypto');
    const timestamp = String(request!.headers['x-guanxi-timestamp']);
    const expected = createHmac('sha256', hook.secret).update(`${timestamp}.${request!.body}`).digest('hex');
    expect(request!.headers['x-guanxi-signature']).toBe(`v1=${expected}`);
    expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(60);
    const header = { timestamp, signature: String(request!.headers['x-guanxi-signature']) };
    expect(verifySignature(hook.secret, header, request!.body)).toBe(true);
    expect(verifySignature(hook.secret, header, request!.body.replace('p1', 'p2'))).toBe(false);
    expect(verifySignature('whsec_other', header, request!.body)).toBe(false);

    const [logged] = await deliveries(tenant, hook.id);
    expect(logged).toMatchObject({ deliveryId: body.id, event: 'party.created', status: 'DELIVERED', attempts: 1, responseCode: 200, nextAttemptAt: null });
  });

  test('retries after a 500 and after a time-out, with backoff, then succeeds', async () => {
    const tenant = await api.newTenant();
    const hook = await subscribe(tenant, ['referral.converted']);
    await asTenant(api.handle, tenant.tenantId, () => emitEvent('referral.converted', { referral: { id: 'r1' } }));
    replies = [500, 'hang', 200];
    let now = new Date();
    const run = () => deliverDueWebhooks(api.handle.db, { tenantIds: [tenant.tenantId], allowInsecureTargets: true, now, timeoutMs: 300, random: () => 0.5 });

    expect(await run()).toMatchObject({ attempted: 1, retrying: 1 });
    let [row] = await deliveries(tenant, hook.id);
    expect(row).toMatchObject({ status: 'PENDING', attempts: 1, responseCode: 500, lastError: 'HTTP 500' });
    expect(new Date(row.nextAttemptAt).getTime() - now.getTime()).toBe(30_000);
    // Not due yet: nothing is sent.
    expect(await run()).toMatchObject({ attempted: 0 });

    now = new Date(now.getTime() + 31_000);
    expect(await run()).toMatchObject({ attempted: 1, retrying: 1 });
    [row] = await deliveries(tenant, hook.id);
    expect(row).toMatchObject({ status: 'PENDING', attempts: 2, responseCode: null, lastError: 'No answer within 300 ms' });
    expect(new Date(row.nextAttemptAt).getTime() - now.getTime()).toBe(60_000);

    now = new Date(now.getTime() + 61_000);
    expect(await run()).toMatchObject({ attempted: 1, delivered: 1 });
    [row] = await deliveries(tenant, hook.id);
    expect(row).toMatchObject({ status: 'DELIVERED', attempts: 3, responseCode: 200, nextAttemptAt: null });
    // The same delivery id on every attempt, so the receiver can deduplicate.
    expect(new Set(received.map((r) => r.headers['x-guanxi-delivery'])).size).toBe(1);
    expect(received).toHaveLength(3);
  });

  test(`gives up after ${maxDeliveryAttempts} attempts; the backoff is capped at 6 h`, async () => {
    expect(retryDelayMs(1, () => 0.5)).toBe(30_000);
    expect(retryDelayMs(7, () => 0.5)).toBe(30_000 * 64);
    expect(retryDelayMs(30, () => 0.5)).toBe(6 * 3600_000);
    expect(retryDelayMs(30, () => 0.999)).toBeLessThanOrEqual(6 * 3600_000 * 1.25);
    // Without jitter the last attempt comes about 32 h after the first (the documented window).
    let span = 0;
    for (let failed = 1; failed < maxDeliveryAttempts; failed++) span += retryDelayMs(failed, () => 0.5);
    expect(span / 3600_000).toBeCloseTo(32.5, 0);
    const tenant = await api.newTenant();
    const hook = await subscribe(tenant, ['*']);
    await asTenant(api.handle, tenant.tenantId, () => emitEvent('stage.changed', { party: { id: 'p' } }));
    replies = Array(maxDeliveryAttempts).fill(503);
    let now = new Date();
    for (let i = 0; i < maxDeliveryAttempts; i++) {
      await deliverDueWebhooks(api.handle.db, { tenantIds: [tenant.tenantId], allowInsecureTargets: true, now });
      // Past the longest delay (6 h + 25 % jitter), so every attempt is due.
      now = new Date(now.getTime() + 8 * 3600_000);
    }
    const [row] = await deliveries(tenant, hook.id);
    expect(row).toMatchObject({ status: 'FAILED', attempts: maxDeliveryAttempts, responseCode: 503, nextAttemptAt: null });
    expect(await deliverDueWebhooks(api.handle.db, { tenantIds: [tenant.tenantId], allowInsecureTargets: true, now })).toMatchObject({ attempted: 0 });
  });

  test('nothing is queued or sent for a rolled-back change', async () => {
    const tenant = await api.newTenant();
    const hook = await subscribe(tenant, ['party.created']);
    await asTenant(api.handle, tenant.tenantId, async () => {
      await expect(
        savepoint(async () => {
          await emitEvent('party.created', { party: { id: 'rolled-back' } });
          throw new Error('the change fails after emitting');
        }),
      ).rejects.toThrow('the change fails');
    });
    // And a whole transaction that throws.
    await expect(
      asTenant(api.handle, tenant.tenantId, async () => {
        await emitEvent('party.created', { party: { id: 'rolled-back-too' } });
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await tenantRows(api.handle, tenant.tenantId, 'select id from webhook_deliveries')).toEqual([]);
    await deliverDueWebhooks(api.handle.db, { tenantIds: [tenant.tenantId], allowInsecureTargets: true });
    expect(received).toEqual([]);
    expect(await deliveries(tenant, hook.id)).toEqual([]);
  });

  test('an event committed before a crash is delivered by a later worker run', async () => {
    const tenant = await api.newTenant();
    const hook = await subscribe(tenant, ['party.archived']);
    // The change commits with its outbox row; the process "dies" before any send.
    await asTenant(api.handle, tenant.tenantId, () => emitEvent('party.archived', { party: { id: 'p9' } }));
    expect(received).toEqual([]);
    // A worker that claimed the row and died mid-send: the lease runs out, the row is due again.
    await tenantRows(api.handle, tenant.tenantId, `update webhook_deliveries set next_attempt_at = now() + interval '70 seconds'`);
    expect(await deliverDueWebhooks(api.handle.db, { tenantIds: [tenant.tenantId], allowInsecureTargets: true })).toMatchObject({ attempted: 0 });
    const later = new Date(Date.now() + 71_000);
    expect(await deliverDueWebhooks(api.handle.db, { tenantIds: [tenant.tenantId], allowInsecureTargets: true, now: later })).toMatchObject({ delivered: 1 });
    expect(JSON.parse(received[0]!.body).data).toEqual({ party: { id: 'p9' } });
    expect((await deliveries(tenant, hook.id))[0].status).toBe('DELIVERED');
  });

  test('wildcards: a family, everything, or one event', async () => {
    const tenant = await api.newTenant();
    const family = await subscribe(tenant, ['referral.*']);
    const all = await subscribe(tenant, ['*']);
    const one = await subscribe(tenant, ['party.created', 'referral.rewarded']);
    const other = await subscribe(tenant, ['loyalty.segment_changed']);
    await asTenant(api.handle, tenant.tenantId, async () => {
      await emitEvent('referral.created', { referral: { id: 'r' } });
      await emitEvent('referral.rewarded', { referral: { id: 'r' } });
      await emitEvent('party.updated', { party: { id: 'p' } });
    });
    const events = async (hook: { id: string }) => (await deliveries(tenant, hook.id)).map((d) => d.event).sort();
    expect(await events(family)).toEqual(['referral.created', 'referral.rewarded']);
    expect(await events(all)).toEqual(['party.updated', 'referral.created', 'referral.rewarded']);
    expect(await events(one)).toEqual(['referral.rewarded']);
    expect(await events(other)).toEqual([]);
    // A deleted webhook gets nothing new.
    await tenant.query('mutation ($id: ID!) { deleteWebhook(input: { id: $id }) { deletedId } }', { id: all.id });
    await asTenant(api.handle, tenant.tenantId, () => emitEvent('party.created', { party: { id: 'p2' } }));
    expect(await events(all)).toEqual(['party.updated', 'referral.created', 'referral.rewarded']);

    for (const bad of [['referral.nope'], ['foo.*'], ['party'], []]) {
      const { createWebhook } = await tenant.query(createMutation, { input: { url: receiverUrl, events: bad } });
      expect([bad, createWebhook.userErrors[0]?.code]).toEqual([bad, 'VALIDATION']);
    }
  });

  test('SSRF: production refuses http, private, loopback and link-local targets, at creation and at delivery', async () => {
    for (const url of ['http://127.0.0.1/hook', 'https://10.0.0.1/hook', 'https://localhost/hook', 'https://169.254.169.254/', 'https://[::1]/', 'https://[::ffff:10.1.2.3]/', 'https://192.168.1.1/', 'ftp://example.com/']) {
      expect([url, await refuseTarget(url)]).not.toEqual([url, null]);
    }
    expect(await refuseTarget('https://93.184.216.34/hook')).toBeNull();
    expect(await refuseTarget('https://user:pw@93.184.216.34/hook')).toMatch(/credentials/);

    const tenant = await api.newTenant();
    await asTenant(api.handle, tenant.tenantId, async () => {
      for (const url of ['http://127.0.0.1/hook', 'https://10.0.0.1/hook', 'https://localhost/hook']) {
        await expect(createWebhook({ url, events: ['*'] })).rejects.toMatchObject({ errors: [{ code: 'VALIDATION', field: ['input', 'url'] }] });
      }
    });
    // Created where loopback is allowed, then delivered by a production worker: refused at send time.
    const hook = await subscribe(tenant, ['*']);
    await asTenant(api.handle, tenant.tenantId, () => emitEvent('party.created', { party: { id: 'p' } }));
    await deliverDueWebhooks(api.handle.db, { tenantIds: [tenant.tenantId] });
    expect(received).toEqual([]);
    const [row] = await deliveries(tenant, hook.id);
    expect(row).toMatchObject({ status: 'PENDING', attempts: 1 });
    expect(row.lastError).toMatch(/^Target refused: URL must use https/);
  });
});

describe('audit log', () => {
  test('webhook mutations are audited; auditLog filters and pages newest first', async () => {
    const tenant = await api.newTenant();
    const hook = await subscribe(tenant, ['party.*']);
    const deleted = await postGraphQL(
      api.server,
      'mutation ($id: ID!) { deleteWebhook(input: { id: $id }) { deletedId userErrors { code } } }',
      { id: hook.id },
      { authorization: `ApiKey ${tenant.apiKey}`, 'x-request-id': 'req-delete-1' },
    );
    expect(deleted.data.deleteWebhook).toEqual({ deletedId: hook.id, userErrors: [] });
    const again = await tenant.query('mutation ($id: ID!) { deleteWebhook(input: { id: $id }) { userErrors { code } } }', { id: hook.id });
    expect(again.deleteWebhook.userErrors).toEqual([{ code: 'NOT_FOUND' }]);

    const auditQuery = `query ($filter: AuditLogFilter, $first: Int, $after: String) {
      auditLog(filter: $filter, first: $first, after: $after) {
        totalCount
        pageInfo { hasNextPage endCursor }
        edges { node { operation entityType entityIds actorKind actorId requestId details at } }
      }
    }`;
    const { auditLog } = await tenant.query(auditQuery, { filter: { entityId: hook.rawId } });
    expect(auditLog.totalCount).toBe(2);
    const [deleteRow, createRow] = auditLog.edges.map((e: { node: any }) => e.node);
    expect(deleteRow).toMatchObject({ operation: 'deleteWebhook', entityType: 'Webhook', entityIds: [hook.rawId], actorKind: 'API_KEY', requestId: 'req-delete-1' });
    expect(createRow).toMatchObject({ operation: 'createWebhook', details: { host: new URL(receiverUrl).host, events: ['party.*'] } });
    // No secret in the audit log.
    expect(JSON.stringify(auditLog)).not.toContain(hook.secret);

    const byOperation = await tenant.query(auditQuery, { filter: { operation: 'createTenant' } });
    expect(byOperation.auditLog.totalCount).toBe(1);
    const byActor = await tenant.query(auditQuery, { filter: { actorId: deleteRow.actorId } });
    expect(byActor.auditLog.edges.map((e: { node: any }) => e.node.operation)).toEqual(['deleteWebhook', 'createWebhook']);
    const future = await tenant.query(auditQuery, { filter: { since: new Date(Date.now() + 60_000).toISOString() } });
    expect(future.auditLog.totalCount).toBe(0);
    const past = await tenant.query(auditQuery, { filter: { until: createRow.at } });
    expect(past.auditLog.edges.map((e: { node: any }) => e.node.operation)).toEqual(['createTenant']);

    // Keyset pages: newest first, no repeats.
    const first = await tenant.query(auditQuery, { first: 1 });
    const second = await tenant.query(auditQuery, { first: 1, after: first.auditLog.pageInfo.endCursor });
    const rest = await tenant.query(auditQuery, { first: 10, after: second.auditLog.pageInfo.endCursor });
    const operations = [first, second, rest].flatMap((page) => page.auditLog.edges.map((e: { node: any }) => e.node.operation));
    expect(operations).toEqual(['deleteWebhook', 'createWebhook', 'createTenant']);
    expect(first.auditLog.pageInfo.hasNextPage).toBe(true);
  });

  test('auditLog and webhooks are for ADMIN only', async () => {
    const tenant = await api.newTenant();
    const { createApiKey } = await tenant.query('mutation { createApiKey(input: { name: "p", scopes: [NETWORK_WRITE] }) { secret } }');
    for (const query of ['{ auditLog { totalCount } }', '{ webhooks { id } }', `mutation { createWebhook(input: { url: "${receiverUrl}", events: ["*"] }) { secret } }`]) {
      const response = await postGraphQL(api.server, query, {}, { authorization: `ApiKey ${createApiKey.secret}` });
      expect([query, response.errors?.[0]?.extensions?.code]).toEqual([query, 'FORBIDDEN']);
    }
  });
});
