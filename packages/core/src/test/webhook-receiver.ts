import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedDelivery {
  path: string | undefined;
  headers: IncomingHttpHeaders;
  /** The raw body, as a receiver must verify it (before any JSON parsing). */
  body: string;
  /** The address the sender's socket connected to. */
  localAddress: string | undefined;
}

/**
 * Tests only: a real HTTP receiver on 127.0.0.1 (the only network these tests may use) that keeps
 * what it is sent and answers 200.
 */
export async function startTestReceiver() {
  const received: ReceivedDelivery[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ path: request.url, headers: request.headers, body: Buffer.concat(chunks).toString('utf8'), localAddress: request.socket.localAddress });
      response.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}/hook`,
    received,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
