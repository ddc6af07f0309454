import { sql } from 'drizzle-orm';
import { actorColumns } from '../actor';
import { currentTenant } from '../access';
import { recordAudit } from '../audit';
import { useTenantId, useTransaction } from '../drizzle/transaction';
import { UserError } from '../errors';
import { calendarDate } from '../validation';
import { listeningWebhooks, type WebhookEvent } from '../webhooks';

/** domain: the rules that explain automatic moves (the `rule` of a StageTransition). */
export const stageRules = [
  'FIRST_SATISFYING_ORDER',
  'LOYAL_AFTER',
  'LONG_TERM',
  'DORMANT_AFTER',
  'CHURNED_AFTER',
  'DORMANT_WAKE_UP',
] as const;
export type StageRule = (typeof stageRules)[number];

// domain: ≥ 365 days since the first order and ≥ 6 orders in the last 365 days → long-term.
const longTermDays = 365;
const longTermOrders = 6;

export type StagePolicyResult = Record<StageRule, number> & { parties: number };

/**
 * Moves every party the tenant's stage policy says should move, as of the end of day `asOf`
 * (UTC), in one set-based statement: facts per party from orders, interactions and manual moves;
 * then each party's chain of moves (a wake-up, forward steps, dormancy, churn), each step its own
 * history row explained by its rule; then the parties' current stage.
 *
 * Choices where the domain is silent:
 * - the forward ladder is sequential (trust needs a satisfying order; loyalty needs `loyalAfter`
 *   of them; long-term needs loyalty plus the long-term rule), and a run takes a party as far as
 *   the rules allow, one history row per step, so a second run the same day has nothing to do;
 * - forward rules count orders placed after the party's last manual move, so a manual step back
 *   (with its reason) or a win-back is not undone by the next night's run on old evidence;
 * - silence counts from the latest of creation, last order, last interaction and last manual move;
 * - a CHURNED party only leaves by the manual win-back; a new order does not revive it.
 */
