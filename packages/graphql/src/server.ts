import { createHash, timingSafeEqual } from 'node:crypto';
import {
  isDatabaseUnavailable,
  UserError,
  withActor,
  withAdmittedTenant,
  type Actor,
  type Database,
  type PresumedAdmission,
  type Transaction,
} from '@guanxi/core';
import {
  admitApiKey,
  AdmittedKeys,
  admitUser,
  createJwtVerifier,
  CredentialGuard,
  defaultCredentialGuardLimits,
  defaultRateLimits,
  type CredentialGuardLimits,
  type GuardVerdict,
  JwtRejected,
  type JwtSettings,
  type JwtVerifier,
  type LookupTicket,
  type RateLimits,
  type RateLimitVerdict,
  isPresumedKeyRefused,
  isWellFormedApiKey,
  presumedApiKeyAdmission,
} from '@guanxi/core/access';
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { useDisableIntrospection } from '@graphql-yoga/plugin-disable-introspection';
import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import { PothosValidationError } from '@pothos/core';
import {
  GraphQLError,
  getOperationAST,
  lexicographicSortSchema,
  type GraphQLErrorOptions,
  type ASTNode,
  type GraphQLSchema,
  type StringValueNode,
  type ValidationContext,
} from 'graphql';
import { createYoga, maskError, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import { useBodyLimit } from './body-limit';
import { useCompiledExecution } from './compiled-execution';
import type { Caller, PendingAdmission, RequestContext } from './context';
import { useObjectCost } from './cost';
import { allowInsecureWebhookTargets } from './webhooks/webhook';
import { useReadiness } from './readiness';
import { schema } from './schema';
import { createRequestLog, jsonLogger, stdoutSink, type LogSink } from './request-log';
import { useNoSuggestions } from './suggestions';

export interface GraphiQLPreset {
  /** Example operations shown as tabs. */
  tabs: { query: string; variables?: string; headers?: string }[];
  /**
   * What the headers editor starts with (JSON). GraphiQL sends these with its own introspection
   * and with every tab that has no headers of its own; tab headers alone are not enough.
   */
  headers?: string;
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
  // api: 50,000 objects a query (GitHub allows 500,000); a page of 100 parties with 10 orders
  // and 10 relationships each costs about 4,300.
  maxCost: 50_000,
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
  /** One JSON line per request and yoga's own log, as JSON lines (see request-log.ts). */
  logging?: boolean;
  /** Where log lines go; default stdout. */
  logSink?: LogSink;
  /** `/ready` answers 503 when the database does not answer `select 1` within this; default 2000 ms. */
  readinessTimeoutMs?: number;
  /** Frontend sign-in (`Authorization: Bearer <JWT>`); unset: bearer tokens are refused. */
  jwt?: JwtSettings | null;
  limits?: Partial<QueryLimits>;
  /** Shared request counters per tenant and per caller; null turns rate limiting off. */
  rateLimits?: RateLimits | null;
  /**
   * In-process limits on wrong credentials (per client address, and unknown-key lookups per
   * second); null turns them off. Default: `defaultCredentialGuardLimits`.
   */
  credentialGuard?: Partial<CredentialGuardLimits> | null;
  /**
   * Trusted documents: operations first-party frontends may send, by sha256 hash. When set, JWT
   * callers may only send these; API-key callers (partners) keep arbitrary operations.
   */
  trustedDocuments?: Record<string, string> | null;
  /**
   * Browser origins allowed to call the API (`GUANXI_CORS_ORIGINS`): a list of exact origins, or
   * '*' for any. Default: any in development, none in production (then browsers on other sites
   * get no CORS headers and cannot read an answer). Credentials travel in headers, never in
   * cookies, so no answer ever allows credentials.
   */
  corsOrigins?: readonly string[] | '*' | null;
  /** Tests only: let webhooks target http and loopback receivers (production refuses them). */
  allowInsecureWebhookTargets?: boolean;
}

export type GuanxiServer = YogaServerInstance<Record<string, unknown>, RequestContext>;

function unauthenticated(message: string): GraphQLError {
  return new GraphQLError(message, {
    extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } },
  });
}

