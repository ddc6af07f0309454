import { and, eq, inArray, or, sql, type SQL } from 'drizzle-orm';
import * as z from 'zod';
import { recordAudit } from '../audit';
import { useTenantId, useTransaction } from '../drizzle/transaction';
import { UserError } from '../errors';
import { isUuid, uuidv7 } from '../ids';
import { decodeCursor, descendingPage, encodeCursor, firstPageJson, rowsByParty, rowsFromJson, uuidList, type CorrelatedParty, type PageRequest, type PartyRows } from '../pagination';
import { calendarDate, lazySchema, optionalText, parseInput, todayUtc } from '../validation';
import { directedRelationshipTypes, relationshipTypes, type RelationshipType } from './enums';
import { requireParty } from './parties';
import { relationships } from './relationships.sql';

export type RelationshipRow = typeof relationships.$inferSelect;

const strength = lazySchema(() =>
  z.number().int('Strength is a whole number').min(1, 'Strength is 1 to 5').max(5, 'Strength is 1 to 5'),
);

const connectInput = lazySchema(() =>
  z
    .object({
      fromId: z.string(),
      toId: z.string(),
      type: z.enum(relationshipTypes, { message: `Type is one of ${relationshipTypes.join(', ')}` }),
      strength: strength().nullish(),
      label: optionalText(100, 'Label'),
      since: calendarDate().nullish(),
      until: calendarDate().nullish(),
    })
    .superRefine((input, ctx) => {
      // domain: REFERRED edges are made by referrals, never by hand.
      if (input.type === 'REFERRED') {
        ctx.addIssue({ code: 'custom', path: ['type'], message: 'REFERRED edges are created by createReferral' });
      }
      if (input.fromId === input.toId) {
        ctx.addIssue({ code: 'custom', path: ['toId'], message: 'A party cannot be connected to itself' });
      }
      if (input.since && input.until && input.since > input.until) {
        ctx.addIssue({ code: 'custom', path: ['until'], message: 'Until must not be before since' });
      }
    }),
);

export type ConnectPartiesInput = z.input<ReturnType<typeof connectInput>>;

/** The same edge, whichever way round a symmetric one is given (domain: stored once). */
function samePair(type: RelationshipType, fromId: string, toId: string): SQL {
  const tenantId = useTenantId();
  const direct = and(eq(relationships.fromPartyId, fromId), eq(relationships.toPartyId, toId));
  const pair = directedRelationshipTypes.includes(type)
    ? direct
    : or(direct, and(eq(relationships.fromPartyId, toId), eq(relationships.toPartyId, fromId)));
  return and(eq(relationships.tenantId, tenantId), eq(relationships.type, type), pair)!;
}

/** Creates a typed edge; refuses a self-edge, a manual REFERRED edge and a duplicate. */
export async function connectParties(input: ConnectPartiesInput): Promise<RelationshipRow> {
  const data = parseInput(connectInput(), input);
  await requireParty(data.fromId, 'fromId');
  await requireParty(data.toId, 'toId');
  const tx = useTransaction();
  const [existing] = await tx.select({ id: relationships.id }).from(relationships).where(samePair(data.type, data.fromId, data.toId));
  if (existing) {
    throw UserError.of('CONFLICT', `These parties already have a ${data.type} relationship`, 'toId');
  }
  const inserted = await tx
    .insert(relationships)
    .values({
      tenantId: useTenantId(),
      id: uuidv7(),
      type: data.type,
      fromPartyId: data.fromId,
      toPartyId: data.toId,
      strength: data.strength ?? 3,
      label: data.label ?? null,
      since: data.since ?? null,
      until: data.until ?? null,
    })
    // A concurrent twin may have won the race since the check above: the unique index decides.
    .onConflictDoNothing()
    .returning();
  const relationship = inserted[0];
  if (!relationship) {
    throw UserError.of('CONFLICT', `These parties already have a ${data.type} relationship`, 'toId');
  }
  await recordAudit({
    operation: 'connectParties',
    entityType: 'Relationship',
    entityIds: [relationship.id, data.fromId, data.toId],
    details: { type: data.type },
  });
  return relationship;
}

