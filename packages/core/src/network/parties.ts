import { and, arrayContains, count, eq, getTableColumns, inArray, isNotNull, isNull, sql, type SQL, type SQLWrapper } from 'drizzle-orm';
import * as z from 'zod';
import { recordAudit } from '../audit';
import { emitEvent } from '../webhooks';
import { executeCompiled, shapeName, statementCache } from '../drizzle/compiled';
import { useTenantId, useTransaction } from '../drizzle/transaction';
import { UserError } from '../errors';
import { isUuid, uuidv7 } from '../ids';
import type { Segment, Tier } from '../loyalty/enums';
import { partyLoyalty } from '../loyalty/loyalty.sql';
import type { Stage } from '../stages/enums';
import { decodeCursor, encodeCursor, type PageRequest } from '../pagination';
import { recordInitialStage } from '../stages/history';
import { calendarDate, lazySchema, optionalText, parseInput, todayUtc } from '../validation';
import { partyKinds, type PartyKind } from './enums';
import { parties } from './parties.sql';

export type PartyRow = typeof parties.$inferSelect;

// A pragmatic address check (local@domain.tld): what forms accept, without the RFC's corners.
const emailPattern = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;

export const partyFields = lazySchema(() => ({
  kind: z.enum(partyKinds, { message: `Kind is one of ${partyKinds.join(', ')}` }),
  displayName: z
    .string()
    .trim()
    .min(1, 'Display name must not be blank')
    .max(200, 'Display name is at most 200 characters'),
  email: z
    .string()
    .trim()
    .max(254, 'Email is at most 254 characters')
    .refine((v) => v === '' || emailPattern.test(v), 'Email is not a valid address')
    .transform((value) => (value === '' ? null : value))
    .nullish(),
  phone: z
    .string()
    .trim()
    .refine((v) => v === '' || /^\+[1-9]\d{1,14}$/.test(v), 'Phone must be in E.164 form, e.g. +8613800138000')
    .transform((value) => (value === '' ? null : value))
    .nullish(),
  company: optionalText(200, 'Company'),
  externalId: optionalText(200, 'External id'),
  tags: z
    .array(z.string().trim().min(1, 'A tag must not be blank').max(40, 'A tag is at most 40 characters'))
    .max(20, 'At most 20 tags')
    .transform((tags) => [...new Set(tags)])
    .nullish(),
  decisionStyle: optionalText(100, 'Decision style'),
  birthday: calendarDate()
    .refine((value) => value <= todayUtc(), 'Birthday cannot be in the future')
    .nullish(),
  notes: optionalText(10_000, 'Notes'),
  ownerId: optionalText(200, 'Owner id'),
}));

const createPartyInput = lazySchema(() => z.object(partyFields()));
export type CreatePartyInput = z.input<ReturnType<typeof createPartyInput>>;

type OptionalPartyFields = 'email' | 'phone' | 'company' | 'externalId' | 'tags' | 'decisionStyle' | 'birthday' | 'notes' | 'ownerId';

/** What a new party is made from: createParty's input, or an imported row. */
export type NewParty = Pick<PartyRow, 'tenantId' | 'kind' | 'displayName'> & {
  [K in OptionalPartyFields]?: PartyRow[K] | null;
} & { archived?: boolean | null };

/**
 * A new party, every column as first stored (a PartyRow literal: a new column is a compile error
 * here until it is decided what a new party holds). domain: every party starts at INITIAL_CONTACT.
 */
export function newPartyRow(fields: NewParty, now: Date): PartyRow {
  return {
    tenantId: fields.tenantId,
    id: uuidv7(now.getTime()),
    kind: fields.kind,
    displayName: fields.displayName,
    email: fields.email ?? null,
    phone: fields.phone ?? null,
    company: fields.company ?? null,
    externalId: fields.externalId ?? null,
    tags: fields.tags ?? [],
    decisionStyle: fields.decisionStyle ?? null,
    birthday: fields.birthday ?? null,
    notes: fields.notes ?? null,
    ownerId: fields.ownerId ?? null,
    stage: 'INITIAL_CONTACT',
    stageChangedAt: now,
    dormantFromStage: null,
    archivedAt: fields.archived === true ? now : null,
    mergedIntoId: null,
    erasedAt: null,
    createdAt: now,
    updatedAt: now,
  };
}

