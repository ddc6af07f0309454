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
  values: importStatuses,
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
    email: t.string(),
    phone: t.string({ description: 'E.164, e.g. +8613800138000.' }),
    company: t.string(),
    tags: t.stringList({ description: 'At most 20 tags of at most 40 characters.' }),
    decisionStyle: t.string(),
    birthday: t.field({ type: 'Date' }),
    notes: t.string(),
    ownerId: t.string({ description: 'The user who looks after this party.' }),
    archived: t.boolean({
      description: 'true archives, false restores an archived party; absent or null leaves it as it is.',
    }),
  }),
});

const ImportPartiesInput = builder.inputType('ImportPartiesInput', {
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
    externalId: t.exposeString('externalId', { nullable: true }),
    status: t.field({ type: ImportStatusEnum, resolve: (r) => r.status }),
    party: t.field({
      type: Party,
      nullable: true,
      description: 'The party after the import; null for an ERROR row.',
      resolve: (r) => r.party,
    }),
    userErrors: t.field({
      type: [UserErrorType],
      description: 'Why the row was refused. Each field is the full input path, e.g. ["input", "rows", "2", "email"].',
      // Core names fields relative to the row; the caller sees the path from the mutation's input.
      resolve: (r) =>
        r.userErrors.map((error) => ({
          ...error,
          field: ['input', 'rows', String(r.index), ...(error.field ?? [])],
        })),
    }),
  }),
});

const ImportPartiesPayload = payloadType<ImportResult>('ImportPartiesPayload', (t) => ({
  results: t.field({ type: [ImportPartyResult], nullable: true, resolve: (p) => p.results ?? null }),
  created: t.int({ nullable: true, resolve: (p) => p.created ?? null }),
  updated: t.int({ nullable: true, resolve: (p) => p.updated ?? null }),
  unchanged: t.int({ nullable: true, resolve: (p) => p.unchanged ?? null }),
  failed: t.int({ nullable: true, resolve: (p) => p.failed ?? null }),
}));

builder.mutationField('importParties', (t) =>
  t.field({
    type: ImportPartiesPayload,
    authScopes: { networkWrite: true },
    description:
      'Upserts parties by externalId. The one mutation whose user errors do not undo everything: invalid rows are reported in `results` (status ERROR) and every valid row is applied. Top-level userErrors (e.g. too many rows) mean nothing was applied.',
    args: { input: t.arg({ type: ImportPartiesInput, required: true }) },
    resolve: (_root, { input }) => runMutation(() => importParties(input.rows)),
  }),
);
