import type { InteractionKind, PartyKind, RelationshipType } from '../network/enums';
import { directedRelationshipTypes } from '../network/enums';
import type { interactions } from '../network/interactions.sql';
import type { orders } from '../network/orders.sql';
import type { parties } from '../network/parties.sql';
import type { relationships } from '../network/relationships.sql';
import type { referralCodes, referrals, ReferralStatus } from '../referrals/referrals.sql';
import type { ForwardStage } from '../stages/enums';
import type { stageTransitions } from '../stages/stage-transitions.sql';
import {
  companies,
  decisionStyles,
  interactionNotes,
  manualMoveReasons,
  mobilePhone,
  partnerCompanies,
  partnerMoveReasons,
  partyNotes,
  personName,
  rejectionReasons,
  relationshipLabels,
  salesReps,
  tagPool,
} from './names';
import { DAY_MS, replayStages, type SeedStagePolicy, type TimelineEvent } from './policy';
import { createRng, type Rng } from './random';

export type PartyInsert = typeof parties.$inferInsert;
export type OrderInsert = typeof orders.$inferInsert;
export type InteractionInsert = typeof interactions.$inferInsert;
export type TransitionInsert = typeof stageTransitions.$inferInsert;
export type RelationshipInsert = typeof relationships.$inferInsert;
export type ReferralInsert = typeof referrals.$inferInsert;
export type ReferralCodeInsert = typeof referralCodes.$inferInsert;

/** Everything one party brings: its row and the rows that point at it (inserted after it). */
export interface PartyBundle {
  party: PartyInsert;
  orders: OrderInsert[];
  interactions: InteractionInsert[];
  transitions: TransitionInsert[];
  referralCode: ReferralCodeInsert | null;
  /** The referral that brought this party, and its REFERRED edge (referrer → this party). */
  referral: ReferralInsert | null;
  referredEdge: RelationshipInsert | null;
}

export interface PlanOptions {
  tenantId: string;
  parties: number;
  seed: number;
  /** Midnight UTC of the as-of day, in ms: every generated instant is at or before it. */
  asOf: number;
  policy: SeedStagePolicy;
  rewardAmount: string;
  currency: string;
}

export interface DemoPlan {
  /** Parties in an order where a referrer always comes before the parties it referred. */
  parties(): Generator<PartyBundle>;
  /** The non-referral edges; call once every party has been generated. */
  relationships(): RelationshipInsert[];
}

const HOUR_MS = 60 * 60 * 1000;
const MINUTE_MS = 60 * 1000;
// domain: the demo covers the two years before asOf.
const HISTORY_DAYS = 730;
const MAX_REFERRAL_DEPTH = 5;
const CODE_ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
const referralChannels = ['WECHAT', 'EMAIL', 'IN_STORE', 'EVENT'] as const;

const interactionKindList: readonly InteractionKind[] = [
  'CALL', 'EMAIL', 'MEETING', 'EVENT', 'VISIT', 'CARE', 'COMPLAINT', 'FEEDBACK',
];
// Relative frequency of each interaction kind, in interactionKindList's order.
const interactionWeights: Record<PartyKind, readonly number[]> = {
  CUSTOMER: [20, 15, 8, 8, 15, 18, 4, 12],
  PROSPECT: [25, 25, 15, 15, 20, 0, 0, 0],
  PARTNER: [25, 25, 30, 10, 10, 0, 2, 3],
  SOCIAL_CONTACT: [20, 25, 0, 40, 0, 0, 0, 15],
};
// Satisfaction 1..5: most customers are happy, a few are not (they stay out of the loyal stages).
const happyRatings = [2, 4, 10, 36, 48];
const unhappyRatings = [15, 25, 35, 15, 10];

interface Summary {
  id: string;
  kind: PartyKind;
  createdAt: number;
  firstOrderAt: number | null;
  firstOrderId: string | null;
  lastActivityAt: number;
  company: string | null;
  surnameIndex: number;
  code: string | null;
  codeAt: number | null;
}

const isoDate = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

