import { createServer, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';

/**
 * A WebSocket-to-TCP proxy, the local stand-in for Neon's: it lets the Neon serverless driver
 * (what production on Lambda runs) talk to a plain Postgres in tests. Give `url` to
 * `createDatabase(url, { driver: 'neon', neonWsProxy })`.
 *
 * Test utility only: it forwards to loopback addresses and nothing else, so a proxy left running
 * cannot be used to reach other hosts.
 */
export interface WsProxy {
  /** `localhost:PORT`, the form `neonWsProxy` takes. */
  url: string;
  port: number;
  close(): Promise<void>;
}

const loopbackHosts = new Set(['127.0.0.1', '::1', 'localhost']);

// Above this much unsent data in one direction, stop reading from the other side until it drains.
const highWaterMark = 1 << 20;

/** `HOST:PORT` (IPv6 hosts optionally bracketed) → where to connect, or null if refused. */
export function parseProxyTarget(address: string | null): { host: string; port: number } | null {
  if (!address) return null;
  const colon = address.lastIndexOf(':');
  if (colon <= 0) return null;
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1').toLowerCase();
  const portText = address.slice(colon + 1);
  if (!/^\d{1,5}$/.test(portText)) return null;
  const port = Number(portText);
  if (port < 1 || port > 65535 || !loopbackHosts.has(host)) return null;
  return { host, port };
}

function refuse(socket: Duplex, status: string): void {
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

export async function startWsProxy(options: { port?: number; host?: string } = {}): Promise<WsProxy> {
  const host = options.host ?? '127.0.0.1';
  const wss = new WebSocketServer({ noServer: true });
  const sockets = new Set<Socket>();

  // Refusing at the HTTP upgrade, before any WebSocket exists, means a refused client never gets
  // a channel at all: it sees a failed handshake.
  const server = createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' }).end('WebSocket only\n');
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const requested = new URL(req.url ?? '/', 'http://proxy');
    if (requested.pathname !== '/v2') return refuse(socket, '404 Not Found');
    const target = parseProxyTarget(requested.searchParams.get('address'));
    if (!target) return refuse(socket, '403 Forbidden');
    wss.handleUpgrade(req, socket, head, (ws) => bridge(ws, target));
  });

  function bridge(ws: WebSocket, target: { host: string; port: number }): void {
    const tcp = connect(target);
    sockets.add(tcp);
    tcp.setNoDelay(true);

    // Writes made before the TCP connection is up are queued by the socket itself.
    let waitingForDrain = false;
    ws.on('message', (data) => {
      if (tcp.write(toBuffer(data)) || waitingForDrain) return;
      waitingForDrain = true;
      ws.pause();
      tcp.once('drain', () => {
        waitingForDrain = false;
        ws.resume();
      });
    });
    tcp.on('data', (chunk) => {
      if (ws.readyState !== ws.OPEN) return;
      ws.send(chunk, { binary: true }, () => {
        if (tcp.isPaused() && ws.bufferedAmount <= highWaterMark) tcp.resume();
      });
      if (ws.bufferedAmount > highWaterMark) tcp.pause();
    });

    ws.on('close', () => tcp.end());
    ws.on('error', () => tcp.destroy());
    tcp.on('error', () => {
      // 1011: the server side failed (e.g. Postgres is down); the client sees a closed socket.
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(1011, 'upstream error');
    });
    tcp.on('close', () => {
      sockets.delete(tcp);
      if (ws.readyState === ws.OPEN) ws.close(1000);
      else if (ws.readyState === ws.CONNECTING) ws.terminate();
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('ws proxy: no TCP address');
  const port = address.port;

  return {
    url: `localhost:${port}`,
    port,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      );
    },
  };
}