function rateLimited(verdict: RateLimitVerdict & { allowed: false }): GraphQLError {
  return tooManyRequests(
    `Too many requests for this ${verdict.limit === 'tenant' ? 'tenant' : 'credential'}: retry in ${verdict.retryAfterSeconds} s`,
    verdict.retryAfterSeconds,
  );
}

/** Refused by the credential guard, before any credential is checked. */
function tooManyFailures(verdict: GuardVerdict & { allowed: false }): GraphQLError {
  return tooManyRequests(
    verdict.reason === 'address'
      ? `Too many wrong credentials from this address: retry in ${verdict.retryAfterSeconds} s`
      : `Too many unknown API keys on this server: retry in ${verdict.retryAfterSeconds} s`,
    verdict.retryAfterSeconds,
  );
}

function tooManyRequests(message: string, retryAfterSeconds: number): GraphQLError {
  return new GraphQLError(
    message,
    {
      extensions: {
        code: 'RATE_LIMITED',
        retryAfterSeconds,
        http: { status: 429, headers: { 'Retry-After': String(retryAfterSeconds) } },
      },
    },
  );
}

/**
 * The database cannot be reached (restarting, a dropped connection, no connection to be had in
 * time). A request cut off at its commit may or may not have committed: mutations that carry an
 * idempotency key are safe to send again, others should be checked first.
 */
function databaseUnavailable(at: GraphQLErrorOptions = {}): GraphQLError {
  return new GraphQLError('The database is unavailable for a moment: retry shortly', {
    ...at,
    extensions: { code: 'SERVICE_UNAVAILABLE', retryAfterSeconds: 1, http: { status: 503, headers: { 'Retry-After': '1' } } },
  });
}

