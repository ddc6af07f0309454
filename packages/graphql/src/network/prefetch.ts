import type { PartyRows } from '@guanxi/core';
import type { PartyPageExtras } from '@guanxi/core/network';
import { createContextCache } from '@pothos/core';
import { parseCursorConnectionArgs } from '@pothos/plugin-relay';
import {
  getArgumentValues,
  isObjectType,
  Kind,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLResolveInfo,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';

/**
 * Party fields a party's own statement can read along: a page of parties (`parties`) for its rows,
 * a single `party` for itself. The module that owns a field registers it here (its SQL and how to
 * decode the value); the list or the party looks ahead at its selection, asks for the registered
 * fields it finds, and hands each party's value to the field's loader, which then does no I/O for
 * it. A field asked for elsewhere (under `node`, in a nested list) loads in its own batched
 * statement as before.
 *
 * Two kinds: a field with no arguments (the latest snapshot, the referrer), and the first page of
 * a connection (`orders(first: 10)`): fetched along only without a cursor and for `first` (or the
 * default size) within the page limits, keyed by the rows the page reads, so the loader finds the
 * very page it would have read.
 */
type Extra = PartyPageExtras[string];

export interface PartyPrefetch {
  /**
   * The value, as a scalar subquery correlated with the statement's parties row: with
   * `properties`, only those of the field's object (see `needs`); without, all of them.
   */
  sql: (properties?: readonly string[]) => Extra;
  /** The field's loader value from the fetched one. */
  decode: (value: unknown) => unknown;
  /**
   * What each sub-field of the field's type reads of its object (`score: ['score']`). When every
   * selection of the field anywhere in the operation asks only for sub-fields listed here, only
   * their properties are read along; one other sub-field anywhere, and the whole object is. The
   * loader serves its field wherever it is in the operation, so a value read for a narrow
   * selection never meets a wider one.
   */
  needs?: Readonly<Record<string, readonly string[]>>;
}

export interface PartyPagePrefetch {
  /**
   * The first `limit` rows of the party's list, as a JSON array correlated with its parties row:
   * with `properties`, only those of each row (and what its cursor needs); without, all of them.
   */
  sql: (limit: number, properties?: readonly string[]) => Extra;
  decode: (value: unknown) => unknown[];
  /**
   * What each field of the list's node type reads of its row (`amount: ['amount', 'currency']`),
   * as `PartyPrefetch.needs`: when every selection of the list in the operation asks its nodes
   * only for fields listed here (besides cursors, `pageInfo` and `totalCount`), only their
   * properties are read along.
   */
  needs?: Readonly<Record<string, readonly string[]>>;
  /** Arguments besides the page's that change the rows (a filter): present, nothing is read along. */
  filters?: readonly string[];
}

const fieldPrefetches = new Map<string, PartyPrefetch>();
const pagePrefetches = new Map<string, PartyPagePrefetch>();

/** Registers `field` of Party (no arguments) as one a party's statement can read along. */
export function prefetchableOnParty(field: string, prefetch: PartyPrefetch): void {
  fieldPrefetches.set(field, prefetch);
}

/** Registers the connection `field` of Party: its first page can be read along. */
export function prefetchablePageOnParty(field: string, prefetch: PartyPagePrefetch): void {
  pagePrefetches.set(field, prefetch);
}

// Page sizes as connections.ts gives them to Pothos.
const pageSizes = { defaultSize: 20, maxSize: 100 };

/** The extra's name of the first page of `field` that reads `limit` rows. */
const pageKey = (field: string, limit: number) => `${field}@${limit}`;

/** The fields selected directly in `selectionSet`, fragments included, with their nodes. */
function fieldsOf(
  selectionSet: SelectionSetNode | undefined,
  fragments: Record<string, FragmentDefinitionNode>,
  into: Map<string, FieldNode[]>,
  seen = new Set<string>(),
): void {
  if (!selectionSet) return;
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      into.set(selection.name.value, [...(into.get(selection.name.value) ?? []), selection]);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      fieldsOf(selection.selectionSet, fragments, into, seen);
    } else if (!seen.has(selection.name.value)) {
      seen.add(selection.name.value);
      fieldsOf(fragments[selection.name.value]?.selectionSet, fragments, into, seen);
    }
  }
}

