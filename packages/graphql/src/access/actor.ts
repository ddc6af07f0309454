import type { ActorKind } from '@guanxi/core/stages';
import { encodeGlobalID } from '@pothos/plugin-relay';
import { builder } from '../builder';
import { ActorKindEnum } from './tenant';

/** Who made a change, as its row recorded it: the kind and the raw id (subject, key id or job). */
export interface ActorShape {
  kind: ActorKind;
  id: string | null;
}

// A value, not a Node, and without an `id` field: the only global id it can name is its API key's,
// and a client cache (Relay's) keys every object by `id`, so an Actor with its key's id would be
// merged with that ApiKey. Users have no global id: guanxi keeps no user records (a user is the
// identity provider's JWT subject), so there is no User node to load.
export const Actor = builder.objectRef<ActorShape>('Actor').implement({
  description:
    'Who made a change: a user (known by the subject of its JWT), a partner API key, or guanxi itself (a job such as the nightly scoring).',
  fields: (t) => ({
    kind: t.field({ type: ActorKindEnum, description: 'USER, API_KEY or SYSTEM.', resolve: (actor) => actor.kind }),
    apiKeyId: t.id({
      nullable: true,
      description:
        'The global id of the API key (an ApiKey, loadable by node(id) with the ADMIN right) when kind is API_KEY; null for users and for guanxi\'s jobs.',
      resolve: (actor) => (actor.kind === 'API_KEY' && actor.id ? encodeGlobalID('ApiKey', actor.id) : null),
    }),
    userSubject: t.string({
      nullable: true,
      description:
        "The user's JWT subject (sub), as the identity provider issued it, when kind is USER; null otherwise. Not a global id: guanxi keeps no user records, so there is no User node.",
      resolve: (actor) => (actor.kind === 'USER' ? actor.id : null),
    }),
    job: t.string({
      nullable: true,
      description:
        "Which of guanxi's jobs made the change when kind is SYSTEM (e.g. scoring:nightly, stage-policy, import); null otherwise.",
      resolve: (actor) => (actor.kind === 'SYSTEM' ? actor.id : null),
    }),
  }),
});
