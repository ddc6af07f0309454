import type { Database } from '@guanxi/core';
import {
  countWebhookDeliveries,
  createWebhook,
  deleteWebhook,
  deliveryCursor,
  findWebhookDeliveries,
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
  description:
    'A partner subscription: events are POSTed to its URL, signed with its secret (shown once, by createWebhook). ADMIN only.',
  id: { resolve: (webhook: WebhookRow) => webhook.id },
  load: (ids: string[]) => findWebhooks(ids),
  sort: (webhook) => webhook.id,
  authScopes: { admin: true },
  fields: (t) => ({
    url: t.exposeString('url', { description: 'Where the events are POSTed (https, on a public address).' }),
    events: t.exposeStringList('events', { description: 'Event names, family wildcards (referral.*) or *.' }),
    description: t.exposeString('description', { nullable: true, description: 'A note for people, as given at creation; null when none.' }),
    createdBy: t.exposeString('createdBy', {
      nullable: true,
      description: 'Who created it, written <actor kind>:<raw id> (e.g. USER:<JWT subject>); null when unknown.',
    }),
    createdAt: t.field({ type: 'DateTime', description: 'When the webhook was created.', resolve: (w) => w.createdAt }),
    deletedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When deleteWebhook removed it (nothing more is sent; its delivery log stays readable); null while active.',
      resolve: (w) => w.deletedAt,
    }),
  }),
});

const WebhookDeliveryStatusEnum = builder.enumType('WebhookDeliveryStatus', {
  description: 'Where a delivery is.',
  values: {
    PENDING: { description: 'Queued or waiting for its next attempt (nextAttemptAt); retried with a growing delay (30 s, 1 min, 2 min … at most 6 h).' },
    DELIVERED: { description: 'The receiver answered an attempt with a 2xx status.' },
    FAILED: { description: 'Given up: 15 attempts failed, or the webhook was deleted before it was delivered.' },
  } satisfies Record<(typeof webhookDeliveryStatuses)[number], { description: string }>,
});

export const WebhookDelivery = builder.loadableNode('WebhookDelivery', {
  description: 'One event sent (or to send) to a webhook: the delivery log.',
  id: { resolve: (delivery: WebhookDeliveryRow) => delivery.id },
  load: (ids: string[]) => findWebhookDeliveries(ids),
  sort: (delivery) => delivery.id,
  // The same right as the webhookDeliveries list.
  authScopes: { admin: true },
  fields: (t) => ({
    deliveryId: t.exposeString('id', {
      description:
        'The id the receiver sees, to deduplicate by: the webhook-id header (and the deprecated x-guanxi-delivery) and id in the body, the same on every retry. A raw id, not the global id in `id`.',
    }),
    webhook: t.field({ type: Webhook, description: 'The webhook this delivery is for.', resolve: (d) => d.webhookId }),
    event: t.exposeString('event', { description: 'The event sent, e.g. party.created or referral.converted.' }),
    status: t.field({ type: WebhookDeliveryStatusEnum, description: 'PENDING, DELIVERED or FAILED.', resolve: (d) => d.status }),
    attempts: t.exposeInt('attempts', { description: 'POSTs made so far (at most 15).' }),
    responseCode: t.int({
      nullable: true,
      description: 'HTTP status of the last attempt; null before the first attempt or when no answer came (timeout, refused target).',
      resolve: (d) => d.lastStatusCode,
    }),
    lastError: t.exposeString('lastError', {
      nullable: true,
      description: 'Why the last attempt failed (e.g. HTTP 500, a timeout after 10 s); null when it succeeded or none was made.',
    }),
    nextAttemptAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the next attempt is due; set exactly while PENDING.',
      resolve: (d) => d.nextAttemptAt,
    }),
    createdAt: t.field({ type: 'DateTime', description: 'When the event was queued for this webhook.', resolve: (d) => d.createdAt }),
    deliveredAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the receiver accepted it; null unless DELIVERED.',
      resolve: (d) => d.deliveredAt,
    }),
  }),
});

