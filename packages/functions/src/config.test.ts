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

test('CORS origins: any in development, none in production unless GUANXI_CORS_ORIGINS lists them', () => {
  const production = { GUANXI_ENV: 'production', DATABASE_URL: 'postgres://db.example.com/guanxi' };
  expect(readSettings({}).corsOrigins).toBe('*');
  expect(readSettings(production).corsOrigins).toBeNull();
  expect(readSettings({ ...production, GUANXI_CORS_ORIGINS: ' https://app.example.com, http://localhost:5173 ' }).corsOrigins).toEqual([
    'https://app.example.com',
    'http://localhost:5173',
  ]);
  expect(readSettings({ ...production, GUANXI_CORS_ORIGINS: '*' }).corsOrigins).toBe('*');
  // A path, a trailing slash or a bare host never matches a browser's Origin header.
  for (const wrong of ['https://app.example.com/', 'https://app.example.com/app', 'app.example.com', 'ftp://x.example']) {
    expect(() => readSettings({ ...production, GUANXI_CORS_ORIGINS: wrong }), wrong).toThrow(/GUANXI_CORS_ORIGINS/);
  }
});