function selected(sets: readonly (SelectionSetNode | undefined)[], fragments: Record<string, FragmentDefinitionNode>) {
  const found = new Map<string, FieldNode[]>();
  for (const set of sets) fieldsOf(set, fragments, found);
  return found;
}

const onlyAsked = new WeakMap<readonly FieldNode[], boolean>();

/**
 * Whether `info`'s field asks for nothing but these sub-fields (fragments seen through): then a
 * value that holds just them answers it, with no read (a list's ends asked as `from { id }`).
 */
export function asksOnly(info: GraphQLResolveInfo, names: ReadonlySet<string>): boolean {
  let only = onlyAsked.get(info.fieldNodes);
  if (only === undefined) {
    const asked = selected(
      info.fieldNodes.map((node) => node.selectionSet),
      info.fragments,
    );
    only = [...asked.keys()].every((name) => names.has(name));
    onlyAsked.set(info.fieldNodes, only);
  }
  return only;
}

/**
 * Each fragment is built once and then reused: the party statements are compiled once per shape,
 * and a shape names its fragments by identity (core's drizzle/compiled.ts).
 */
const fragments = new Map<string, Extra>();
function fragmentOf(key: string, build: () => Extra): Extra {
  let fragment = fragments.get(key);
  if (!fragment) {
    if (fragments.size >= 1_000) fragments.clear();
    fragments.set(key, (fragment = build()));
  }
  return fragment;
}

/** Per operation and field: the properties its selections use (`PartyPrefetch.needs`), null for all. */
const usedByOperation = new WeakMap<OperationDefinitionNode, Map<string, readonly string[] | null>>();

/**
 * The properties `field`'s selections use, by `needs` of the sub-fields `asked` lists for each
 * (null in that list: something no `needs` covers), or null when one selection asks for more.
 */
function propertiesUsed(
  info: GraphQLResolveInfo,
  field: string,
  needs: Readonly<Record<string, readonly string[]>>,
  asked: (selection: FieldNode) => string[] | null = (selection) => [...subfieldsOf([selection.selectionSet], info).keys()],
  key = field,
): readonly string[] | null {
  let byField = usedByOperation.get(info.operation);
  if (!byField) usedByOperation.set(info.operation, (byField = new Map()));
  const known = byField.get(key);
  if (known !== undefined) return known;
  const used = new Set<string>();
  let all = false;
  // Every selection of the field, in the operation and in every fragment (used or not: reading
  // more than needed is harmless), whatever type it is on.
  const visit = (set: SelectionSetNode | undefined) => {
    for (const selection of set?.selections ?? []) {
      if (selection.kind === Kind.FIELD && selection.name.value === field) {
        const names = asked(selection);
        if (names === null) all = true;
        for (const name of names ?? []) {
          if (name === '__typename') continue;
          const properties = needs[name];
          if (properties) for (const property of properties) used.add(property);
          else all = true;
        }
      }
      if (selection.kind !== Kind.FRAGMENT_SPREAD) visit(selection.selectionSet);
    }
  };
  visit(info.operation.selectionSet);
  for (const fragment of Object.values(info.fragments)) visit(fragment.selectionSet);
  const result = all ? null : [...used].sort();
  byField.set(key, result);
  return result;
}

function subfieldsOf(sets: readonly (SelectionSetNode | undefined)[], info: GraphQLResolveInfo): Map<string, FieldNode[]> {
  const found = new Map<string, FieldNode[]>();
  for (const set of sets) fieldsOf(set, info.fragments, found);
  return found;
}

/** A connection's fields that read nothing of its rows' own columns (a cursor's keys are always read). */
const connectionOnly = new Set(['__typename', 'pageInfo', 'totalCount']);
const edgeOnly = new Set(['__typename', 'cursor']);

/**
 * What a connection's selection asks of its nodes: the fields under `edges { node }`, or null when
 * it asks for something else of its rows (an edge or connection field this does not know).
 */
