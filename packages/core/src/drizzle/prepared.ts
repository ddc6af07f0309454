import { createHash } from 'node:crypto';

/**
 * Named prepared statements for node-postgres and Neon's driver, without touching the queries:
 * every statement text the application sends (drizzle builds the same text for the same shape of
 * query) gets a name made from its text, so each connection parses and plans it once and then
 * only binds and executes. Planning a request's statements cost Postgres more than running them
 * (measured on the party page of `pnpm bench`: 2.9 ms to plan, 1.0 ms to execute; the plan cache
 * keeps a generic plan once it is no dearer than custom ones).
 *
 * Bounded: a text is named the second time it is sent (many texts are sent once: a batch's
 * `in ($1, … $n)` differs with its length), and at most `maxPreparedTexts` texts in a process get
 * a name (each connection holds a plan per name it has seen); the others run unnamed as before.
 * Transaction control and settings are not worth preparing.
 */
export const maxPreparedTexts = 500;

/** Texts seen once, not yet named; forgotten all at once when full (only costs a second sighting). */
const maxSightings = 5_000;

const names = new Map<string, string>();
const seenOnce = new Set<string>();

/** The prepared-statement name of a statement text, or undefined when it runs unnamed this time. */
export function preparedName(text: string): string | undefined {
  const known = names.get(text);
  if (known) return known;
  if (names.size >= maxPreparedTexts || !/^\s*(select|with|insert|update|delete)\b/i.test(text) || /^\s*select set_config\(/i.test(text)) {
    return undefined;
  }
  if (!seenOnce.has(text)) {
    if (seenOnce.size >= maxSightings) seenOnce.clear();
    seenOnce.add(text);
    return undefined;
  }
  seenOnce.delete(text);
  const name = `gx_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
  names.set(text, name);
  return name;
}

interface QueryConfig {
  text?: unknown;
  name?: unknown;
}

/** Makes `client.query` name the statements it is given as `{ text }` (drizzle's form). */
export function prepareStatements(client: { query: (...args: never[]) => unknown }): void {
  const query = client.query as (...args: unknown[]) => unknown;
  client.query = function (this: unknown, config: unknown, ...rest: unknown[]) {
    if (config && typeof config === 'object' && typeof (config as QueryConfig).text === 'string' && !(config as QueryConfig).name) {
      const name = preparedName((config as QueryConfig).text as string);
      if (name) config = { ...(config as object), name };
    }
    return query.call(this, config, ...rest);
  } as never;
}