function formatCents(cents: number): string {
  return `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;
}

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

export function planDemoData(options: PlanOptions): DemoPlan {
  const { tenantId, seed, asOf, policy } = options;
  const n = options.parties;
  const historyStart = asOf - HISTORY_DAYS * DAY_MS;
  // Activity stops short of asOf so that moves caused by it (+1 ms each) stay at or before asOf.
  const latestActivity = asOf - HOUR_MS;

  // --- Kinds: exact shares, then shuffled, so every run of a given size has the same mix.
  const kinds: PartyKind[] = [];
  const share = (ratio: number) => Math.max(1, Math.round(n * ratio));
  const kindCounts: [PartyKind, number][] = [
    ['PROSPECT', share(0.2)],
    ['PARTNER', share(0.08)],
    ['SOCIAL_CONTACT', share(0.12)],
  ];
  for (const [kind, count] of kindCounts) for (let i = 0; i < count; i++) kinds.push(kind);
  while (kinds.length < n) kinds.push('CUSTOMER');
  createRng(seed, 'kinds').shuffle(kinds);

  // --- Referral forest, decided on kinds alone before any timeline exists.
  // Referee index → referrer index.
  const referrerOf = new Map<number, number>();
  const childrenOf = new Map<number, number[]>();
  const roots = new Set<number>();
  const referralOrder: number[] = [];
  {
    const rng = createRng(seed, 'referral-forest');
    const customers = rng.shuffle(kinds.flatMap((k, i) => (k === 'CUSTOMER' ? [i] : [])));
    const prospects = rng.shuffle(kinds.flatMap((k, i) => (k === 'PROSPECT' ? [i] : [])));
    const rootCount = Math.max(1, Math.min(Math.round(n * 0.05), Math.floor(customers.length / 3)));
    const customerPool = customers.slice(rootCount);
    // Customers set aside for the forced chain, so a small book cannot run out before depth 5.
    const chain = customerPool.splice(0, Math.min(MAX_REFERRAL_DEPTH, customerPool.length));
    const queue: { node: number; depth: number; forced: boolean }[] = [];
    customers.slice(0, rootCount).forEach((node, i) => {
      roots.add(node);
      // The first tree is grown along one chain down to the maximum depth, so it is always shown.
      queue.push({ node, depth: 0, forced: i === 0 });
    });
    for (let head = 0; head < queue.length; head++) {
      const { node, depth, forced } = queue[head]!;
      if (depth >= MAX_REFERRAL_DEPTH) continue;
      let count = depth === 0 ? rng.int(1, 4) : rng.weighted(depth === 1 ? [45, 35, 20] : [60, 30, 10]);
      if (forced) count = Math.max(count, 1);
      for (let j = 0; j < count; j++) {
        const forcedChild = forced && j === 0;
        // domain: only customers refer others, so a child who may refer in turn is a customer.
        const wantCustomer = forcedChild || rng.chance(0.65);
        const pool = wantCustomer && customerPool.length > 0 ? customerPool : prospects;
        const child = (forcedChild ? chain.shift() : undefined) ?? pool.pop() ?? customerPool.pop();
        if (child === undefined) break;
        // domain: one referrer per referee, and the forest has no cycles (each child is new).
        referrerOf.set(child, node);
        const siblings = childrenOf.get(node);
        if (siblings) siblings.push(child);
        else childrenOf.set(node, [child]);
        referralOrder.push(child);
        if (kinds[child] === 'CUSTOMER') queue.push({ node: child, depth: depth + 1, forced: forcedChild });
      }
    }
  }

  // --- Archived parties: outside the referral trees, so the trees read well in the demo.
  const archived = new Set<number>();
  {
    const rng = createRng(seed, 'archive');
    const candidates = kinds.flatMap((k, i) =>
      k !== 'PARTNER' && !roots.has(i) && !referrerOf.has(i) ? [i] : [],
    );
    for (const i of rng.sample(candidates, Math.round(n * 0.02))) archived.add(i);
  }

  const summaries: (Summary | undefined)[] = new Array(n);
  const usedCodes = new Set<string>();

  function newCode(rng: Rng): string {
    for (;;) {
      let code = '';
      for (let i = 0; i < 8; i++) code += CODE_ALPHABET[rng.int(0, CODE_ALPHABET.length - 1)];
      if (!usedCodes.has(code)) {
        usedCodes.add(code);
        return code;
      }
    }
  }

  function rating(rng: Rng, unhappy: boolean): number {
    return 1 + rng.weighted(unhappy ? unhappyRatings : happyRatings);
  }

  function birthday(rng: Rng): string | null {
    if (!rng.chance(0.4)) return null;
    let year = rng.int(1958, 2001);
    // Some birthdays fall in the coming month, so follow-up views have something to show.
    const day = rng.chance(0.2)
      ? new Date(asOf + rng.int(1, 30) * DAY_MS)
      : new Date(Date.UTC(2001, 0, 1) + rng.int(0, 364) * DAY_MS);
    const month = day.getUTCMonth() + 1;
    const date = day.getUTCDate();
    if (month === 2 && date === 29 && !isLeapYear(year)) year = 1992;
    return `${year}-${String(month).padStart(2, '0')}-${String(date).padStart(2, '0')}`;
  }

  /** Orders spaced by a cadence, from `start`, as many as fit before `end`. */
  function orderTimes(rng: Rng, start: number, end: number, count: number, cadenceDays: number): number[] {
    const times = [start];
    // A long silence in the middle of some histories: DORMANT, then woken by the next order.
    const gapAt = count > 2 && rng.chance(0.15) ? rng.int(1, count - 1) : -1;
    let at = start;
    for (let k = 1; k < count; k++) {
      at += cadenceDays * DAY_MS * rng.between(0.35, 1.65);
      if (k === gapAt) at += rng.between(60, 100) * DAY_MS;
      if (at > end) break;
      times.push(Math.floor(at));
    }
    return times;
  }

  function interactionRow(
    rng: Rng,
    partyId: string,
    kind: InteractionKind,
    at: number,
    unhappy: boolean,
  ): InteractionInsert {
    let satisfaction: number | null = null;
    if (kind === 'FEEDBACK') satisfaction = rating(rng, unhappy);
    else if (kind === 'COMPLAINT') satisfaction = rng.int(1, 2);
    else if ((kind === 'CARE' || kind === 'VISIT') && rng.chance(0.4)) satisfaction = rating(rng, unhappy);
    return {
      tenantId,
      id: rng.uuid(at),
      partyId,
      kind,
      occurredAt: new Date(at),
      satisfaction,
      note: rng.chance(0.55) ? rng.pick(interactionNotes[kind]) : null,
      actorKind: 'SYSTEM',
      actorId: 'seed',
      createdAt: new Date(at),
    };
  }

  function buildParty(i: number): PartyBundle {
    const rng = createRng(seed, `party:${i}`);
    const kind = kinds[i]!;
    const isArchived = archived.has(i);
    const name = personName(rng, i);
    const companyChance = { CUSTOMER: 0.3, PROSPECT: 0.25, PARTNER: 0.9, SOCIAL_CONTACT: 0.1 }[kind];
    const company = rng.chance(companyChance)
      ? rng.pick(kind === 'PARTNER' ? partnerCompanies : companies)
      : null;
    const tagCount = rng.weighted([30, 35, 25, 10]);
    const tags = rng.sample(tagPool, tagCount);
    if (kind === 'PARTNER' && !tags.includes('wholesale') && rng.chance(0.6)) tags.push('wholesale');
    const profile = {
      email: rng.chance(0.8) ? name.email : null,
      phone: rng.chance(0.75) ? mobilePhone(rng) : null,
      ownerId: rng.chance(0.85) ? rng.pick(salesReps) : null,
      decisionStyle: rng.chance(0.45) ? rng.pick(decisionStyles) : null,
      birthday: birthday(rng),
      notes: rng.chance(0.15) ? rng.pick(partyNotes) : null,
    };
    const unhappy = rng.chance(0.1);

    // --- When the party was referred, its start is tied to the referrer's history.
    const referrerIndex = referrerOf.get(i);
    const referrer = referrerIndex === undefined ? undefined : summaries[referrerIndex];
    let referredAt: number | null = null;
    if (referrer && referrer.codeAt !== null) {
      const anchor = referrer.firstOrderAt ?? referrer.createdAt;
      // Referred prospects have not bought yet: their referrals are recent (still PENDING).
      const notBefore = kind === 'PROSPECT' ? asOf - rng.between(3, 120) * DAY_MS : 0;
      referredAt = Math.min(
        Math.max(anchor + rng.between(1, 45) * DAY_MS, notBefore),
        referrer.lastActivityAt + rng.between(0, 30) * DAY_MS,
        asOf - rng.between(3, 30) * DAY_MS,
      );
      referredAt = Math.floor(Math.max(referredAt, referrer.codeAt + HOUR_MS, referrer.createdAt + HOUR_MS));
      // A referrer whose code came too late to refer anyone leaves this party unreferred.
      if (referredAt > asOf - 2 * DAY_MS) referredAt = null;
    }

    // --- The party's own activity: orders and interactions, then the stage policy over them.
    let createdAt: number;
    const orderPlan: number[] = [];
    const touches: { at: number; kind: InteractionKind }[] = [];
    const manual: TimelineEvent[] = [];
    const pickKind = (): InteractionKind => interactionKindList[rng.weighted(interactionWeights[kind])]!;
    let cadenceDays = 60;
    let spend = 0;

    if (kind === 'CUSTOMER') {
      // 0: a single purchase, 1: regular (2–10 orders), 2: heavy (20+). Referrers are never one-off.
      const refers = roots.has(i) || childrenOf.has(i);
      const pattern = refers ? 1 + rng.weighted([92, 8]) : rng.weighted([10, 82, 8]);
      let count =
        pattern === 0
          ? 1
          : pattern === 1
            ? 2 + rng.weighted([12, 16, 16, 14, 12, 10, 8, 6, 6])
            : rng.int(20, 36);
      cadenceDays = pattern === 2 ? rng.between(8, 22) : rng.between(25, 60);
      spend = Math.exp(rng.between(Math.log(60), Math.log(1200)));
      // Lapsed customers stop at some point: 90–180 days of silence make DORMANT, more CHURNED.
      const lapsed = isArchived || (!roots.has(i) && rng.chance(0.2));
      // Half of the lapsed are DORMANT at asOf (silent 90–180 days), half CHURNED.
      let end = lapsed
        ? asOf - (rng.chance(0.5) ? rng.between(95, 175) : rng.between(185, 400)) * DAY_MS
        : asOf - rng.between(1 / 24, Math.min(cadenceDays, 20)) * DAY_MS;
      end = Math.min(end, latestActivity);
      let start: number;
      if (referredAt !== null) {
        createdAt = referredAt - Math.floor(rng.between(MINUTE_MS, 2 * HOUR_MS));
        // domain: a referee has no order before its referral was made.
        start = referredAt + Math.min(rng.between(1, 14) * DAY_MS, (latestActivity - referredAt) / 2);
        end = Math.max(end, start);
      } else {
        const lo = roots.has(i) ? asOf - 720 * DAY_MS : historyStart + 2 * DAY_MS;
        if (roots.has(i)) {
          // Roots start early so that their trees have time to grow five levels deep.
          start = rng.between(lo, asOf - 480 * DAY_MS);
        } else if (count === 1) {
          start = rng.between(Math.max(lo, end - 365 * DAY_MS), Math.max(lo, end));
        } else {
          // Place the run of orders so it ends near `end`: an active customer is active now.
          const span = (count - 1) * cadenceDays * DAY_MS;
          start = Math.max(lo, end - span * rng.between(0.9, 1.15));
        }
        start = Math.min(start, end);
        createdAt = Math.max(historyStart, start - rng.between(0.5, 45) * DAY_MS);
      }
      // A customer who has not lapsed keeps buying up to now, whenever the run had to start.
      if (!lapsed && count > 1) {
        count = Math.min(36, Math.max(count, Math.round((end - start) / (cadenceDays * DAY_MS))));
      }
      orderPlan.push(...orderTimes(rng, Math.floor(start), end, count, cadenceDays));
      const touchCount = Math.min(
        30,
        Math.max(1, Math.round(orderPlan.length * rng.between(0.4, 1.2)) + rng.int(0, 2)),
      );
      const touchEnd = Math.min(end + 5 * DAY_MS, latestActivity);
      for (let j = 0; j < touchCount; j++) {
        const around = rng.chance(0.7)
          ? rng.pick(orderPlan) + rng.between(-7, 20) * DAY_MS
          : rng.between(createdAt, touchEnd);
        const at = Math.floor(Math.min(Math.max(around, createdAt + 10 * MINUTE_MS), touchEnd));
        touches.push({ at, kind: pickKind() });
      }
    } else if (kind === 'PARTNER') {
      createdAt = historyStart + rng.between(0, 600) * DAY_MS;
      const end = rng.chance(0.15) ? asOf - rng.between(95, 300) * DAY_MS : latestActivity;
      let at = createdAt + rng.between(1, 20) * DAY_MS;
      for (let j = 0; j < 40 && at <= end; j++) {
        touches.push({ at: Math.floor(at), kind: pickKind() });
        at += rng.between(20, 75) * DAY_MS;
      }
      // A few partners also buy (wholesale), in larger amounts.
      if (rng.chance(0.35)) {
        cadenceDays = rng.between(45, 120);
        spend = rng.between(600, 1500);
        const start = createdAt + rng.between(5, 60) * DAY_MS;
        if (start < end) {
          orderPlan.push(...orderTimes(rng, Math.floor(start), end, rng.int(2, 12), cadenceDays));
        }
      }
      const meeting = touches.find((t) => t.kind === 'MEETING');
      if (meeting && rng.chance(0.3)) {
        const reason = rng.pick(partnerMoveReasons);
        manual.push(manualMove(rng, meeting.at, 'LONG_TERM_PARTNERSHIP', reason, profile.ownerId));
      }
    } else {
      if (referredAt !== null) {
        createdAt = referredAt - Math.floor(rng.between(MINUTE_MS, 2 * HOUR_MS));
      } else if (kind === 'PROSPECT') {
        // Prospects are mostly recent: older ones have gone quiet (DORMANT/CHURNED).
        const [youngest, oldest] = ([[3, 60], [60, 180], [180, 600]] as const)[rng.weighted([60, 25, 15])]!;
        createdAt = asOf - rng.between(youngest, oldest) * DAY_MS;
      } else {
        createdAt = historyStart + rng.between(0, HISTORY_DAYS - 15) * DAY_MS;
      }
      // Social contacts are kept warm at events for a while; some drift away.
      const count = kind === 'PROSPECT' ? rng.int(1, 5) : 30;
      const drifted = kind === 'SOCIAL_CONTACT' && rng.chance(0.4);
      const end = drifted ? asOf - rng.between(95, 400) * DAY_MS : latestActivity;
      let at = createdAt + rng.between(0.1, 10) * DAY_MS;
      for (let j = 0; j < count && at <= end; j++) {
        touches.push({ at: Math.floor(at), kind: pickKind() });
        at += (kind === 'PROSPECT' ? rng.between(1, 45) : rng.between(20, 100)) * DAY_MS;
      }
      const warm = touches.find((t) => t.kind === 'MEETING' || t.kind === 'EVENT' || t.kind === 'VISIT');
      if (warm && rng.chance(kind === 'PROSPECT' ? 0.2 : 0.08)) {
        manual.push(manualMove(rng, warm.at, 'TRUST_BUILDING', rng.pick(manualMoveReasons), profile.ownerId));
      }
    }
    createdAt = Math.floor(createdAt);

    const partyId = rng.uuid(createdAt);
    const orderEvents = orderPlan.map((at) => {
      const satisfaction = rng.chance(0.7) ? rating(rng, unhappy) : null;
      const scale = kind === 'PARTNER' ? rng.between(0.6, 2) : rng.between(0.5, 2.2);
      const cents = Math.min(300_000, Math.max(3_000, Math.round(spend * scale * 100)));
      return { at, satisfaction, cents };
    });
    const events: TimelineEvent[] = [
      ...orderEvents.map((o): TimelineEvent => ({ at: o.at, kind: 'ORDER', satisfaction: o.satisfaction })),
      ...touches.map((t): TimelineEvent => ({ at: t.at, kind: 'INTERACTION' })),
      ...manual.filter((m) => m.at <= latestActivity),
    ].sort((a, b) => a.at - b.at);
    const replay = replayStages(createdAt, events, asOf, policy);
    // domain (seed): churned stays churned, so nothing is recorded after a party churned.
    const keep = (at: number) => replay.churnedAt === null || at < replay.churnedAt;

    const orderRows: OrderInsert[] = [];
    orderEvents.filter((o) => keep(o.at)).forEach((o, k) => {
      orderRows.push({
        tenantId,
        id: rng.uuid(o.at),
        partyId,
        externalId: `demo-${String(i + 1).padStart(4, '0')}-o${String(k + 1).padStart(2, '0')}`,
        amount: formatCents(o.cents),
        currency: options.currency,
        placedAt: new Date(o.at),
        satisfaction: o.satisfaction,
        createdAt: new Date(o.at),
      });
    });
    const interactionRows = touches
      .filter((t) => keep(t.at))
      .sort((a, b) => a.at - b.at)
      .map((t) => interactionRow(rng, partyId, t.kind, t.at, unhappy));

    const transitions: TransitionInsert[] = replay.moves.map((move, k) => ({
      tenantId,
      id: rng.uuid(move.at),
      partyId,
      fromStage: move.from,
      toStage: move.to,
      at: new Date(move.at),
      actorKind: move.actorKind,
      actorId: move.actorId,
      reason: move.reason,
      secondsInPrevious: k === 0 ? null : Math.floor((move.at - replay.moves[k - 1]!.at) / 1000),
      automatic: move.automatic,
      rule: move.rule,
    }));

    const lastActivityAt = Math.max(
      createdAt,
      ...orderRows.map((o) => o.placedAt!.getTime()),
      ...interactionRows.map((t) => t.occurredAt!.getTime()),
    );
    // An archived party is put away some time after it went quiet, and before asOf.
    const archivedAt = isArchived
      ? Math.floor(
          Math.min(
            Math.max(lastActivityAt + rng.between(20, 300) * DAY_MS, createdAt + HOUR_MS),
            asOf - MINUTE_MS,
          ),
        )
      : null;
    const firstOrder = orderRows[0];

    const summary: Summary = {
      id: partyId,
      kind,
      createdAt,
      firstOrderAt: firstOrder ? firstOrder.placedAt!.getTime() : null,
      firstOrderId: firstOrder ? firstOrder.id! : null,
      lastActivityAt,
      company,
      surnameIndex: name.surnameIndex,
      code: null,
      codeAt: null,
    };
    let referralCode: ReferralCodeInsert | null = null;
    if (childrenOf.has(i)) {
      // domain: every referrer has a code, issued with its first order (or on creation).
      summary.code = newCode(rng);
      summary.codeAt = (summary.firstOrderAt ?? createdAt) + MINUTE_MS;
      referralCode = { tenantId, partyId, code: summary.code, createdAt: new Date(summary.codeAt) };
    }
    summaries[i] = summary;

    let referralRow: ReferralInsert | null = null;
    let referredEdge: RelationshipInsert | null = null;
    if (referrer && referredAt !== null) {
      referralRow = referralFor(rng, referrer, summary, referredAt);
      referredEdge = {
        tenantId,
        id: rng.uuid(referredAt),
        type: 'REFERRED',
        fromPartyId: referrer.id,
        toPartyId: partyId,
        strength: rng.int(2, 4),
        label: null,
        since: isoDate(referredAt),
        until: null,
        createdAt: new Date(referredAt),
      };
    }

    const party: PartyInsert = {
      tenantId,
      id: partyId,
      kind,
      displayName: name.displayName,
      email: profile.email,
      phone: profile.phone,
      company,
      externalId: `demo-${String(i + 1).padStart(4, '0')}`,
      tags,
      decisionStyle: profile.decisionStyle,
      birthday: profile.birthday,
      notes: profile.notes,
      ownerId: profile.ownerId,
      stage: replay.stage,
      stageChangedAt: new Date(replay.stageChangedAt),
      dormantFromStage: replay.dormantFromStage,
      archivedAt: archivedAt === null ? null : new Date(archivedAt),
      createdAt: new Date(createdAt),
      updatedAt: new Date(Math.max(replay.stageChangedAt, archivedAt ?? 0)),
    };
    return {
      party,
      orders: orderRows,
      interactions: interactionRows,
      transitions,
      referralCode,
      referral: referralRow,
      referredEdge,
    };
  }

  function manualMove(
    rng: Rng,
    after: number,
    to: ForwardStage,
    reason: string,
    ownerId: string | null,
  ): TimelineEvent {
    // A rep records the move a little after the meeting that justified it.
    const at = Math.floor(after + rng.between(1, 48) * HOUR_MS);
    return ownerId
      ? { at, kind: 'MANUAL', to, reason, actorKind: 'USER', actorId: ownerId }
      : { at, kind: 'MANUAL', to, reason, actorKind: 'SYSTEM', actorId: 'seed' };
  }

  function referralFor(rng: Rng, referrer: Summary, referee: Summary, createdAt: number): ReferralInsert {
    const base: ReferralInsert = {
      tenantId,
      id: rng.uuid(createdAt),
      referrerId: referrer.id,
      refereeId: referee.id,
      code: referrer.code,
      channel: rng.pick(referralChannels),
      createdAt: new Date(createdAt),
    };
    const reject = (): ReferralInsert => ({
      ...base,
      status: 'REJECTED',
      rejectedAt: new Date(Math.floor(Math.min(createdAt + rng.between(2, 240) * HOUR_MS, asOf - MINUTE_MS))),
      rejectedReason: rng.pick(rejectionReasons),
    });
    if (referee.firstOrderAt === null) return rng.chance(0.1) ? reject() : { ...base, status: 'PENDING' };
    if (rng.chance(0.08)) return reject();
    // domain: a referral converts on the referee's first order after it was made.
    const convertedAt = referee.firstOrderAt;
    const rewardedAt = Math.floor(convertedAt + rng.between(5 * MINUTE_MS, 3 * DAY_MS));
    const status: ReferralStatus = rewardedAt <= asOf && rng.chance(0.85) ? 'REWARDED' : 'CONVERTED';
    return {
      ...base,
      status,
      convertingOrderId: referee.firstOrderId,
      convertedAt: new Date(convertedAt),
      ...(status === 'REWARDED'
        ? {
            rewardedAt: new Date(rewardedAt),
            rewardAmount: options.rewardAmount,
            rewardCurrency: options.currency,
          }
        : {}),
    };
  }

  function relationships(): RelationshipInsert[] {
    const rng = createRng(seed, 'relationships');
    const done = summaries.filter((s): s is Summary => s !== undefined);
    if (done.length !== n) throw new Error('relationships() needs every party generated first');
    const edges: RelationshipInsert[] = [];
    const used = new Set<string>();
    const byKind = (...wanted: PartyKind[]) => done.flatMap((s, i) => (wanted.includes(s.kind) ? [i] : []));
    const people = byKind('CUSTOMER', 'PROSPECT', 'SOCIAL_CONTACT');
    const customers = byKind('CUSTOMER');
    const partners = byKind('PARTNER');
    const socials = byKind('SOCIAL_CONTACT');
    const strengths: Record<Exclude<RelationshipType, 'REFERRED'>, [number, number]> = {
      COLLEAGUE: [2, 4],
      FAMILY: [4, 5],
      FRIEND: [1, 5],
      PARTNER_OF: [3, 5],
      FOLLOWS: [1, 3],
      OTHER: [1, 3],
    };

    const add = (type: Exclude<RelationshipType, 'REFERRED'>, a: number, b: number): boolean => {
      // domain: no self-edge, and no second edge of a type between a pair (either way round
      // for the symmetric types).
      if (a === b) return false;
      const directed = directedRelationshipTypes.includes(type);
      const key = directed ? `${type}:${a}:${b}` : `${type}:${Math.min(a, b)}:${Math.max(a, b)}`;
      if (used.has(key)) return false;
      used.add(key);
      const from = done[a]!;
      const to = done[b]!;
      const known = Math.max(from.createdAt, to.createdAt);
      const createdAt = Math.floor(known + rng.next() * Math.max(MINUTE_MS, latestActivity - known));
      const [low, high] = strengths[type];
      const sinceAt = rng.chance(0.45)
        ? createdAt - rng.between(0, type === 'FAMILY' ? 7300 : 1500) * DAY_MS
        : null;
      // A few edges have ended: `until` lies in the past, after `since`.
      const ended = type !== 'FAMILY' && createdAt < asOf - 2 * DAY_MS && rng.chance(0.06);
      const untilAt = ended ? createdAt + rng.next() * (asOf - DAY_MS - createdAt) : null;
      edges.push({
        tenantId,
        id: rng.uuid(createdAt),
        type,
        fromPartyId: from.id,
        toPartyId: to.id,
        strength: rng.int(low, high),
        label: rng.chance(0.4) ? rng.pick(relationshipLabels[type]) : null,
        since: sinceAt === null ? null : isoDate(sinceAt),
        until: untilAt === null ? null : isoDate(untilAt),
        createdAt: new Date(createdAt),
      });
      return true;
    };
    const attempts = (target: number, draw: () => boolean) => {
      let made = 0;
      for (let tries = 0; made < target && tries < target * 10; tries++) if (draw()) made++;
    };

    // People at one company know each other.
    const byCompany = new Map<string, number[]>();
    done.forEach((s, i) => {
      if (!s.company) return;
      const members = byCompany.get(s.company);
      if (members) members.push(i);
      else byCompany.set(s.company, [i]);
    });
    for (const members of byCompany.values()) {
      members.forEach((member, k) => {
        if (k > 0) add('COLLEAGUE', member, members[rng.int(0, k - 1)]!);
      });
      if (members.length > 2 && rng.chance(0.3)) add('COLLEAGUE', rng.pick(members), rng.pick(members));
    }
    // Families share a surname.
    const bySurname = new Map<number, number[]>();
    for (const i of people) {
      const family = bySurname.get(done[i]!.surnameIndex);
      if (family) family.push(i);
      else bySurname.set(done[i]!.surnameIndex, [i]);
    }
    attempts(Math.round(n * 0.06), () => {
      const a = rng.pick(people);
      return add('FAMILY', a, rng.pick(bySurname.get(done[a]!.surnameIndex)!));
    });
    attempts(Math.round(n * 0.35), () => add('FRIEND', rng.pick(people), rng.pick(people)));
    for (const p of partners) {
      const count = rng.int(1, 3);
      for (let k = 0; k < count; k++) {
        const other = rng.chance(0.2) && partners.length > 1 ? rng.pick(partners) : rng.pick(customers);
        add('PARTNER_OF', p, other);
      }
    }
    for (const s of socials) {
      const count = rng.int(0, 3);
      for (let k = 0; k < count; k++) {
        add('FOLLOWS', s, rng.chance(0.8) ? rng.pick(customers) : rng.pick(partners));
      }
    }
    attempts(Math.round(n * 0.02), () => add('FOLLOWS', rng.pick(customers), rng.pick(partners)));
    attempts(Math.round(n * 0.04), () => add('OTHER', rng.int(0, n - 1), rng.int(0, n - 1)));

    // Every type must show up, even in a tiny book where the draws above found nothing.
    for (const type of ['COLLEAGUE', 'FAMILY', 'FRIEND', 'PARTNER_OF', 'FOLLOWS', 'OTHER'] as const) {
      if (edges.some((e) => e.type === type)) continue;
      for (let tries = 0; tries < 1000; tries++) if (add(type, rng.int(0, n - 1), rng.int(0, n - 1))) break;
    }
    return edges;
  }

  function* partiesInOrder(): Generator<PartyBundle> {
    // Unreferred parties first (roots among them), then referees level by level, so a referrer's
    // history — and its code — exists before anyone it referred.
    for (let i = 0; i < n; i++) if (!referrerOf.has(i)) yield buildParty(i);
    for (const i of referralOrder) yield buildParty(i);
  }

  return { parties: partiesInOrder, relationships };
}
