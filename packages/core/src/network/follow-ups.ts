import { sql } from 'drizzle-orm';
import { currentTenant, defaultTenantSettings } from '../access';
import { useTenantId, useTransaction } from '../drizzle/transaction';
import { UserError } from '../errors';
import { calendarDate, todayUtc } from '../validation';
import type { PartyKind } from './enums';
import { interactions } from './interactions.sql';
import { parties } from './parties.sql';

export const followUpReasons = ['BIRTHDAY', 'NO_RECENT_INTERACTION'] as const;
export type FollowUpReason = (typeof followUpReasons)[number];

/**
 * The kinds a sales team calls back when contact lapses (回访): buyers, would-be buyers and the
 * firms it works with. Social-media contacts are an audience, not accounts, so only their
 * birthdays make the list.
 */
export const followUpKinds: readonly PartyKind[] = ['CUSTOMER', 'PROSPECT', 'PARTNER'];

/** The longest list handed out at once: a day's work, not an export. */
export const maxFollowUps = 500;

export interface FollowUp {
  partyId: string;
  reason: FollowUpReason;
  /** YYYY-MM-DD (UTC). */
  dueOn: string;
  /** The party's latest interaction on or before today, whatever the reason. */
  lastInteractionAt: Date | null;
  /** Whole UTC days from the latest interaction to today; null when there was none. */
  daysSinceInteraction: number | null;
}

export interface FollowUpList {
  followUps: FollowUp[];
  /** True when more than `maxFollowUps` were due and the list was cut. */
  truncated: boolean;
}

/**
 * The 回访 work list as of `today` (UTC, default the real today), ordered by due date then party:
 * - BIRTHDAY: every non-archived party whose next birthday falls in today … today + withinDays
 *   (a 29 February birthday is kept on 28 February in other years);
 * - NO_RECENT_INTERACTION: every non-archived party of `followUpKinds` whose latest interaction
 *   (or, with none, its creation) is at least the tenant's `followUpDays` ago; due that many days
 *   after it, overdue ones included.
 * One statement for the whole tenant, whatever its size.
 */
export async function dueFollowUps(options: { withinDays?: number; today?: string } = {}): Promise<FollowUpList> {
  const withinDays = options.withinDays ?? 14;
  if (!Number.isInteger(withinDays) || withinDays < 0 || withinDays > 366) {
    throw UserError.of('VALIDATION', 'withinDays is 0 to 366', ['withinDays']);
  }
  const today = options.today ?? todayUtc();
  if (!calendarDate().safeParse(today).success) throw UserError.of('VALIDATION', 'today is a date, YYYY-MM-DD', ['today']);
  const tenant = await currentTenant();
  // Tenants created before the setting existed have no value stored: the default applies.
  const followUpDays = tenant.settings.followUpDays ?? defaultTenantSettings().followUpDays;
  const day = sql`${today}::date`;
  const kinds = sql.join(followUpKinds.map((kind) => sql`${kind}`), sql`, `);
  const { rows } = await useTransaction().execute<{
    party_id: string;
    reason: FollowUpReason;
    due_on: string;
    last_interaction_at: string | null;
    days_since: number | string | null;
  }>(sql`
    with base as (
      select p.id, p.kind, p.birthday, p.created_at, latest.last_at
      from ${parties} p
      left join lateral (
        -- Served by interactions_party_occurred_idx; later interactions do not count "as of today".
        select max(i.occurred_at) as last_at from ${interactions} i
        where i.tenant_id = p.tenant_id and i.party_id = p.id
          and i.occurred_at < ((${day} + 1)::timestamp at time zone 'UTC')
      ) latest on true
      where p.tenant_id = ${useTenantId()} and p.archived_at is null
        and (p.birthday is not null or p.kind in (${kinds}))
    ),
    due as (
      select b.id as party_id, 'BIRTHDAY' as reason, nb.on_date as due_on, b.last_at
      from base b
      cross join lateral (
        -- The birthday this year and next, clamped to the month's last day (29 Feb → 28 Feb in a
        -- common year); the first not before today is the next one.
        select min(c.on_date) as on_date from (
          select least(
            make_date(ys.y, extract(month from b.birthday)::int, 1) + (extract(day from b.birthday)::int - 1),
            (make_date(ys.y, extract(month from b.birthday)::int, 1) + interval '1 month')::date - 1
          ) as on_date
          from (values (extract(year from ${day})::int), (extract(year from ${day})::int + 1)) as ys(y)
        ) c
        where c.on_date >= ${day}
      ) nb
      where b.birthday is not null and nb.on_date <= ${day} + ${withinDays}::int
      union all
      select b.id, 'NO_RECENT_INTERACTION',
        coalesce((b.last_at at time zone 'UTC')::date, (b.created_at at time zone 'UTC')::date) + ${followUpDays}::int,
        b.last_at
      from base b
      where b.kind in (${kinds})
    )
    select party_id::text as party_id, reason, due_on::text as due_on,
      to_char(last_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as last_interaction_at,
      ${day} - (last_at at time zone 'UTC')::date as days_since
    from due
    -- domain: a lapsed contact is due from the day it reaches followUpDays, and stays due (overdue).
    where reason = 'BIRTHDAY' or due_on <= ${day}
    order by due_on, party_id, reason
    limit ${maxFollowUps + 1}`);
  return {
    followUps: rows.slice(0, maxFollowUps).map((row) => ({
      partyId: row.party_id,
      reason: row.reason,
      dueOn: row.due_on,
      lastInteractionAt: row.last_interaction_at ? new Date(row.last_interaction_at) : null,
      daysSinceInteraction: row.days_since === null ? null : Number(row.days_since),
    })),
    truncated: rows.length > maxFollowUps,
  };
}
