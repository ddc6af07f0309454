import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { UserError, withActor, withTenant, type Database } from '@guanxi/core';
import {
  admitUser,
  authenticateApiKey,
  createJwtVerifier,
  defaultRateLimits,
  JwtRejected,
  type JwtSettings,
  type JwtVerifier,
  type RateLimits,
  type RateLimitVerdict,
} from '@guanxi/core/access';
import { blockFieldSuggestionsPlugin } from '@escape.tech/graphql-armor-block-field-suggestions';
import { costLimitPlugin } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import { useDisableIntrospection } from '@graphql-yoga/plugin-disable-introspection';
import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import { GraphQLError, type ValidationContext } from 'graphql';
import { createYoga, maskError, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import type { Caller, Context } from './context';
import { allowInsecureWebhookTargets } from './webhooks/webhook';
import { schema } from './schema';

export interface GraphiQLPreset {
  /** Example operations shown as tabs. */
  tabs: { query: string; variables?: string; headers?: string }[];
  /**
   * Renders the GraphiQL page with its assets inlined (the dev server passes yoga's
   * render-graphiql, so GraphiQL works offline); default: assets from a CDN.
   */
  render?: (options: object) => string;
}

/** api: Limits. Defaults per environment; every one can be tightened. */
export interface QueryLimits {
  maxDepth: number;
  maxAliases: number;
  maxTokens: number;
  maxCost: number;
  maxBodyBytes: number;
}

export const defaultQueryLimits: QueryLimits = {
  maxDepth: 12,
  maxAliases: 30,
  maxTokens: 2000,
  maxCost: 5000,
  maxBodyBytes: 1024 * 1024,
};

export interface ServerConfig {
  env: 'development' | 'production';
  /** `GUANXI_OPERATOR_KEY`: enables `createTenant` over the API. Unset: disabled. */
  operatorKey?: string | null;
  /** GraphiQL on GET /graphql; false in production unless asked for. */
  graphiql?: false | GraphiQLPreset;
  /** Introspection; default: on in development, off in production. */
  introspection?: boolean;
  /** Show internal error messages to callers (development only). */
  exposeErrors?: boolean;
  /** Log requests and unexpected errors. */
  logging?: boolean;
  /** Frontend sign-in (`Authorization: Bearer <JWT>`); unset: bearer tokens are refused. */
  jwt?: JwtSettings | null;
  limits?: Partial<QueryLimits>;
  /** Shared request counters per tenant and per caller; null turns rate limiting off. */
  rateLimits?: RateLimits | null;
  /**
   * Trusted documents: operations first-party frontends may send, by sha256 hash. When set, JWT
   * callers may only send these; API-key callers (partners) keep arbitrary operations.
   */
  trustedDocuments?: Record<string, string> | null;
  /** Tests only: let webhooks target http and loopback receivers (production refuses them). */
  allowInsecureWebhookTargets?: boolean;
}

export type GuanxiServer = YogaServerInstance<Record<string, unknown>, Context>;

function unauthenticated(message: string): GraphQLError {
  return new GraphQLError(message, {
    extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } },
  });
}

function rateLimited(verdict: RateLimitVerdict & { allowed: false }): GraphQLError {
  return new GraphQLError(
    `Too many requests for this ${verdict.limit === 'tenant' ? 'tenant' : 'credential'}: retry in ${verdict.retryAfterSeconds} s`,
    {
      extensions: {
        code: 'RATE_LIMITED',
        retryAfterSeconds: verdict.retryAfterSeconds,
        http: { status: 429, headers: { 'Retry-After': String(verdict.retryAfterSeconds) } },
      },
    },
  );
}

