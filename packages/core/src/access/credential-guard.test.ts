import { describe, expect, test } from 'vitest';
import { generateApiKeySecret } from './api-key-format';
import { CredentialGuard, defaultCredentialGuardLimits } from './credential-guard';

/** A clock the test moves by hand. */
function manualClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

describe('CredentialGuard', () => {
  test('a key that failed once is answered from memory; a good key is looked up every time', async () => {
    const guard = new CredentialGuard();
    const good = generateApiKeySecret();
    const fake = generateApiKeySecret();
    const looked: string[] = [];
    const lookup = async (secret: string) => (looked.push(secret), secret === good ? { id: 'k1' } : null);

    expect(await guard.checkApiKey(fake, lookup)).toEqual({ outcome: 'unknown' });
    for (let i = 0; i < 5; i++) expect(await guard.checkApiKey(fake, lookup)).toEqual({ outcome: 'unknown' });
    for (let i = 0; i < 3; i++) expect(await guard.checkApiKey(good, lookup)).toEqual({ outcome: 'found', value: { id: 'k1' } });
    // Revocation takes effect at once: good keys are never answered from memory.
    expect(looked).toEqual([fake, good, good, good]);
    expect(guard.counters).toMatchObject({ lookups: 4, rememberedFailureHits: 5 });
  });

  test('an address past its budget of wrong credentials is refused until its window ends', () => {
    const clock = manualClock();
    const guard = new CredentialGuard({ ...defaultCredentialGuardLimits, failuresPerAddress: 3, addressWindowMs: 60_000 }, clock.now);
    for (let i = 0; i < 3; i++) {
      expect(guard.admitAddress('203.0.113.7')).toEqual({ allowed: true });
      guard.recordFailure('203.0.113.7');
    }
    clock.advance(20_000);
    expect(guard.admitAddress('203.0.113.7')).toEqual({ allowed: false, reason: 'address', retryAfterSeconds: 40 });
    // Another address has its own budget.
    expect(guard.admitAddress('198.51.100.2')).toEqual({ allowed: true });
    clock.advance(40_000);
    expect(guard.admitAddress('203.0.113.7')).toEqual({ allowed: true });
  });

  test('unknown-key lookups are capped per second, also for a burst sent at once; known-good keys pass', async () => {
    const clock = manualClock();
    const guard = new CredentialGuard({ ...defaultCredentialGuardLimits, unknownKeyLookupsPerSecond: 4 }, clock.now);
    const good = generateApiKeySecret();
    let lookups = 0;
    const lookup = async (secret: string) => {
      lookups++;
      await new Promise((resolve) => setTimeout(resolve, 5));
      return secret === good ? { id: 'k1' } : null;
    };
    expect((await guard.checkApiKey(good, lookup)).outcome).toBe('found');

    const burst = await Promise.all(Array.from({ length: 10 }, () => guard.checkApiKey(generateApiKeySecret(), lookup)));
    expect(burst.filter((r) => r.outcome === 'unknown')).toHaveLength(4);
    expect(burst.filter((r) => r.outcome === 'refused')).toHaveLength(6);
    expect(lookups).toBe(1 + 4);
    // The budget is spent, yet a key this process has seen work is still checked and admitted.
    expect((await guard.checkApiKey(good, lookup)).outcome).toBe('found');
    // A key never seen is refused until the next second.
    expect((await guard.checkApiKey(generateApiKeySecret(), lookup)).outcome).toBe('refused');
    clock.advance(1000);
    expect((await guard.checkApiKey(generateApiKeySecret(), lookup)).outcome).toBe('unknown');
  });

  test('a lookup that throws (database down) gives its place back and remembers nothing', async () => {
    const guard = new CredentialGuard({ ...defaultCredentialGuardLimits, unknownKeyLookupsPerSecond: 1 }, manualClock().now);
    const key = generateApiKeySecret();
    await expect(guard.checkApiKey(key, async () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    expect(await guard.checkApiKey(key, async () => ({ id: 'k1' }))).toEqual({ outcome: 'found', value: { id: 'k1' } });
  });

  test('remembered keys are bounded: the least recently used go first', async () => {
    const guard = new CredentialGuard({ ...defaultCredentialGuardLimits, rememberedKeys: 2, unknownKeyLookupsPerSecond: 100 });
    const [a, b, c] = [generateApiKeySecret(), generateApiKeySecret(), generateApiKeySecret()];
    const unknown = async () => null;
    for (const key of [a, b, c]) await guard.checkApiKey(key, unknown);
    const before = guard.counters.lookups;
    await guard.checkApiKey(c, unknown);
    await guard.checkApiKey(a, unknown);
    // c was remembered, a had been pushed out by c and is looked up again.
    expect(guard.counters.lookups - before).toBe(1);
  });
});
