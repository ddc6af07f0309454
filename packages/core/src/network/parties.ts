import { and, asc, count, desc, eq, gt, inArray, isNull, isNotNull, lt, or, sql, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import { recordAudit } from '../audit';
import { useTenantId, useTransaction } from '../drizzle/transaction';
import { UserError } from '../errors';
import { uuidv7 } from '../ids';
import { decodeCursor, encodeCursor, type PageRequest } from '../pagination';
import { recordInitialStage } from '../stages';
import { calendarDate, parseInput, todayUtc } from '../validation';
import { partyKinds, type PartyKind } from './enums';
import { parties } from './parties.sql';

export type PartyRow = typeof parties.$inferSelect;

const optionalText = (max: number, label: string) =>
  z
    .string()
    .trim()
    .max(max, `${label} is at most ${max} characters`)
    .transform((value) => (value === '' ? null : value))
    .nullish();

// A pragmatic address check (local@domain.tld): what forms accept, without the RFC's corners.
const emailPattern = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;

export const partyFields = {
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
  birthday: calendarDate
    .refine((value) => value <= todayUtc(), 'Birthday cannot be in the future')
    .nullish(),
  notes: optionalText(10_000, 'Notes'),
  ownerId: optionalText(200, 'Owner id'),
};

const createPartyInput = z.object(partyFields);
export type CreatePartyInput = z.input<typeof createPartyInput>;

/** Creates a party at INITIAL_CONTACT with its first history row. */
export async function createParty(input: CreatePartyInput): Promise<PartyRow> {
  const data = parseInput(createPartyInput, input);
  const tx = useTransaction();
  const tenantId = useTenantId();
  if (data.externalId) {
    const [clash] = await tx
      .select({ id: parties.id })
      .from(parties)
      .where(and(eq(parties.tenantId, tenantId), eq(parties.externalId, data.externalId)));
    if (clash) {
      throw UserError.of('CONFLICT', 'Another party already has this external id', 'externalId');
    }
  }
  const now = new Date();
  const [party] = await tx
    .insert(parties)
    .values({
      tenantId,
      id: uuidv7(now.getTime()),
      kind: data.kind,
      displayName: data.displayName,
      email: data.email ?? null,
      phone: data.phone ?? null,
      company: data.company ?? null,
      externalId: data.externalId ?? null,
      tags: data.tags ?? [],
      decisionStyle: data.decisionStyle ?? null,
      birthday: data.birthday ?? null,
      notes: data.notes ?? null,
      ownerId: data.ownerId ?? null,
      stage: 'INITIAL_CONTACT',
      stageChangedAt: now,
      createdAt: now,
      updatedAt: now,
    })
    .returning();
  await recordInitialStage(party!.id, 'INITIAL_CONTACT', now);
  await recordAudit({ operation: 'createParty', entityType: 'Party', entityIds: [party!.id] });
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

export interface PartyFilter {
  kinds?: PartyKind[] | null;
  search?: string | null;
  /** domain: archived parties are hidden from lists unless asked for. */
  archived?: boolean | null;
}

function filterConditions(filter: PartyFilter): SQL[] {
  const conditions: SQL[] = [eq(parties.tenantId, useTenantId())];
  conditions.push(filter.archived ? isNotNull(parties.archivedAt) : isNull(parties.archivedAt));
  if (filter.kinds?.length) conditions.push(inArray(parties.kind, filter.kinds));
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

/** The cursor of a party in the default order (created, then id). */
export function partyCursor(party: PartyRow): string {
  return encodeCursor([party.createdAt.toISOString(), party.id]);
}

/** One page of parties in the default order (created, then id), keyset-paginated. */
export async function listParties(filter: PartyFilter, page: PageRequest): Promise<PartyRow[]> {
  const conditions = filterConditions(filter);
  const keyAfter = (cursor: string, direction: 'after' | 'before') => {
    const [createdAt, id] = decodeCursor(cursor, 2);
    if (typeof createdAt !== 'string' || typeof id !== 'string' || Number.isNaN(Date.parse(createdAt))) {
      throw UserError.of('VALIDATION', 'The cursor is not one this list handed out', []);
    }
    const at = new Date(createdAt);
    const cmp = direction === 'after' ? gt : lt;
    return or(cmp(parties.createdAt, at), and(eq(parties.createdAt, at), cmp(parties.id, id)))!;
  };
  if (page.after) conditions.push(keyAfter(page.after, 'after'));
  if (page.before) conditions.push(keyAfter(page.before, 'before'));
  const order = page.inverted
    ? [desc(parties.createdAt), desc(parties.id)]
    : [asc(parties.createdAt), asc(parties.id)];
  return useTransaction()
    .select()
    .from(parties)
    .where(and(...conditions))
    .orderBy(...order)
    .limit(page.limit);
}

export async function countParties(filter: PartyFilter): Promise<number> {
  const [row] = await useTransaction()
    .select({ n: count() })
    .from(parties)
    .where(and(...filterConditions(filter)));
  return row?.n ?? 0;
}