const updateInput = lazySchema(() =>
  z
    .object({
      strength: strength().nullish(),
      label: optionalText(100, 'Label'),
      since: calendarDate().nullish(),
      until: calendarDate().nullish(),
    }),
);

export async function requireRelationship(id: string, field = 'id'): Promise<RelationshipRow> {
  const [relationship] = await useTransaction()
    .select()
    .from(relationships)
    .where(and(eq(relationships.tenantId, useTenantId()), eq(relationships.id, id)))
    .for('update');
  if (!relationship) throw UserError.of('NOT_FOUND', 'No such relationship', field);
  return relationship;
}

/** Changes strength, label or dates (absent stays; null clears label and dates). */
export async function updateRelationship(
  id: string,
  input: z.input<ReturnType<typeof updateInput>>,
): Promise<RelationshipRow> {
  const data = parseInput(updateInput(), input);
  const current = await requireRelationship(id);
  if (input.strength === null) throw UserError.of('VALIDATION', 'Strength cannot be cleared', 'strength');
  const next = {
    strength: data.strength ?? current.strength,
    label: input.label === undefined ? current.label : (data.label ?? null),
    since: input.since === undefined ? current.since : (data.since ?? null),
    until: input.until === undefined ? current.until : (data.until ?? null),
  };
  if (next.since && next.until && next.since > next.until) {
    throw UserError.of('VALIDATION', 'Until must not be before since', 'until');
  }
  const [relationship] = await useTransaction()
    .update(relationships)
    .set(next)
    .where(and(eq(relationships.tenantId, useTenantId()), eq(relationships.id, id)))
    .returning();
  await recordAudit({ operation: 'updateRelationship', entityType: 'Relationship', entityIds: [id] });
  return relationship!;
}

/** Removes an edge. A REFERRED edge belongs to its referral and stays. */
export async function disconnectParties(id: string): Promise<string> {
  const current = await requireRelationship(id);
  if (current.type === 'REFERRED') {
    throw UserError.of('CONFLICT', 'A REFERRED edge belongs to its referral and cannot be removed by hand', 'id');
  }
  await useTransaction()
    .delete(relationships)
    .where(and(eq(relationships.tenantId, useTenantId()), eq(relationships.id, id)));
  await recordAudit({
    operation: 'disconnectParties',
    entityType: 'Relationship',
    entityIds: [id, current.fromPartyId, current.toPartyId],
    details: { type: current.type },
  });
  return id;
}

export async function findRelationships(ids: readonly string[]): Promise<RelationshipRow[]> {
  if (ids.length === 0) return [];
  return useTransaction()
    .select()
    .from(relationships)
    .where(and(eq(relationships.tenantId, useTenantId()), inArray(relationships.id, [...ids])));
}

export function relationshipCursor(row: RelationshipRow): string {
  return encodeCursor([row.createdAt.toISOString(), row.id]);
}

/**
 * One page of edges for each of many parties, from either end, newest first: one statement for
 * the whole batch (a window function numbers each party's edges), whatever the number of parties.
 */
export async function relationshipPages(
  partyIds: readonly string[],
  page: PageRequest & { types?: RelationshipType[] | null },
): Promise<PartyRows<RelationshipRow>[]> {
  if (partyIds.length === 0) return [];
  const tenantId = useTenantId();
  const { bound, direction } = descendingPage(page, sql`(r.created_at, r.id)`, (cursor) => {
    const [createdAt, id] = decodeCursor(cursor, 2);
    if (typeof createdAt !== 'string' || typeof id !== 'string' || !isUuid(id) || Number.isNaN(Date.parse(createdAt))) {
      throw UserError.of('VALIDATION', 'The cursor is not one this list handed out', []);
    }
    return sql`(${createdAt}::timestamptz, ${id}::uuid)`;
  });
  const typeFilter = page.types?.length ? sql`and r.type in ${sql`(${sql.join(page.types.map((t) => sql`${t}`), sql`, `)})`}` : sql``;
  const ids = uuidList(partyIds);
  const { rows } = await useTransaction().execute<Record<string, unknown> & { owner: string; n: number }>(sql`
    select * from (
      select e.owner, ${edgeColumns}, row_number() over (partition by e.owner order by r.created_at ${direction}, r.id ${direction}) as n
      from ${relationships} r
      cross join lateral (values (r.from_party_id), (r.to_party_id)) as e(owner)
      -- The or lets the planner use both end indexes (e.owner alone reads every edge of the tenant).
      where r.tenant_id = ${tenantId} and (r.from_party_id in ${ids} or r.to_party_id in ${ids})
        and e.owner in ${ids} ${typeFilter} and ${bound}
    ) ranked
    where n <= ${page.limit}
    order by owner, n`);
  return rowsByParty(partyIds, rows.map((row) => [row.owner, toRelationshipRow(row)]));
}

