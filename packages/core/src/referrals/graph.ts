import { sql, type SQL } from 'drizzle-orm';
import { useTenantId, useTransaction } from '../drizzle/transaction';
import { UserError } from '../errors';
import { isUuid } from '../ids';
import { decodeCursor, encodeCursor, type PageRequest } from '../pagination';
import { parties } from '../network/parties.sql';
import { referrals } from './referrals.sql';

/**
 * Serialises changes to one tenant's referral graph (domain: acyclic at all times, including when
 * referrals are written concurrently). createReferral checks the graph and mergeParties re-points
 * referrals under it: of two requests A→B and B→A the second waits for the first to commit, then
 * sees its referral. Anything else that adds referral edges must take the same
 * transaction-level lock.
 */
export async function lockReferralGraph(): Promise<void> {
  await useTransaction().execute(
    sql`select pg_advisory_xact_lock(hashtextextended(${`guanxi:referrals:${useTenantId()}`}, 0))`,
  );
}

/**
 * One step of a walk over the referral forest, as a LATERAL subquery: up to a party's referrer
 * (through referrals_referee_uq) or down to its referees (through referrals_referrer_idx). Written
 * so the planner has no choice but an index lookup per party reached, so a walk costs what it
 * visits, whatever the table's statistics say (a hash join would read the whole table per step).
 */
export function parentOf(party: SQL): SQL {
  return sql`select p.referrer_id from ${referrals} p where p.tenant_id = ${useTenantId()} and p.referee_id = ${party} limit 1`;
}

function childrenOf(party: SQL): SQL {
  return sql`select c.referee_id, c.created_at, c.id from ${referrals} c where c.tenant_id = ${useTenantId()} and c.referrer_id = ${party}`;
}

/** The referrer chain of a party, nearest first (its referrer, that one's referrer, … the root). */
export async function ancestorIds(partyId: string): Promise<string[]> {
  const tenantId = useTenantId();
  const { rows } = await useTransaction().execute<{ id: string }>(sql`
    with recursive up(id, n) as (
      select f.referrer_id, 1 from ${referrals} f where f.tenant_id = ${tenantId} and f.referee_id = ${partyId}::uuid
      union all
      select f.referrer_id, up.n + 1 from up cross join lateral (${parentOf(sql`up.id`)}) f
      where up.n < 100000
    )
    select id::text as id from up order by n`);
  return rows.map((row) => row.id);
}

/**
 * domain: p's referrer, that party's referrer, … up to the root, nearest first; [] for a root.
 * Null when the tenant has no such party. One statement: a recursive walk up the referee index.
 */
export async function referralChain(partyId: string): Promise<string[] | null> {
  if (!isUuid(partyId)) return null;
  const tenantId = useTenantId();
  const { rows } = await useTransaction().execute<{ chain: string[] | string }>(sql`
    with recursive up(id, n) as (
      select f.referrer_id, 1 from ${referrals} f where f.tenant_id = ${tenantId} and f.referee_id = ${partyId}::uuid
      union all
      select f.referrer_id, up.n + 1 from up cross join lateral (${parentOf(sql`up.id`)}) f
      where up.n < 100000
    )
    select array(select up.id::text from up order by up.n) as chain
    from ${parties} p where p.tenant_id = ${tenantId} and p.id = ${partyId}::uuid`);
  const row = rows[0];
  return row ? textArray(row.chain) : null;
}

/** Some drivers hand a text[] over as its literal ({a,b}); uuids need no unquoting. */
function textArray(value: string[] | string | null | undefined): string[] {
  if (Array.isArray(value)) return value;
  if (!value || value === '{}') return [];
  return value.replace(/^\{|\}$/g, '').split(',');
}

export const maxTreeDepth = 10;
/** A descendant of the tree's root, at its breadth-first position. */
export interface ReferralTreeNode {
  partyId: string;
  /** 1 = referred by the root. */
  depth: number;
  /** Its referral's creation (as Postgres prints it, to the microsecond) and id: its place within a depth. */
  referredAt: string;
  referralId: string;
}

