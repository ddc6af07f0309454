/** Latency sampling shared by the bench scripts: warm up, time each call, summarise. */

/** The p-th percentile (nearest rank) of ascending `sorted` times. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export interface Timings {
  /** Milliseconds, ascending. */
  times: number[];
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  /** What the calls returned (a string outcome such as "cap hit"), with how many returned it. */
  outcomes: Map<string, number>;
}

/**
 * Calls `fn` once per input after `warmUp` untimed calls (on the first inputs), timing each call
 * on the monotonic clock. A call may return a short outcome string, counted in `outcomes`.
 */
export async function timeCalls<T>(inputs: readonly T[], fn: (input: T) => Promise<unknown> | unknown, warmUp = 10): Promise<Timings> {
  for (const input of inputs.slice(0, warmUp)) await fn(input);
  const times: number[] = [];
  const outcomes = new Map<string, number>();
  for (const input of inputs) {
    const started = process.hrtime.bigint();
    const outcome = await fn(input);
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
    if (typeof outcome === 'string') outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  }
  times.sort((a, b) => a - b);
  return {
    times,
    mean: times.reduce((a, b) => a + b, 0) / Math.max(1, times.length),
    p50: percentile(times, 50),
    p95: percentile(times, 95),
    p99: percentile(times, 99),
    max: times.at(-1) ?? 0,
    outcomes,
  };
}

/** One measured line of a bench's table. */
export interface LatencyRow {
  name: string;
  n: number;
  p50: number;
  p95: number;
  max: number;
  note: string;
}

/** `n` copies of nothing: inputs for a call that takes none. */
export const repeat = (n: number): null[] => Array.from({ length: n }, () => null);
