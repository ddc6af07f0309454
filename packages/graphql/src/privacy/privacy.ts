import type { PartyRow } from '@guanxi/core/network';
import { erasePartyData, exportPartyData } from '@guanxi/core/privacy';
import { builder } from '../builder';
import { payloadType, runMutation } from '../errors';
import { Party } from '../network/party';

const PartyDataInput = builder.inputType('PartyDataInput', {
  description: 'The party a data-protection request is about.',
  fields: (t) => ({
    id: t.globalID({ required: true, for: [Party], description: 'Global id of the party (archived and merged parties included).' }),
  }),
});

const ExportPartyDataPayload = payloadType<{ document: unknown }>(
  'ExportPartyDataPayload',
  (t) => ({
    document: t.field({
      type: 'JSON',
      nullable: true,
      description:
        'Everything held about the party, one key per kind of record (party, relationships, orders, interactions, referrals, loyalty snapshots, stage history…), with schemaVersion and exportedAt; null when userErrors is not empty.',
      resolve: (p) => p.document ?? null,
    }),
  }),
  "What exportPartyData returns: the party's data as one JSON document, or userErrors.",
);

// A mutation, not a query: handing out a person's data is an audited act.
builder.mutationField('exportPartyData', (t) =>
  t.field({
    type: ExportPartyDataPayload,
    authScopes: { admin: true },
    description:
      'Hands out everything held about a party as one JSON document (right of access and portability); each export is recorded in the audit log. Needs the ADMIN role or the ADMIN scope. userErrors: NOT_FOUND.',
    args: { input: t.arg({ type: PartyDataInput, required: true, description: 'The party whose data to export.' }) },
    resolve: (_root, { input }) => runMutation(async () => ({ document: await exportPartyData(input.id.id) })),
  }),
);

const ErasePartyDataPayload = payloadType<{ party: PartyRow }>(
  'ErasePartyDataPayload',
  (t) => ({
    party: t.field({
      type: Party,
      nullable: true,
      description: 'The party as it is after erasure (displayName "Erased party", personal fields null); null when userErrors is not empty.',
      resolve: (p) => p.party ?? null,
    }),
  }),
  'What erasePartyData did: the erased party, or userErrors and no change.',
);

builder.mutationField('erasePartyData', (t) =>
  t.field({
    type: ErasePartyDataPayload,
    authScopes: { admin: true },
    description:
      "Irreversibly blanks the party's personal data (name, email, phone, company, externalId, tags, decisionStyle, birthday, notes, relationship labels, interaction notes, and their copies in the audit log, webhook payloads and staff reasons of stage moves, points entries, refunds and tier changes); orders, referrals, points, stage history and scores stay, anonymised. Needs the ADMIN role or the ADMIN scope. userErrors: NOT_FOUND, CONFLICT (already erased).",
    args: { input: t.arg({ type: PartyDataInput, required: true, description: 'The party whose personal data to erase.' }) },
    resolve: (_root, { input }) => runMutation(async () => ({ party: await erasePartyData(input.id.id) })),
  }),
);
