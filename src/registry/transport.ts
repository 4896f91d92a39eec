/**
 * The one place that makes HTTP requests to registries: TLS trust, proxies, timeouts and bounded
 * bodies. Everything above it sees plain `HttpAnswer`s.
 */
import { createHash } from 'node:crypto';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import { EnvHttpProxyAgent, request, type Dispatcher } from 'undici';
import type { EndpointTls } from '../image/pull-plan.js';
import { ExpiringMap } from '../utils/expiring-map.js';
import { readBounded } from '../utils/untrusted.js';

export interface TransportOptions {
  /** Extra PEM CA certificates trusted in addition to the system roots. */
  readonly extraCaPems?: readonly string[];
  readonly skipCertVerification?: boolean;
  /** Limit on connecting, on waiting for the headers, and between body chunks. */
  readonly requestTimeoutMs: number;
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** Up to `maxBodyBytes` of the body (empty for HEAD or when not asked for). */
  readonly body: string;
  /** The body was longer than what was read of it: `body` is its start only. */
  readonly truncated?: boolean;
}

const USER_AGENT = 'k8s-image-existence-exporter';

/** Error bodies of registries are small JSON; anything bigger is not worth reading. */
const MAX_BODY_BYTES = 64 * 1024;
/** Registries answer manifests with a few headers; a huge header block is hostile or broken. */
const MAX_HEADER_BYTES = 64 * 1024;

/**
 * How registries (and the token exchanges on their hosts) are reached: the system roots plus
 * --registry-ca-file (plus an endpoint's own CA, client certificate or skip_verify, from the nodes'
 * configuration), proxies from the environment, the timeouts.
 */
export function registryDispatcher(options: TransportOptions, endpoint?: EndpointTls, secureContext = secureContextFor(options, endpoint)): Dispatcher {
  const tls = {
    secureContext,
    rejectUnauthorized: !(options.skipCertVerification || endpoint?.skipVerify),
  };
  // EnvHttpProxyAgent honours HTTPS_PROXY / HTTP_PROXY / NO_PROXY like the rest of the cluster tooling.
  return new EnvHttpProxyAgent({
    connect: { ...tls, timeout: options.requestTimeoutMs },
    requestTls: tls,
    headersTimeout: options.requestTimeoutMs,
    bodyTimeout: options.requestTimeoutMs,
    maxHeaderSize: MAX_HEADER_BYTES,
    keepAliveTimeout: 30_000,
  });
}

/**
 * One TLS context for every connection: given as `ca`, each new connection would parse the whole
 * trust store again (~150 certificates, ~30 ms of CPU and ~1 MB each time; ~100 ms with a 1 MiB bundle).
 */
function secureContextFor(options: TransportOptions, endpoint: EndpointTls | undefined): SecureContext {
  const caPems = [...(options.extraCaPems ?? []), ...(endpoint?.caPems ?? [])];
  return createSecureContext({
    ca: caPems.length ? [...rootCertificates, ...caPems] : undefined,
    cert: endpoint?.clientCertPem,
    key: endpoint?.clientKeyPem,
  });
}

/** What makes a TLS context differ, as a digest (key material never kept as a key). */
function contextKey(endpoint: EndpointTls): string {
  const hash = createHash('sha256');
  for (const part of [...(endpoint.caPems ?? []), '\0', endpoint.clientCertPem ?? '', '\0', endpoint.clientKeyPem ?? '']) hash.update(part).update('\n');
  return hash.digest('hex');
}

export class Transport {
  private readonly dispatcher: Dispatcher;
  /**
   * One dispatcher per endpoint TLS setting, for as long as the configuration that made it is in use
   * (a configuration read again makes new settings; the old ones' dispatchers go with them).
   */
  private readonly endpointDispatchers = new WeakMap<EndpointTls, Dispatcher>();
  private readonly live = new Set<WeakRef<Dispatcher>>();
  /**
   * TLS contexts by content: a configuration read again (at most every 2 s while its files change)
   * makes new EndpointTls objects with the same certificates, which need no new context. Bounded:
   * the few a node configuration has, kept while they are used.
   */
  private readonly contexts = new ExpiringMap<string, SecureContext>({ ttlMs: 10 * 60_000, onRead: 'extend', maxEntries: 64 });

  constructor(private readonly options: TransportOptions) {
    this.dispatcher = registryDispatcher(options);
  }

  private dispatcherFor(tls: EndpointTls | undefined): Dispatcher {
    if (!tls) return this.dispatcher;
    let dispatcher = this.endpointDispatchers.get(tls);
    if (!dispatcher) {
      const key = contextKey(tls);
      let context = this.contexts.get(key);
      if (!context) {
        context = secureContextFor(this.options, tls);
        this.contexts.set(key, context);
      }
      dispatcher = registryDispatcher(this.options, tls, context);
      this.endpointDispatchers.set(tls, dispatcher);
      for (const ref of this.live) if (!ref.deref()) this.live.delete(ref);
      this.live.add(new WeakRef(dispatcher));
    }
    return dispatcher;
  }

  /**
   * Sends one request without following redirects. `readBody` reads at most `maxBodyBytes` (64 KiB
   * unless said) and drops the rest of the stream, so a huge or endless body costs bounded memory.
   * `tls`: an endpoint's own TLS settings, for a request to that endpoint's host.
   */
  async send(
    method: 'HEAD' | 'GET',
    url: URL,
    headers: Record<string, string>,
    readBody: boolean,
    maxBodyBytes = MAX_BODY_BYTES,
    tls?: EndpointTls,
  ): Promise<HttpAnswer> {
    const response = await request(url, {
      method,
      headers: { 'user-agent': USER_AGENT, ...headers },
      dispatcher: this.dispatcherFor(tls),
      // undici closes the connection after every HEAD (for servers that wrongly send a body);
      // registries do not, and a connection per check costs a TCP and TLS handshake each time.
      reset: false,
      // undici's own connect/headers/body timeouts come first; this only bounds a body that trickles
      // in forever. (An aborted request makes undici open a fresh connection right away: against a
      // host that never answers, that would leave a stray socket per timeout.)
      signal: AbortSignal.timeout(2 * this.options.requestTimeoutMs),
    });
    const flat: Record<string, string | undefined> = {};
    for (const [name, value] of Object.entries(response.headers)) {
      flat[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
    }
    let body = '';
    let truncated = false;
    if (readBody && method !== 'HEAD') {
      ({ text: body, truncated } = await readBounded(response.body, maxBodyBytes));
    } else {
      // Not read: drain at most 64 KiB (keeps a small answer's connection reusable), then hang up, so
      // a server streaming forever cannot hold us. dump() listens for the abort it causes.
      await response.body.dump({ limit: MAX_BODY_BYTES }).catch(() => undefined);
    }
    return { status: response.statusCode, headers: flat, body, truncated };
  }

  /** Abandons the requests in flight (their send() rejects, as on a network error) and hangs up. */
  async destroy(): Promise<void> {
    const endpoints = [...this.live].map((ref) => ref.deref()).filter((d): d is Dispatcher => d !== undefined);
    await Promise.all([this.dispatcher, ...endpoints].map((d) => d.destroy()));
  }
}
