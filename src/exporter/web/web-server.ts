/**
 * The listener behind --web-config-file: HTTPS when the file has tls_server_config (with client
 * certificates checked per client_auth_type), basic auth when it has basic_auth_users, its response
 * headers and rate limit, all in front of the koa app's request handler. The file (and the
 * certificate, key and CA files it names) is re-read while the server runs: a new version that is
 * valid takes effect without a restart, new connections get the new certificate; one that is not
 * is logged and the previous one stays in force.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../../utils/log.js';
import { BasicAuth } from './basic-auth.js';
import { WebConfigError, type ClientAuthType } from './web-config.js';
import { buildWebConfig, loadWebConfig, readWebConfigSources, type WebConfig } from './web-config-load.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export const REALM = 'k8s-image-existence-exporter';

/** How often the file and the files it names are read to see whether they changed. */
export const RELOAD_POLL_MS = 500;

/**
 * /healthz answers without credentials: the kubelet's liveness and readiness probes (httpGet, see
 * deploy/) carry none, so with basic auth they would get 401 and the pod would be restarted over
 * and over. It reveals nothing but "ok". (exporter-toolkit protects every path; this is the one
 * exception.) Only this exact path, with or without a trailing slash or a query.
 */
const UNAUTHENTICATED = /^\/healthz\/?(?:\?.*)?$/s;

export interface WebServerOptions {
  readonly logger: Logger;
  /** A 'request' listener registered before the guard: it sees every request, refused ones too. */
  readonly onRequest?: Handler;
  readonly pollMs?: number;
  readonly now?: () => number;
  /**
   * Paths answered without basic auth and the rate limit (the admission webhook's: the API server
   * sends no password; it may be held to a client certificate instead, by its handler).
   */
  readonly withoutBasicAuth?: RegExp;
  /** Ask every TLS client for a certificate, whatever client_auth_type says (--admission-client-ca-file). */
  readonly requestClientCert?: boolean;
}

/** exporter-toolkit's rate_limit: a token bucket, one token every interval, holding at most `burst`. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly intervalMs: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.last = now();
  }

  take(): boolean {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + (now - this.last) / this.intervalMs);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

interface Active {
  readonly config: WebConfig;
  readonly auth: BasicAuth | undefined;
  readonly limiter: TokenBucket | undefined;
}

function activate(config: WebConfig, now: () => number, previous?: Active): Active {
  return {
    config,
    auth: config.users.size > 0 ? new BasicAuth(config.users, { now }).carriedOver(previous?.auth) : undefined,
    limiter: config.rateLimit ? new TokenBucket(config.rateLimit.intervalMs, config.rateLimit.burst, now) : undefined,
  };
}

function summary(config: WebConfig) {
  return {
    file: config.file,
    tls: config.tls !== undefined,
    clientAuth: config.tls?.spec.clientAuth,
    certificateNotAfter: config.tls?.certNotAfter.toISOString(),
    basicAuthUsers: config.users.size,
    rateLimited: config.rateLimit !== undefined,
  };
}

function refuse(res: ServerResponse, status: number, text: string): void {
  res.statusCode = status;
  res.setHeader('content-type', 'text/plain; charset=utf-8');
  res.end(`${text}\n`);
}

/** The SANs of a peer certificate, as Go lists them for client_allowed_sans (DNS, e-mail, IP, URI). */
export function subjectAltNames(subjectaltname: string | undefined): string[] {
  const names: string[] = [];
  // Node writes `DNS:a, IP Address:1.2.3.4, URI:x`, with values that hold a comma or quote JSON-quoted.
  const entry = /(DNS|IP Address|email|URI):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/gy;
  let match: RegExpExecArray | null;
  while ((match = entry.exec(subjectaltname ?? '')) && match[0] !== '') {
    const raw = match[2] as string;
    let value = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
    if (match[1] === 'IP Address') value = normalizeIp(value);
    names.push(value);
  }
  return names;
}

function normalizeIp(ip: string): string {
  if (!ip.includes(':')) return ip;
  try {
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return ip;
  }
}

/** What the client certificate policy looks at of a TLS socket. */
export interface PeerSocket {
  readonly authorized: boolean;
  readonly authorizationError?: Error | string;
  /** An empty object when the client sent no certificate. */
  getPeerCertificate(): { readonly subjectaltname?: string } | null;
}

/** Why this TLS connection is refused under the client auth policy, or undefined. */
export function clientCertRefusal(
  policy: { readonly clientAuth: ClientAuthType; readonly allowedSans: readonly string[] | undefined },
  socket: PeerSocket,
): string | undefined {
  const peer = socket.getPeerCertificate();
  const given = peer !== null && peer !== undefined && Object.keys(peer).length > 0;
  switch (policy.clientAuth) {
    case 'NoClientCert':
    case 'RequestClientCert':
      break;
    case 'RequireAnyClientCert':
      if (!given) return 'no client certificate';
      break;
    case 'VerifyClientCertIfGiven':
      if (given && !socket.authorized) return `client certificate not verified: ${String(socket.authorizationError)}`;
      break;
    case 'RequireAndVerifyClientCert':
      if (!given) return 'no client certificate';
      if (!socket.authorized) return `client certificate not verified: ${String(socket.authorizationError)}`;
      break;
  }
  if (policy.allowedSans) {
    if (!given) return 'no client certificate to match client_allowed_sans';
    const sans = subjectAltNames(peer?.subjectaltname);
    const allowed = policy.allowedSans.map((san) => (san.includes(':') && !san.includes('/') ? normalizeIp(san) : san));
    if (!sans.some((san) => allowed.includes(san))) return 'client certificate has none of client_allowed_sans';
  }
  return undefined;
}

