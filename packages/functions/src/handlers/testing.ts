import { randomUUID } from 'node:crypto';
import { createDatabase, type DatabaseHandle } from '@guanxi/core';
import { createTestDatabase, startWsProxy, usingPostgres, type WsProxy } from '@guanxi/core/test';
import type { HttpEventV2, SqsEvent } from './lambda';

/**
 * Test support for the handler tests (never bundled: no handler imports it).
 * The database is the Lambda's own driver where a server exists: on the 'postgres' project, the
 * Neon serverless driver through the loopback WebSocket proxy; on PGlite, the in-memory template.
 */
export interface HandlerTestDatabase {
  handle: DatabaseHandle;
  /** The proxy (postgres project only): `host:port` for GUANXI_NEON_WS_PROXY. */
  proxy: WsProxy | null;
  /** The Postgres URL (postgres project only), for the handlers' own DatabaseUrl path. */
  url: string | null;
  close(): Promise<void>;
}

export async function openHandlerTestDatabase(): Promise<HandlerTestDatabase> {
  if (!usingPostgres()) {
    const handle = await createTestDatabase();
    return { handle, proxy: null, url: null, close: () => handle.close() };
  }
  const url = process.env.GUANXI_TEST_DATABASE!;
  const proxy = await startWsProxy();
  // A WebSocket handshake through the proxy can take seconds on a machine busy with the whole
  // suite: a longer connect time-out than the 5 s default.
  const handle = await createDatabase(url, { driver: 'neon', neonWsProxy: proxy.url, maxConnections: 4, connectTimeoutMs: 30_000 });
  return {
    handle,
    proxy,
    url,
    close: async () => {
      await handle.close();
      await proxy.close();
    },
  };
}

/** `SST_RESOURCE_<Name>` as SST sets it for a linked secret. */
export function linkSecret(name: string, value: string): void {
  process.env[`SST_RESOURCE_${name}`] = JSON.stringify({ type: 'sst.sst.Secret', value });
}

const domain = 'a1b2c3d4e5.lambda-url.eu-central-1.on.aws';

/** A function URL event (payload 2.0) as AWS delivers it. */
export function httpEvent(
  method: string,
  options: { path?: string; query?: string; headers?: Record<string, string>; body?: string; base64?: boolean; cookies?: string[] } = {},
): HttpEventV2 {
  const now = new Date();
  const event = {
    version: '2.0',
    routeKey: '$default',
    rawPath: options.path ?? '/graphql',
    rawQueryString: options.query ?? '',
    ...(options.cookies ? { cookies: options.cookies } : {}),
    headers: {
      host: domain,
      'x-amzn-trace-id': `Root=1-${Math.floor(now.getTime() / 1000).toString(16)}-${randomUUID().replace(/-/g, '').slice(0, 24)}`,
      'x-forwarded-for': '203.0.113.7',
      'x-forwarded-port': '443',
      'x-forwarded-proto': 'https',
      'user-agent': 'vitest',
      accept: '*/*',
      ...options.headers,
    },
    requestContext: {
      accountId: 'anonymous',
      apiId: 'a1b2c3d4e5',
      domainName: domain,
      domainPrefix: 'a1b2c3d4e5',
      http: { method, path: options.path ?? '/graphql', protocol: 'HTTP/1.1', sourceIp: '203.0.113.7', userAgent: 'vitest' },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    ...(options.body !== undefined
      ? { body: options.base64 ? Buffer.from(options.body).toString('base64') : options.body }
      : {}),
    isBase64Encoded: options.base64 ?? false,
  };
  return event as HttpEventV2;
}

/** An SQS event for a Lambda event source mapping. */
export function sqsEvent(bodies: string[], receiveCount = 1): SqsEvent {
  return {
    Records: bodies.map((body) => ({
      messageId: randomUUID(),
      receiptHandle: `AQEB${randomUUID()}`,
      body,
      attributes: {
        ApproximateReceiveCount: String(receiveCount),
        SentTimestamp: String(Date.now()),
        SenderId: 'AROAEXAMPLE:guanxi-production-NightlyScoring',
        ApproximateFirstReceiveTimestamp: String(Date.now()),
      },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:eu-central-1:123456789012:guanxi-production-ScoringQueue',
      awsRegion: 'eu-central-1',
    })),
  } as SqsEvent;
}
