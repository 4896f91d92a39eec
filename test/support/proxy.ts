/**
 * Reverse proxy (plain HTTP, or HTTPS with a test PKI) in front of a registry that records requests, tracks peak
 * concurrency and can add latency. Meant for reads (HEAD/GET manifests): headers pass through
 * unchanged, so absolute URLs the upstream builds from Host (e.g. upload Locations) point at the
 * proxy, with the upstream's scheme. Push directly to the registry, not through this.
 */
import { Agent as HttpAgent, createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { Agent as HttpsAgent, createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import { readFile } from 'node:fs/promises';
import type { Pki } from './pki.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { listenLoopback } from './listen.js';

export interface RecordedRequest {
  method: string;
  /** Path and query as received, e.g. /v2/app/manifests/1.0 */
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** Date.now() when the request arrived. */
  at: number;
}

export interface ProxyOptions {
  /** Delay added before forwarding each request. */
  latencyMs?: number;
  /** CA (PEM) to trust for an https upstream. */
  ca?: string;
  /**
   * Sees each request first (after the latency); returns true when it answered the request itself
   * (a 429, a 502, a hidden repository's 404, …), false to forward it.
   */
  intercept?: (req: IncomingMessage, res: ServerResponse) => boolean;
  /** Serve HTTPS with this PKI's server certificate (clients trust its CA) instead of plain HTTP. */
  serveTls?: Pki;
  /** With `serveTls`: refuse clients without a certificate signed by this CA (PEM). */
  clientCaPem?: string;
}

export interface RecordingProxy {
  /** http://127.0.0.1:PORT */
  url: string;
  /** 127.0.0.1:PORT */
  host: string;
  /** Cleared in place by reset(). */
  readonly requests: RecordedRequest[];
  /** Peak number of requests in flight at once since start (or the last reset()). */
  readonly maxConcurrent: number;
  readonly inFlight: number;
  /** Forgets recorded requests and the peak (e.g. between benchmark rounds). */
  reset(): void;
  stop(): Promise<void>;
}

// Connection-level headers are about the hop, not the message.
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer',
  'transfer-encoding', 'upgrade',
]);

function endToEnd(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!HOP_BY_HOP.has(name)) out[name] = value;
  }
  return out;
}

export async function startRecordingProxy(target: string, opts: ProxyOptions = {}): Promise<RecordingProxy> {
  const upstream = new URL(target);
  const https = upstream.protocol === 'https:';
  const agent = https
    ? new HttpsAgent({ keepAlive: true, ca: opts.ca })
    : new HttpAgent({ keepAlive: true });
  const latencyMs = opts.latencyMs ?? 0;

  const requests: RecordedRequest[] = [];
  let inFlight = 0;
  let maxConcurrent = 0;

  const forward = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (latencyMs > 0) await sleep(latencyMs);
    if (res.destroyed) return; // client gave up while we were waiting
    if (opts.intercept?.(req, res)) return;
    const options = {
      protocol: upstream.protocol,
      hostname: upstream.hostname,
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers: endToEnd(req.headers),
      agent,
    };
    const upstreamReq = https ? httpsRequest(options) : httpRequest(options);
    upstreamReq.on('response', (upstreamRes) => {
      res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, endToEnd(upstreamRes.headers));
      upstreamRes.pipe(res);
    });
    upstreamReq.on('error', (err) => {
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`proxy: upstream error: ${err.message}`);
      } else {
        res.destroy(err);
      }
    });
    res.on('close', () => upstreamReq.destroy());
    req.pipe(upstreamReq);
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    requests.push({ method: req.method ?? '', path: req.url ?? '', headers: { ...req.headers }, at: Date.now() });
    inFlight++;
    if (inFlight > maxConcurrent) maxConcurrent = inFlight;
    res.once('close', () => inFlight--);
    void forward(req, res);
  };
  const server = opts.serveTls
    ? createHttpsServer(
        {
          cert: await readFile(opts.serveTls.serverCertFile),
          key: await readFile(opts.serveTls.serverKeyFile),
          ...(opts.clientCaPem ? { ca: opts.clientCaPem, requestCert: true, rejectUnauthorized: true } : {}),
        },
        onRequest,
      )
    : createServer(onRequest);
  const address = await listenLoopback(server);

  return {
    url: `${opts.serveTls ? 'https' : 'http'}://${address}`,
    host: address,
    requests,
    get maxConcurrent() {
      return maxConcurrent;
    },
    get inFlight() {
      return inFlight;
    },
    reset() {
      // In place, so references to `requests` stay valid; the peak restarts from what is in flight now.
      requests.length = 0;
      maxConcurrent = inFlight;
    },
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => {
          agent.destroy();
          if (err) reject(err);
          else resolve();
        });
        server.closeAllConnections();
      }),
  };
}
