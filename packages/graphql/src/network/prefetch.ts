import type { PartyPageExtras } from '@guanxi/core/network';
import { createContextCache } from '@pothos/core';
import { Kind, type FragmentDefinitionNode, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';

/**
 * Party fields a page of parties can fetch in its own statement. The module that owns a field
 * registers it here (its SQL and how to decode the value); the `parties` list looks ahead at its
 * selection, asks for the registered fields it finds under `edges.node`, and hands each
 * row's value to the field's loader, which then does no I/O for that page. A field asked for
 * elsewhere (a single `party`, a nested list) loads in its batched statement as before.
 */
export interface PartyPrefetch {
  /** The value, as a scalar subquery correlated with the page's parties row. */
  sql: PartyPageExtras[string];
  /** The field's loader value from the fetched one. */
  decode: (value: unknown) => unknown;
}

const partyPrefetches = new Map<string, PartyPrefetch>();

/** Registers `field` of Party as one a page of parties can fetch along (at schema build). */
export function prefetchableOnParty(field: string, prefetch: PartyPrefetch): void {
  partyPrefetches.set(field, prefetch);
}

/** The names of the fields selected directly in `selectionSet`, fragments included. */
function fieldsOf(selectionSet: SelectionSetNode | undefined, fragments: Record<string, FragmentDefinitionNode>, into: Map<string, SelectionSetNode[]>, seen = new Set<string>()): void {
  if (!selectionSet) return;
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      const list = into.get(selection.name.value) ?? [];
      if (selection.selectionSet) list.push(selection.selectionSet);
      into.set(selection.name.value, list);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      fieldsOf(selection.selectionSet, fragments, into, seen);
    } else if (!seen.has(selection.name.value)) {
      seen.add(selection.name.value);
      fieldsOf(fragments[selection.name.value]?.selectionSet, fragments, into, seen);
    }
  }
}

function childSelections(sets: SelectionSetNode[], field: string, fragments: Record<string, FragmentDefinitionNode>): SelectionSetNode[] {
  const found = new Map<string, SelectionSetNode[]>();
  for (const set of sets) fieldsOf(set, fragments, found);
  return found.get(field) ?? [];
}

/**
 * The registered fields this connection field selects on its parties (`edges { node { … } }`), as
 * the extras of the page's statement. Over-asking is harmless (a field under a
 * skipped fragment is fetched and not read); under-asking only costs the loader's statement.
 */
export function partyPrefetchesOf(info: GraphQLResolveInfo): PartyPageExtras {
  if (partyPrefetches.size === 0) return {};
  const own = info.fieldNodes.flatMap((node) => (node.selectionSet ? [node.selectionSet] : []));
  const nodes = childSelections(childSelections(own, 'edges', info.fragments), 'node', info.fragments);
  const selected = new Map<string, SelectionSetNode[]>();
  for (const set of nodes) fieldsOf(set, info.fragments, selected);
  const extras: PartyPageExtras = {};
  for (const [field, prefetch] of partyPrefetches) if (selected.has(field)) extras[field] = prefetch.sql;
  return extras;
}

/** Per request: what pages fetched along, by field, then by party id. */
const prefetchedOf = createContextCache((_context: object) => new Map<string, Map<string, unknown>>());

/** Keeps the values a page fetched along (`ListedParty.extras`) for the fields' loaders. */
export function keepPrefetched(context: object, rows: readonly { id: string; extras?: Record<string, unknown> }[]): void {
  const store = prefetchedOf(context);
  for (const row of rows) {
    if (!row.extras) continue;
    for (const [field, value] of Object.entries(row.extras)) {
      const prefetch = partyPrefetches.get(field);
      if (!prefetch) continue;
      let values = store.get(field);
      if (!values) store.set(field, (values = new Map()));
      values.set(row.id, prefetch.decode(value));
    }
  }
}

/**
 * A loader's batch for `field`: the values pages fetched along, and `fetch` for the other keys
 * only (not called at all when every key was fetched along), in the order of `keys`.
 */
export async function loadPrefetched<V>(
  context: object,
  field: string,
  keys: readonly string[],
  fetch: (missing: string[]) => Promise<Map<string, V>>,
): Promise<(V | null)[]> {
  const known = prefetchedOf(context).get(field);
  const missing = known ? keys.filter((key) => !known.has(key)) : [...keys];
  const fetched = missing.length > 0 ? await fetch(missing) : new Map<string, V>();
  return keys.map((key) => (known?.has(key) ? (known.get(key) as V | null) : (fetched.get(key) ?? null)));
}
