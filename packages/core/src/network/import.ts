import { and, arrayOverlaps, asc, eq, getTableName, inArray, isNull, sql } from 'drizzle-orm';
import * as z from 'zod';
import { actorColumns } from '../actor';
import { recordAudit } from '../audit';
import { refreshStatistics } from '../drizzle/statistics';
import { afterCommit, useTenantId, useTransaction } from '../drizzle/transaction';
import { UserError, type UserErrorDetail } from '../errors';
import { uuidv7 } from '../ids';
import { stageTransitions } from '../stages/stage-transitions.sql';
import { lazySchema } from '../validation';
import { patternsMatching, webhookDeliveries, webhooks, type WebhookEvent } from '../webhooks';
import type { PartyKind } from './enums';
import { newPartyRow, partyFields, type PartyRow } from './parties';
import { parties } from './parties.sql';

/**
 * api: `importParties` takes at most this many rows per call; a bigger call is refused whole
 * (the CLI splits files into batches of this size, each in its own transaction).
 */
export const maxImportRows = 1000;

/**
 * One row of an import: the createParty fields, keyed by `externalId`, plus `archived`.
 *
 * "Absent" and null differ, as in updateParty:
 * - a field that is absent (undefined) leaves the stored value as it is when the row updates an
 *   existing party (and is empty when it creates one);
 * - null (or an empty / blank string) clears an optional field; `kind` and `displayName` cannot
 *   be cleared, and `archived: null` counts as absent.
 * `kind` and `displayName` are needed only to create a party: an update may leave them out, so
 * re-importing a partner's file never changes a party's kind (e.g. back from CUSTOMER to
 * PROSPECT) unless the row names one.
 */
export interface ImportPartyRow {
  externalId?: string | null;
  kind?: PartyKind | null;
  displayName?: string | null;
  email?: string | null;
  phone?: string | null;
  company?: string | null;
  tags?: string[] | null;
  decisionStyle?: string | null;
  birthday?: string | null;
  notes?: string | null;
  ownerId?: string | null;
  /** true archives, false restores (never a merged party); absent or null leaves it as it is. */
  archived?: boolean | null;
}

export const importStatuses = ['CREATED', 'UPDATED', 'UNCHANGED', 'ERROR'] as const;
export type ImportStatus = (typeof importStatuses)[number];

export interface ImportRowResult {
  /** Position of the row in the call's `rows`, from 0. */
  index: number;
  /** The row's external id as given (trimmed), or null when it had none. */
  externalId: string | null;
  status: ImportStatus;
  /** The party as it stands after the import; null for an ERROR row. */
  party: PartyRow | null;
  /**
   * Why the row was refused (ERROR rows only). `field` is relative to the row, e.g. ['email']
   * or ['tags', '3']; the GraphQL layer prefixes it with ['input', 'rows', '<index>'].
   */
  userErrors: UserErrorDetail[];
}

export interface ImportResult {
  results: ImportRowResult[];
  created: number;
  updated: number;
  unchanged: number;
  failed: number;
}

// The columns an import row may set, in the order they are compared and written.
const dataFields = [
  'kind',
  'displayName',
  'email',
  'phone',
  'company',
  'tags',
  'decisionStyle',
  'birthday',
  'notes',
  'ownerId',
] as const;
type DataField = (typeof dataFields)[number];

const unstorable = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

const importRowSchema = lazySchema(() =>
  z
    .object({
      ...partyFields(),
      // api: upsert by externalId, so every row must carry one.
      externalId: z
        .string({
          error: (issue) =>
            issue.input === undefined || issue.input === null
              ? 'External id is required on every imported row'
              : 'External id must be text',
        })
        .trim()
        .min(1, 'External id is required on every imported row')
        .max(200, 'External id is at most 200 characters'),
      kind: partyFields().kind.nullish().refine((v) => v !== null, 'Kind cannot be cleared'),
      displayName: partyFields().displayName.nullish().refine((v) => v !== null, 'Display name cannot be cleared'),
      archived: z.boolean({ message: 'Archived is true or false' }).nullish(),
    })
    .superRefine((row, ctx) => {
      // Postgres text holds neither NUL nor half a surrogate pair (which the JSON the bulk
      // statements send would carry as an escape Postgres refuses): caught here, either is one
      // ERROR row instead of a failed batch.
      for (const [field, value] of Object.entries(row)) {
        const texts = Array.isArray(value) ? value : [value];
        if (texts.some((text) => typeof text === 'string' && unstorable.test(text))) {
          ctx.addIssue({ code: 'custom', path: [field], message: 'Text must be valid Unicode without NUL characters' });
        }
      }
      // Postgres has no year 0, which a YYYY-MM-DD check alone lets through.
      if (row.birthday && row.birthday < '0001-01-01') {
        ctx.addIssue({ code: 'custom', path: ['birthday'], message: 'Not a calendar date' });
      }
    }),
);

