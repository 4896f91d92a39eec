/**
 * Loopback servers that misbehave the ways real registries, proxies and CDNs do but Debian's
 * registry will not: chosen status codes, hangs, truncated answers, huge bodies and headers.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { listenLoopback } from './listen.js';

export interface Hostile {
  /** 127.0.0.1:PORT */
  readonly host: string;
  readonly requests: Array<{ method: string; url: string; authorization: string | undefined }>;
  /** Bytes of body the server managed to write (for bounded-read checks). */
  bytesWritten: number;
  stop(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, hostile: Hostile) => void;

/** Listens on a free loopback port; the returned stop() also drops open (perhaps hanging) connections. */
async function listening(server: Server): Promise<{ host: string; stop: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const host = await listenLoopback(server);
  return {
    host,
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close').catch(() => undefined);
    },
  };
}

/** An HTTP server answering every request with `handler`. */
export async function startHostileHttp(handler: Handler): Promise<Hostile> {
  const hostile: { -readonly [K in keyof Hostile]: Hostile[K] } = {
    host: '',
    requests: [],
    bytesWritten: 0,
    stop: async () => undefined,
  };
  const server = createHttpServer((req, res) => {
    hostile.requests.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization });
    handler(req, res, hostile);
  });
  Object.assign(hostile, await listening(server));
  return hostile;
}

/** A raw TCP server: `onConnection` decides what (if anything) goes back. */
export async function startHostileTcp(onConnection: (socket: Socket) => void): Promise<Hostile> {
  const hostile: { -readonly [K in keyof Hostile]: Hostile[K] } = {
    host: '',
    requests: [],
    bytesWritten: 0,
    stop: async () => undefined,
  };
  const server = createTcpServer((socket) => {
    hostile.requests.push({ method: 'TCP', url: '', authorization: undefined });
    socket.on('error', () => undefined);
    onConnection(socket);
  });
  Object.assign(hostile, await listening(server));
  return hostile;
}

export const DISTRIBUTION = { 'docker-distribution-api-version': 'registry/2.0' };

/** A distribution-style JSON error. */
export function distributionError(res: ServerResponse, status: number, code: string, headers: Record<string, string> = {}): void {
  const body = JSON.stringify({ errors: [{ code, message: code.toLowerCase().replace(/_/g, ' '), detail: null }] });
  res.writeHead(status, { ...DISTRIBUTION, 'content-type': 'application/json', ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
