/**
 * A GCE metadata server on 127.0.0.1, answering the way the real one (and GKE's Workload Identity
 * metadata server) does where the exporter asks:
 * - every answer carries `Metadata-Flavor: Google`;
 * - a request without the request header `Metadata-Flavor: Google`, or with `X-Forwarded-For`
 *   (it came through a proxy), is refused with 403;
 * - GET /computeMetadata/v1/ lists the directory; GET …/service-accounts/default/token gives
 *   `{access_token, expires_in, token_type: "Bearer"}`.
 * It records every request, can fail (any status and body), be slow, or pose as something else
 * (no Metadata-Flavor on the answer). Tests point the exporter at it by host; never at a real one.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { listenLoopback } from './listen.js';

export const TOKEN_PATH = '/computeMetadata/v1/instance/service-accounts/default/token';

export interface MetadataRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  at: number;
}

export interface FakeGcpOptions {
  /** The tokens handed out, in order; after the last, fresh random ones. */
  tokens?: string[];
  /** expires_in of each token (seconds); default 3599 as Google's. */
  expiresIn?: number;
}

export interface FakeGcp {
  /** 127.0.0.1:PORT, what GCE_METADATA_HOST would hold. */
  readonly host: string;
  readonly requests: MetadataRequest[];
  /** Requests for a token that were answered with one. */
  readonly issued: string[];
  /** Answers every request with this (default: none, i.e. works). */
  failWith: { status: number; body: string; contentType?: string } | undefined;
  /** Waits this long before answering each request. */
  delayMs: number;
  /** Answers without Metadata-Flavor: Google (some other server on that address). */
  impostor: boolean;
  expiresIn: number;
  tokenRequests(): MetadataRequest[];
  stop(): Promise<void>;
}

/** A token shaped like Google's (`ya29.` and a long random tail), distinctive for leak scans. */
export function googleLikeToken(): string {
  return `ya29.fake-gcp-${randomBytes(48).toString('base64url')}`;
}

export async function startFakeGcp(options: FakeGcpOptions = {}): Promise<FakeGcp> {
  const queue = [...(options.tokens ?? [])];
  const requests: MetadataRequest[] = [];
  const issued: string[] = [];

  const state: Pick<FakeGcp, 'failWith' | 'delayMs' | 'impostor' | 'expiresIn'> = {
    failWith: undefined,
    delayMs: 0,
    impostor: false,
    expiresIn: options.expiresIn ?? 3599,
  };

  const answer = (res: ServerResponse, status: number, body: string, contentType: string): void => {
    const headers: Record<string, string> = { 'content-type': contentType, 'content-length': String(Buffer.byteLength(body)) };
    if (!state.impostor) {
      headers['metadata-flavor'] = 'Google';
      headers['server'] = 'Metadata Server for VM';
    }
    res.writeHead(status, headers);
    res.end(body);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (state.delayMs > 0) await sleep(state.delayMs);
    if (res.destroyed) return;
    if (state.failWith) {
      answer(res, state.failWith.status, state.failWith.body, state.failWith.contentType ?? 'text/plain; charset=utf-8');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://metadata');
    if (req.headers['metadata-flavor'] !== 'Google') {
      answer(res, 403, 'Missing required header "Metadata-Flavor": "Google"\n', 'text/plain; charset=utf-8');
      return;
    }
    if (req.headers['x-forwarded-for'] !== undefined) {
      answer(res, 403, 'Request denied: X-Forwarded-For header is not allowed\n', 'text/plain; charset=utf-8');
      return;
    }
    if (req.method !== 'GET') {
      answer(res, 405, 'Method not allowed\n', 'text/plain; charset=utf-8');
      return;
    }
    if (url.pathname === '/computeMetadata/v1/') {
      answer(res, 200, 'instance/\noslogin/\nproject/\n', 'application/text');
      return;
    }
    if (url.pathname === TOKEN_PATH) {
      const token = queue.shift() ?? googleLikeToken();
      issued.push(token);
      answer(res, 200, JSON.stringify({ access_token: token, expires_in: state.expiresIn, token_type: 'Bearer' }), 'application/json');
      return;
    }
    answer(res, 404, 'Not Found\n', 'text/html; charset=UTF-8');
  };

  const server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', path: req.url ?? '', headers: { ...req.headers }, at: Date.now() });
    void handle(req, res).catch((error: unknown) => res.destroy(error as Error));
  });
  const host = await listenLoopback(server);

  return Object.assign(state, {
    host,
    requests,
    issued,
    tokenRequests: () => requests.filter((r) => new URL(r.path, 'http://metadata').pathname === TOKEN_PATH),
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  });
}