/**
 * A party's first page of edges (`relationshipPages` without a cursor or types) as JSON,
 * correlated with a parties row, for a party's own statement to carry along; decode it with
 * `relationshipsFromJson`.
 */
export function relationshipPageJson(party: CorrelatedParty, limit: number, properties?: readonly string[]): SQL<unknown[]> {
  return firstPageJson({
    columns: edgeColumns,
    from: sql`${relationships} r cross join lateral (values (r.from_party_id), (r.to_party_id)) as e(owner)`,
    // The or lets the planner use both end indexes (e.owner alone would read every edge of the tenant).
    where: sql`r.tenant_id = ${party.tenantId} and (r.from_party_id = ${party.id} or r.to_party_id = ${party.id}) and e.owner = ${party.id}`,
    order: sql`r.created_at desc, r.id desc`,
    limit,
    // Only what is asked, with the cursor's keys (every edge's cursor is computed).
    properties: properties && ['id', 'createdAt', ...properties],
  });
}

export function relationshipsFromJson(json: unknown): RelationshipRow[] {
  return rowsFromJson(json, toRelationshipRow);
}

/** Edge counts for many parties at once (for `totalCount`), one statement. */
export async function relationshipCounts(
  partyIds: readonly string[],
  types?: RelationshipType[] | null,
): Promise<Map<string, number>> {
  if (partyIds.length === 0) return new Map();
  const tenantId = useTenantId();
  const owner = sql`e.owner`;
  const list = uuidList(partyIds);
  const { rows } = await useTransaction().execute<{ owner: string; n: number }>(sql`
    select ${owner} as owner, count(*)::int as n
    from ${relationships} r
    cross join lateral (values (r.from_party_id), (r.to_party_id)) as e(owner)
    where r.tenant_id = ${tenantId}
      and (r.from_party_id in ${list} or r.to_party_id in ${list})
      and e.owner in ${list}
      ${types?.length ? sql`and r.type in (${sql.join(types.map((t) => sql`${t}`), sql`, `)})` : sql``}
    group by e.owner`);
  return new Map(rows.map((row) => [row.owner, Number(row.n)]));
}

/**
 * The columns of `relationships r` as text in fixed formats: raw statements bypass drizzle's
 * column mapping, and each driver would otherwise parse dates its own way.
 */
export const edgeColumns = sql.raw(`r.tenant_id::text as tenant_id, r.id::text as id, r.type::text as type,
  r.from_party_id::text as from_party_id, r.to_party_id::text as to_party_id, r.strength::int as strength,
  r.label, r.since::text as since, r.until::text as until,
  to_char(r.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as created_at`);

export function toRelationshipRow(row: Record<string, unknown>): RelationshipRow {
  return {
    tenantId: String(row.tenant_id),
    id: String(row.id),
    type: row.type as RelationshipType,
    fromPartyId: String(row.from_party_id),
    toPartyId: String(row.to_party_id),
    strength: Number(row.strength),
    label: (row.label as string | null) ?? null,
    since: (row.since as string | null) ?? null,
    until: (row.until as string | null) ?? null,
    createdAt: new Date(String(row.created_at)),
  };
}

/** domain: an edge has ended when `until` is before today (UTC); ended edges stay but are not walked. */
export function activeEdgeCondition(alias = 'r'): SQL {
  return sql.raw(`(${alias}.until is null or ${alias}.until >= '${todayUtc()}'::date)`);
}

