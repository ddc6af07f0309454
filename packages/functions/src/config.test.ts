import { expect, test } from 'vitest';
import { readSettings } from './config';

test('a load test may switch rate limiting off on a development server, never in production', () => {
  expect(readSettings({}).rateLimits).toBe(true);
  expect(readSettings({ GUANXI_RATE_LIMITS: 'on' }).rateLimits).toBe(true);
  expect(readSettings({ GUANXI_RATE_LIMITS: 'off' }).rateLimits).toBe(false);
  expect(() => readSettings({ GUANXI_RATE_LIMITS: 'none' })).toThrow(/"on" or "off"/);

  const production = { GUANXI_ENV: 'production', DATABASE_URL: 'postgres://db.example.com/guanxi' };
  expect(readSettings(production).rateLimits).toBe(true);
  expect(() => readSettings({ ...production, GUANXI_RATE_LIMITS: 'off' })).toThrow(/production always rate limits/);
});