/** Where an error happened (its field's path, its place in the document), for the error that replaces it. */
function locationOf(error: unknown): GraphQLErrorOptions {
  if (!(error instanceof GraphQLError)) return {};
  return { nodes: error.nodes, source: error.source, positions: error.positions, path: error.path };
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

/** What a request's credential says before the database is asked: the operator, or a tenant caller to admit. */
type CheckedCredential = { caller: Caller; admission: null } | { caller: null; admission: PendingAdmission };

/**
 * Checks a credential as far as can be without the database: a missing, malformed or wrongly
 * signed one is a 401 before anything executes. API keys and signed-in users are admitted by the
 * first statement of the request's own transaction (`admitTenantCaller`).
 */
async function checkCredential(credential: Credential, config: ServerConfig, verifyJwt: JwtVerifier | null): Promise<CheckedCredential> {
  switch (credential.scheme) {
    case 'apikey': {
      if (!isWellFormedApiKey(credential.value)) throw unknownApiKey();
      return { caller: null, admission: { kind: 'API_KEY', secret: credential.value } };
    }
    case 'bearer': {
      if (!verifyJwt) throw unauthenticated('JWT sign-in is not configured on this server');
      try {
        return { caller: null, admission: { kind: 'USER', actor: await verifyJwt(credential.value) } };
      } catch (error) {
        if (error instanceof JwtRejected) throw unauthenticated(error.message);
        throw error;
      }
    }
    case 'operator': {
      if (!config.operatorKey) throw unauthenticated('Operator access is disabled (GUANXI_OPERATOR_KEY is unset)');
      if (!sameSecret(credential.value, config.operatorKey)) throw unauthenticated('Wrong operator key');
      return { caller: { kind: 'OPERATOR' }, admission: null };
    }
  }
}

const unknownApiKey = () => unauthenticated('The API key is unknown, revoked, expired or malformed');

/**
 * What the credential guard says of an API key before any transaction opens: a key it remembers
 * as failed, or a flood over the server's budget of unknown keys, is refused without touching the
 * database; otherwise a ticket for the one lookup the admission makes.
 */
function guardApiKey(admission: PendingAdmission, guard: CredentialGuard | null): LookupTicket | null {
  if (!guard || admission.kind !== 'API_KEY') return null;
  const ticket = guard.beforeLookup(admission.secret);
  if (!('outcome' in ticket)) return ticket;
  if (ticket.outcome === 'refused') throw tooManyFailures(ticket.verdict);
  throw unknownApiKey();
}

/**
 * Admits a tenant caller by the first statement of the request's transaction `tx` (key lookup,
 * rate limit, tenant: migration 0009). Refusals are thrown: the transaction then rolls back and
 * nothing else runs.
 */
async function admitTenantCaller(
  tx: Transaction,
  admission: PendingAdmission,
  limits: RateLimits | null,
  guard: { guard: CredentialGuard; ticket: LookupTicket } | null,
  keys: AdmittedKeys,
): Promise<Actor> {
  if (admission.kind === 'USER') {
    const verdict = await admitUser(tx, admission.actor, limits);
    if (!verdict) throw unauthenticated('The token names a tenant that does not exist');
    if (!verdict.allowed) throw rateLimited(verdict);
    return admission.actor;
  }
  let admitted;
  try {
    admitted = await admitApiKey(tx, admission.secret, limits);
  } catch (error) {
    if (guard) guard.guard.lookupFailed(guard.ticket);
    throw error;
  }
  if (guard) guard.guard.afterLookup(guard.ticket, admitted !== null);
  if (!admitted) throw unknownApiKey();
  if (!admitted.rateLimit.allowed) throw rateLimited(admitted.rateLimit);
  keys.remember(admission.secret, admitted.actor, guard?.ticket.hash);
  return admitted.actor;
}

/**
 * A read by an API key this process has admitted before: it runs as the key's actor at once, and
 * its admission goes with its first statement (`withAdmittedTenant`'s `presumed`). The same
 * refusals as `admitTenantCaller`: a rate limit over (checked once the counts are back), and a
 * key the database no longer admits, which `refusal` turns into the 401 (and forgets). The
 * guard's ticket is answered once: by the admission's rows, or by the error that came instead.
 */
function presumedCaller(
  known: { secretHash: string; actor: Actor & { kind: 'API_KEY' } },
  limits: RateLimits | null,
  guard: { guard: CredentialGuard; ticket: LookupTicket } | null,
  keys: AdmittedKeys,
): PresumedAdmission<Actor> & { refusal: (error: unknown) => unknown } {
  const { statement, verdict } = presumedApiKeyAdmission(known.secretHash, known.actor, limits);
  let answered = false;
  const answer = (outcome: 'found' | 'unknown' | 'failed') => {
    if (!guard || answered) return;
    answered = true;
    if (outcome === 'failed') guard.guard.lookupFailed(guard.ticket);
    else guard.guard.afterLookup(guard.ticket, outcome === 'found');
  };
  return {
    admitted: known.actor,
    statement,
    check: (rows) => {
      answer('found');
      const rateLimit = verdict(rows);
      if (!rateLimit.allowed) throw rateLimited(rateLimit);
    },
    refusal: (error) => {
      if (!isPresumedKeyRefused(error)) {
        if (!(error instanceof GraphQLError)) answer('failed');
        return error;
      }
      keys.forget(known.secretHash);
      answer('unknown');
      return unknownApiKey();
    },
  };
}

/**
 * The caller's network address, as the transport saw it: the Lambda handler passes the function
 * URL's `sourceIp`, node:http gives the socket. Forwarded-for headers are not read: anyone can
 * send them. Unknown (tests calling `yoga.fetch`) is one shared address.
 */
function clientAddressOf(serverContext: Record<string, unknown>): string {
  if (typeof serverContext.clientAddress === 'string') return serverContext.clientAddress;
  const req = serverContext.req as { socket?: { remoteAddress?: string } } | undefined;
  return req?.socket?.remoteAddress ?? 'unknown';
}

/** Runs a step of checking a credential: every 401 it throws counts against `address`'s budget. */
async function countingFailures<T>(guard: CredentialGuard | null, address: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    if (guard && error instanceof GraphQLError && error.extensions.code === 'UNAUTHENTICATED') guard.recordFailure(address);
    throw error;
  }
}

/**
 * Checks the credential under the credential guard: an address over its budget of wrong
 * credentials is refused before anything is checked, and every 401 counts against it.
 */
