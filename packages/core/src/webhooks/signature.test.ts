import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { DatabaseHandle } from '../drizzle/client';
import { asTenant, createTestDatabase, createTestTenant, tenantRows } from '../test';
import { createWebhook, deliverDueWebhooks, emitEvent, verifySignature } from '.';
import { startTestReceiver } from '../test/webhook-receiver';

let handle: DatabaseHandle;
let receiver: Awaited<ReturnType<typeof startTestReceiver>>;
beforeAll(async () => {
  handle = await createTestDatabase();
  receiver = await startTestReceiver();
});
afterAll(async () => {
  await receiver.close();
  await handle.close();
});

/** A partner subscribes to the local receiver (with `storedSecret`: a secret kept from before) and receives one event. */
async function deliverOne(storedSecret?: string) {
  const { tenant } = await createTestTenant(handle);
  const path = `/hook/${tenant.id}`;
  const { secret } = await asTenant(handle, tenant.id, () =>
    createWebhook({ url: `http://127.0.0.1:${receiver.port}${path}`, events: ['party.*'] }, { allowInsecureTargets: true }),
  );
  if (storedSecret) await tenantRows(handle, tenant.id, `update webhooks set secret = '${storedSecret}'`);
  await asTenant(handle, tenant.id, () => emitEvent('party.created', { party: { id: 'p1' } }));
  expect(await deliverDueWebhooks(handle.db, { tenantIds: [tenant.id], allowInsecureTargets: true })).toMatchObject({ delivered: 1 });
  const request = receiver.received.find((r) => r.path === path);
  return { secret: storedSecret ?? secret, request: request! };
}

test('a partner verifies a delivery with the Standard Webhooks library', async () => {
  const { secret, request } = await deliverOne();
  expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
  const headers = request.headers as Record<string, string>;
  expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);

  const payload = new Webhook(secret).verify(request.body, headers);
  expect(payload).toMatchObject({ id: headers['webhook-id'], event: 'party.created', data: { party: { id: 'p1' } } });
  expect(Math.abs(Number(headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
  expect(() => new Webhook(secret).verify(request.body.replace('p1', 'p2'), headers)).toThrow(WebhookVerificationError);

  // The deprecated headers still come, and still verify, for one release.
  expect(headers['x-guanxi-delivery']).toBe(headers['webhook-id']);
  expect(headers['x-guanxi-event']).toBe('party.created');
  expect(verifySignature(secret, { timestamp: headers['x-guanxi-timestamp']!, signature: headers['x-guanxi-signature']! }, request.body)).toBe(true);
});

test('a secret made before (base64url) verifies once converted to standard base64', async () => {
  // Bytes whose base64url has both "-" and "_", which the library's base64 decoder refuses.
  const old = `whsec_${Buffer.alloc(32, 0xfb).toString('base64url')}`;
  expect(old).toMatch(/-/);
  const { request } = await deliverOne(old);
  const headers = request.headers as Record<string, string>;
  expect(() => new Webhook(old)).toThrow();
  // The README's conversion, after the prefix: the standard alphabet and the padding.
  const converted = `whsec_${old.slice('whsec_'.length).replace(/-/g, '+').replace(/_/g, '/')}=`;
  expect(new Webhook(converted).verify(request.body, headers)).toMatchObject({ event: 'party.created' });
  expect(() => new Webhook(converted).verify(request.body.replace('p1', 'p2'), headers)).toThrow(WebhookVerificationError);
});