type ParsedRow = z.output<ReturnType<typeof importRowSchema>>;

interface Candidate {
  index: number;
  externalId: string;
  data: ParsedRow;
  /** The data fields the row carried (not undefined): only these are compared and written. */
  present: DataField[];
}

function rowError(index: number, externalId: string | null, errors: UserErrorDetail[]): ImportRowResult {
  return { index, externalId, status: 'ERROR', party: null, userErrors: errors };
}

function detail(code: UserErrorDetail['code'], field: string, message: string): UserErrorDetail {
  return { code, field: [field], message };
}

/** The value a present field is stored as: null clears (tags clear to the empty list). */
function storedValue(data: ParsedRow, field: DataField): unknown {
  const value = data[field];
  return value ?? (field === 'tags' ? [] : null);
}

function sameValue(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => v === b[i]);
  return a === b;
}

type UpdatePlan =
  | { status: 'ERROR'; errors: UserErrorDetail[] }
  | { status: 'UNCHANGED' }
  | { status: 'UPDATED'; next: PartyRow; changedFields: string[] };

/** What a valid row does to the party that already has its external id. */
function planUpdate(candidate: Candidate, current: PartyRow, now: Date): UpdatePlan {
  // A merged party lives on in the party it was merged into: updating the archived shell would
  // be lost data. An erased party must not get personal data back by import.
  if (current.mergedIntoId) {
    return {
      status: 'ERROR',
      errors: [detail('CONFLICT', 'externalId', 'This external id belongs to a party that was merged into another one')],
    };
  }
  if (current.erasedAt) {
    return {
      status: 'ERROR',
      errors: [detail('CONFLICT', 'externalId', "This external id belongs to a party whose personal data was erased")],
    };
  }
  const { data } = candidate;
  const next: PartyRow = { ...current };
  const changedFields: string[] = [];
  for (const field of candidate.present) {
    const value = storedValue(data, field);
    if (!sameValue(value, current[field])) {
      (next as Record<string, unknown>)[field] = value;
      changedFields.push(field);
    }
  }
  // Archiving follows the row only when it says so (absent/null: left as it is).
  if ((data.archived === true && !current.archivedAt) || (data.archived === false && current.archivedAt)) {
    next.archivedAt = data.archived ? now : null;
    changedFields.push('archivedAt');
  }
  if (changedFields.length === 0) return { status: 'UNCHANGED' };
  next.updatedAt = now;
  return { status: 'UPDATED', next, changedFields };
}

/**
 * Queues one `event` per payload for every active webhook subscribed to it, in the current
 * transaction — what `emitEvent` does for one event, as one statement for a whole batch (an
 * import would otherwise pay a statement per party). Payloads carry ids and non-personal fields
 * only, as createParty/updateParty send.
 */
async function emitEach(event: WebhookEvent, payloads: Record<string, unknown>[]): Promise<void> {
  if (payloads.length === 0) return;
  await useTransaction().execute(sql`
    insert into ${webhookDeliveries} (tenant_id, id, webhook_id, event, payload)
    select ${webhooks.tenantId}, gen_random_uuid(), ${webhooks.id}, ${event}, x.payload
    from ${webhooks} cross join jsonb_array_elements(${JSON.stringify(payloads)}::jsonb) as x(payload)
    where ${and(
      eq(webhooks.tenantId, useTenantId()),
      isNull(webhooks.deletedAt),
      arrayOverlaps(webhooks.events, patternsMatching(event)),
    )}`);
}