async function guardedCredential(
  request: Request,
  address: string,
  check: (credential: Credential) => Promise<CheckedCredential>,
  guard: CredentialGuard | null,
): Promise<CheckedCredential> {
  if (guard) {
    const verdict = guard.admitAddress(address);
    if (!verdict.allowed) throw tooManyFailures(verdict);
  }
  return countingFailures(guard, address, () => check(readCredential(request)));
}

interface TenantScopeOptions {
  limits: RateLimits | null;
  guard: CredentialGuard | null;
  admittedKeys: AdmittedKeys;
  noteCaller: (request: Request, caller: Caller) => void;
}

/**
 * Runs every execution of a tenant caller in one transaction, the request's only one: its first
 * statement admits the caller (credential, rate limit, tenant), then resolvers and core functions
 * run as that tenant, under the caller's identity, reading both from there, never from arguments.
 */
function useTenantScope(db: Database, options: TenantScopeOptions): Plugin<RequestContext> {
  return {
    onExecute({ args, executeFn, setExecuteFn }) {
      const context = args.contextValue as unknown as RequestContext & { request: Request; clientAddress: string };
      const addWarnings = {
        onExecuteDone({ result, setResult }: { result: unknown; setResult: (result: never) => void }) {
          if (context.warnings.length === 0 || !result || typeof result !== 'object' || Symbol.asyncIterator in result) return;
          const single = result as { extensions?: Record<string, unknown> };
          setResult({ ...single, extensions: { ...single.extensions, warnings: context.warnings } } as never);
        },
      };
      const admission = context.admission;
      if (!admission) return addWarnings;
      // Admission refusals are thrown (resolvers' errors are in the result): every 401 among them
      // counts against the address, as before execution.
      setExecuteFn((executeArgs) =>
        countingFailures(options.guard, context.clientAddress, async () => {
          // Before the transaction: a key the guard refuses costs no statement at all.
          const ticket = guardApiKey(admission, options.guard);
          const guarded = options.guard && ticket ? { guard: options.guard, ticket } : null;
          const read = getOperationAST(executeArgs.document, executeArgs.operationName)?.operation === 'query';
          // Only reads: they change nothing before their admission is confirmed.
          const known = read && admission.kind === 'API_KEY' ? options.admittedKeys.presumed(admission.secret, ticket?.hash) : undefined;
          const presumed = known ? presumedCaller(known, options.limits, guarded, options.admittedKeys) : null;
          try {
            return await withAdmittedTenant<Actor, unknown>(
              db,
              (tx) => admitTenantCaller(tx, admission, options.limits, guarded, options.admittedKeys),
              async (caller) => {
                context.caller = caller;
                options.noteCaller(context.request, caller);
                return withActor(caller, async () => await executeFn(executeArgs), context.requestId);
              },
              { read, presumed },
            );
          } catch (error) {
            throw presumed ? presumed.refusal(error) : error;
          }
        }) as never,
      );
      return addWarnings;
    },
  };
}

// U+0000, or a surrogate without its pair (not a character at all: UTF-8 cannot encode it).
const unstorable = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Whether a JSON value holds a string (or key) Postgres cannot store, walked without recursion. */
function holdsUnstorableText(value: unknown): boolean {
  const stack = [value];
  while (stack.length > 0) {
    const item = stack.pop();
    if (typeof item === 'string') {
      if (unstorable.test(item)) return true;
    } else if (item && typeof item === 'object') {
      for (const [key, child] of Object.entries(item)) {
        if (unstorable.test(key)) return true;
        stack.push(child);
      }
    }
  }
  return false;
}

/**
 * Postgres text holds neither U+0000 nor unpaired surrogates: such a string would fail deep inside
 * a write or a search as an internal error (or, depending on the driver, be silently altered).
 * Refused before anything runs, in variables and in literals alike.
 */
