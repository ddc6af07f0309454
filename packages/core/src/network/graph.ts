import { sql, type SQL } from 'drizzle-orm';
import { useTenantId, useTransaction } from '../drizzle/transaction';
import { UserError } from '../errors';
import type { RelationshipType } from './enums';
import { parties } from './parties.sql';
import { activeEdgeCondition, edgeColumns, toRelationshipRow, type RelationshipRow } from './relationships';
import { relationships } from './relationships.sql';

/**
 * Graph walks are breadth-first, one set-based statement per level, so their cost follows the
 * nodes actually reached and stops at a cap instead of enumerating paths (a recursive CTE over
 * paths explodes on dense graphs). Walks follow non-ended edges in either direction, between
 * parties that are not archived (domain: neighbourhoods and paths).
 */
export const defaultNodeCap = 500;

/**
 * A set of party ids as ONE uuid[] parameter: a walk's frontier and visited set run to thousands of
 * ids, and one array costs far less to build, send and plan than a parameter per id.
 */
function idArray(ids: Iterable<string>): SQL {
  return sql`${sql.param([...ids])}::uuid[]`;
}

function typeFilter(types?: RelationshipType[] | null): SQL {
  return types?.length ? sql`and r.type in (${sql.join(types.map((t) => sql`${t}`), sql`, `)})` : sql``;
}

interface Step {
  from: string;
  to: string;
  strength: number;
}

/**
 * The edges leaving a frontier towards parties not yet visited (strongest edge per pair), to
 * parties that are not archived — or are among `ends` (the parties a search was asked about).
 */
async function step(
  frontier: string[],
  visited: Set<string>,
  types?: RelationshipType[] | null,
  ends: string[] = [],
): Promise<Step[]> {
  const { rows } = await useTransaction().execute<{ from: string; to: string; strength: number }>(sql`
    select e.from_id::text as "from", e.to_id::text as "to", max(e.strength)::int as strength
    from (
      select r.from_party_id as from_id, r.to_party_id as to_id, r.strength, r.tenant_id from ${relationships} r
      where r.tenant_id = ${useTenantId()} and r.from_party_id = any(${idArray(frontier)}) and ${activeEdgeCondition()} ${typeFilter(types)}
      union all
      select r.to_party_id, r.from_party_id, r.strength, r.tenant_id from ${relationships} r
      where r.tenant_id = ${useTenantId()} and r.to_party_id = any(${idArray(frontier)}) and ${activeEdgeCondition()} ${typeFilter(types)}
    ) e
    join ${parties} p on p.tenant_id = e.tenant_id and p.id = e.to_id
      and (p.archived_at is null${ends.length ? sql` or p.id = any(${idArray(ends)})` : sql``})
    where e.to_id <> all(${idArray(visited)})
    group by e.from_id, e.to_id`);
  return rows.map((row) => ({ from: row.from, to: row.to, strength: Number(row.strength) }));
}

export interface Neighbourhood {
  nodeIds: string[];
  edges: RelationshipRow[];
  /** True when the walk stopped at the node cap: more parties are within reach. */
  truncated: boolean;
  nodeCap: number;
}

/** domain: the centre plus every party within `depth` hops, and every edge between two of them. */
export async function neighbourhood(
  centerId: string,
  options: { depth: number; types?: RelationshipType[] | null; nodeCap?: number },
): Promise<Neighbourhood> {
  if (!Number.isInteger(options.depth) || options.depth < 1 || options.depth > 3) {
    throw UserError.of('VALIDATION', 'Depth is 1 to 3', ['depth']);
  }
  const cap = options.nodeCap ?? defaultNodeCap;
  const visited = new Set([centerId]);
  let frontier = [centerId];
  let truncated = false;
  for (let level = 0; level < options.depth && frontier.length > 0 && !truncated; level++) {
    const next: string[] = [];
    for (const { to } of await step(frontier, visited, options.types)) {
      if (visited.has(to)) continue;
      if (visited.size >= cap) {
        truncated = true;
        break;
      }
      visited.add(to);
      next.push(to);
    }
    frontier = next;
  }
  const { rows } = await useTransaction().execute<Record<string, unknown>>(sql`
    select ${edgeColumns} from ${relationships} r
    where r.tenant_id = ${useTenantId()} and r.from_party_id = any(${idArray(visited)}) and r.to_party_id = any(${idArray(visited)})
      and ${activeEdgeCondition()} ${typeFilter(options.types)}
    order by r.created_at, r.id`);
  return { nodeIds: [...visited], edges: rows.map(toRelationshipRow), truncated, nodeCap: cap };
}

