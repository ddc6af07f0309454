/**
 * The seed's only source of randomness. Every stream is derived from (seed, label), so a party's
 * data depends on its own stream alone: adding a table to the seed, or changing how another party
 * is drawn, does not reshuffle everything else.
 */
export interface Rng {
  /** A float in [0, 1). */
  next(): number;
  uint32(): number;
  /** An integer in [min, max], both included. */
  int(min: number, max: number): number;
  /** A float in [min, max). */
  between(min: number, max: number): number;
  chance(probability: number): boolean;
  pick<T>(items: readonly T[]): T;
  /** An index drawn with the given relative weights. */
  weighted(weights: readonly number[]): number;
  /** Up to `count` distinct items, in draw order. */
  sample<T>(items: readonly T[], count: number): T[];
  shuffle<T>(items: T[]): T[];
  /** A UUID version 7 whose time prefix is `ms` and whose random bits come from this stream. */
  uuid(ms: number): string;
}

// splitmix32 finaliser: spreads a 32-bit value over all bits so that nearby labels give
// unrelated generator states.
function mix32(value: number): number {
  let z = (value + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

function stateFor(seed: number, label: string): [number, number, number, number] {
  // FNV-1a over the label, folded with the seed: cheap, and enough to separate streams.
  let h = 0x811c9dc5 ^ (seed >>> 0);
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  const a = mix32(h);
  const b = mix32(a ^ 0x68e31da4);
  const c = mix32(b ^ 0xb5297a4d);
  const d = mix32(c ^ 0x1b56c4e9);
  return [a, b, c, d];
}

/** sfc32 (Chris Doty-Humphrey's small fast counting generator): 128-bit state, fast in JS. */
export function createRng(seed: number, label: string): Rng {
  let [a, b, c, d] = stateFor(seed, label);
  const uint32 = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  // The first outputs of a freshly seeded sfc32 are still correlated with the seed.
  for (let i = 0; i < 12; i++) uint32();

  const next = (): number => uint32() / 4294967296;
  const hex = (value: number, digits: number): string => value.toString(16).padStart(digits, '0');

  const rng: Rng = {
    next,
    uint32,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    between: (min, max) => min + next() * (max - min),
    chance: (probability) => next() < probability,
    pick: (items) => {
      if (items.length === 0) throw new Error('Cannot pick from an empty list');
      return items[Math.floor(next() * items.length)]!;
    },
    weighted: (weights) => {
      const total = weights.reduce((sum, w) => sum + w, 0);
      let roll = next() * total;
      for (let i = 0; i < weights.length; i++) {
        roll -= weights[i]!;
        if (roll < 0) return i;
      }
      return weights.length - 1;
    },
    sample: (items, count) => rng.shuffle([...items]).slice(0, count),
    shuffle: (items) => {
      for (let i = items.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        const swap = items[i]!;
        items[i] = items[j]!;
        items[j] = swap;
      }
      return items;
    },
    uuid: (ms) => {
      // RFC 9562 layout: 48-bit ms | ver 7 + 12 random bits | variant 10 + 62 random bits.
      const time = hex(Math.max(0, Math.floor(ms)), 12);
      const r1 = uint32();
      const r2 = uint32();
      const r3 = uint32();
      const randA = hex(r1 & 0xfff, 3);
      const group4 = hex(((0x8 | (r2 & 0x3)) << 12) | ((r2 >>> 2) & 0xfff), 4);
      const group5 = hex((r2 >>> 16) & 0xffff, 4) + hex(r3, 8);
      return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${randA}-${group4}-${group5}`;
    },
  };
  return rng;
}