function useRefuseUnstorableText(): Plugin<RequestContext> {
  const refusal = (nodes?: ASTNode) =>
    new GraphQLError('Strings must be valid Unicode text without the NUL character (U+0000)', {
      ...(nodes ? { nodes } : {}),
      extensions: { code: 'BAD_USER_INPUT' },
    });
  return {
    onParams({ params, setResult }) {
      if (holdsUnstorableText(params.variables)) setResult({ errors: [refusal()] });
    },
    onValidate({ addValidationRule }) {
      addValidationRule((context: ValidationContext) => ({
        StringValue(node: StringValueNode) {
          if (unstorable.test(node.value)) context.reportError(refusal(node));
        },
      }));
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

/**
 * api: at most `maxTokens` tokens per document, counted by graphql-js's own parser as it parses
 * (`maxLexicalTokens`), so a token bomb is cut short before any tree is built. Not GraphQL
 * Armor's max-tokens plugin: it subclasses the parser from `graphql/language/parser`, which
 * bundlers resolve to graphql's CommonJS build, a second copy of lexer and parser (40 KB) for
 * every Lambda cold start to compile. The refusal is the same, word for word.
 */
function useTokenLimit(maxTokens: number): Plugin<RequestContext> {
  return {
    onParse({ parseFn, setParseFn }) {
      setParseFn((source, options) => {
        try {
          return parseFn(source, { ...options, maxLexicalTokens: maxTokens });
        } catch (error) {
          if (error instanceof GraphQLError && /\btokens\. Parsing aborted\.$/.test(error.message)) {
            throw new GraphQLError(`Syntax Error: Token limit of ${maxTokens} exceeded.`);
          }
          throw error;
        }
      });
    },
  };
}

/**
 * What a caller sees of an error: a refusal raised outside a mutation payload (a bad cursor, say)
 * keeps its message and code; anything unexpected is masked (its details only in development).
 */
function maskedError(error: unknown, message: string, isDev?: boolean): Error {
  const original = error instanceof GraphQLError ? error.originalError : error;
  // api: errors keep the spec's `path` and `locations`; masking changes only the message.
  const at = locationOf(error);
  if (original instanceof UserError) {
    const detail = original.errors[0]!;
    return new GraphQLError(original.message, {
      ...at,
      extensions: { code: detail.code, field: detail.field },
    });
  }
  // Pothos refuses an argument before any resolver runs: an id that is not a global id, or
  // one of another type (a Party id passed as a Relationship id), a negative `first`. That
  // is the caller's input, like a scalar that does not parse, not an internal error.
  if (original instanceof PothosValidationError) {
    return new GraphQLError(original.message, { ...at, extensions: { code: 'BAD_USER_INPUT' } });
  }
  if (isDatabaseUnavailable(original)) return databaseUnavailable(at);
  // graphql-js reports a variable that does not coerce (an enum value that does not exist,
  // say `currency: "RMB"`) without a code: it is the caller's input, like a bad literal.
  if (error instanceof GraphQLError && !error.extensions?.code && /^Variable "\$\w+" /.test(error.message)) {
    return new GraphQLError(error.message, { ...at, extensions: { ...error.extensions, code: 'BAD_USER_INPUT' } });
  }
  return maskError(error, message, isDev);
}

let sortedSchema: GraphQLSchema | undefined;

/**
 * Introspection lists types and fields in alphabetical order, like schema.graphql. Sorting builds
 * every type a second time (a tenth of building the schema, on every Lambda cold start), so a
 * server without introspection, where nobody sees the order, serves the schema as built.
 */
function servedSchema(introspection: boolean): GraphQLSchema {
  if (!introspection) return schema;
  sortedSchema ??= lexicographicSortSchema(schema);
  return sortedSchema;
}

/** What a browser may send and read; the same lists as the function URL's (infra/api.ts). */
const corsPolicy = {
  methods: ['GET', 'POST'],
  allowedHeaders: ['authorization', 'content-type', 'x-api-key', 'x-request-id'],
  exposedHeaders: ['retry-after', 'x-request-id'],
  credentials: false,
  maxAge: 86_400,
};

/**
 * CORS headers only for an allowed origin: an unknown one gets none, so its page cannot read the
 * answer (yoga's default echoes any origin and allows credentials).
 */
function corsFor(allowed: readonly string[] | '*' | null) {
  if (!allowed) return false as const;
  return (request: Request) => {
    const origin = request.headers.get('origin');
    if (!origin || (allowed !== '*' && !allowed.includes(origin))) return false as const;
    return { ...corsPolicy, origin };
  };
}

/** The one server factory: the dev server, the Lambda handler and the tests all use it. */
export function createServer(options: { db: Database; config: ServerConfig }): GuanxiServer {
  const { db, config } = options;
  const limits = { ...defaultQueryLimits, ...config.limits };
  const introspection = config.introspection ?? config.env === 'development';
  // Built once per server (per Lambda container): the remote key set and its cache live here.
  const verifyJwt = config.jwt ? createJwtVerifier(config.jwt) : null;
  const trusted = config.trustedDocuments ?? null;
  // One per server (per Lambda container): what it remembers is this process's.
  const guard =
    config.credentialGuard === null ? null : new CredentialGuard({ ...defaultCredentialGuardLimits, ...config.credentialGuard });
  if (config.allowInsecureWebhookTargets) {
    if (config.env === 'production') throw new Error('Insecure webhook targets are refused in production');
    allowInsecureWebhookTargets(db);
  }

  const sink = config.logging ? (config.logSink ?? stdoutSink) : null;
  const requestLog = createRequestLog({ sink, graphqlEndpoint: '/graphql' });

  const plugins: Plugin<RequestContext>[] = [
    useCompiledExecution<RequestContext>(),
    requestLog.plugin,
    useReadiness(db, config.readinessTimeoutMs ?? 2000) as Plugin<RequestContext>,
    useBodyLimit(limits.maxBodyBytes) as Plugin<RequestContext>,
    useTokenLimit(limits.maxTokens),
    maxDepthPlugin({ n: limits.maxDepth, ignoreIntrospection: true, flattenFragments: true, ...reportLimit }),
    maxAliasesPlugin({ n: limits.maxAliases, ...reportLimit }),
    useObjectCost(limits.maxCost) as Plugin<RequestContext>,
    useRefuseUnstorableText(),
    useTenantScope(db, {
      limits: config.rateLimits === undefined ? defaultRateLimits : config.rateLimits,
      guard,
      admittedKeys: new AdmittedKeys(),
      noteCaller: requestLog.noteCaller,
    }),
  ];
  if (!introspection) {
    // Without introspection, "did you mean …" hints would leak the schema field by field.
    plugins.push(useDisableIntrospection(), useNoSuggestions());
  }
  if (trusted) {
    plugins.push(
      usePersistedOperations<RequestContext>({
        getPersistedOperation: (hash) => trusted[hash] ?? null,
        // First-party frontends (JWT) are held to the manifest; partners' keys are not.
        allowArbitraryOperations: (request) =>
          !/^\s*bearer\s/i.test(request.headers.get('authorization') ?? ''),
      }),
    );
  }

  return createYoga<Record<string, unknown>, RequestContext>({
    schema: servedSchema(introspection),
    graphqlEndpoint: '/graphql',
    landingPage: false,
    logging: sink ? jsonLogger(sink) : false,
    maskedErrors: {
      isDev: config.exposeErrors ?? false,
      maskError: maskedError,
    },
    // useBodyLimit instead: the same 413, without yoga's stream pipeline per request.
    maxRequestBodySize: false,
    cors: corsFor(config.corsOrigins === undefined ? (config.env === 'development' ? '*' : null) : config.corsOrigins),
    ...(config.graphiql && config.graphiql.render ? { renderGraphiQL: config.graphiql.render } : {}),
    graphiql: config.graphiql
      ? {
          title: 'guanxi',
          defaultTabs: config.graphiql.tabs,
          ...(config.graphiql.headers ? { headers: config.graphiql.headers } : {}),
          defaultEditorToolsVisibility: 'headers',
        }
      : false,
    context: async ({ request, ...serverContext }): Promise<RequestContext & { clientAddress: string }> => {
      const clientAddress = clientAddressOf(serverContext);
      const check = (credential: Credential) => checkCredential(credential, config, verifyJwt);
      const { caller, admission } = await guardedCredential(request, clientAddress, check, guard);
      if (caller) requestLog.noteCaller(request, caller);
      return {
        caller,
        admission,
        clientAddress,
        requestId: requestLog.requestIdOf(request),
        db,
        warnings: [],
      };
    },
    plugins,
  });
}
