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
  description: 'Two records of the same party: the one that stays and the duplicate folded into it.',
  fields: (t) => ({
    keepId: t.globalID({ required: true, for: [Party], description: 'The party that stays; it must not be archived, merged or erased.' }),
    mergeId: t.globalID({
      required: true,
      for: [Party],
      description:
        'The duplicate, not keepId itself: its edges, orders, interactions, referrals (and referral code, when keepId has none) move to keepId, then it is archived.',
    }),
  }),
});

const MergePartiesPayload = payloadType<{ party: PartyRow }>(
  'MergePartiesPayload',
  (t) => ({
    party: t.field({
      type: Party,
      nullable: true,
      description: 'The kept party, with what it took over; null when the merge was refused.',
      resolve: (p) => p.party ?? null,
    }),
  }),
  'What mergeParties did: the kept party, or userErrors and no change.',
);

builder.mutationField('mergeParties', (t) =>
  t.field({
    type: MergePartiesPayload,
    authScopes: { networkWrite: true },
    description:
      "Merges a duplicate into the party that stays, in one transaction. The duplicate keeps its stage history and loyalty snapshots, and points to the kept party through mergedInto. userErrors: VALIDATION (the same id twice), NOT_FOUND, CONFLICT (a party already merged or erased, an archived kept party, or a merge that would give a party two referrers or make one refer itself). Needs network:write (MEMBER or ADMIN role, or the NETWORK_WRITE scope).",
    args: { input: t.arg({ type: MergePartiesInput, required: true, description: 'The party to keep and the duplicate to merge into it.' }) },
    resolve: (_root, { input }) =>
      runMutation(async () => {
        const { party } = await mergeParties({ keepId: input.keepId.id, mergeId: input.mergeId.id });
        return { party };
      }),
  }),
);
