import { and, arrayOverlaps, count, desc, eq, inArray, isNull, sql, type SQL } from 'drizzle-orm';
import * as z from 'zod';
import { actorColumns } from '../actor';
import { recordAudit } from '../audit';
import { useTenantId, useTransaction } from '../drizzle/transaction';
import { UserError } from '../errors';
import { isUuid, uuidv7 } from '../ids';
import { decodeCursor, encodeCursor, type PageRequest } from '../pagination';
import { lazySchema, optionalText, parseInput } from '../validation';
import { webhookDeliveries } from './deliveries.sql';
import { isEventPattern, patternsMatching, webhookEvents, type WebhookEvent } from './events';
import { generateWebhookSecret } from './signature';
import { refuseTarget, type TargetPolicy } from './targets';
import { webhooks } from './webhooks.sql';

export { webhooks } from './webhooks.sql';
export { webhookDeliveries, webhookDeliveryStatuses, type WebhookDeliveryStatus } from './deliveries.sql';
export * from './events';
export * from './signature';
export * from './targets';
export * from './worker';

export type WebhookRow = typeof webhooks.$inferSelect;
export type WebhookDeliveryRow = typeof webhookDeliveries.$inferSelect;

const createWebhookInput = lazySchema(() =>
  z.object({
    url: z.string().trim().min(1, 'URL must not be blank').max(2000, 'URL is at most 2000 characters'),
    events: z
      .array(z.string().trim())
      .min(1, 'Subscribe to at least one event')
      .max(20, 'At most 20 events')
      .refine((events) => events.every(isEventPattern), {
        message: `Events are among ${webhookEvents.join(', ')}, a family wildcard such as referral.*, or *`,
      })
      .transform((events) => [...new Set(events)]),
    description: optionalText(500, 'Description'),
  }),
);
export type CreateWebhookInput = z.input<ReturnType<typeof createWebhookInput>>;

/** A new subscription. The signing secret is in the result and shown nowhere else. */
export async function createWebhook(
  input: CreateWebhookInput,
  policy: TargetPolicy = {},
): Promise<{ webhook: WebhookRow; secret: string }> {
  const data = parseInput(createWebhookInput(), input);
  const refusal = await refuseTarget(data.url, policy);
  if (refusal) throw UserError.of('VALIDATION', refusal, 'url');
  const secret = generateWebhookSecret();
  const actor = actorColumns();
  const [webhook] = await useTransaction()
    .insert(webhooks)
    .values({
      tenantId: useTenantId(),
      id: uuidv7(),
      url: data.url,
      events: data.events,
      description: data.description ?? null,
      secret,
      createdBy: `${actor.actorKind}:${actor.actorId}`,
    })
    .returning();
  // The host, not the URL: a URL's path or query may carry a partner's token.
  await recordAudit({
    operation: 'createWebhook',
    entityType: 'Webhook',
    entityIds: [webhook!.id],
    details: { host: new URL(data.url).host, events: data.events },
  });
  return { webhook: webhook!, secret };
}

/** Soft delete: the delivery log stays readable; nothing more is queued or sent for it. */
export async function deleteWebhook(id: string): Promise<string> {
  if (!isUuid(id)) throw UserError.of('NOT_FOUND', 'No such webhook', 'id');
  const [webhook] = await useTransaction()
    .update(webhooks)
    .set({ deletedAt: sql`now()` })
    .where(and(eq(webhooks.tenantId, useTenantId()), eq(webhooks.id, id), isNull(webhooks.deletedAt)))
    .returning({ id: webhooks.id });
  if (!webhook) throw UserError.of('NOT_FOUND', 'No such webhook', 'id');
  await recordAudit({ operation: 'deleteWebhook', entityType: 'Webhook', entityIds: [id] });
  return id;
}

/** The tenant's active webhooks, newest first. */
export async function listWebhooks(): Promise<WebhookRow[]> {
  return useTransaction()
    .select()
    .from(webhooks)
    .where(and(eq(webhooks.tenantId, useTenantId()), isNull(webhooks.deletedAt)))
    .orderBy(desc(webhooks.createdAt), desc(webhooks.id));
}

export async function findWebhooks(ids: readonly string[]): Promise<WebhookRow[]> {
  if (ids.length === 0) return [];
  return useTransaction()
    .select()
    .from(webhooks)
    .where(and(eq(webhooks.tenantId, useTenantId()), inArray(webhooks.id, [...ids])));
}

