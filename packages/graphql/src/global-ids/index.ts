import { isUuid } from '@guanxi/core';
import { decodeGlobalID } from '@pothos/plugin-relay';

/**
 * The ids guanxi hands out: a global id names its type and wraps a uuid (Pothos's relay encoding).
 * Kept apart from the schema so the CLI can read ids without building it.
 */
export function decodeGuanxiId(globalId: string): { typename: string; id: string } | null {
  let decoded: { typename: string; id: string };
  try {
    decoded = decodeGlobalID(globalId);
  } catch {
    return null;
  }
  return isUuid(decoded.id) ? decoded : null;
}

/**
 * The uuid of a `typename` given as the API prints it (a global id) or as the uuid itself (as the
 * CLI and the dev server print it); null when it is neither, or a global id of another type.
 */
export function rawIdOf(typename: string, value: string): string | null {
  const trimmed = value.trim();
  if (isUuid(trimmed)) return trimmed.toLowerCase();
  const decoded = decodeGuanxiId(trimmed);
  return decoded?.typename === typename ? decoded.id.toLowerCase() : null;
}