/** Why a valid new version of the file is not applied while running, or undefined. */
function reloadRefusal(previous: WebConfig, next: WebConfig): string | undefined {
  if (previous.tls && !next.tls) return 'tls_server_config was removed: switching from HTTPS to HTTP needs a restart';
  if (!previous.tls && next.tls) return 'tls_server_config was added: switching from HTTP to HTTPS needs a restart';
  // A file caught half-written (or emptied) must not open the endpoint to everyone.
  if (previous.users.size > 0 && next.users.size === 0) return 'basic_auth_users was emptied: turning basic auth off needs a restart';
  return undefined;
}

function problemOf(error: unknown): string {
  if (error instanceof WebConfigError) return error.message;
  return ((error as Error)?.message ?? String(error)).split('\n')[0] as string;
}

/**
 * Reads `file` (a WebConfigError when it is bad) and makes the server, not yet listening; `handler`
 * answers the requests the guard lets through. Stops re-reading the file when the server closes.
 */
export async function createWebServer(file: string, handler: Handler, options: WebServerOptions): Promise<Server> {
  const { logger } = options;
  const now = options.now ?? Date.now;
  const initial = await loadWebConfig(file);
  let active = activate(initial, now);

  const guard: Handler = (req, res) => {
    const { config, auth, limiter } = active;
    for (const [name, value] of config.headers) res.setHeader(name, value);
    if (UNAUTHENTICATED.test(req.url ?? '') || options.withoutBasicAuth?.test(req.url ?? '')) {
      handler(req, res);
      return;
    }
    if (limiter && !limiter.take()) {
      refuse(res, 429, 'Too Many Requests');
      return;
    }
    if (!auth) {
      handler(req, res);
      return;
    }
    // A client that hangs up while its password waits for bcrypt leaves the queue (basic-auth.ts).
    const gone = new AbortController();
    res.once('close', () => gone.abort());
    auth.check(req.headers.authorization, { client: req.socket.remoteAddress ?? '', signal: gone.signal }).then(
      (verdict) => {
        if (verdict === 'ok') {
          handler(req, res);
        } else if (verdict === 'busy') {
          res.setHeader('retry-after', '1');
          refuse(res, 429, 'Too Many Requests: too many password checks waiting');
        } else {
          res.setHeader('www-authenticate', `Basic realm="${REALM}"`);
          refuse(res, 401, 'Unauthorized');
        }
      },
      (error: unknown) => {
        logger.error('basic auth failed', { reason: problemOf(error) });
        refuse(res, 500, 'Internal Server Error');
      },
    );
  };

  let server: Server;
  if (initial.tls) {
    const tls = initial.tls;
    const https = createHttpsServer({ ...tls.contextOptions, requestCert: options.requestClientCert === true || tls.spec.clientAuth !== 'NoClientCert', rejectUnauthorized: false });
    // After the HTTP layer's own listener, in the same tick: a refused socket is destroyed before
    // a byte of its request is read.
    https.on('secureConnection', (socket: TLSSocket) => {
      const current = active.config.tls;
      if (!current) return;
      const refusal = clientCertRefusal(current.spec, socket);
      if (refusal) {
        logger.debug('TLS connection refused', { reason: refusal, remote: socket.remoteAddress });
        socket.destroy();
      }
    });
    https.on('tlsClientError', (error: NodeJS.ErrnoException, socket: TLSSocket) => {
      logger.debug('TLS handshake failed', { reason: error.code ?? problemOf(error), remote: socket.remoteAddress });
    });
    server = https as unknown as Server;
  } else {
    server = createHttpServer();
  }
  if (options.onRequest) server.on('request', options.onRequest);
  server.on('request', guard);

  const apply = (next: WebConfig) => {
    if (next.tls) {
      const https = server as unknown as HttpsServer & { requestCert: boolean };
      https.setSecureContext(next.tls.contextOptions);
      // Read for each new connection (Node's tls.Server keeps it as a property); client_auth_type
      // itself is enforced per connection from `active` above.
      https.requestCert = options.requestClientCert === true || next.tls.spec.clientAuth !== 'NoClientCert';
    }
    active = activate(next, now, active);
  };

  logger.info('web config loaded', summary(initial));
  for (const warning of initial.warnings) logger.warn('web config', { file, warning });

  // Re-reading: a version is acted on once two polls in a row found it unchanged, so that files
  // caught in the middle of being written (a certificate replaced before its key) are not.
  let seen: string | undefined;
  let settled: string | undefined = initial.fingerprint;
  let polling = false;
  const poll = async () => {
    if (polling) return;
    polling = true;
    try {
      let key: string;
      let outcome: { sources: Awaited<ReturnType<typeof readWebConfigSources>> } | { error: unknown };
      try {
        const sources = await readWebConfigSources(file);
        key = sources.fingerprint;
        outcome = { sources };
      } catch (error) {
        key = `error:${problemOf(error)}:${error instanceof WebConfigError ? (error.sourceDigest ?? '') : ''}`;
        outcome = { error };
      }
      if (key !== seen) {
        seen = key;
        return;
      }
      if (key === settled) return;
      settled = key;
      try {
        if ('error' in outcome) throw outcome.error;
        const next = buildWebConfig(outcome.sources);
        const refusal = reloadRefusal(active.config, next);
        if (refusal) throw new WebConfigError(file, refusal);
        apply(next);
        logger.info('web config reloaded', summary(next));
        for (const warning of next.warnings) logger.warn('web config', { file, warning });
      } catch (error) {
        logger.error('web config not reloaded; the previous one stays in force', { file, reason: problemOf(error) });
      }
    } finally {
      polling = false;
    }
  };
  const timer = setInterval(() => void poll(), options.pollMs ?? RELOAD_POLL_MS);
  timer.unref();
  server.once('close', () => clearInterval(timer));
  return server;
}