/**
 * Queues `event` for every active webhook of the tenant subscribed to it, in the CURRENT
 * transaction (the transactional outbox): the rows commit with the change or not at all. One
 * statement whatever the number of webhooks. `data` must be JSON; keep personal fields out of it
 * where ids suffice (an erasure redacts them here anyway).
 */
export async function emitEvent(event: WebhookEvent, data: Record<string, unknown>): Promise<void> {
  await useTransaction().execute(sql`
    insert into ${webhookDeliveries} (tenant_id, id, webhook_id, event, payload)
    select ${webhooks.tenantId}, gen_random_uuid(), ${webhooks.id}, ${event}, ${JSON.stringify(data)}::jsonb
    from ${webhooks}
    where ${listening(useTenantId(), event)}`);
}

/** The tenant's active webhooks subscribed to `event` (by name, family wildcard or `*`). */
function listening(tenantId: string, event: WebhookEvent): SQL {
  return and(eq(webhooks.tenantId, tenantId), isNull(webhooks.deletedAt), arrayOverlaps(webhooks.events, patternsMatching(event)))!;
}

/**
 * The same webhooks as a row source (`id`, `tenant_id`), for set-based statements that queue one
 * delivery per changed row in the statement that makes the change (the stage policy, scoring).
 */
export function listeningWebhooks(tenantId: string, event: WebhookEvent): SQL {
  return sql`(select ${webhooks.id} as id, ${webhooks.tenantId} as tenant_id from ${webhooks} where ${listening(tenantId, event)})`;
}

/** Whether any active webhook of the tenant listens to `event` (to skip work no one will read). */
export async function hasSubscribers(event: WebhookEvent): Promise<boolean> {
  const [row] = await useTransaction().select({ n: count() }).from(webhooks).where(listening(useTenantId(), event));
  return Number(row?.n ?? 0) > 0;
}

/** The cursor of a delivery in the log (newest first). */
export function deliveryCursor(row: WebhookDeliveryRow): string {
  return encodeCursor(['delivery', row.createdAt.toISOString(), row.id]);
}

function deliveryConditions(webhookId: string) {
  return [eq(webhookDeliveries.tenantId, useTenantId()), eq(webhookDeliveries.webhookId, webhookId)];
}

/** One page of a webhook's delivery log, newest first, keyset-paginated. */
export async function listWebhookDeliveries(webhookId: string, page: PageRequest): Promise<WebhookDeliveryRow[]> {
  const conditions = deliveryConditions(webhookId);
  const boundary = (cursor: string, side: 'after' | 'before') => {
    const [kind, at, id] = decodeCursor(cursor, 3);
    if (kind !== 'delivery' || typeof at !== 'string' || typeof id !== 'string' || !isUuid(id)) {
      throw UserError.of('VALIDATION', 'The cursor belongs to another list', []);
    }
    // Newest first: "after" a cursor means older.
    const beyond = side === 'after' ? sql`<` : sql`>`;
    return sql`(${webhookDeliveries.createdAt}, ${webhookDeliveries.id}) ${beyond} (${at}::timestamptz, ${id}::uuid)`;
  };
  if (page.after) conditions.push(boundary(page.after, 'after'));
  if (page.before) conditions.push(boundary(page.before, 'before'));
  const direction = page.inverted ? sql`asc` : sql`desc`;
  return useTransaction()
    .select()
    .from(webhookDeliveries)
    .where(and(...conditions))
    .orderBy(sql`${webhookDeliveries.createdAt} ${direction}`, sql`${webhookDeliveries.id} ${direction}`)
    .limit(page.limit);
}

/** The current tenant's deliveries with these ids, whichever their webhook (unknown ids are left out). */
export async function findWebhookDeliveries(ids: readonly string[]): Promise<WebhookDeliveryRow[]> {
  if (ids.length === 0) return [];
  return useTransaction()
    .select()
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.tenantId, useTenantId()), inArray(webhookDeliveries.id, [...ids])));
}

export async function countWebhookDeliveries(webhookId: string): Promise<number> {
  const [row] = await useTransaction()
    .select({ n: count() })
    .from(webhookDeliveries)
    .where(and(...deliveryConditions(webhookId)));
  return row?.n ?? 0;
}