function sameSecret(given: string, expected: string): boolean {
  // Compare digests so the comparison takes the same time whatever the lengths.
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

interface Credential {
  scheme: 'apikey' | 'bearer' | 'operator';
  value: string;
}

/** The credential of a request, from its headers only (never cookies: a forged cross-site request carries none). */
function readCredential(request: Request): Credential {
  const authorization = request.headers.get('authorization')?.trim();
  const apiKeyHeader = request.headers.get('x-api-key')?.trim();
  if (authorization) {
    const match = /^(\S+)\s+(\S+)$/.exec(authorization);
    if (!match) throw unauthenticated('Malformed Authorization header: expected "<scheme> <credential>"');
    const scheme = match[1]!.toLowerCase();
    if (scheme !== 'apikey' && scheme !== 'bearer' && scheme !== 'operator') {
      throw unauthenticated(`Unknown Authorization scheme "${match[1]}": use ApiKey, Bearer or Operator`);
    }
    return { scheme, value: match[2]! };
  }
  if (apiKeyHeader) return { scheme: 'apikey', value: apiKeyHeader };
  throw unauthenticated(
    'Missing credential: send "Authorization: ApiKey <key>" (partners) or "Authorization: Bearer <JWT>" (frontends)',
  );
}

/** Who is calling, checked once per request: a missing or bad credential is a 401 before anything executes. */
async function resolveCaller(
  credential: Credential,
  db: Database,
  config: ServerConfig,
  verifyJwt: JwtVerifier | null,
): Promise<Caller> {
  const limits = config.rateLimits === undefined ? defaultRateLimits : config.rateLimits;
  switch (credential.scheme) {
    case 'apikey': {
      const admission = await authenticateApiKey(db, credential.value, limits);
      if (!admission) throw unauthenticated('The API key is unknown, revoked, expired or malformed');
      if (!admission.rateLimit.allowed) throw rateLimited(admission.rateLimit);
      return admission.actor;
    }
    case 'bearer': {
      if (!verifyJwt) throw unauthenticated('JWT sign-in is not configured on this server');
      let actor;
      try {
        actor = await verifyJwt(credential.value);
      } catch (error) {
        if (error instanceof JwtRejected) throw unauthenticated(error.message);
        throw error;
      }
      if (limits) {
        const verdict = await admitUser(db, actor, limits);
        if (!verdict.allowed) throw rateLimited(verdict);
      }
      return actor;
    }
    case 'operator': {
      if (!config.operatorKey) throw unauthenticated('Operator access is disabled (GUANXI_OPERATOR_KEY is unset)');
      if (!sameSecret(credential.value, config.operatorKey)) throw unauthenticated('Wrong operator key');
      return { kind: 'OPERATOR' };
    }
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
      const addWarnings = {
        onExecuteDone({ result, setResult }: { result: unknown; setResult: (result: never) => void }) {
          if (context.warnings.length === 0 || !result || typeof result !== 'object' || Symbol.asyncIterator in result) return;
          const single = result as { extensions?: Record<string, unknown> };
          setResult({ ...single, extensions: { ...single.extensions, warnings: context.warnings } } as never);
        },
      };
      const caller = context.caller;
      if (caller.kind === 'OPERATOR') return addWarnings;
      setExecuteFn((executeArgs) =>
        withActor(
          caller,
          () => withTenant(db, caller.tenantId, async () => await executeFn(executeArgs)),
          context.requestId,
        ) as never,
      );
      return addWarnings;
    },
  };
}

/**
 * GraphQL Armor's refusals, reported as validation errors with a code (api: every refusal has an
 * `extensions.code`) instead of thrown bare.
 */
const reportLimit = {
  propagateOnRejection: false,
  onReject: [
    (context: ValidationContext | null, error: GraphQLError) =>
      context?.reportError(
        new GraphQLError(error.message.replace(/^Syntax Error: /, ''), {
          extensions: { code: 'QUERY_TOO_COMPLEX' },
        }),
      ),
  ],
};

/** The one server factory: the dev server, the Lambda handler and the tests all use it. */
export function createServer(options: { db: Database; config: ServerConfig }): GuanxiServer {
  const { db, config } = options;
  const limits = { ...defaultQueryLimits, ...config.limits };
  const introspection = config.introspection ?? config.env === 'development';
  // Built once per server (per Lambda container): the remote key set and its cache live here.
  const verifyJwt = config.jwt ? createJwtVerifier(config.jwt) : null;
  const trusted = config.trustedDocuments ?? null;
  if (config.allowInsecureWebhookTargets) {
    if (config.env === 'production') throw new Error('Insecure webhook targets are refused in production');
    allowInsecureWebhookTargets(db);
  }

  const plugins: Plugin<Context>[] = [
    maxTokensPlugin({ n: limits.maxTokens }),
    maxDepthPlugin({ n: limits.maxDepth, ignoreIntrospection: true, flattenFragments: true, ...reportLimit }),
    maxAliasesPlugin({ n: limits.maxAliases, ...reportLimit }),
    costLimitPlugin({ maxCost: limits.maxCost, ignoreIntrospection: true, ...reportLimit }),
    useTenantScope(db),
  ];
  if (!introspection) {
    // Without introspection, "did you mean …" hints would leak the schema field by field.
    plugins.push(useDisableIntrospection(), blockFieldSuggestionsPlugin());
  }
  if (trusted) {
    plugins.push(
      usePersistedOperations<Context>({
        getPersistedOperation: (hash) => trusted[hash] ?? null,
        // First-party frontends (JWT) are held to the manifest; partners' keys are not.
        allowArbitraryOperations: (request) =>
          !/^\s*bearer\s/i.test(request.headers.get('authorization') ?? ''),
      }),
    );
  }

  return createYoga<Record<string, unknown>, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    logging: config.logging ? 'info' : false,
    maskedErrors: {
      isDev: config.exposeErrors ?? false,
      // A refusal raised outside a mutation payload (a bad cursor, say) keeps its message and
      // code; anything unexpected is masked (its details only in development).
      maskError: (error, message, isDev) => {
        const original = error instanceof GraphQLError ? error.originalError : error;
        if (original instanceof UserError) {
          const detail = original.errors[0]!;
          return new GraphQLError(original.message, {
            extensions: { code: detail.code, field: detail.field },
          });
        }
        return maskError(error, message, isDev);
      },
    },
    maxRequestBodySize: limits.maxBodyBytes,
    ...(config.graphiql && config.graphiql.render ? { renderGraphiQL: config.graphiql.render } : {}),
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
        caller: await resolveCaller(readCredential(request), db, config, verifyJwt),
        requestId: given && requestIdPattern.test(given) ? given : randomUUID(),
        db,
        warnings: [],
      };
    },
    plugins,
  });
}
