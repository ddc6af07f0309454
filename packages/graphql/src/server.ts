import { randomUUID, timingSafeEqual, createHash } from 'node:crypto';
import { withActor, withTenant, type Database } from '@guanxi/core';
import { authenticateApiKey } from '@guanxi/core/access';
import { GraphQLError } from 'graphql';
import { createYoga, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import type { Caller, Context } from './context';
import { schema } from './schema';

export interface GraphiQLPreset {
  /** Example operations shown as tabs. */
  tabs: { query: string; variables?: string; headers?: string }[];
}

export interface ServerConfig {
  env: 'development' | 'production';
  /** `GUANXI_OPERATOR_KEY`: enables `createTenant` over the API. Unset: disabled. */
  operatorKey?: string | null;
  /** GraphiQL on GET /graphql; false in production unless asked for. */
  graphiql?: false | GraphiQLPreset;
  /** Show internal error messages to callers (development only). */
  exposeErrors?: boolean;
  /** Log requests and unexpected errors. */
  logging?: boolean;
}

export type GuanxiServer = YogaServerInstance<Record<string, unknown>, Context>;

function unauthenticated(message: string): GraphQLError {
  return new GraphQLError(message, {
    extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } },
  });
}

function sameSecret(given: string, expected: string): boolean {
  // Compare digests so the comparison takes the same time whatever the lengths.
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * Who is calling, from the request's headers only (never cookies: a forged cross-site request
 * then carries no credential). A missing or bad credential is a 401 before anything executes.
 */
async function resolveCaller(request: Request, db: Database, config: ServerConfig): Promise<Caller> {
  const authorization = request.headers.get('authorization')?.trim();
  const apiKeyHeader = request.headers.get('x-api-key')?.trim();
  let scheme: string;
  let credential: string;
  if (authorization) {
    const match = /^(\S+)\s+(\S+)$/.exec(authorization);
    if (!match) throw unauthenticated('Malformed Authorization header: expected "<scheme> <credential>"');
    scheme = match[1]!.toLowerCase();
    credential = match[2]!;
  } else if (apiKeyHeader) {
    scheme = 'apikey';
    credential = apiKeyHeader;
  } else {
    throw unauthenticated(
      'Missing credential: send "Authorization: ApiKey <key>" (partners) or "Authorization: Bearer <JWT>" (frontends)',
    );
  }
  switch (scheme) {
    case 'apikey': {
      const actor = await authenticateApiKey(db, credential);
      if (!actor) throw unauthenticated('The API key is unknown, revoked, expired or malformed');
      return actor;
    }
    case 'operator': {
      if (!config.operatorKey) throw unauthenticated('Operator access is disabled (GUANXI_OPERATOR_KEY is unset)');
      if (!sameSecret(credential, config.operatorKey)) throw unauthenticated('Wrong operator key');
      return { kind: 'OPERATOR' };
    }
    case 'bearer':
      throw unauthenticated('JWT sign-in is not configured on this server');
    default:
      throw unauthenticated(`Unknown Authorization scheme "${scheme}": use ApiKey, Bearer or Operator`);
  }
}

const requestIdPattern = /^[\w.:-]{1,100}$/;

/**
 * Runs every execution of a tenant caller inside one transaction with the tenant set, under the
 * caller's identity: resolvers and core functions read both from there, never from arguments.
 */
function useTenantScope(db: Database): Plugin<Context> {
  return {
    onExecute({ args, executeFn, setExecuteFn }) {
      const context = args.contextValue as Context;
      const caller = context.caller;
      if (caller.kind === 'OPERATOR') return;
      setExecuteFn((executeArgs) =>
        withActor(
          caller,
          () => withTenant(db, caller.tenantId, async () => await executeFn(executeArgs)),
          context.requestId,
        ) as never,
      );
    },
  };
}

/** The one server factory: the dev server, the Lambda handler and the tests all use it. */
export function createServer(options: { db: Database; config: ServerConfig }): GuanxiServer {
  const { db, config } = options;
  return createYoga<Record<string, unknown>, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    logging: config.logging ? 'info' : false,
    maskedErrors: config.exposeErrors ? { isDev: true } : true,
    graphiql: config.graphiql
      ? {
          title: 'guanxi',
          defaultTabs: config.graphiql.tabs,
          defaultEditorToolsVisibility: 'headers',
        }
      : false,
    context: async ({ request }) => {
      const given = request.headers.get('x-request-id');
      return {
        caller: await resolveCaller(request, db, config),
        requestId: given && requestIdPattern.test(given) ? given : randomUUID(),
        db,
      };
    },
    plugins: [useTenantScope(db)],
  });
}