/** Creates a party at INITIAL_CONTACT with its first history row. */
export async function createParty(input: CreatePartyInput): Promise<PartyRow> {
  const data = parseInput(createPartyInput(), input);
  const tx = useTransaction();
  const tenantId = useTenantId();
  if (data.externalId) await assertExternalIdFree(data.externalId);
  const now = new Date();
  const [party] = await tx
    .insert(parties)
    .values(newPartyRow({ tenantId, ...data }, now))
    .returning();
  await recordInitialStage(party!.id, 'INITIAL_CONTACT', now);
  await recordAudit({ operation: 'createParty', entityType: 'Party', entityIds: [party!.id] });
  // Partners hear of it in the same transaction (outbox); ids and non-personal fields only.
  await emitEvent('party.created', { party: { id: party!.id, kind: party!.kind, stage: party!.stage } });
  return party!;
}

/** The current tenant's parties among `ids` (any order; ids of other tenants find nothing). */
export async function findParties(ids: readonly string[]): Promise<PartyRow[]> {
  if (ids.length === 0) return [];
  return useTransaction()
    .select()
    .from(parties)
    .where(and(eq(parties.tenantId, useTenantId()), inArray(parties.id, [...ids])));
}

/**
 * One party of the current tenant with what its own statement carries along (`PartyPageExtras`),
 * by name in `extras`; null when the tenant has no party with this id.
 */
export async function findPartyWithExtras(
  id: string,
  extras: PartyPageExtras,
): Promise<(PartyRow & { extras: Record<string, unknown> }) | null> {
  if (!isUuid(id)) return null;
  const statement = partyStatements(
    `party:${extrasShape(extras)}`,
    () =>
      useTransaction()
        .select({ ...getTableColumns(parties), ...aliased(extras) })
        .from(parties)
        .where(and(eq(parties.tenantId, sql.placeholder('tenant')), eq(parties.id, sql.placeholder('id'))))
        .getSQL(),
    { tenant: useTenantId(), id },
  );
  const [row] = (await executeCompiled<Record<string, unknown>>(useTransaction(), statement)).rows;
  return row ? { ...partyFromColumns(row), extras: extrasOf(row, extras) } : null;
}

export interface PartyFilter {
  kinds?: PartyKind[] | null;
  stages?: Stage[] | null;
  segments?: Segment[] | null;
  tiers?: Tier[] | null;
  /** Parties carrying every one of these tags. */
  tags?: string[] | null;
  ownerId?: string | null;
  search?: string | null;
  /** domain: archived parties are hidden from lists unless asked for (true: only archived). */
  archived?: boolean | null;
}

export const partyOrderFields = ['CREATED_AT', 'DISPLAY_NAME', 'SCORE'] as const;
export type PartyOrderField = (typeof partyOrderFields)[number];
export interface PartyOrder {
  field: PartyOrderField;
  direction: 'ASC' | 'DESC';
}
export const defaultPartyOrder: PartyOrder = { field: 'CREATED_AT', direction: 'ASC' };

/** A party as lists return it, with its latest score where the list reads it (the SCORE order's key). */
export type ListedParty = PartyRow & {
  /** Read only where the list is ordered or filtered by loyalty; null otherwise, and when unscored. */
  latestScore: string | null;
  /** What the page's statement fetched along for this party (`PartyPageExtras`), by name. */
  extras?: Record<string, unknown>;
};

/**
 * Values a page of parties fetches in its own statement, by name: each a scalar subquery
 * correlated with the page's `parties` row (e.g. the party's latest loyalty snapshot as JSON,
 * `latestSnapshotJson`), built by the domain that owns the data. A page that selects a field its
 * rows' loaders would otherwise fetch in statements of their own gets it here instead.
 */
export type PartyPageExtras = Record<string, SQL>;

const partyColumnEntries = Object.entries(getTableColumns(parties));
const partyColumnNames = new Map(partyColumnEntries.map(([key, column]) => [key, column.name]));

/** The SQL name of a parties column (`displayName` → `display_name`). */
export function partyColumnName(property: keyof PartyRow): string {
  const name = partyColumnNames.get(property);
  if (!name) throw new Error(`parties has no column for ${String(property)}`);
  return name;
}

/**
 * A party row from its columns by name: a raw row of `select`, or its JSON form (`row_to_json` of
 * a parties row, as a scalar subquery returns it). Each column is decoded as drizzle decodes it,
 * so the row equals one read by drizzle's `select`; an object with only some columns gives a row
 * with only those properties.
 */