/**
 * Upserts parties by `externalId` (api: importParties). Set-based, whatever the number of rows:
 * every row is validated in JS first, existing parties are read in one statement (the ones to
 * change are then locked and re-read in one more),
 * new ones are inserted by one `insert … select from json_to_recordset(…)` (their first
 * stage-history rows by another), and the changed ones are rewritten by one
 * `update … from json_to_recordset(…)`.
 *
 * The one exception to "user errors change nothing" (api): an invalid row is reported in its
 * result (status ERROR) and every valid row is still applied, in the caller's transaction. Only a
 * call that is wrong as a whole — more than `maxImportRows` rows — throws and applies nothing.
 *
 * Idempotent: a row that would change nothing is UNCHANGED and writes nothing — no update, no
 * `updatedAt` bump, and when no row changes, no audit row either.
 */
export async function importParties(rows: readonly ImportPartyRow[]): Promise<ImportResult> {
  if (rows.length > maxImportRows) {
    throw UserError.of(
      'VALIDATION',
      `An import takes at most ${maxImportRows} rows per call (got ${rows.length}); split it into batches`,
      'rows',
    );
  }
  const results: (ImportRowResult | undefined)[] = new Array(rows.length);
  const candidates: Candidate[] = [];
  // api: of two rows with the same external id, the later one is a CONFLICT. The first row
  // claims the id even when it is itself invalid: which row is refused must not depend on
  // whether the other one happened to be valid.
  const claimed = new Set<string>();
  rows.forEach((row, index) => {
    const raw = typeof row.externalId === 'string' ? row.externalId.trim() : '';
    const externalId = raw === '' ? null : raw;
    const errors: UserErrorDetail[] = [];
    if (externalId !== null) {
      if (claimed.has(externalId)) {
        errors.push(detail('CONFLICT', 'externalId', 'An earlier row of this import has the same external id'));
      }
      claimed.add(externalId);
    }
    const parsed = importRowSchema().safeParse(row);
    if (!parsed.success) {
      errors.push(
        ...parsed.error.issues.map((issue) => ({
          code: 'VALIDATION' as const,
          field: issue.path.map(String),
          message: issue.message,
        })),
      );
    }
    if (errors.length > 0 || !parsed.success) {
      results[index] = rowError(index, externalId, errors);
      return;
    }
    const present = dataFields.filter((field) => row[field] !== undefined);
    candidates.push({ index, externalId: parsed.data.externalId, data: parsed.data, present });
  });

  const tx = useTransaction();
  const tenantId = useTenantId();
  const ofTenant = eq(parties.tenantId, tenantId);
  const existing = new Map<string, PartyRow>();
  if (candidates.length > 0) {
    // One statement for the whole call, without locks: a re-import where every row is UNCHANGED
    // then writes nothing at all (not even row locks). The rows to change are locked below.
    const found = await tx
      .select()
      .from(parties)
      .where(and(ofTenant, inArray(parties.externalId, candidates.map((c) => c.externalId))));
    for (const party of found) existing.set(party.externalId!, party);
  }

  const now = new Date();
  const toCreate: { candidate: Candidate; party: PartyRow }[] = [];
  const toUpdate: { candidate: Candidate; next: PartyRow; changedFields: string[] }[] = [];
  for (const candidate of candidates) {
    const { index, externalId, data } = candidate;
    const current = existing.get(externalId);
    if (!current) {
      // A new party needs what createParty needs.
      const missing: UserErrorDetail[] = [];
      if (!data.kind) missing.push(detail('VALIDATION', 'kind', 'Kind is required to create a party'));
      if (!data.displayName) missing.push(detail('VALIDATION', 'displayName', 'Display name is required to create a party'));
      if (missing.length > 0) {
        results[index] = rowError(index, externalId, missing);
        continue;
      }
      toCreate.push({
        candidate,
        // The whole row as the insert below stores it.
        party: newPartyRow({ ...data, tenantId, kind: data.kind!, displayName: data.displayName!, externalId }, now),
      });
      continue;
    }
    const plan = planUpdate(candidate, current, now);
    if (plan.status === 'ERROR') results[index] = rowError(index, externalId, plan.errors);
    else if (plan.status === 'UNCHANGED') results[index] = { index, externalId, status: 'UNCHANGED', party: current, userErrors: [] };
    else toUpdate.push({ candidate, next: plan.next, changedFields: plan.changedFields });
  }

  if (toUpdate.length > 0) {
    // The parties to change, locked and read again (in id order, so two imports touching the same
    // parties queue instead of deadlocking), and each row decided again on the locked version: a
    // change committed since the first read (an edit, a merge, an erasure) is seen, not overwritten.
    const locked = await tx
      .select()
      .from(parties)
      .where(and(ofTenant, inArray(parties.id, toUpdate.map((u) => u.next.id))))
      .orderBy(asc(parties.id))
      .for('no key update');
    const byId = new Map(locked.map((party) => [party.id, party]));
    const planned = toUpdate.splice(0);
    for (const { candidate, next } of planned) {
      const { index, externalId } = candidate;
      const current = byId.get(next.id);
      // Parties are never deleted, but a concurrent updateParty may have changed this party's
      // external id between the two reads: the row then no longer names it.
      if (!current || current.externalId !== externalId) {
        results[index] = rowError(index, externalId, [
          detail('CONFLICT', 'externalId', 'The party with this external id changed during the import; retry the row'),
        ]);
        continue;
      }
      const plan = planUpdate(candidate, current, now);
      if (plan.status === 'ERROR') results[index] = rowError(index, externalId, plan.errors);
      else if (plan.status === 'UNCHANGED') results[index] = { index, externalId, status: 'UNCHANGED', party: current, userErrors: [] };
      else toUpdate.push({ candidate, next: plan.next, changedFields: plan.changedFields });
    }
  }

  // Bulk statements take their rows as one JSON parameter (json_to_recordset): one short
  // statement whatever the batch size, far below the protocol's parameter limit, and several
  // times faster to bind than a multi-row VALUES list with a parameter per cell.
  const at = now.toISOString();
  if (toCreate.length > 0) {
    const payload = JSON.stringify(
      toCreate.map(({ party }) => ({
        id: party.id,
        kind: party.kind,
        display_name: party.displayName,
        email: party.email,
        phone: party.phone,
        company: party.company,
        external_id: party.externalId,
        tags: party.tags,
        decision_style: party.decisionStyle,
        birthday: party.birthday,
        notes: party.notes,
        owner_id: party.ownerId,
        archived_at: party.archivedAt?.toISOString() ?? null,
      })),
    );
    // A concurrent import (or createParty) may have taken one of these external ids since the
    // read above: the unique index decides, and the loser is reported as that row's CONFLICT.
    const { rows: inserted } = await tx.execute<{ id: string }>(sql`
      insert into ${parties} (tenant_id, id, kind, display_name, email, phone, company, external_id, tags,
        decision_style, birthday, notes, owner_id, stage, stage_changed_at, archived_at, created_at, updated_at)
      select ${tenantId}::uuid, x.id, x.kind, x.display_name, x.email, x.phone, x.company, x.external_id, x.tags,
        x.decision_style, x.birthday, x.notes, x.owner_id, 'INITIAL_CONTACT', ${at}::timestamptz, x.archived_at,
        ${at}::timestamptz, ${at}::timestamptz
      from json_to_recordset(${payload}::json) as x(
        id uuid, kind party_kind, display_name text, email text, phone text, company text, external_id text,
        tags text[], decision_style text, birthday date, notes text, owner_id text, archived_at timestamptz)
      on conflict do nothing
      returning id::text as id`);
    const insertedIds = new Set(inserted.map((row) => row.id));
    const created: PartyRow[] = [];
    for (const { candidate, party } of toCreate) {
      if (insertedIds.has(party.id)) {
        created.push(party);
        results[candidate.index] = { index: candidate.index, externalId: candidate.externalId, status: 'CREATED', party, userErrors: [] };
      } else {
        results[candidate.index] = rowError(candidate.index, candidate.externalId, [
          detail('CONFLICT', 'externalId', 'Another party with this external id was created at the same time'),
        ]);
      }
    }
    if (created.length > 0) {
      // domain: a party's first history row records the stage it started in (from = null).
      const actor = actorColumns();
      const history = JSON.stringify(created.map((party) => ({ id: uuidv7(now.getTime()), party_id: party.id })));
      await tx.execute(sql`
        insert into ${stageTransitions} (tenant_id, id, party_id, from_stage, to_stage, at, actor_kind, actor_id,
          reason, seconds_in_previous, automatic)
        select ${tenantId}::uuid, x.id, x.party_id, null, 'INITIAL_CONTACT', ${at}::timestamptz,
          ${actor.actorKind}::actor_kind, ${actor.actorId}, null, null, false
        from json_to_recordset(${history}::json) as x(id uuid, party_id uuid)`);
    }
  }

  if (toUpdate.length > 0) {
    // One statement for every changed row. Each row carries its complete next state (decided
    // above on the locked row), so unchanged columns are written back as they were.
    const payload = JSON.stringify(
      toUpdate.map(({ next }) => ({
        id: next.id,
        kind: next.kind,
        display_name: next.displayName,
        email: next.email,
        phone: next.phone,
        company: next.company,
        tags: next.tags,
        decision_style: next.decisionStyle,
        birthday: next.birthday,
        notes: next.notes,
        owner_id: next.ownerId,
        archived_at: next.archivedAt?.toISOString() ?? null,
      })),
    );
    const result = await tx.execute(sql`
      update ${parties} as p set
        kind = x.kind, display_name = x.display_name, email = x.email, phone = x.phone,
        company = x.company, tags = x.tags, decision_style = x.decision_style, birthday = x.birthday,
        notes = x.notes, owner_id = x.owner_id, archived_at = x.archived_at, updated_at = ${at}::timestamptz
      from json_to_recordset(${payload}::json) as x(
        id uuid, kind party_kind, display_name text, email text, phone text, company text, tags text[],
        decision_style text, birthday date, notes text, owner_id text, archived_at timestamptz)
      where p.tenant_id = ${tenantId} and p.id = x.id`);
    if (result.rowCount != null && result.rowCount !== toUpdate.length) {
      // The rows are locked since the read: anything else is a bug, not a user error.
      throw new Error(`importParties updated ${result.rowCount} of ${toUpdate.length} parties`);
    }
    for (const { candidate, next } of toUpdate) {
      results[candidate.index] = {
        index: candidate.index,
        externalId: candidate.externalId,
        status: 'UPDATED',
        party: next,
        userErrors: [],
      };
    }
  }

  const final = results as ImportRowResult[];
  // Partners hear of imported parties as of any other (webhooks), committed with the import or
  // not at all; UNCHANGED rows send nothing.
  const createdRows = final.filter((r) => r.status === 'CREATED').map((r) => r.party!);
  await emitEach('party.created', createdRows.map((p) => ({ party: { id: p.id, kind: p.kind, stage: p.stage } })));
  await emitEach('party.updated', toUpdate.map(({ next, changedFields }) => ({ party: { id: next.id }, changedFields })));
  const archived = [
    ...createdRows.filter((p) => p.archivedAt),
    ...toUpdate.filter(({ next, changedFields }) => next.archivedAt && changedFields.includes('archivedAt')).map((u) => u.next),
  ];
  await emitEach('party.archived', archived.map((p) => ({ party: { id: p.id } })));

  const count = (status: ImportStatus) => final.filter((r) => r.status === status).length;
  const summary = {
    created: count('CREATED'),
    updated: count('UPDATED'),
    unchanged: count('UNCHANGED'),
    failed: count('ERROR'),
  };
  const touched = final.filter((r) => r.status === 'CREATED' || r.status === 'UPDATED').map((r) => r.party!.id);
  // A big import changes a large share of the parties table at once: the planner samples it
  // once the import commits, not when autovacuum next comes by.
  afterCommit((db) =>
    refreshStatistics(db, {
      [getTableName(parties)]: summary.created + summary.updated,
      [getTableName(stageTransitions)]: summary.created,
    }),
  );
  // One audit row for the whole call, and none when it changed nothing (idempotent re-import).
  if (touched.length > 0) {
    await recordAudit({
      operation: 'importParties',
      entityType: 'Party',
      entityIds: touched,
      details: { rows: rows.length, ...summary },
    });
  }
  return { results: final, ...summary };
}
