import { and, count, eq, inArray, sql } from 'drizzle-orm';
import * as z from 'zod';
import { actorColumns } from '../actor';
import { recordAudit } from '../audit';
import { useTenantId, useTransaction } from '../drizzle/transaction';
import { UserError } from '../errors';
import { isUuid, uuidv7 } from '../ids';
import { descendingPage, encodeCursor, rowsByParty, type PageRequest, type PartyRows } from '../pagination';
import type { ActorKind } from '../stages/enums';
import { lazySchema, optionalText, parseInput } from '../validation';
import { interactionKinds, type InteractionKind } from './enums';
import { interactions } from './interactions.sql';
import { clockSkewMs, decodeTimelineCursor, satisfaction } from './orders';
import { requireParty } from './parties';

export type InteractionRow = typeof interactions.$inferSelect;

const recordInteractionInput = lazySchema(() =>
  z.object({
    partyId: z.string(),
    kind: z.enum(interactionKinds, { message: `Kind is one of ${interactionKinds.join(', ')}` }),
    occurredAt: z
      .date()
      // A touchpoint is logged after it happened; "in a minute" is only a clock running fast.
      .refine((date) => date.getTime() <= Date.now() + clockSkewMs, 'An interaction cannot be in the future')
      .nullish(),
    satisfaction: satisfaction().nullish(),
    note: optionalText(2000, 'Note'),
  }),
);

export type RecordInteractionInput = z.input<ReturnType<typeof recordInteractionInput>>;

/**
 * Logs a touchpoint with a party (call, visit, care, complaint…), signed by the current actor.
 * domain: interactions feed engagement, keep a party out of DORMANT and reset its follow-up clock.
 */
export async function recordInteraction(input: RecordInteractionInput): Promise<InteractionRow> {
  const data = parseInput(recordInteractionInput(), input);
  if (!isUuid(data.partyId)) throw UserError.of('NOT_FOUND', 'No such party', 'partyId');
  const party = await requireParty(data.partyId, 'partyId');
  // Archived covers merged parties too: their history now belongs to the party they were merged into.
  if (party.archivedAt) throw UserError.of('CONFLICT', 'The party is archived; restore it before recording interactions', 'partyId');
  if (party.erasedAt) throw UserError.of('CONFLICT', "This party's personal data was erased", 'partyId');
  const now = new Date();
  const [interaction] = await useTransaction()
    .insert(interactions)
    .values({
      tenantId: useTenantId(),
      id: uuidv7(now.getTime()),
      partyId: party.id,
      kind: data.kind,
      occurredAt: data.occurredAt ?? now,
      satisfaction: data.satisfaction ?? null,
      note: data.note ?? null,
      ...actorColumns(),
      createdAt: now,
    })
    .returning();
  await recordAudit({
    operation: 'recordInteraction',
    entityType: 'Interaction',
    entityIds: [interaction!.id, party.id],
    details: { kind: data.kind },
  });
  return interaction!;
}

/** The current tenant's interactions among `ids` (any order; ids of other tenants find nothing). */
export async function findInteractions(ids: readonly string[]): Promise<InteractionRow[]> {
  const valid = ids.filter(isUuid);
  if (valid.length === 0) return [];
  return useTransaction()
    .select()
    .from(interactions)
    .where(and(eq(interactions.tenantId, useTenantId()), inArray(interactions.id, valid)));
}

export function interactionCursor(row: InteractionRow): string {
  return encodeCursor([row.occurredAt.toISOString(), row.id]);
}

/**
 * One page of interactions for each of many parties, most recent `occurredAt` first (ties by id):
 * one statement for the whole batch, a window function numbering each party's interactions.
 */
export async function interactionPages(partyIds: readonly string[], page: PageRequest): Promise<PartyRows<InteractionRow>[]> {
  const ids = partyIds.filter(isUuid);
  if (ids.length === 0) return rowsByParty(partyIds, []);
  const { bound, direction } = descendingPage(page, sql`(i.occurred_at, i.id)`, (cursor) => {
    const { at, id } = decodeTimelineCursor(cursor);
    return sql`(${at}::timestamptz, ${id}::uuid)`;
  });
  const { rows } = await useTransaction().execute<Record<string, unknown> & { party_id: string }>(sql`
    select * from (
      select ${interactionColumns}, row_number() over (partition by i.party_id order by i.occurred_at ${direction}, i.id ${direction}) as n
      from ${interactions} i
      where i.tenant_id = ${useTenantId()}
        and i.party_id in (${sql.join(ids.map((id) => sql`${id}::uuid`), sql`, `)})
        and ${bound}
    ) ranked
    where n <= ${page.limit}
    order by party_id, n`);
  return rowsByParty(partyIds, rows.map((row) => [row.party_id, toInteractionRow(row)]));
}

/** Interaction counts for many parties at once (for `totalCount`), one statement. */
export async function interactionCounts(partyIds: readonly string[]): Promise<Map<string, number>> {
  const ids = partyIds.filter(isUuid);
  if (ids.length === 0) return new Map();
  const rows = await useTransaction()
    .select({ partyId: interactions.partyId, n: count() })
    .from(interactions)
    .where(and(eq(interactions.tenantId, useTenantId()), inArray(interactions.partyId, ids)))
    .groupBy(interactions.partyId);
  return new Map(rows.map((row) => [row.partyId, Number(row.n)]));
}

/**
 * The columns of `interactions i` as text in fixed formats: raw statements bypass drizzle's column
 * mapping, and each driver would otherwise parse dates its own way.
 */
const interactionColumns = sql.raw(`i.tenant_id::text as tenant_id, i.id::text as id, i.party_id::text as party_id,
  i.kind::text as kind,
  to_char(i.occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as occurred_at,
  i.satisfaction::int as satisfaction, i.note, i.actor_kind::text as actor_kind, i.actor_id,
  to_char(i.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as created_at`);

function toInteractionRow(row: Record<string, unknown>): InteractionRow {
  return {
    tenantId: String(row.tenant_id),
    id: String(row.id),
    partyId: String(row.party_id),
    kind: row.kind as InteractionKind,
    occurredAt: new Date(String(row.occurred_at)),
    satisfaction: row.satisfaction === null || row.satisfaction === undefined ? null : Number(row.satisfaction),
    note: (row.note as string | null) ?? null,
    actorKind: row.actor_kind as ActorKind,
    actorId: (row.actor_id as string | null) ?? null,
    createdAt: new Date(String(row.created_at)),
  };
}
