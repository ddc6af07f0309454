import type { Database } from '@guanxi/core';
import { createServer, type GuanxiServer, type ServerConfig } from '@guanxi/graphql';
import { readSettings } from '../config';
import { lambdaEnv, once, openLambdaDatabase, type HttpEventV2, type HttpResultV2 } from './lambda';

/**
 * The GraphQL API on Lambda (function URL or HTTP API, payload format 2.0): the same yoga server
 * as the dev server (`createServer`), fed a Fetch `Request` built from the event. The database
 * pool and the server live at module scope, built on the first invocation and reused by every
 * later one in the container (the JWKS cache and the prepared schema with them).
 */
export interface ApiHandlerOptions {
  /** Tests: a database to use instead of opening the linked DatabaseUrl. */
  db?: Database;
  /** Tests: the environment instead of process.env (secrets still come from `Resource`). */
  env?: NodeJS.ProcessEnv;
  /** Tests: overrides of the server configuration built from the settings. */
  config?: Partial<ServerConfig>;
}

export type ApiHandler = (event: HttpEventV2) => Promise<HttpResultV2>;

export function createApiHandler(options: ApiHandlerOptions = {}): ApiHandler {
  const server = once(async (): Promise<GuanxiServer> => {
    const env = lambdaEnv(options.env);
    const settings = readSettings(env);
    const db = options.db ?? (await openLambdaDatabase(settings.databaseUrl, { env })).db;
    return createServer({
      db,
      config: {
        env: settings.env,
        operatorKey: settings.operatorKey,
        // GraphiQL from its CDN when asked for (GUANXI_GRAPHIQL): the offline renderer the dev
        // server uses is a megabyte the Lambda bundle does without.
        graphiql: settings.graphiql ? { tabs: [] } : false,
        introspection: settings.graphiql,
        exposeErrors: settings.env === 'development',
        logging: true,
        jwt: settings.jwt,
        corsOrigins: settings.corsOrigins,
        ...options.config,
      },
    });
  });
  return async (event) => {
    const yoga = await server();
    // The address the function URL saw, for the server's per-address budget of wrong credentials.
    const sourceIp = event.requestContext.http.sourceIp;
    const response = await yoga.fetch(toRequest(event), sourceIp ? { clientAddress: sourceIp } : {});
    return await toResult(response);
  };
}

/** The event as a Fetch request. */
export function toRequest(event: HttpEventV2): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (value !== undefined) headers.set(name, value);
  }
  // Payload 2.0 moves cookies out of the headers; put them back for anything that reads them.
  if (event.cookies?.length) headers.set('cookie', event.cookies.join('; '));
  // The API Gateway / function URL request id, unless the caller sent its own: the one id that
  // appears in CloudWatch, in the audit log and in the caller's logs.
  if (!headers.has('x-request-id')) headers.set('x-request-id', event.requestContext.requestId);
  const host = event.requestContext.domainName ?? headers.get('host') ?? 'lambda.local';
  const query = event.rawQueryString ? `?${event.rawQueryString}` : '';
  const method = event.requestContext.http.method.toUpperCase();
  const hasBody = method !== 'GET' && method !== 'HEAD' && event.body !== undefined && event.body !== '';
  const body = hasBody ? (event.isBase64Encoded ? Buffer.from(event.body!, 'base64') : Buffer.from(event.body!, 'utf8')) : null;
  // The body's true length, whatever the event's headers said: the body limit judges by it
  // (the GraphQL package's body-limit.ts).
  if (body) headers.set('content-length', String(body.byteLength));
  else headers.delete('content-length');
  return new Request(`https://${host}${event.rawPath}${query}`, { method, headers, ...(body ? { body } : {}) });
}

const textual = /^(text\/|application\/(json|graphql-response\+json|javascript|xml)|multipart\/mixed)/i;

/** The Fetch response as a payload 2.0 result; Set-Cookie headers go to `cookies` (each kept whole). */
export async function toResult(response: Response): Promise<HttpResultV2> {
  const headers: Record<string, string> = {};
  // Lower-case names (yoga's own Response keeps the case it was given; HTTP does not care, and
  // lower case is what API Gateway and function URLs send themselves).
  response.headers.forEach((value, name) => {
    const key = name.toLowerCase();
    if (key !== 'set-cookie') headers[key] = value;
  });
  const cookies = response.headers.getSetCookie();
  const type = response.headers.get('content-type') ?? '';
  const binary = response.body !== null && type !== '' && !textual.test(type);
  const body = binary ? Buffer.from(await response.arrayBuffer()).toString('base64') : await response.text();
  return {
    statusCode: response.status,
    headers,
    ...(cookies.length ? { cookies } : {}),
    body,
    isBase64Encoded: binary,
  };
}

/** What SST points the function at: `packages/functions/src/handlers/api.handler`. */
export const handler: ApiHandler = createApiHandler();
