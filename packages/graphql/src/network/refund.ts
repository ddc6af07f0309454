// 退款 (domain: refunds): refundOrder, the refunds of an order and its net amount.
import { findRefunds, refundOrder, refundsOfOrders, refundTotals, type OrderRefundRow, type OrderRow, type RefundOrderResult } from '@guanxi/core/network';
import { Actor } from '../access/actor';
import { builder } from '../builder';
import { payloadType, runMutation } from '../errors';
import { Money } from '../money';
import { Order } from './order';

export const OrderRefund = builder.loadableNode('OrderRefund', {
  description: 'A refund of part or all of an order. Refunds are never changed; the order keeps its amount and its netAmount falls.',
  id: { resolve: (row: OrderRefundRow) => row.id, description: 'Global id of the refund; load it again with node(id).' },
  load: (ids: string[]) => findRefunds(ids),
  sort: (row) => row.id,
  authScopes: { networkRead: true },
  fields: (t) => ({
    order: t.field({ type: Order, description: 'The order refunded.', resolve: (row) => row.orderId }),
    amount: t.field({ type: Money, description: "What was refunded, in the order's currency.", resolve: (row) => ({ amount: row.amount, currency: row.currency }) }),
    reason: t.exposeString('reason', { nullable: true, description: 'Why, as given to refundOrder; null when none was given.' }),
    at: t.field({
      type: 'DateTime',
      description: 'When the refund was made; scoring as of a day counts the refunds made on or before it.',
      resolve: (row) => row.createdAt,
    }),
    actor: t.field({ type: Actor, description: 'Who made the refund.', resolve: (row) => ({ kind: row.actorKind, id: row.actorId }) }),
  }),
});

/** The refunded or the net amount of a batch of orders, one statement. */
const totals = (part: 'refunded' | 'net') => async (orderIds: string[]) => {
  const found = await refundTotals(orderIds);
  return orderIds.map((id) => {
    const total = found.get(id);
    return total ? { amount: total[part], currency: total.currency } : new Error('No such order');
  });
};

builder.objectFields(Order, (t) => ({
  refunded: t.loadable({
    type: Money,
    description: 'What has been refunded of the order so far ("0" when nothing).',
    load: totals('refunded'),
    resolve: (order: OrderRow) => order.id,
  }),
  netAmount: t.loadable({
    type: Money,
    description: 'The amount less its refunds: what loyalty scoring counts as the order’s monetary value.',
    load: totals('net'),
    resolve: (order: OrderRow) => order.id,
  }),
  refunds: t.loadableList({
    type: OrderRefund,
    description: 'The refunds of the order, oldest first.',
    load: async (orderIds: string[]) => {
      const found = await refundsOfOrders(orderIds);
      return orderIds.map((id) => found.get(id) ?? []);
    },
    resolve: (order: OrderRow) => order.id,
  }),
}));

const RefundOrderInput = builder.inputType('RefundOrderInput', {
  description: 'A refund of part or all of an order.',
  fields: (t) => ({
    orderId: t.globalID({ required: true, for: [Order], description: 'The order to refund.' }),
    amount: t.field({
      type: 'Decimal',
      description: "How much, more than 0, at most what is left to refund and with no more decimals than the currency's minor unit; default: all that is left.",
    }),
    reason: t.string({ description: 'Why, at most 500 characters; optional.' }),
  }),
});

// Its `referral` field is added by the referrals module, which imports orders (not the other way).
export const RefundOrderPayload = payloadType<RefundOrderResult>(
  'RefundOrderPayload',
  (t) => ({
    order: t.field({ type: Order, nullable: true, description: 'The order, with its refunds and net amount.', resolve: (p) => p.order ?? null }),
    refund: t.field({ type: OrderRefund, nullable: true, description: 'The refund written.', resolve: (p) => p.refund ?? null }),
    reversedPoints: t.int({
      nullable: true,
      description: "Member points this refund took back from the order's party (⌊earned × refunded so far ÷ amount⌋ in all, less what earlier refunds took).",
      resolve: (p) => p.reversedPoints ?? null,
    }),
  }),
  'What refundOrder did, or userErrors and no change.',
);

builder.mutationField('refundOrder', (t) =>
  t.field({
    type: RefundOrderPayload,
    authScopes: { networkWrite: true },
    description:
      "Refunds part or all of an order (needs network:write, like recordOrder). The order keeps its amount; scoring counts its net amount, and a fully refunded order not at all. The order's points are taken back in proportion (from its own lot first, then what the party has available; the rest becomes debt), and a full refund of a referral's converting order rejects the referral if it was not rewarded yet, or flags it REFUNDED_AFTER_REWARD. userErrors: NOT_FOUND (orderId), VALIDATION (an amount of 0 or less, more than what is left, too many decimals, an order already fully refunded, a reason over 500 characters). Sends order.refunded.",
    args: { input: t.arg({ type: RefundOrderInput, required: true, description: 'The order, how much and why.' }) },
    resolve: (_root, { input }) => runMutation(() => refundOrder({ orderId: input.orderId.id, amount: input.amount, reason: input.reason })),
  }),
);
