import { correlatedParty } from '@guanxi/core';
import {
  orderPageJson,
  ordersFromJson,
  findOrders,
  orderCounts,
  orderCursor,
  orderPages,
  recordOrder,
  type OrderRow,
} from '@guanxi/core/network';
import type { ReferralRow } from '@guanxi/core/referrals';
import { builder } from '../builder';
import { partyConnections } from '../connections';
import { payloadType, runMutation } from '../errors';
import { CurrencyEnum, Money } from '../money';
import { Party } from './party';
import { prefetchablePageOnParty, prefetchedPages } from './prefetch';

export const Order = builder.loadableNode('Order', {
  description: 'A purchase by a party: the raw material of loyalty scoring and of the stage policy.',
  id: { resolve: (row: OrderRow) => row.id, description: 'Global id of the order; load it again with node(id).' },
  load: (ids: string[]) => findOrders(ids),
  sort: (row) => row.id,
  authScopes: { networkRead: true },
  fields: (t) => ({
    party: t.field({ type: Party, description: 'The party who bought.', resolve: (o) => o.partyId }),
    amount: t.field({
      type: Money,
      description: "What the party paid, exact as recorded, in the tenant's currency.",
      resolve: (o) => ({ amount: o.amount, currency: o.currency }),
    }),
    placedAt: t.field({
      type: 'DateTime',
      description: 'When the order was placed; loyalty scoring dates the order by its UTC date.',
      resolve: (o) => o.placedAt,
    }),
    satisfaction: t.exposeInt('satisfaction', {
      nullable: true,
      description: "The party's rating, 1 (poor) to 5 (excellent); null when not rated. Rated 4–5 or unrated counts as a satisfying order.",
    }),
    externalId: t.exposeString('externalId', {
      nullable: true,
      description: "Your system's id for the order, unique in the tenant; null when none was given.",
    }),
    createdAt: t.field({ type: 'DateTime', description: 'When the order was recorded in guanxi.', resolve: (o) => o.createdAt }),
  }),
});

const PartyOrderConnection = builder.connectionObject(
  {
    type: Order,
    name: 'PartyOrderConnection',
    description: "A page of a party's orders, newest placedAt first.",
    edgesField: { description: 'The orders of this page, each with its cursor.' },
  },
  { description: "One order in a page of a party's orders.", nodeField: { description: 'The order.' } },
);

// A party's own statement can read its first page of orders along (prefetch.ts).
prefetchablePageOnParty('orders', {
  sql: (limit, properties) => orderPageJson(correlatedParty, limit, properties),
  decode: ordersFromJson,
  needs: {
    id: ['id'],
    party: ['partyId'],
    amount: ['amount', 'currency'],
    placedAt: ['placedAt'],
    satisfaction: ['satisfaction'],
    externalId: ['externalId'],
    createdAt: ['createdAt'],
  },
});

builder.objectField(Party, 'orders', (t) =>
  t.loadable({
    type: PartyOrderConnection,
    description: "This party's orders, newest placedAt first. Pages of first/last at most 100 (default 20).",
    authScopes: { networkRead: true },
    byPath: true,
    args: t.arg.connectionArgs(),
    load: (partyIds: string[], context, args) =>
      partyConnections(partyIds, args, {
        cursor: orderCursor,
        fetch: async (page) => prefetchedPages(context, 'orders', partyIds, page) ?? orderPages(partyIds, page),
        count: () => orderCounts(partyIds),
      }),
    resolve: (party) => party.id,
  }),
);

const RecordOrderInput = builder.inputType('RecordOrderInput', {
  description: 'A purchase to record.',
  fields: (t) => ({
    partyId: t.globalID({ required: true, for: [Party], description: 'The party who bought; not archived, not erased.' }),
    amount: t.field({
      type: 'Decimal',
      required: true,
      description: "At least 0, with no more decimals than the currency's minor unit (CNY 2, JPY 0).",
    }),
    currency: t.field({
      type: CurrencyEnum,
      description: "Optional: the tenant's currency is the only one accepted; another is a VALIDATION user error.",
    }),
    placedAt: t.field({
      type: 'DateTime',
      description: 'When it was placed; default now. The past is fine (order history can be imported); more than 5 minutes ahead is a VALIDATION error.',
    }),
    satisfaction: t.int({ description: 'A whole number from 1 (poor) to 5 (excellent); leave it out when not rated.' }),
    externalId: t.string({
      description: "Your system's id for this order, at most 200 characters; unique in the tenant (one already used is a CONFLICT).",
    }),
  }),
});

// Its `referral` field is added by the referrals module, which imports orders (not the other way).
export const RecordOrderPayload = payloadType<{ order: OrderRow; referral: ReferralRow | null }>(
  'RecordOrderPayload',
  (t) => ({
    order: t.field({
      type: Order,
      nullable: true,
      description: 'The order as recorded; null when userErrors is not empty.',
      resolve: (p) => p.order ?? null,
    }),
  }),
  'What recordOrder did: the order (and the referral it converted), or userErrors and no change.',
);

builder.mutationField('recordOrder', (t) =>
  t.field({
    type: RecordOrderPayload,
    authScopes: { networkWrite: true },
    description:
      "Records a purchase; a PROSPECT becomes a CUSTOMER with it, and the referee's first order converts its PENDING referral (rewarded at once under autoReward). userErrors: NOT_FOUND (partyId), VALIDATION (a field outside its limits), CONFLICT (an archived or erased party, externalId already used). Needs network:write (MEMBER or ADMIN role, or the NETWORK_WRITE scope).",
    args: { input: t.arg({ type: RecordOrderInput, required: true, description: 'The purchase to record.' }) },
    resolve: (_root, { input }) =>
      runMutation(() => recordOrder({ ...input, partyId: input.partyId.id })),
  }),
);
