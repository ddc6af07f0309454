/** What partners can subscribe to. */
export const webhookEvents = [
  'party.created',
  'party.updated',
  'party.archived',
  'party.merged',
  'stage.changed',
  'referral.created',
  'referral.converted',
  'referral.rewarded',
  'loyalty.segment_changed',
  'loyalty.tier_changed',
  'points.earned',
  'points.redeemed',
  'points.expired',
  'order.refunded',
] as const;
export type WebhookEvent = (typeof webhookEvents)[number];

const families = [...new Set(webhookEvents.map((event) => event.split('.')[0]!))];

/** A subscription: an event name, a family wildcard (`referral.*`) or everything (`*`). */
export function isEventPattern(pattern: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('.*')) return families.includes(pattern.slice(0, -2));
  return (webhookEvents as readonly string[]).includes(pattern);
}

/** The subscriptions that receive `event`: stored patterns are matched with one array overlap. */
export function patternsMatching(event: WebhookEvent): string[] {
  return [event, `${event.split('.')[0]}.*`, '*'];
}
