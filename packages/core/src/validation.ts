// Namespace import everywhere (never `import { z }`): zod's `z` export is one object holding
// every locale, which a bundler must then keep whole (+350 KB in the Lambda bundle, ~35 ms of
// cold start); with `* as z` only what is used is bundled. build-functions.mjs checks it.
import * as z from 'zod';
import { UserError } from './errors';

/** Turns zod's issues into the contract's `userErrors`, naming the input field at fault. */
export function zodToUserError(error: z.ZodError): UserError {
  return new UserError(
    error.issues.map((issue) => ({
      code: 'VALIDATION' as const,
      field: ['input', ...issue.path.map(String)],
      message: issue.message,
    })),
  );
}

/**
 * A schema built on its first use instead of at import. Building zod schemas is most of what
 * importing the validation costs (each step of a chain makes a new schema object), about 20 ms of
 * a Lambda cold start for schemas a given request mostly never uses.
 */
export function lazySchema<T>(build: () => T): () => T {
  let built: T | undefined;
  return () => (built ??= build());
}

/** Parses `input` with `schema` or throws the VALIDATION user errors naming each bad field. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw zodToUserError(parsed.error);
  return parsed.data;
}

/** Dates of the domain are calendar dates, YYYY-MM-DD, checked for real (no 2023-02-30). */
export const calendarDate = lazySchema(() =>
  z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/, 'A date is written YYYY-MM-DD')
    .refine((value) => {
      const date = new Date(`${value}T00:00:00Z`);
      return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === value;
    }, 'Not a calendar date'),
);

/** Optional free text: trimmed, at most `max` characters; blank means none (null). */
export function optionalText(max: number, label: string) {
  return z
    .string()
    .trim()
    .max(max, `${label} is at most ${max} characters`)
    .transform((value) => (value === '' ? null : value))
    .nullish();
}

export function todayUtc(now: Date = new Date()): string {
  return now.toISOString().slice(0, 10);
}