export function partyFromColumns(json: Record<string, unknown>): PartyRow {
  const row: Record<string, unknown> = {};
  for (const [key, column] of partyColumnEntries) {
    if (!(column.name in json)) continue;
    const value = json[column.name];
    row[key] = value === null || value === undefined ? null : column.mapFromDriverValue(value);
  }
  return row as PartyRow;
}

/** Whether a filter reads the parties' latest-snapshot copy (party_loyalty). */
const readsLoyalty = (filter: PartyFilter) => Boolean(filter.segments?.length || filter.tiers?.length);
const loyaltyOfParty = and(eq(partyLoyalty.tenantId, parties.tenantId), eq(partyLoyalty.partyId, parties.id));

/** Whether a filter keeps every active (or every archived) party: nothing but `archived` set. */
function unfiltered(filter: PartyFilter): boolean {
  return Object.entries(filter).every(
    ([name, value]) =>
      name === 'archived' || value === null || value === undefined || (Array.isArray(value) && value.length === 0) || (name === 'search' && !String(value).trim()),
  );
}

/** The conditions of a filter, for `tenant` (the current tenant, or a placeholder in a compiled statement). */
function filterConditions(filter: PartyFilter, tenant: string | SQLWrapper = useTenantId()): SQL[] {
  const conditions: SQL[] = [eq(parties.tenantId, tenant)];
  conditions.push(filter.archived ? isNotNull(parties.archivedAt) : isNull(parties.archivedAt));
  if (filter.kinds?.length) conditions.push(inArray(parties.kind, filter.kinds));
  if (filter.stages?.length) conditions.push(inArray(parties.stage, filter.stages));
  if (filter.segments?.length) conditions.push(inArray(partyLoyalty.segment, filter.segments));
  if (filter.tiers?.length) conditions.push(inArray(partyLoyalty.tier, filter.tiers));
  if (filter.tags?.length) conditions.push(arrayContains(parties.tags, filter.tags));
  if (filter.ownerId) conditions.push(eq(parties.ownerId, filter.ownerId));
  const search = filter.search?.trim().toLowerCase();
  if (search) {
    // Served by the trigram index on the same expression (migration 0001).
    const pattern = `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    conditions.push(
      sql`guanxi_party_search_text(${parties.displayName}, ${parties.email}, ${parties.company}, ${parties.phone}) like ${pattern}`,
    );
  }
  return conditions;
}

/**
 * The sort key of each order: a column (or expression) then the id, which breaks every tie. The
 * SCORE order names party_loyalty's own columns, so its index (tenant, score, party) serves both
 * the order and the cursor's bound.
 */
/** What a cursor holds for each order: the party's sort value (its id follows). */
const sortValueOf: Record<PartyOrderField, (party: ListedParty) => string | number> = {
  CREATED_AT: (p) => p.createdAt.toISOString(),
  DISPLAY_NAME: (p) => p.displayName,
  // Unscored parties sort as -1: last when best-first, first when worst-first.
  SCORE: (p) => (p.latestScore === null ? -1 : Number(p.latestScore)),
};

/** The SQL of each order's sort key and tie-breaking id, built once (not per page). */
const sortKeys: Record<PartyOrderField, { expression: SQL; id: SQL; type: string }> = {
  CREATED_AT: { expression: sql`${parties.createdAt}`, id: sql`${parties.id}`, type: 'timestamptz' },
  DISPLAY_NAME: { expression: sql`${parties.displayName}`, id: sql`${parties.id}`, type: 'text' },
  SCORE: { expression: sql`coalesce(${partyLoyalty.score}, -1)`, id: sql`${partyLoyalty.partyId}`, type: 'numeric' },
};

/** The cursor of a party in a given order: its sort key and id. */
export function partyCursor(party: ListedParty, order: PartyOrder = defaultPartyOrder): string {
  return encodeCursor([order.field, sortValueOf[order.field](party), party.id]);
}

/** One page of parties in the given order, keyset-paginated (stable under inserts). */
export async function listParties(
  filter: PartyFilter,
  page: PageRequest,
  order: PartyOrder = defaultPartyOrder,
  extras: PartyPageExtras = {},
): Promise<ListedParty[]> {
  const key = sortKeys[order.field];
  const forward = (order.direction === 'ASC') !== page.inverted;
  const after = page.after ? cursorPosition(page.after, order) : null;
  const before = page.before ? cursorPosition(page.before, order) : null;
  // The latest-snapshot copy is joined only for an order or filter that reads it. A page that
  // does not join it has one plan whatever the tenant: the prepared statement's generic plan,
  // which estimates a tenant at the average size, once paired a big tenant's parties with all of
  // its party_loyalty rows in a nested loop (12 ms where the index walk takes 0.5 ms).
  const joinsLoyalty = order.field === 'SCORE' || readsLoyalty(filter);
  // A list without filters (the usual first screen) has a shape of its own and is compiled once;
  // the filters' values change the text (a list of n kinds is n parameters), so a filtered list
  // is built each time.
  const plain = unfiltered(filter);
  const build = (bound: <T>(name: string, value: T) => T) => {
    const conditions = filterConditions(filter, bound('tenant', useTenantId()));
    const beyond = (side: 'after' | 'before', position: CursorPosition) => {
      const typed = sql`${bound(`${side}Value`, position.value)}::${sql.raw(key.type)}`;
      // Rows strictly beyond the cursor in the list's own direction.
      const comparison = (side === 'after') === (order.direction === 'ASC') ? sql`>` : sql`<`;
      return sql`(${key.expression}, ${key.id}) ${comparison} (${typed}, ${bound(`${side}Id`, position.id)}::uuid)`;
    };
    if (after) conditions.push(beyond('after', after));
    if (before) conditions.push(beyond('before', before));
    const direction = forward ? sql`asc` : sql`desc`;
    const query = useTransaction()
      .select({ ...getTableColumns(parties), latestScore: (joinsLoyalty ? sql`${partyLoyalty.score}` : sql`null`).as('latest_score'), ...aliased(extras) })
      .from(parties)
      .$dynamic();
    if (joinsLoyalty) query.innerJoin(partyLoyalty, loyaltyOfParty);
    return query
      .where(and(...conditions))
      .orderBy(sql`${key.expression} ${direction}`, sql`${key.id} ${direction}`)
      .limit(bound('limit', page.limit))
      .getSQL();
  };
  const values = { tenant: useTenantId(), limit: page.limit, afterValue: after?.value, afterId: after?.id, beforeValue: before?.value, beforeId: before?.id };
  const { rows } = plain
    ? await executeCompiled<Record<string, unknown>>(
        useTransaction(),
        partyStatements(
          `page:${order.field}:${order.direction}:${forward}:${Boolean(after)}:${Boolean(before)}:${Boolean(filter.archived)}:${extrasShape(extras)}`,
          () => build((name) => sql.placeholder(name) as never),
          values,
        ),
      )
    : await useTransaction().execute<Record<string, unknown>>(build((_name, value) => value));
  return rows.map((row) => ({
    ...partyFromColumns(row),
    latestScore: (row.latest_score as string | null) ?? null,
    ...(Object.keys(extras).length > 0 ? { extras: extrasOf(row, extras) } : {}),
  }));
}

interface CursorPosition {
  value: string | number;
  id: string;
}

/** Where a cursor of this list and order points: its sort value and id (a cursor of anything else is refused). */
function cursorPosition(cursor: string, order: PartyOrder): CursorPosition {
  const [field, value, id] = decodeCursor(cursor, 3);
  if (field !== order.field || value === null || typeof id !== 'string' || !isUuid(id)) {
    throw UserError.of('VALIDATION', 'The cursor belongs to another list or order', []);
  }
  return { value: order.field === 'SCORE' ? Number(value) : String(value), id };
}

/** Party statements compiled once per shape (drizzle/compiled.ts). */
const partyStatements = statementCache();

/** A name for a set of extras: the same fragments under the same names give the same name. */
function extrasShape(extras: PartyPageExtras): string {
  return Object.keys(extras)
    .map((name) => `${name}=${shapeName(extras[name]!)}`)
    .join(',');
}

/** Extras as select fields, each under its own name (`"orders@10"`), so a raw row carries it by name. */
function aliased(extras: PartyPageExtras) {
  return Object.fromEntries(Object.entries(extras).map(([name, fragment]) => [name, fragment.as(name)]));
}

function extrasOf(row: Record<string, unknown>, extras: PartyPageExtras): Record<string, unknown> {
  return Object.fromEntries(Object.keys(extras).map((name) => [name, row[name]]));
}

export async function countParties(filter: PartyFilter): Promise<number> {
  const query = useTransaction().select({ n: count() }).from(parties).$dynamic();
  if (readsLoyalty(filter)) query.innerJoin(partyLoyalty, loyaltyOfParty);
  const [row] = await query.where(and(...filterConditions(filter)));
  return row?.n ?? 0;
}

const updatePartyInput = lazySchema(() =>
  z.object({
    ...partyFields(),
    kind: partyFields().kind.nullish().refine((v) => v !== null, 'Kind cannot be cleared'),
    displayName: partyFields().displayName.nullish().refine((v) => v !== null, 'Display name cannot be cleared'),
    archived: z.boolean().nullish(),
  }),
);
export type UpdatePartyInput = z.input<ReturnType<typeof updatePartyInput>>;

/** The current tenant's party, or NOT_FOUND naming the input field that held its id. */
export async function requireParty(id: string, field = 'id', options: { forUpdate?: boolean } = {}): Promise<PartyRow> {
  const query = useTransaction()
    .select()
    .from(parties)
    .where(and(eq(parties.tenantId, useTenantId()), eq(parties.id, id)));
  const [party] = options.forUpdate ? await query.for('update') : await query;
  if (!party) throw UserError.of('NOT_FOUND', 'No such party', field);
  return party;
}

/**
 * Changes the given fields (absent fields stay, null clears an optional one). `archived: false`
 * restores an archived party (domain: archiving is soft and reversible).
 */
export async function updateParty(id: string, input: UpdatePartyInput): Promise<PartyRow> {
  const data = parseInput(updatePartyInput(), input);
  const current = await requireParty(id, 'id', { forUpdate: true });
  if (current.mergedIntoId && data.archived === false) {
    throw UserError.of('CONFLICT', 'A party merged into another cannot be restored', 'archived');
  }
  if (current.erasedAt) throw UserError.of('CONFLICT', "This party's personal data was erased", 'id');
  if (data.externalId && data.externalId !== current.externalId) await assertExternalIdFree(data.externalId, id);
  const changes: Partial<typeof parties.$inferInsert> = {};
  const fields = ['kind', 'displayName', 'email', 'phone', 'company', 'externalId', 'tags', 'decisionStyle', 'birthday', 'notes', 'ownerId'] as const;
  for (const field of fields) {
    if (input[field] !== undefined) (changes as Record<string, unknown>)[field] = data[field] ?? (field === 'tags' ? [] : null);
  }
  if (data.archived === true && !current.archivedAt) changes.archivedAt = new Date();
  if (data.archived === false && current.archivedAt) changes.archivedAt = null;
  const changed = Object.entries(changes).filter(([field, value]) => JSON.stringify(value) !== JSON.stringify((current as Record<string, unknown>)[field]));
  if (changed.length === 0) return current;
  const [party] = await useTransaction()
    .update(parties)
    .set({ ...Object.fromEntries(changed), updatedAt: new Date() })
    .where(and(eq(parties.tenantId, useTenantId()), eq(parties.id, id)))
    .returning();
  await recordAudit({
    operation: 'updateParty',
    entityType: 'Party',
    entityIds: [id],
    details: { fields: changed.map(([field]) => field) },
  });
  await emitEvent('party.updated', { party: { id }, changedFields: changed.map(([field]) => field) });
  if (changes.archivedAt) await emitEvent('party.archived', { party: { id } });
  return party!;
}

/** Hides a party from lists; it stays reachable by id and `updateParty(archived: false)` restores it. */
export async function archiveParty(id: string): Promise<PartyRow> {
  const current = await requireParty(id, 'id', { forUpdate: true });
  if (current.archivedAt) return current;
  const [party] = await useTransaction()
    .update(parties)
    .set({ archivedAt: new Date(), updatedAt: new Date() })
    .where(and(eq(parties.tenantId, useTenantId()), eq(parties.id, id)))
    .returning();
  await recordAudit({ operation: 'archiveParty', entityType: 'Party', entityIds: [id] });
  await emitEvent('party.archived', { party: { id } });
  return party!;
}

async function assertExternalIdFree(externalId: string, exceptId?: string): Promise<void> {
  const [clash] = await useTransaction()
    .select({ id: parties.id })
    .from(parties)
    .where(and(eq(parties.tenantId, useTenantId()), eq(parties.externalId, externalId)));
  if (clash && clash.id !== exceptId) {
    throw UserError.of('CONFLICT', 'Another party already has this external id', 'externalId');
  }
}
