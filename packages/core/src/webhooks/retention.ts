import { sql } from 'drizzle-orm';
import { useTenantId, useTransaction } from '../drizzle/transaction';
import { webhookDeliveries } from './deliveries.sql';
import { webhooks } from './webhooks.sql';

/**
 * Deletes up to `limit` of the current tenant's finished deliveries (DELIVERED or FAILED) created
 * before `cutoff`; a PENDING one is the outbox and is never removed. Webhook by webhook (deleted
 * ones too), so each step is a range of the (tenant, webhook, created_at) index rather than a scan
 * of every tenant's deliveries. Returns how many went.
 */
export async function pruneWebhookDeliveries(cutoff: Date, limit: number): Promise<number> {
  const { rows } = await useTransaction().execute<{ n: number }>(sql`
    with doomed as (
      select d.tenant_id, d.id
      from ${webhooks} w
      cross join lateral (
        select tenant_id, id from ${webhookDeliveries}
        where tenant_id = w.tenant_id and webhook_id = w.id
          and created_at < ${cutoff.toISOString()} and status <> 'PENDING'
      ) d
      where w.tenant_id = ${useTenantId()}
      limit ${limit}
    ), gone as (
      delete from ${webhookDeliveries} where (tenant_id, id) in (select tenant_id, id from doomed) returning 1
    )
    select count(*)::int as n from gone`);
  return Number(rows[0]?.n ?? 0);
}
