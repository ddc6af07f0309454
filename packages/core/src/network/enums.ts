import { pgEnum } from 'drizzle-orm/pg-core';

export const partyKinds = ['CUSTOMER', 'PROSPECT', 'PARTNER', 'SOCIAL_CONTACT'] as const;
export type PartyKind = (typeof partyKinds)[number];
export const partyKind = pgEnum('party_kind', partyKinds);

export const relationshipTypes = [
  'REFERRED',
  'COLLEAGUE',
  'FAMILY',
  'FRIEND',
  'PARTNER_OF',
  'FOLLOWS',
  'OTHER',
] as const;
export type RelationshipType = (typeof relationshipTypes)[number];
export const relationshipType = pgEnum('relationship_type', relationshipTypes);
// domain: FOLLOWS and REFERRED are directed; the others are symmetric and stored once.
export const directedRelationshipTypes: readonly RelationshipType[] = ['FOLLOWS', 'REFERRED'];

export const interactionKinds = [
  'CALL',
  'EMAIL',
  'MEETING',
  'EVENT',
  'VISIT',
  'CARE',
  'COMPLAINT',
  'FEEDBACK',
] as const;
export type InteractionKind = (typeof interactionKinds)[number];
export const interactionKind = pgEnum('interaction_kind', interactionKinds);