export interface ReferralTree {
  /** The page's nodes as a root list answers a `PageRequest` (at most `limit`, reversed when inverted). */
  nodes: ReferralTreeNode[];
  /** Descendants within maxDepth, all of them (not just the page). */
  totalCount: number;
}

/** The cursor of a node: its breadth-first sort key, exact to the microsecond. */
export function treeCursor(node: ReferralTreeNode): string {
  return encodeCursor([node.depth, node.referredAt, node.referralId]);
}

function treePosition(cursor: string): SQL {
  const [depth, referredAt, referralId] = decodeCursor(cursor, 3);
  if (
    typeof depth !== 'number' ||
    !Number.isInteger(depth) ||
    typeof referredAt !== 'string' ||
    !/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?[+-]\d{2}(:\d{2})?$/.test(referredAt) ||
    typeof referralId !== 'string' ||
    !isUuid(referralId)
  ) {
    throw UserError.of('VALIDATION', 'The cursor is not one this list handed out', []);
  }
  return sql`(${depth}::int, ${referredAt}::timestamptz, ${referralId}::uuid)`;
}

/**
 * domain: the root's descendants (root not listed) breadth-first with their depth (1 = referred by
 * the root). Within a depth, nodes come in the order of their referral's creation, then referral
 * id — stable, and in a BFS the order among one level's nodes is ours to choose. Null for an
 * unknown root. One statement: a recursive walk down the referrer index, cut at maxDepth, then a
 * keyset page of it (read from the end for a backward page) and the count of the whole walk.
 */
export async function referralTree(
  rootId: string,
  page: PageRequest,
  options: { maxDepth?: number | null } = {},
): Promise<ReferralTree | null> {
  const maxDepth = options.maxDepth ?? maxTreeDepth;
  if (!Number.isInteger(maxDepth) || maxDepth < 1 || maxDepth > maxTreeDepth) {
    throw UserError.of('VALIDATION', `maxDepth is 1 to ${maxTreeDepth}`, ['maxDepth']);
  }
  if (!isUuid(rootId)) return null;
  const tenantId = useTenantId();
  const key = sql`(depth, created_at, referral_id)`;
  const bounds = [sql`true`];
  if (page.after) bounds.push(sql`${key} > ${treePosition(page.after)}`);
  if (page.before) bounds.push(sql`${key} < ${treePosition(page.before)}`);
  const direction = page.inverted ? sql`desc` : sql`asc`;
  const { rows } = await useTransaction().execute<{
    id: string | null;
    depth: number | null;
    referred_at: string | null;
    referral_id: string | null;
    total: number;
  }>(sql`
    with recursive tree(id, depth, created_at, referral_id) as (
      select f.referee_id, 1, f.created_at, f.id from ${referrals} f
      where f.tenant_id = ${tenantId} and f.referrer_id = ${rootId}::uuid
      union all
      select f.referee_id, tree.depth + 1, f.created_at, f.id
      from tree cross join lateral (${childrenOf(sql`tree.id`)}) f
      where tree.depth < ${maxDepth}::int
    ),
    page as (
      select id, depth, created_at, referral_id from tree
      where ${sql.join(bounds, sql` and `)}
      order by depth ${direction}, created_at ${direction}, referral_id ${direction}
      limit ${page.limit}::int
    )
    select page.id::text as id, page.depth, page.created_at::text as referred_at, page.referral_id::text as referral_id,
      (select count(*) from tree)::int as total
    from ${parties} p left join page on true
    where p.tenant_id = ${tenantId} and p.id = ${rootId}::uuid
    order by page.depth ${direction}, page.created_at ${direction}, page.referral_id ${direction}`);
  if (rows.length === 0) return null;
  const nodes = rows
    .filter((row) => row.id !== null)
    .map((row) => ({ partyId: row.id!, depth: Number(row.depth), referredAt: row.referred_at!, referralId: row.referral_id! }));
  return { nodes, totalCount: Number(rows[0]!.total) };
}