export interface IntroPath {
  /** Party ids from `from` to `to`, both included; null when no path within maxDepth. */
  path: string[] | null;
  truncated: boolean;
}

/** Lexicographic order of two id sequences of equal length. */
function compareSequences(a: string[], b: string[]): number {
  for (let i = 0; i < a.length; i++) {
    if (a[i]! < b[i]!) return -1;
    if (a[i]! > b[i]!) return 1;
  }
  return 0;
}

/** A party reached by one side of the search: its best path from that side's end. */
interface Reach {
  strength: number;
  /** From the side's end to this party, both included. */
  path: string[];
}

/** One side of the bidirectional search: every party it reached, and its last level. */
interface Side {
  reached: Map<string, Reach>;
  frontier: string[];
  depth: number;
}

/** Better of two paths of equal length: stronger, then the smaller id sequence. */
function better(a: { strength: number; path: string[] }, b: { strength: number; path: string[] }): boolean {
  return a.strength > b.strength || (a.strength === b.strength && compareSequences(a.path, b.path) < 0);
}

/**
 * Extends a side by one level. Every newly reached party keeps its best path, which is optimal
 * because all its paths at this level have the same length, and a best path's prefix is a best
 * path too (strengths add up; ids compare position by position). The target side's paths are
 * kept in the order the intro runs (party → … → target), so they compare as they will be read.
 */
async function expand(side: Side, towardsTarget: boolean, ends: string[], types?: RelationshipType[] | null): Promise<Map<string, Reach>> {
  const level = new Map<string, Reach>();
  for (const { from, to, strength } of await step(side.frontier, new Set(side.reached.keys()), types, ends)) {
    const via = side.reached.get(from)!;
    const candidate = { strength: via.strength + strength, path: towardsTarget ? [to, ...via.path] : [...via.path, to] };
    const current = level.get(to);
    if (!current || better(candidate, current)) level.set(to, candidate);
  }
  for (const [id, reach] of level) side.reached.set(id, reach);
  side.frontier = [...level.keys()];
  side.depth += 1;
  return level;
}

/**
 * domain: the shortest warm-intro path (fewest hops), then the greatest total strength, then the
 * smallest sequence of ids.
 *
 * Bidirectional breadth-first search: a level at a time from whichever end has the smaller
 * frontier, until the two meet. On a network where a party has ~10 relationships, 4 hops from one
 * end reach ~10,000 parties, 2 from each end ~200: the cost is the square root of a one-sided walk.
 * When the side just extended to depth d first touches the other side, every shortest path has its
 * party at position d among the parties just reached (a shorter path would have met a level
 * earlier), so the best path is the best join over those meeting parties of the two sides' best
 * paths — exactly the path a one-sided search would pick. The two ends may be archived parties
 * (reachable by id); the parties in between may not.
 */
export async function introPath(
  fromId: string,
  toId: string,
  options: { maxDepth: number; types?: RelationshipType[] | null; nodeCap?: number },
): Promise<IntroPath> {
  if (!Number.isInteger(options.maxDepth) || options.maxDepth < 1 || options.maxDepth > 6) {
    throw UserError.of('VALIDATION', 'maxDepth is 1 to 6', ['maxDepth']);
  }
  if (fromId === toId) return { path: [fromId], truncated: false };
  const cap = options.nodeCap ?? 5000;
  const source: Side = { reached: new Map([[fromId, { strength: 0, path: [fromId] }]]), frontier: [fromId], depth: 0 };
  const target: Side = { reached: new Map([[toId, { strength: 0, path: [toId] }]]), frontier: [toId], depth: 0 };
  while (source.depth + target.depth < options.maxDepth && source.frontier.length > 0 && target.frontier.length > 0) {
    const fromSource = source.frontier.length <= target.frontier.length;
    const [side, other] = fromSource ? [source, target] : [target, source];
    const level = await expand(side, !fromSource, [fromId, toId], options.types);
    let best: { strength: number; path: string[] } | null = null;
    for (const [id, reach] of level) {
      const meet = other.reached.get(id);
      if (!meet) continue;
      const [head, tail] = fromSource ? [reach, meet] : [meet, reach];
      // The meeting party ends the head and starts the tail: once in the joined path.
      const joined = { strength: head.strength + tail.strength, path: [...head.path, ...tail.path.slice(1)] };
      if (!best || joined.path.length < best.path.length || (joined.path.length === best.path.length && better(joined, best))) {
        best = joined;
      }
    }
    if (best) return { path: best.path, truncated: false };
    if (source.reached.size + target.reached.size > cap) return { path: null, truncated: true };
  }
  return { path: null, truncated: false };
}
