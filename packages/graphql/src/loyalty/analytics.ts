import {
  atRiskParties,
  pareto,
  segmentDistribution,
  segmentMigration,
  type Pareto,
  type SegmentMove,
  type SegmentShare,
} from '@guanxi/core/loyalty';
import { builder } from '../builder';
import { checkPageSize, defaultPageSize } from '../connections';
import { Money, tenantMoney } from '../money';
import { SegmentEnum } from '../network/party';
import { LoyaltySnapshot } from './snapshot';

const SegmentShareType = builder.objectRef<SegmentShare>('SegmentShare').implement({
  description: 'One RFM segment on a scored day: how many parties fall in it and what they spent.',
  fields: (t) => ({
    segment: t.field({ type: SegmentEnum, description: 'The segment counted.', resolve: (row) => row.segment }),
    count: t.exposeInt('count', { description: 'Parties in the segment.' }),
    share: t.exposeFloat('share', { description: 'count ÷ parties scored that day; 0 when none were.' }),
    monetary: t.field({
      type: Money,
      description: "Sum of the segment's monetary (its parties' orders in the scoring window), in the tenant's currency.",
      resolve: (row, _args, context) => tenantMoney(context, row.monetary),
    }),
  }),
});

const SegmentMoveType = builder.objectRef<SegmentMove>('SegmentMove').implement({
  description: 'One cell of the segment migration matrix.',
  fields: (t) => ({
    from: t.field({ type: SegmentEnum, description: 'The segment on the first day (segmentMigration `from`).', resolve: (row) => row.from }),
    to: t.field({ type: SegmentEnum, description: 'The segment on the second day (segmentMigration `to`).', resolve: (row) => row.to }),
    count: t.exposeInt('count', { description: 'Parties in `from` on the first day and in `to` on the second.' }),
  }),
});

const ParetoType = builder.objectRef<Pareto>('Pareto').implement({
  description: '二八法则: how much of the revenue the top share of customers brings.',
  fields: (t) => ({
    asOf: t.field({ type: 'Date', nullable: true, description: 'The day read; null when the tenant was never scored.', resolve: (p) => p.asOf }),
    topShare: t.exposeFloat('topShare', { description: 'The share of the scored parties taken as the top, as asked (0 < topShare ≤ 1).' }),
    revenueShare: t.exposeFloat('revenueShare', {
      description: "The top parties' monetary ÷ the total monetary of the day; 0 when the total is 0.",
    }),
    parties: t.exposeInt('parties', { description: 'k = ⌈topShare · n⌉: parties in the top share (by monetary, ties by id).' }),
    population: t.exposeInt('population', { description: 'n: parties scored that day.' }),
  }),
});

const asOfDescription = "The scored day; default the tenant's latest scored day.";

builder.queryFields((t) => ({
  segmentDistribution: t.field({
    type: [SegmentShareType],
    authScopes: { loyaltyRead: true },
    description: 'All 8 segments of a scored day (zeros included) with count, share and monetary.',
    args: { asOf: t.arg({ type: 'Date', description: asOfDescription }) },
    resolve: async (_root, args) => (await segmentDistribution(args.asOf ?? null)).segments,
  }),
  segmentMigration: t.field({
    type: [SegmentMoveType],
    authScopes: { loyaltyRead: true },
    description:
      'The from → to matrix between two scored days: all 64 segment pairs (zeros included), counting parties scored on both days.',
    args: {
      from: t.arg({ type: 'Date', required: true, description: 'The first scored day; may be after `to` to look backwards.' }),
      to: t.arg({ type: 'Date', required: true, description: 'The second scored day.' }),
    },
    resolve: (_root, args) => segmentMigration(args.from, args.to),
  }),
  pareto: t.field({
    type: ParetoType,
    authScopes: { loyaltyRead: true },
    description:
      "Checks the 80/20 rule on a scored day: the share of the day's monetary that the top topShare of parties (by monetary) bring. All zeros when the tenant was never scored.",
    args: {
      asOf: t.arg({ type: 'Date', description: asOfDescription }),
      topShare: t.arg.float({
        defaultValue: 0.2,
        description: 'The share of scored parties to take as the top: greater than 0, at most 1 (default 0.2); else a VALIDATION error.',
      }),
    },
    resolve: (_root, args) => pareto(args.asOf ?? null, args.topShare ?? 0.2),
  }),
  atRiskParties: t.field({
    type: [LoyaltySnapshot],
    authScopes: { loyaltyRead: true },
    description:
      "The latest scored day's snapshots by churn risk × monetary, largest first (ties by party id): whom to follow up first. Archived parties are left out.",
    args: { first: t.arg.int({ defaultValue: defaultPageSize, description: 'At most 100.' }) },
    resolve: (_root, args) => {
      checkPageSize(args);
      return atRiskParties(args.first ?? defaultPageSize);
    },
  }),
}));