function nodeFieldsAsked(selection: FieldNode, info: GraphQLResolveInfo): string[] | null {
  const names: string[] = [];
  for (const [name, nodes] of subfieldsOf([selection.selectionSet], info)) {
    if (connectionOnly.has(name)) continue;
    if (name !== 'edges') return null;
    for (const [edgeField, edgeNodes] of subfieldsOf(nodes.map((n) => n.selectionSet), info)) {
      if (edgeOnly.has(edgeField)) continue;
      if (edgeField !== 'node') return null;
      names.push(...subfieldsOf(edgeNodes.map((n) => n.selectionSet), info).keys());
    }
  }
  return names;
}

/**
 * The extras of a party's statement for what `info`'s field selects on its parties: the field's
 * own selection (`party`), or its `edges { node { … } }` (`parties`). Over-asking is harmless (a
 * field under a skipped fragment is read and not used); under-asking costs the loader's statement.
 */
export function partyPrefetchesOf(info: GraphQLResolveInfo, at: 'self' | 'edges'): PartyPageExtras {
  const own = info.fieldNodes.map((node) => node.selectionSet);
  const sets =
    at === 'self'
      ? own
      : (selected((selected(own, info.fragments).get('edges') ?? []).map((n) => n.selectionSet), info.fragments).get('node') ?? []).map(
          (n) => n.selectionSet,
        );
  const fields = selected(sets, info.fragments);
  const extras: PartyPageExtras = {};
  for (const [field, prefetch] of fieldPrefetches) {
    if (!fields.has(field)) continue;
    const properties = prefetch.needs ? (propertiesUsed(info, field, prefetch.needs) ?? undefined) : undefined;
    extras[field] = fragmentOf(`${field}|${properties?.join(',') ?? '*'}`, () => prefetch.sql(properties));
  }
  const party = info.schema.getType('Party');
  if (!isObjectType(party)) return extras;
  for (const [field, prefetch] of pagePrefetches) {
    const definition = party.getFields()[field];
    for (const node of definition ? (fields.get(field) ?? []) : []) {
      const args = getArgumentValues(definition!, node, info.variableValues);
      if (args.after != null || args.before != null || args.last != null) continue;
      if (prefetch.filters?.some((name) => args[name] != null)) continue;
      if (typeof args.first === 'number' && (args.first < 0 || args.first > pageSizes.maxSize)) continue;
      const { limit } = parseCursorConnectionArgs({ args, ...pageSizes });
      const properties = prefetch.needs
        ? (propertiesUsed(info, field, prefetch.needs, (selection) => nodeFieldsAsked(selection, info), `${field}@`) ?? undefined)
        : undefined;
      extras[pageKey(field, limit)] = fragmentOf(`${pageKey(field, limit)}|${properties?.join(',') ?? '*'}`, () => prefetch.sql(limit, properties));
    }
  }
  return extras;
}

/** Per request: what parties' statements read along, by extra's name, then by party id. */
const prefetchedOf = createContextCache((_context: object) => new Map<string, Map<string, unknown>>());

/** Keeps what a party's statement read along (`extras`, by name) for the fields' loaders. */
export function keepPrefetched(context: object, rows: readonly { id: string; extras?: Record<string, unknown> }[]): void {
  const store = prefetchedOf(context);
  for (const row of rows) {
    for (const [name, value] of Object.entries(row.extras ?? {})) {
      const field = name.split('@')[0]!;
      const decode = name.includes('@') ? pagePrefetches.get(field)?.decode : fieldPrefetches.get(field)?.decode;
      if (!decode) continue;
      let values = store.get(name);
      if (!values) store.set(name, (values = new Map()));
      values.set(row.id, decode(value));
    }
  }
}

/**
 * A loader's batch for `field`: the values read along, and `fetch` for the other keys only (not
 * called at all when every key was read along), in the order of `keys`.
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

/**
 * The first pages of `field` for `partyIds` when every one was read along for this page request
 * (no cursor, the same number of rows), else null: the loader then reads them itself.
 */
export function prefetchedPages<Row>(
  context: object,
  field: string,
  partyIds: readonly string[],
  page: { after?: string; before?: string; limit: number; inverted: boolean },
): PartyRows<Row>[] | null {
  if (page.after || page.before || page.inverted) return null;
  const known = prefetchedOf(context).get(pageKey(field, page.limit));
  if (!known || !partyIds.every((id) => known.has(id))) return null;
  return partyIds.map((partyId) => ({ partyId, rows: known.get(partyId) as Row[] }));
}
