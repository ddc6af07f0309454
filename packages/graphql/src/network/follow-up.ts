import { dueFollowUps, followUpKinds, followUpReasons, maxFollowUps, type FollowUp as FollowUpShape } from '@guanxi/core/network';
import { builder } from '../builder';
import { Party } from './party';

export const FollowUpReasonEnum = builder.enumType('FollowUpReason', {
  description: `BIRTHDAY: a birthday coming up. NO_RECENT_INTERACTION: a ${followUpKinds.join('/')} not contacted for the tenant's followUpDays.`,
  values: followUpReasons,
});

const FollowUp = builder.objectRef<FollowUpShape>('FollowUp').implement({
  description: 'One entry of the 回访 (follow-up) work list.',
  fields: (t) => ({
    party: t.field({ type: Party, resolve: (f) => f.partyId }),
    reason: t.field({ type: FollowUpReasonEnum, resolve: (f) => f.reason }),
    dueOn: t.field({
      type: 'Date',
      description: 'The birthday, or the last interaction (else creation) date plus followUpDays; may be past (overdue).',
      resolve: (f) => f.dueOn,
    }),
    lastInteractionAt: t.field({ type: 'DateTime', nullable: true, resolve: (f) => f.lastInteractionAt }),
    daysSinceInteraction: t.int({
      nullable: true,
      description: 'Whole UTC days since the last interaction; null when there was none.',
      resolve: (f) => f.daysSinceInteraction,
    }),
  }),
});

builder.queryField('dueFollowUps', (t) =>
  t.field({
    type: [FollowUp],
    authScopes: { networkRead: true },
    description: `Birthdays within the next withinDays days (0–366, today included) and lapsed contacts (overdue included), by due date then party; at most ${maxFollowUps}.`,
    args: { withinDays: t.arg.int({ defaultValue: 14 }) },
    resolve: async (_root, args, context) => {
      const { followUps, truncated } = await dueFollowUps({ withinDays: args.withinDays ?? 14 });
      if (truncated) {
        context.warnings.push({ path: 'dueFollowUps', message: `The list stopped at ${maxFollowUps} entries: more are due` });
      }
      return followUps;
    },
  }),
);
