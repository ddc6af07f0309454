import { migration } from './migrate';
import { apiSecrets } from './secrets';
import { environment, handlers, logging, nodejs, runtime } from './shared';

/**
 * The browser origins allowed to call the API: GUANXI_CORS_ORIGINS (comma-separated) at deploy
 * time; development stages default to the usual local dev servers, production has no default (a
 * forgotten origin list must fail the deploy, not open the API to every site or to none).
 */
export function corsOrigins(stage: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const given = env.GUANXI_CORS_ORIGINS?.split(',').map((o) => o.trim()).filter(Boolean) ?? [];
  if (given.length) return given;
  if (stage === 'production') throw new Error('Set GUANXI_CORS_ORIGINS (the frontend origins) to deploy production');
  return ['http://localhost:3000', 'http://localhost:5173'];
}

/**
 * The GraphQL API: one function behind a function URL, the endpoint `<url>/graphql`.
 * - 1024 MB: Lambda gives CPU in proportion to memory, and a GraphQL request is CPU work (parse,
 *   validate, cost analysis, JSON); at 1024 MB a cold start and a typical query take about half
 *   as long as at 512 MB, for about the same cost per request. Memory use itself is < 200 MB.
 * - 29 seconds: the longest an API Gateway HTTP API waits, so the API can move behind one (custom
 *   domain, WAF) unchanged; a request running longer than that is a bug to cut short anyway.
 * - arm64: cheaper per ms and the bundle is plain JavaScript (no native modules).
 * - CORS by the function URL, which answers preflights itself and overrides the CORS headers the
 *   yoga server adds.
 */
export const api = new sst.aws.Function(
  'Api',
  {
    handler: handlers.api,
    description: 'guanxi GraphQL API',
    runtime,
    architecture: 'arm64',
    memory: '1024 MB',
    timeout: '29 seconds',
    link: apiSecrets,
    environment: {
      ...environment,
      // GraphiQL and introspection on development stages only.
      GUANXI_GRAPHIQL: $app.stage === 'production' ? 'false' : 'true',
      // The function URL answers CORS itself; the server gets the same list, so a move behind an
      // API Gateway or a run of the bundle elsewhere keeps the same origins.
      GUANXI_CORS_ORIGINS: corsOrigins($app.stage).join(','),
    },
    url: {
      cors: {
        allowOrigins: corsOrigins($app.stage),
        allowHeaders: ['authorization', 'content-type', 'x-api-key', 'x-request-id'],
        allowMethods: ['GET', 'POST'],
        exposeHeaders: ['retry-after', 'x-request-id'],
        maxAge: '1 day',
      },
    },
    logging,
    nodejs,
  },
  { dependsOn: [migration] },
);
