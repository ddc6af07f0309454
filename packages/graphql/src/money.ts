import { currencies, currencyName, minorUnitDigits, type Currency } from '@guanxi/core';
import { currentTenant } from '@guanxi/core/access';
import { builder } from './builder';
import type { Context } from './context';

/** An amount as exact decimal text and its currency. */
export interface MoneyValue {
  amount: string;
  currency: string;
}

function decimals(code: Currency): string {
  const digits = minorUnitDigits(code);
  return digits === 0 ? 'no decimals' : `${digits} decimal${digits === 1 ? '' : 's'}`;
}

export const CurrencyEnum = builder.enumType('Currency', {
  description:
    "An ISO 4217 currency code guanxi accepts. A tenant has one currency, chosen at createTenant; every order, reward and sum is in it (another currency is refused, not converted).",
  values: Object.fromEntries(
    currencies.map((code) => [code, { description: `${currencyName(code)} (${decimals(code)}).` }]),
  ) as Record<Currency, { description: string }>,
});

export const Money = builder.objectRef<MoneyValue>('Money').implement({
  description: 'An exact amount of money and its currency (never a float).',
  fields: (t) => ({
    amount: t.field({
      type: 'Decimal',
      description:
        'Exact decimal text, e.g. "199.90", with at most the currency\'s minor-unit decimals (CNY 2, JPY 0, KWD 3).',
      resolve: (money) => money.amount,
    }),
    currency: t.field({
      type: CurrencyEnum,
      description: 'The currency of amount: the tenant\'s currency.',
      resolve: (money) => money.currency as Currency,
    }),
  }),
});

// One read of the tenant's currency per request, however many amounts the answer holds.
const tenantCurrencies = new WeakMap<Context, Promise<string>>();

/** `amount` in the current tenant's currency (for sums and stored amounts without a currency column). */
export function tenantMoney(context: Context, amount: string): Promise<MoneyValue> {
  let currency = tenantCurrencies.get(context);
  if (!currency) {
    currency = currentTenant().then((tenant) => tenant.currency);
    tenantCurrencies.set(context, currency);
  }
  return currency.then((code) => ({ amount, currency: code }));
}
