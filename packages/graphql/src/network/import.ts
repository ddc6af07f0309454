import {
  importParties,
  importStatuses,
  maxImportRows,
  type ImportPartyRow,
  type ImportResult,
  type ImportRowResult,
} from '@guanxi/core/network';
import { builder } from '../builder';
import { payloadType, runMutation, UserErrorType } from '../errors';
import { Party, PartyKindEnum } from './party';

const ImportStatusEnum = builder.enumType('ImportStatus', {
  description: 'What importParties did with one row.',
  values: {
    CREATED: { description: 'No party had the externalId: a new one was created (at INITIAL_CONTACT).' },
    UPDATED: { description: 'The party with the externalId was changed to match the row.' },
    UNCHANGED: { description: 'The party with the externalId already matched the row: nothing was written.' },
    ERROR: { description: "The row was refused (see the result's userErrors) and nothing of it was applied." },
  } satisfies Record<(typeof importStatuses)[number], { description: string }>,
});

/**
 * The createParty fields, all optional at the GraphQL level: a row without `externalId` (or, for
 * a new party, without `kind`/`displayName`) must come back as an ERROR row of its own, not sink
 * the whole request as a GraphQL validation error.
 */
const ImportPartyRowInput = builder.inputRef<ImportPartyRow>('ImportPartyRow').implement({
  description:
    'One party to upsert by externalId. An absent field is left as it is on an existing party; null clears an optional field (kind and displayName cannot be cleared).',
  fields: (t) => ({
    externalId: t.string({ description: 'Required on every row: the key the import upserts by (unique in the tenant).' }),
    kind: t.field({ type: PartyKindEnum, description: 'Required to create a party; absent keeps the kind of an existing one.' }),
    displayName: t.string({ description: 'Required to create a party.' }),
    email: t.string({ description: 'A valid address, at most 254 characters.' }),
    phone: t.string({ description: 'E.164, e.g. +8613800138000.' }),
    company: t.string({ description: 'At most 200 characters.' }),
    tags: t.stringList({ description: 'At most 20 tags of at most 40 characters; they replace the stored tags.' }),
    decisionStyle: t.string({ description: 'How the party tends to decide, at most 100 characters.' }),
    birthday: t.field({ type: 'Date', description: 'Not in the future.' }),
    notes: t.string({ description: 'At most 10,000 characters.' }),
    ownerId: t.string({ description: 'The user who looks after this party (their user id, the JWT subject), at most 200 characters.' }),
    archived: t.boolean({
      description: 'true archives, false restores an archived party; absent or null leaves it as it is.',
    }),
  }),
});

const ImportPartiesInput = builder.inputType('ImportPartiesInput', {
  description: 'The rows of one importParties call.',
  fields: (t) => ({
    rows: t.field({
      type: [ImportPartyRowInput],
      required: true,
      description: `At most ${maxImportRows} rows; more and the whole call is refused.`,
    }),
  }),
});

const ImportPartyResult = builder.objectRef<ImportRowResult>('ImportPartyResult').implement({
  description: 'The outcome of one row, in the order of the input rows.',
  fields: (t) => ({
    index: t.exposeInt('index', { description: 'Position of the row in input.rows, from 0.' }),
    externalId: t.exposeString('externalId', {
      nullable: true,
      description: "The row's externalId, trimmed; null when the row had none (then its status is ERROR).",
    }),
    status: t.field({ type: ImportStatusEnum, description: 'What the import did with the row.', resolve: (r) => r.status }),
    party: t.field({
      type: Party,
      nullable: true,
      description: 'The party as it is after the import (also for UNCHANGED); null for an ERROR row.',
      resolve: (r) => r.party,
    }),
    userErrors: t.field({
      type: [UserErrorType],
      description:
        'Why the row was refused (VALIDATION, or CONFLICT for an externalId repeated in the call or held by a merged or erased party); empty unless the status is ERROR. Each field is the full input path, e.g. ["input", "rows", "2", "email"].',
      // Core names fields relative to the row; the caller sees the path from the mutation's input.
      resolve: (r) =>
        r.userErrors.map((error) => ({
          ...error,
          field: ['input', 'rows', String(r.index), ...(error.field ?? [])],
        })),
    }),
  }),
});

const ImportPartiesPayload = payloadType<ImportResult>(
  'ImportPartiesPayload',
  (t) => ({
    results: t.field({
      type: [ImportPartyResult],
      nullable: true,
      description: 'One result per input row, in input order; null when the call was refused as a whole.',
      resolve: (p) => p.results ?? null,
    }),
    created: t.int({ nullable: true, description: 'How many rows created a party.', resolve: (p) => p.created ?? null }),
    updated: t.int({ nullable: true, description: 'How many rows changed an existing party.', resolve: (p) => p.updated ?? null }),
    unchanged: t.int({ nullable: true, description: 'How many rows matched their party already.', resolve: (p) => p.unchanged ?? null }),
    failed: t.int({ nullable: true, description: 'How many rows were refused (status ERROR).', resolve: (p) => p.failed ?? null }),
  }),
  'What importParties did: a result per row and the counts by status (all null when the call was refused as a whole).',
);

builder.mutationField('importParties', (t) =>
  t.field({
    type: ImportPartiesPayload,
    authScopes: { networkWrite: true },
    description:
      `Upserts parties by externalId. The one mutation whose user errors do not undo everything: invalid rows are reported in \`results\` (status ERROR) and every valid row is applied. Top-level userErrors (VALIDATION for more than ${maxImportRows} rows) mean nothing was applied. Needs network:write (MEMBER or ADMIN role, or the NETWORK_WRITE scope).`,
    args: {
      input: t.arg({ type: ImportPartiesInput, required: true, description: `Up to ${maxImportRows} rows, each upserted by its externalId.` }),
    },
    resolve: (_root, { input }) => runMutation(() => importParties(input.rows)),
  }),
);
