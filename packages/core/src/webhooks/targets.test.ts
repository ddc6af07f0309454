import { afterAll, beforeAll, expect, test } from 'vitest';
import type { DatabaseHandle } from '../drizzle/client';
import { asTenant, createTestDatabase, createTestTenant, tenantRows } from '../test';
import { createWebhook, deliverDueWebhooks, emitEvent, type ResolveHost } from '.';
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

/** A resolver that gives each call the next answer, as a name whose DNS the attacker runs. */
function scripted(...answers: string[][]): ResolveHost & { asked: string[] } {
  const asked: string[] = [];
  return Object.assign(async (hostname: string) => answers[asked.push(hostname) - 1] ?? [], { asked });
}

async function onePartyEvent(policy: Parameters<typeof createWebhook>[1], url: string) {
  const { tenant } = await createTestTenant(handle);
  await asTenant(handle, tenant.id, async () => {
    await createWebhook({ url, events: ['party.*'] }, policy);
    await emitEvent('party.created', { party: { id: 'p1' } });
  });
  return tenant.id;
}

test('SSRF by DNS rebinding: a name public at the check and private at the send is refused when connecting', async () => {
  // The creation check is the only one that sees the public answer, and it never connects; the
  // delivery's connection asks again and is told the cloud metadata address.
  const resolve = scripted(['93.184.216.34'], ['169.254.169.254']);
  const tenantId = await onePartyEvent({ resolve }, 'https://rebind.example/hook');

  const summary = await deliverDueWebhooks(handle.db, { tenantIds: [tenantId], resolve });
  expect(summary).toMatchObject({ attempted: 1, delivered: 0, retrying: 1 });
  expect(resolve.asked).toEqual(['rebind.example', 'rebind.example']);
  const [row] = await tenantRows(handle, tenantId, 'select status, attempts, last_status_code, last_error from webhook_deliveries');
  expect(row).toEqual({
    status: 'PENDING',
    attempts: 1,
    last_status_code: null,
    last_error: 'Target refused: rebind.example resolves to 169.254.169.254: URL must not target a private, loopback or link-local address',
  });
});

test('one forbidden address in the answer refuses the connection, whatever comes first', async () => {
  const resolve = scripted(['93.184.216.34'], ['10.0.0.7', '169.254.169.254']);
  const tenantId = await onePartyEvent({ resolve }, 'https://mixed.example/hook');
  await deliverDueWebhooks(handle.db, { tenantIds: [tenantId], resolve });
  const [row] = await tenantRows<{ last_error: string }>(handle, tenantId, 'select last_error from webhook_deliveries');
  expect(row!.last_error).toBe('Target refused: mixed.example resolves to 10.0.0.7: URL must not target a private, loopback or link-local address');
});

test('a delivery connects to exactly the address its lookup answered', async () => {
  // Development policy (loopback allowed): the name exists only in this resolver, so the request
  // can reach the receiver only through the answer the delivery's lookup gave.
  const resolve = scripted(['127.0.0.1']);
  const url = `http://partner.test:${receiver.port}/hook`;
  const tenantId = await onePartyEvent({ allowInsecureTargets: true, resolve }, url);

  const summary = await deliverDueWebhooks(handle.db, { tenantIds: [tenantId], allowInsecureTargets: true, resolve });
  expect(summary).toMatchObject({ attempted: 1, delivered: 1 });
  expect(resolve.asked).toEqual(['partner.test']);
  const request = receiver.received.find((r) => r.headers.host === `partner.test:${receiver.port}`);
  expect(request?.localAddress).toBe('127.0.0.1');
});
