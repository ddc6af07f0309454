import {
  findOrders,
  orderCounts,
  orderCursor,
  orderPages,
  recordOrder,
  type OrderRow,
} from '@guanxi/core/network';
import type { ReferralRow } from '@guanxi/core/referrals';
import { builder } from '../builder';
import { defaultPageSize, partyPages, perPartyConnection } from '../connections';
import { payloadType, runMutation } from '../errors';
import { Referral } from '../referrals/referral';
import { Party } from './party';

export const Order = builder.loadableNode('Order', {
  description: 'A purchase by a party: the raw material of loyalty scoring and of the stage policy.',
  id: { resolve: (row: OrderRow) => row.id },
  load: (ids: string[]) => findOrders(ids),
  sort: (row) => row.id,
  authScopes: { networkRead: true },
  fields: (t) => ({
    party: t.field({ type: Party, resolve: (o) => o.partyId }),
    amount: t.field({ type: 'Decimal', description: 'Exact, as recorded (never a float).', resolve: (o) => o.amount }),
    currency: t.exposeString('currency', { description: "Always the tenant's currency (ISO 4217)." }),
    placedAt: t.field({ type: 'DateTime', resolve: (o) => o.placedAt }),
    satisfaction: t.exposeInt('satisfaction', { nullable: true, description: '1–5; null when not rated.' }),
    externalId: t.exposeString('externalId', { nullable: true }),
    createdAt: t.field({ type: 'DateTime', resolve: (o) => o.createdAt }),
  }),
});

const PartyOrderConnection = perPartyConnection('PartyOrderConnection', {
  node: Order,
  cursor: orderCursor,
  countDescription: 'Orders of this party, all pages.',
  count: orderCounts,
});

builder.objectField(Party, 'orders', (t) =>
  t.loadable({
    type: PartyOrderConnection,
    description: "This party's orders, newest placedAt first.",
    authScopes: { networkRead: true },
    byPath: true,
    args: {
      first: t.arg.int({ defaultValue: defaultPageSize }),
      after: t.arg.string(),
    },
    // One statement for every party of the page (the loader batches by field path and arguments).
    load: (partyIds: string[], _context, args) => partyPages(args, (page) => orderPages(partyIds, page)),
    resolve: (party) => party.id,
  }),
);

const RecordOrderInput = builder.inputType('RecordOrderInput', {
  fields: (t) => ({
    partyId: t.globalID({ required: true, for: [Party] }),
    amount: t.field({
      type: 'Decimal',
      required: true,
      description: "At least 0, with no more decimals than the currency's minor unit (CNY 2, JPY 0).",
    }),
    currency: t.string({ description: "Optional: the tenant's currency is the only one accepted." }),
    placedAt: t.field({ type: 'DateTime', description: 'Default now; may be in the past, never in the future.' }),
    satisfaction: t.int({ description: '1–5.' }),
    externalId: t.string({ description: "Your system's id for this order; unique in the tenant." }),
  }),
});

const RecordOrderPayload = payloadType<{ order: OrderRow; referral: ReferralRow | null }>('RecordOrderPayload', (t) => ({
  order: t.field({ type: Order, nullable: true, resolve: (p) => p.order ?? null }),
  referral: t.field({
    type: Referral,
    nullable: true,
    description: "The referral this order converted (the referee's first order since it was made), else null.",
    resolve: (p) => p.referral ?? null,
  }),
}));

builder.mutationField('recordOrder', (t) =>
  t.field({
    type: RecordOrderPayload,
    authScopes: { networkWrite: true },
    description:
      "Records a purchase; a PROSPECT becomes a CUSTOMER with it, and the referee's first order converts its PENDING referral (rewarded at once under autoReward).",
    args: { input: t.arg({ type: RecordOrderInput, required: true }) },
    resolve: (_root, { input }) =>
      runMutation(() => recordOrder({ ...input, partyId: input.partyId.id })),
  }),
);
