import { mergeParties, type PartyRow } from '@guanxi/core/network';
import { builder } from '../builder';
import { payloadType, runMutation } from '../errors';
import { Party } from './party';

builder.objectField(Party, 'mergedInto', (t) =>
  t.field({
    type: Party,
    nullable: true,
    description: 'The party this one was merged into (mergeParties); null unless it was merged.',
    resolve: (party) => party.mergedIntoId,
  }),
);

const MergePartiesInput = builder.inputType('MergePartiesInput', {
  fields: (t) => ({
    keepId: t.globalID({ required: true, for: [Party], description: 'The party that stays.' }),
    mergeId: t.globalID({
      required: true,
      for: [Party],
      description: 'The duplicate: its edges, orders, interactions and referrals move to keepId, then it is archived.',
    }),
  }),
});

const MergePartiesPayload = payloadType<{ party: PartyRow }>('MergePartiesPayload', (t) => ({
  party: t.field({ type: Party, nullable: true, description: 'The kept party.', resolve: (p) => p.party ?? null }),
}));

builder.mutationField('mergeParties', (t) =>
  t.field({
    type: MergePartiesPayload,
    authScopes: { networkWrite: true },
    description:
      "Merges a duplicate into the party that stays, in one transaction. The duplicate keeps its stage history and loyalty snapshots, and points to the kept party through mergedInto.",
    args: { input: t.arg({ type: MergePartiesInput, required: true }) },
    resolve: (_root, { input }) =>
      runMutation(async () => {
        const { party } = await mergeParties({ keepId: input.keepId.id, mergeId: input.mergeId.id });
        return { party };
      }),
  }),
);