builder.queryFields((t) => ({
  webhooks: t.field({
    type: [Webhook],
    authScopes: { admin: true },
    description: "The tenant's active webhooks, newest first; deleted ones are left out (ADMIN only).",
    resolve: () => listWebhooks(),
  }),
  webhookDeliveries: t.connection(
    {
      type: WebhookDelivery,
      authScopes: { admin: true },
      description:
        "A webhook's delivery log, newest first (ADMIN only). Delivered and failed deliveries are kept for the tenant's webhookDeliveryRetentionDays (default 30); pending ones until they finish.",
      args: {
        webhookId: t.arg.globalID({
          required: true,
          for: [Webhook],
          description: 'Global id of the webhook, deleted ones included.',
        }),
      },
      resolve: (_root, args) =>
        keysetConnection<WebhookDeliveryRow>(
          args,
          deliveryCursor,
          (page) => listWebhookDeliveries(args.webhookId.id, page),
          () => countWebhookDeliveries(args.webhookId.id),
        ),
    },
    builder.connectionObject(
      { type: WebhookDelivery, name: 'WebhookDeliveryConnection', description: "A page of a webhook's deliveries, newest first." },
      { description: 'One delivery and its cursor.' },
    ),
  ),
}));

const CreateWebhookInput = builder.inputType('CreateWebhookInput', {
  description: 'A new subscription: where to send and which events.',
  fields: (t) => ({
    url: t.string({
      required: true,
      description: 'Where to POST the events: https, on a public address (not loopback or private), at most 2,000 characters.',
    }),
    events: t.stringList({
      required: true,
      description:
        '1–20 event names (party.created, party.updated, party.archived, party.merged, stage.changed, referral.created, referral.converted, referral.rewarded, loyalty.segment_changed …), family wildcards such as referral.*, or "*" for all. Repeats are ignored.',
    }),
    description: t.string({ description: 'A note for people, at most 500 characters.' }),
  }),
});

const CreateWebhookPayload = payloadType<{ webhook: WebhookRow; secret: string }>('CreateWebhookPayload', (t) => ({
  webhook: t.field({ type: Webhook, nullable: true, description: 'The new webhook.', resolve: (p) => p.webhook ?? null }),
  secret: t.string({
    nullable: true,
    description: 'Verifies x-guanxi-signature (HMAC-SHA256 of "<x-guanxi-timestamp>.<body>"). Shown only here.',
    resolve: (p) => p.secret ?? null,
  }),
}), 'The new webhook and its signing secret, or why it was refused.');

builder.mutationField('createWebhook', (t) =>
  t.field({
    type: CreateWebhookPayload,
    authScopes: { admin: true },
    description:
      'Subscribes a URL to events (ADMIN only); the signing secret is in the answer and nowhere else. A blank or refused URL (not https, or a loopback or private address), no events or an unknown one, or a long description is a VALIDATION user error.',
    args: { input: t.arg({ type: CreateWebhookInput, required: true, description: 'URL, events and note of the webhook.' }) },
    resolve: (_root, { input }, context) =>
      runMutation(() => createWebhook(input, { allowInsecureTargets: insecureTargets.has(context.db) })),
  }),
);

const DeleteWebhookInput = builder.inputType('DeleteWebhookInput', {
  description: 'The webhook to delete.',
  fields: (t) => ({ id: t.globalID({ required: true, for: [Webhook], description: 'Global id of an active webhook.' }) }),
});

const DeleteWebhookPayload = payloadType<{ deletedId: string }>(
  'DeleteWebhookPayload',
  (t) => ({
    deletedId: t.id({
      nullable: true,
      description: 'Global id of the webhook deleted (still loadable by node(id), with deletedAt set).',
      resolve: (p) => (p.deletedId ? encodeGlobalID('Webhook', p.deletedId) : null),
    }),
  }),
  'The id of the deleted webhook, or why it could not be deleted.',
);

builder.mutationField('deleteWebhook', (t) =>
  t.field({
    type: DeleteWebhookPayload,
    authScopes: { admin: true },
    description:
      'Deletes a webhook (ADMIN only): nothing more is queued or sent to it, and its pending deliveries end FAILED; its delivery log stays readable. NOT_FOUND for an unknown or already deleted webhook.',
    args: { input: t.arg({ type: DeleteWebhookInput, required: true, description: 'Which webhook to delete.' }) },
    resolve: (_root, { input }) => runMutation(async () => ({ deletedId: await deleteWebhook(input.id.id) })),
  }),
);
