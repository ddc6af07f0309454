import { sql } from 'drizzle-orm';
import { useTenantId, useTransaction } from '../drizzle/transaction';
import { isUuid } from '../ids';
import { decodeTimelineCursor } from '../network/orders';
import { descendingPage, encodeCursor, rowsByParty, uuidList, type PageRequest, type PartyRows } from '../pagination';
import type { PointsEntryRow } from './lots';
import type { PointsEntryKind, PointsSource } from './points.sql';

// Raw statements bypass drizzle's column mapping: columns as text in fixed formats.
const timestamp = (column: string) => `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
const entryColumns = sql.raw(`e.tenant_id::text as tenant_id, e.id::text as id, e.party_id::text as party_id,
  e.kind::text as kind, e.points, ${timestamp('e.at')} as at, e.source::text as source,
  e.order_id::text as order_id, e.referral_id::text as referral_id, e.actor_kind::text as actor_kind, e.actor_id,
  e.reason, e.idempotency_key, ${timestamp('e.available_at')} as available_at, ${timestamp('e.expires_at')} as expires_at`);

const dateOrNull = (value: unknown) => (value === null || value === undefined ? null : new Date(String(value)));

function toEntry(row: Record<string, unknown>): PointsEntryRow {
  return {
    tenantId: String(row.tenant_id),
    id: String(row.id),
    partyId: String(row.party_id),
    kind: row.kind as PointsEntryKind,
    points: Number(row.points),
    at: new Date(String(row.at)),
    source: row.source as PointsSource,
    orderId: (row.order_id as string | null) ?? null,
    referralId: (row.referral_id as string | null) ?? null,
    actorKind: row.actor_kind as PointsEntryRow['actorKind'],
    actorId: (row.actor_id as string | null) ?? null,
    reason: (row.reason as string | null) ?? null,
    idempotencyKey: (row.idempotency_key as string | null) ?? null,
    availableAt: dateOrNull(row.available_at),
    expiresAt: dateOrNull(row.expires_at),
  };
}

export function pointsEntryCursor(row: PointsEntryRow): string {
  return encodeCursor([row.at.toISOString(), row.id]);
}

/** Each party's ledger, newest first (ties by id), one statement for a whole page of parties. */
export async function pointsLedgerPages(partyIds: readonly string[], page: PageRequest): Promise<PartyRows<PointsEntryRow>[]> {
  const ids = partyIds.filter(isUuid);
  if (ids.length === 0) return rowsByParty(partyIds, []);
  const { bound, direction } = descendingPage(page, sql`(e.at, e.id)`, (cursor) => {
    const { at, id } = decodeTimelineCursor(cursor);
    return sql`(${at}::timestamptz, ${id}::uuid)`;
  });
  const { rows } = await useTransaction().execute<Record<string, unknown>>(sql`
    select * from (
      select ${entryColumns}, row_number() over (partition by e.party_id order by e.at ${direction}, e.id ${direction}) as n
      from points_entries e
      where e.tenant_id = ${useTenantId()} and e.party_id in ${uuidList(ids)} and ${bound}
    ) ranked
    where n <= ${page.limit}
    order by party_id, n`);
  return rowsByParty(partyIds, rows.map((row) => [String(row.party_id), toEntry(row)]));
}

export async function pointsLedgerCounts(partyIds: readonly string[]): Promise<Map<string, number>> {
  const ids = partyIds.filter(isUuid);
  if (ids.length === 0) return new Map();
  const { rows } = await useTransaction().execute<{ party_id: string; n: number }>(sql`
    select e.party_id::text as party_id, count(*)::int as n from points_entries e
    where e.tenant_id = ${useTenantId()} and e.party_id in ${uuidList(ids)}
    group by e.party_id`);
  return new Map(rows.map((row) => [row.party_id, Number(row.n)]));
}

/** The current tenant's entries with these ids (unknown ids are left out). */
export async function findPointsEntries(ids: readonly string[]): Promise<PointsEntryRow[]> {
  const valid = ids.filter(isUuid);
  if (valid.length === 0) return [];
  const { rows } = await useTransaction().execute<Record<string, unknown>>(sql`
    select ${entryColumns} from points_entries e where e.tenant_id = ${useTenantId()} and e.id in ${uuidList(valid)}`);
  return rows.map(toEntry);
}
