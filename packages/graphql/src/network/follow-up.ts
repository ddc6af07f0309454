import { dueFollowUps, followUpKinds, followUpReasons, maxFollowUps, type FollowUp as FollowUpShape } from '@guanxi/core/network';
import { builder } from '../builder';
import { Party } from './party';

export const FollowUpReasonEnum = builder.enumType('FollowUpReason', {
  description: 'Why a party is on the follow-up (回访) list.',
  values: {
    BIRTHDAY: {
      description: 'Its birthday falls within the next withinDays days, today included (a 29 February birthday falls on 28 February in other years).',
    },
    NO_RECENT_INTERACTION: {
      description: `A party whose kind is one of ${followUpKinds.join(', ')}, with no interaction (none ever: since it was created) for the tenant's followUpDays (default 30); it stays due until an interaction is recorded.`,
    },
  } satisfies Record<(typeof followUpReasons)[number], { description: string }>,
});

const FollowUp = builder.objectRef<FollowUpShape>('FollowUp').implement({
  description: 'One entry of the 回访 (follow-up) work list.',
  fields: (t) => ({
    party: t.field({ type: Party, description: 'The party to call, visit or greet (never an archived one).', resolve: (f) => f.partyId }),
    reason: t.field({
      type: FollowUpReasonEnum,
      description: 'Why it is due; a party due for both reasons appears twice, once per reason.',
      resolve: (f) => f.reason,
    }),
    dueOn: t.field({
      type: 'Date',
      description: 'The birthday, or the last interaction (else creation) date plus followUpDays; may be past (overdue).',
      resolve: (f) => f.dueOn,
    }),
    lastInteractionAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: "The party's latest interaction up to today, whatever the reason; null when none was ever recorded.",
      resolve: (f) => f.lastInteractionAt,
    }),
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
    description: `The 回访 work list as of today (UTC): birthdays within the next withinDays days and lapsed contacts (overdue included), by due date then party. At most ${maxFollowUps} entries; when more are due, extensions.warnings says so. Needs network:read (every role, or the NETWORK_READ scope).`,
    args: {
      withinDays: t.arg.int({
        defaultValue: 14,
        description: 'How many days ahead to look for birthdays, 0–366 (0: today only); another value is an error with code VALIDATION. Lapsed contacts are listed whatever it is.',
      }),
    },
    resolve: async (_root, args, context) => {
      const { followUps, truncated } = await dueFollowUps({ withinDays: args.withinDays ?? 14 });
      if (truncated) {
        context.warnings.push({ path: 'dueFollowUps', message: `The list stopped at ${maxFollowUps} entries: more are due` });
      }
      return followUps;
    },
  }),
);
