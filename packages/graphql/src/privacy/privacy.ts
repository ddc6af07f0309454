import type { PartyRow } from '@guanxi/core/network';
import { erasePartyData, exportPartyData } from '@guanxi/core/privacy';
import { builder } from '../builder';
import { payloadType, runMutation } from '../errors';
import { Party } from '../network/party';

const PartyDataInput = builder.inputType('PartyDataInput', {
  fields: (t) => ({ id: t.globalID({ required: true, for: [Party] }) }),
});

const ExportPartyDataPayload = payloadType<{ document: unknown }>('ExportPartyDataPayload', (t) => ({
  document: t.field({
    type: 'JSON',
    nullable: true,
    description: 'Everything held about the party, one key per kind of record, with schemaVersion and exportedAt.',
    resolve: (p) => p.document ?? null,
  }),
}));

// A mutation, not a query: handing out a person's data is an audited act.
builder.mutationField('exportPartyData', (t) =>
  t.field({
    type: ExportPartyDataPayload,
    authScopes: { admin: true },
    args: { input: t.arg({ type: PartyDataInput, required: true }) },
    resolve: (_root, { input }) => runMutation(async () => ({ document: await exportPartyData(input.id.id) })),
  }),
);

const ErasePartyDataPayload = payloadType<{ party: PartyRow }>('ErasePartyDataPayload', (t) => ({
  party: t.field({ type: Party, nullable: true, resolve: (p) => p.party ?? null }),
}));

builder.mutationField('erasePartyData', (t) =>
  t.field({
    type: ErasePartyDataPayload,
    authScopes: { admin: true },
    description: 'Irreversibly blanks the personal fields; orders, referrals and scores stay (anonymised).',
    args: { input: t.arg({ type: PartyDataInput, required: true }) },
    resolve: (_root, { input }) => runMutation(async () => ({ party: await erasePartyData(input.id.id) })),
  }),
);
