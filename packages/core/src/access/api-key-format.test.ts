import { describe, expect, test } from 'vitest';
import { generateApiKeySecret, isWellFormedApiKey } from './api-key-format';

describe('the API key format', () => {
  test('every generated key is well formed; any one character changed is refused', () => {
    for (let i = 0; i < 200; i++) {
      const key = generateApiKeySecret();
      expect(key).toMatch(/^gx_[0-9A-Za-z]{36}$/);
      expect(isWellFormedApiKey(key)).toBe(true);
      const at = 3 + (i % 36);
      const changed = key.slice(0, at) + (key[at] === 'a' ? 'b' : 'a') + key.slice(at + 1);
      expect(isWellFormedApiKey(changed)).toBe(false);
    }
  });

  test('keys issued before keep their checksum (a key from an earlier release, computed with BigInt)', () => {
    expect(isWellFormedApiKey('gx_Gx7Tq2LmN8pRs4VwY0zAbCdEfGhJkMKXUIb8')).toBe(true);
    expect(isWellFormedApiKey('gx_Gx7Tq2LmN8pRs4VwY0zAbCdEfGhJkMKXUIb9')).toBe(false);
  });

  test('wrong prefix, length or alphabet is refused before any checksum', () => {
    for (const key of ['', 'gx_', 'xx_Gx7Tq2LmN8pRs4VwY0zAbCdEfGhJkMKXUIb8', 'gx_Gx7Tq2LmN8pRs4VwY0zAbCdEfGhJkMKXUIb', 'gx_Gx7Tq2LmN8pRs4VwY0zAbCdEfGhJk-KXUIb8']) {
      expect(isWellFormedApiKey(key)).toBe(false);
    }
  });
});