export async function applyStagePolicy(asOf: string): Promise<StagePolicyResult> {
  if (!calendarDate().safeParse(asOf).success) throw UserError.of('VALIDATION', 'asOf is a date, YYYY-MM-DD', ['asOf']);
  const tenant = await currentTenant();
  const { loyalAfter, dormantAfterDays, churnedAfterDays } = tenant.settings.stagePolicy;
  const tenantId = useTenantId();
  const actor = actorColumns();
  const stageChanged: WebhookEvent = 'stage.changed';
  const forward = sql`array['INITIAL_CONTACT','TRUST_BUILDING','LOYALTY_GROWTH','LONG_TERM_PARTNERSHIP']::stage[]`;
  const { rows } = await useTransaction().execute<{ rule: StageRule | null; n: number }>(sql`
    with clock as (
      select (${asOf}::date + 1)::timestamp at time zone 'UTC' as cutoff,
             least(now(), (${asOf}::date + 1)::timestamp at time zone 'UTC' - interval '1 millisecond') as run_at
    ),
    p as (
      select p.id, p.stage, p.stage_changed_at, p.dormant_from_stage, p.created_at
      from parties p, clock
      where p.tenant_id = ${tenantId} and p.archived_at is null and p.created_at < clock.cutoff
    ),
    manual as (
      select t.party_id, max(t.at) as last_manual
      from stage_transitions t, clock
      where t.tenant_id = ${tenantId} and not t.automatic and t.from_stage is not null and t.at < clock.cutoff
      group by t.party_id
    ),
    o as (
      select o.party_id,
             count(*) filter (where (o.satisfaction is null or o.satisfaction >= 4)
                                and (m.last_manual is null or o.placed_at > m.last_manual)) as satisfying,
             min(o.placed_at) filter (where m.last_manual is null or o.placed_at > m.last_manual) as first_order,
             count(*) filter (where o.placed_at >= clock.cutoff - interval '${sql.raw(String(longTermDays))} days'
                                and (m.last_manual is null or o.placed_at > m.last_manual)) as recent_orders,
             max(o.placed_at) as last_order
      from orders o cross join clock left join manual m on m.party_id = o.party_id
      -- domain (refunds): an order fully refunded by the day counts as no order.
      left join (
        select f.order_id, sum(f.amount) as refunded
        from order_refunds f, clock
        where f.tenant_id = ${tenantId} and f.created_at < clock.cutoff
        group by f.order_id
      ) f on f.order_id = o.id
      where o.tenant_id = ${tenantId} and o.placed_at < clock.cutoff and (f.refunded is null or f.refunded < o.amount)
      group by o.party_id
    ),
    i as (
      select i.party_id, max(i.occurred_at) as last_interaction
      from interactions i, clock
      where i.tenant_id = ${tenantId} and i.occurred_at < clock.cutoff
      group by i.party_id
    ),
    facts as (
      select p.*, coalesce(o.satisfying, 0) as satisfying, o.first_order, coalesce(o.recent_orders, 0) as recent_orders,
             greatest(p.created_at, o.last_order, i.last_interaction, manual.last_manual) as last_activity,
             -- domain: a new order from a DORMANT party returns it to the stage it left.
             (p.stage = 'DORMANT' and o.last_order > p.stage_changed_at) as wakes
      from p
      left join o on o.party_id = p.id
      left join i on i.party_id = p.id
      left join manual on manual.party_id = p.id
    ),
    woken as (
      select f.*, case when f.wakes then coalesce(f.dormant_from_stage, 'INITIAL_CONTACT') else f.stage end as stage1
      from facts f
    ),
    targets as (
      select w.*,
             array_position(${forward}, w.stage1) as ord1,
             case
               when w.satisfying >= ${loyalAfter} and w.first_order <= clock.cutoff - interval '${sql.raw(String(longTermDays))} days'
                    and w.recent_orders >= ${longTermOrders} then 4
               when w.satisfying >= ${loyalAfter} then 3
               when w.satisfying >= 1 then 2
               else 1
             end as rule_ord,
             floor(extract(epoch from (clock.run_at - w.last_activity)) / 86400) as silent_days
      from woken w, clock
    ),
    steps as (
      select id as party_id, 1 as seq, stage1 as to_stage, 'DORMANT_WAKE_UP' as rule from targets where wakes
      union all
      select t.id, 1 + g, (${forward})[g],
             case g when 2 then 'FIRST_SATISFYING_ORDER' when 3 then 'LOYAL_AFTER' else 'LONG_TERM' end
      from targets t cross join lateral generate_series(t.ord1 + 1, t.rule_ord) as g
      where t.ord1 is not null and t.rule_ord > t.ord1
      union all
      select id, 10, 'DORMANT'::stage, 'DORMANT_AFTER' from targets
      where silent_days >= ${dormantAfterDays} and ord1 is not null
      union all
      select id, 11, 'CHURNED'::stage, 'CHURNED_AFTER' from targets
      where silent_days >= ${churnedAfterDays} and stage1 <> 'CHURNED'
    ),
    moves as (
      select s.party_id, s.to_stage, s.rule,
             coalesce(lag(s.to_stage) over chain, t.stage) as from_stage,
             clock.run_at + (row_number() over chain - 1) * interval '1 millisecond' as at,
             case when row_number() over chain = 1
                  then greatest(0, floor(extract(epoch from (clock.run_at - t.stage_changed_at))))::bigint
                  else 0 end as seconds_in_previous,
             row_number() over chain as step
      from steps s join targets t on t.id = s.party_id cross join clock
      window chain as (partition by s.party_id order by s.seq)
    ),
    inserted as (
      insert into stage_transitions
        (tenant_id, id, party_id, from_stage, to_stage, at, actor_kind, actor_id, reason, seconds_in_previous, automatic, rule)
      select ${tenantId}, gen_random_uuid(), party_id, from_stage, to_stage, at,
             ${actor.actorKind}, ${actor.actorId}, null, seconds_in_previous, true, rule
      from moves
      returning party_id
    ),
    -- domain: partners subscribed to stage.changed hear of every automatic move (outbox, same transaction).
    events as (
      insert into webhook_deliveries (tenant_id, id, webhook_id, event, payload)
      select w.tenant_id, gen_random_uuid(), w.id, ${stageChanged},
             jsonb_build_object('party', jsonb_build_object('id', m.party_id), 'from', m.from_stage, 'to', m.to_stage,
                                'automatic', true, 'rule', m.rule, 'at', m.at)
      from moves m cross join ${listeningWebhooks(tenantId, stageChanged)} w
      returning 1
    ),
    final as (
      select distinct on (party_id) party_id, to_stage, from_stage, at from moves order by party_id, step desc
    ),
    updated as (
      update parties p
      set stage = final.to_stage,
          stage_changed_at = final.at,
          dormant_from_stage = case when final.to_stage = 'DORMANT' then final.from_stage else null end,
          updated_at = greatest(p.updated_at, final.at)
      from final
      where p.tenant_id = ${tenantId} and p.id = final.party_id
      returning p.id
    )
    select rule, count(*)::int as n from moves group by rule
    union all
    select null, (select count(*)::int from updated) + 0 * (select count(*) from inserted) + 0 * (select count(*) from events)`);
  const result = Object.fromEntries(stageRules.map((rule) => [rule, 0])) as StagePolicyResult;
  result.parties = 0;
  for (const row of rows) {
    if (row.rule) result[row.rule] = Number(row.n);
    else result.parties = Number(row.n);
  }
  // One entry per run (each move is in stage_transitions): who ran the policy, for which day.
  await recordAudit({ operation: 'applyStagePolicy', entityType: 'Tenant', entityIds: [tenantId], details: { asOf, ...result } });
  return result;
}
