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

function idList(ids: Iterable<string>): SQL {
  return sql`(${sql.join([...ids].map((id) => sql`${id}::uuid`), sql`, `)})`;
}

function typeFilter(types?: RelationshipType[] | null): SQL {
  return types?.length ? sql`and r.type in (${sql.join(types.map((t) => sql`${t}`), sql`, `)})` : sql``;
}

interface Step {
  from: string;
  to: string;
  strength: number;
}

/** The edges leaving a frontier towards parties not yet visited (strongest edge per pair). */
async function step(frontier: string[], visited: Set<string>, types?: RelationshipType[] | null): Promise<Step[]> {
  const { rows } = await useTransaction().execute<{ from: string; to: string; strength: number }>(sql`
    select e.from_id::text as "from", e.to_id::text as "to", max(e.strength)::int as strength
    from (
      select r.from_party_id as from_id, r.to_party_id as to_id, r.strength, r.tenant_id from ${relationships} r
      where r.tenant_id = ${useTenantId()} and r.from_party_id in ${idList(frontier)} and ${activeEdgeCondition()} ${typeFilter(types)}
      union all
      select r.to_party_id, r.from_party_id, r.strength, r.tenant_id from ${relationships} r
      where r.tenant_id = ${useTenantId()} and r.to_party_id in ${idList(frontier)} and ${activeEdgeCondition()} ${typeFilter(types)}
    ) e
    join ${parties} p on p.tenant_id = e.tenant_id and p.id = e.to_id and p.archived_at is null
    where e.to_id not in ${idList(visited)}
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
    where r.tenant_id = ${useTenantId()} and r.from_party_id in ${idList(visited)} and r.to_party_id in ${idList(visited)}
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

/**
 * domain: the shortest warm-intro path (fewest hops), then the greatest total strength, then the
 * smallest sequence of ids. Breadth-first by levels; at each level every newly reached party keeps
 * its best path, which is optimal because all paths to a party at one level have the same length.
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
  const best = new Map<string, { strength: number; path: string[] }>([[fromId, { strength: 0, path: [fromId] }]]);
  let frontier = [fromId];
  for (let level = 0; level < options.maxDepth && frontier.length > 0; level++) {
    const reached = new Map<string, { strength: number; path: string[] }>();
    for (const { from, to, strength } of await step(frontier, new Set(best.keys()), options.types)) {
      const via = best.get(from)!;
      const candidate = { strength: via.strength + strength, path: [...via.path, to] };
      const current = reached.get(to);
      if (
        !current ||
        candidate.strength > current.strength ||
        (candidate.strength === current.strength && compareSequences(candidate.path, current.path) < 0)
      ) {
        reached.set(to, candidate);
      }
    }
    const found = reached.get(toId);
    if (found) return { path: found.path, truncated: false };
    for (const [id, entry] of reached) best.set(id, entry);
    if (best.size > cap) return { path: null, truncated: true };
    frontier = [...reached.keys()];
  }
  return { path: null, truncated: false };
}
