import { expect, test } from 'vitest';
import { currencies, isCurrency, minorUnitDigits } from './money';

test('the accepted currencies are ISO 4217 codes, each with its minor units', () => {
  expect(currencies.length).toBeGreaterThan(150);
  expect(currencies.every((code) => /^[A-Z]{3}$/.test(code))).toBe(true);
  expect(['CNY', 'EUR', 'JPY', 'KWD', 'USD'].every(isCurrency)).toBe(true);
  // domain: a tenant's currency is one of them; anything else is refused, not guessed.
  expect(['XYZ', 'cny', 'EURO', '', 'toString', 'constructor'].some(isCurrency)).toBe(false);
  expect([minorUnitDigits('CNY'), minorUnitDigits('JPY'), minorUnitDigits('KWD')]).toEqual([2, 0, 3]);
});
