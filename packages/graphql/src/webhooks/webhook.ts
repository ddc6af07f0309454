import type { Database } from '@guanxi/core';
import {
  countWebhookDeliveries,
  createWebhook,
  deleteWebhook,
  deliveryCursor,
  findWebhooks,
  listWebhookDeliveries,
  listWebhooks,
  webhookDeliveryStatuses,
  type WebhookDeliveryRow,
  type WebhookRow,
} from '@guanxi/core/webhooks';
import { encodeGlobalID } from '@pothos/plugin-relay';
import { builder } from '../builder';
import { keysetConnection } from '../connections';
import { payloadType, runMutation } from '../errors';

// Which servers accept http:// and private/loopback webhook targets (tests, local development).
// Keyed by the server's database handle because the request context carries it and nothing of the
// server's config; `createServer` should call `allowInsecureWebhookTargets(db)` when its config
// sets `allowInsecureWebhookTargets` (never in production).
const insecureTargets = new WeakSet<object>();

export function allowInsecureWebhookTargets(db: Database): void {
  insecureTargets.add(db);
}

export const Webhook = builder.loadableNode('Webhook', {
  description: 'A partner subscription: events are POSTed to its URL, signed with its secret (shown once).',
  id: { resolve: (webhook: WebhookRow) => webhook.id },
  load: (ids: string[]) => findWebhooks(ids),
  sort: (webhook) => webhook.id,
  authScopes: { admin: true },
  fields: (t) => ({
    url: t.exposeString('url'),
    events: t.exposeStringList('events', { description: 'Event names, family wildcards (referral.*) or *.' }),
    description: t.exposeString('description', { nullable: true }),
    createdBy: t.exposeString('createdBy', { nullable: true }),
    createdAt: t.field({ type: 'DateTime', resolve: (w) => w.createdAt }),
    deletedAt: t.field({ type: 'DateTime', nullable: true, resolve: (w) => w.deletedAt }),
  }),
});

const WebhookDeliveryStatusEnum = builder.enumType('WebhookDeliveryStatus', { values: webhookDeliveryStatuses });

export const WebhookDelivery = builder.objectRef<WebhookDeliveryRow>('WebhookDelivery').implement({
  description: 'One event sent (or to send) to a webhook: the delivery log.',
  fields: (t) => ({
    id: t.exposeString('id', { description: 'Sent as x-guanxi-delivery and in the body; the same on every retry.' }),
    event: t.exposeString('event'),
    status: t.field({ type: WebhookDeliveryStatusEnum, resolve: (d) => d.status }),
    attempts: t.exposeInt('attempts'),
    responseCode: t.int({ nullable: true, description: 'HTTP status of the last attempt.', resolve: (d) => d.lastStatusCode }),
    lastError: t.exposeString('lastError', { nullable: true }),
    nextAttemptAt: t.field({ type: 'DateTime', nullable: true, resolve: (d) => d.nextAttemptAt }),
    createdAt: t.field({ type: 'DateTime', resolve: (d) => d.createdAt }),
    deliveredAt: t.field({ type: 'DateTime', nullable: true, resolve: (d) => d.deliveredAt }),
  }),
});

builder.queryFields((t) => ({
  webhooks: t.field({
    type: [Webhook],
    authScopes: { admin: true },
    description: "The tenant's active webhooks, newest first.",
    resolve: () => listWebhooks(),
  }),
  webhookDeliveries: t.connection(
    {
      type: WebhookDelivery,
      authScopes: { admin: true },
      description: "A webhook's delivery log, newest first.",
      args: { webhookId: t.arg.globalID({ required: true, for: [Webhook] }) },
      resolve: (_root, args) =>
        keysetConnection<WebhookDeliveryRow>(
          args,
          deliveryCursor,
          (page) => listWebhookDeliveries(args.webhookId.id, page),
          () => countWebhookDeliveries(args.webhookId.id),
        ),
    },
    {
      name: 'WebhookDeliveryConnection',
      fields: (c) => ({ totalCount: c.int({ resolve: (connection) => connection.totalCount() }) }),
    },
  ),
}));

const CreateWebhookInput = builder.inputType('CreateWebhookInput', {
  fields: (t) => ({
    url: t.string({ required: true, description: 'https, on a public address.' }),
    events: t.stringList({ required: true, description: 'e.g. ["party.created", "referral.*"]; "*" for all.' }),
    description: t.string(),
  }),
});

const CreateWebhookPayload = payloadType<{ webhook: WebhookRow; secret: string }>('CreateWebhookPayload', (t) => ({
  webhook: t.field({ type: Webhook, nullable: true, resolve: (p) => p.webhook ?? null }),
  secret: t.string({
    nullable: true,
    description: 'Verifies x-guanxi-signature (HMAC-SHA256 of "<x-guanxi-timestamp>.<body>"). Shown only here.',
    resolve: (p) => p.secret ?? null,
  }),
}));

builder.mutationField('createWebhook', (t) =>
  t.field({
    type: CreateWebhookPayload,
    authScopes: { admin: true },
    args: { input: t.arg({ type: CreateWebhookInput, required: true }) },
    resolve: (_root, { input }, context) =>
      runMutation(() => createWebhook(input, { allowInsecureTargets: insecureTargets.has(context.db) })),
  }),
);

const DeleteWebhookInput = builder.inputType('DeleteWebhookInput', {
  fields: (t) => ({ id: t.globalID({ required: true, for: [Webhook] }) }),
});

const DeleteWebhookPayload = payloadType<{ deletedId: string }>('DeleteWebhookPayload', (t) => ({
  deletedId: t.id({
    nullable: true,
    resolve: (p) => (p.deletedId ? encodeGlobalID('Webhook', p.deletedId) : null),
  }),
}));

builder.mutationField('deleteWebhook', (t) =>
  t.field({
    type: DeleteWebhookPayload,
    authScopes: { admin: true },
    args: { input: t.arg({ type: DeleteWebhookInput, required: true }) },
    resolve: (_root, { input }) => runMutation(async () => ({ deletedId: await deleteWebhook(input.id.id) })),
  }),
);
