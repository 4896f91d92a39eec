/**
 * Artifact Registry and Container Registry credentials from the GCE metadata server: on GKE with
 * Workload Identity, the GKE metadata server hands the pod's Kubernetes ServiceAccount the access
 * token of the Google service account it is bound to (or of its own principal). Registries take it
 * as the password of `oauth2accesstoken`, which is what the kubelet's GCP credential provider sends.
 *
 * The token is reused until a minute before it expires, and concurrent callers share one request.
 * The metadata server is asked directly (never through an HTTP proxy), by the host name
 * `metadata.google.internal` unless GCE_METADATA_HOST names another (as Google's libraries do).
 */
import { Agent, request, type Dispatcher } from 'undici';
import type { ImageReference } from '../../image/reference.js';
import type { Logger } from '../../utils/log.js';
import { CredentialProviderError, type RegistryCredential } from '../../registry/credentials.js';
import { keyMatches, parseKey, type KeyPattern } from '../matching.js';
import type { CredentialProvider } from './providers.js';
import { TokenCache, type Issued } from './token-cache.js';
import { readBounded } from '../../utils/untrusted.js';
import { errorDetail, reachReason } from './endpoint-errors.js';

/** The registries the kubelet's GCP credential provider (GKE) gives credentials for. */
export const GCP_REGISTRY_PATTERNS: readonly string[] = ['gcr.io', '*.gcr.io', '*.pkg.dev', 'container.cloud.google.com'];
/** The user name registries of Google take an OAuth access token with. */
export const GCP_USERNAME = 'oauth2accesstoken';
export const DEFAULT_METADATA_HOST = 'metadata.google.internal';

const TOKEN_PATH = '/computeMetadata/v1/instance/service-accounts/default/token';
const ROOT_PATH = '/computeMetadata/v1/';
/** A token is not used in its last minute: a check may take that long, and clocks differ. */
const EXPIRY_MARGIN_MS = 60_000;
const DEFAULT_TIMEOUT_MS = 5_000;
/** After a failure, callers within this time get the same failure instead of a new request each. */
const DEFAULT_RETRY_AFTER_MS = 5_000;
/** A token answer is a few hundred bytes; an error page a few KiB. */
const MAX_BODY_BYTES = 64 * 1024;

export interface GcpProviderOptions {
  readonly logger: Logger;
  /** host[:port] of the metadata server; default GCE_METADATA_HOST, else metadata.google.internal. */
  readonly metadataHost?: string;
  readonly now?: () => number;
  /** Limit on connecting, on the answer's headers and between body chunks; and on the whole request (default 5 s). */
  readonly timeoutMs?: number;
  /** After a failure, how long callers get that failure before the metadata server is asked again (default 5 s). */
  readonly retryFailedAfterMs?: number;
  /** HTTP client (tests: undici's MockAgent); default a direct connection (no proxy). */
  readonly dispatcher?: Dispatcher;
}

/** The metadata server's host the way Google's client libraries find it. */
export function metadataHostFrom(env: NodeJS.ProcessEnv = process.env): string {
  const host = env['GCE_METADATA_HOST']?.trim();
  return host ? host : DEFAULT_METADATA_HOST;
}

const GCP_KEYS: readonly KeyPattern[] = GCP_REGISTRY_PATTERNS.map((key) => parseKey(key) as KeyPattern);

/** Is this image in Artifact Registry or Container Registry (as the kubelet's provider matches)? */
export function isGcpRegistry(ref: ImageReference): boolean {
  return GCP_KEYS.some((key) => keyMatches(key, ref));
}

export function createGcpProvider(options: GcpProviderOptions): CredentialProvider {
  const { logger } = options;
  const now = options.now ?? Date.now;
  const host = options.metadataHost ?? metadataHostFrom();
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const retryAfterMs = options.retryFailedAfterMs ?? DEFAULT_RETRY_AFTER_MS;
  const dispatcher = options.dispatcher ?? directAgent(timeoutMs);
  const where = `the GCE metadata server at ${host}`;

  const fetchToken = async (): Promise<Issued<string>> => {
    const asked = now();
    let answer: Answer;
    try {
      answer = await getFromMetadata(dispatcher, host, TOKEN_PATH, timeoutMs, true);
    } catch (error) {
      throw new CredentialProviderError(`cannot reach ${where}: ${reachReason(error, timeoutMs)}`);
    }
    if (answer.flavor !== 'Google') {
      throw new CredentialProviderError(`${where} is not a GCE metadata server (HTTP ${answer.status} without Metadata-Flavor: Google)`);
    }
    if (answer.status !== 200) {
      throw new CredentialProviderError(`${where} refused a token: HTTP ${answer.status}${errorDetail(answer.body)}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(answer.body);
    } catch {
      throw new CredentialProviderError(`${where} answered a token request with something other than JSON`);
    }
    const { access_token: accessToken, expires_in: expiresIn } = (parsed ?? {}) as { access_token?: unknown; expires_in?: unknown };
    if (typeof accessToken !== 'string' || accessToken === '') {
      throw new CredentialProviderError(`${where} answered without an access_token`);
    }
    const lifetimeMs = typeof expiresIn === 'number' && Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn * 1000 : 0;
    // Renewed a minute early: a token expiring before it is used (a check waited) would be refused.
    const refreshAt = asked + lifetimeMs - EXPIRY_MARGIN_MS;
    logger.debug('got a Google access token from the metadata server', { provider: 'gcp', expiresInSeconds: Math.round(lifetimeMs / 1000) });
    return { value: accessToken, refreshAt };
  };

  // One token for the pod's identity, whatever the registry.
  const tokens = new TokenCache<'token', string>({
    fetch: fetchToken,
    retryFailedAfterMs: retryAfterMs,
    unexpected: () => `${where} failed unexpectedly`,
    onFailure: (_key, problem, { changed }) => {
      if (changed) logger.warn('no Google access token', { provider: 'gcp', reason: problem.message });
    },
    now,
  });

  return {
    name: 'gcp',
    matches: isGcpRegistry,
    async credentialFor(): Promise<Omit<RegistryCredential, 'id'>> {
      return { username: GCP_USERNAME, password: await tokens.get('token') };
    },
  };
}

/**
 * Is a GCE metadata server there (for --cloud-credentials=auto)? True only if it answers within
 * the timeout with `Metadata-Flavor: Google`; any failure is false.
 */
export async function gcpAvailable(metadataHost: string, timeoutMs = 1000, dispatcher?: Dispatcher): Promise<boolean> {
  const own = dispatcher ? undefined : directAgent(timeoutMs);
  try {
    const answer = await getFromMetadata(dispatcher ?? (own as Agent), metadataHost, ROOT_PATH, timeoutMs, false);
    return answer.flavor === 'Google';
  } catch {
    return false;
  } finally {
    await own?.close().catch(() => undefined);
  }
}

/** Connections straight to the metadata server: it is link-local, an HTTP proxy cannot reach it. */
function directAgent(timeoutMs: number): Agent {
  return new Agent({ connect: { timeout: timeoutMs }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, keepAliveTimeout: 30_000 });
}

interface Answer {
  readonly status: number;
  readonly flavor: string | undefined;
  readonly body: string;
}

async function getFromMetadata(dispatcher: Dispatcher, host: string, path: string, timeoutMs: number, readBody: boolean): Promise<Answer> {
  const response = await request(`http://${host}${path}`, {
    method: 'GET',
    headers: { 'metadata-flavor': 'Google', 'user-agent': 'k8s-image-existence-exporter' },
    dispatcher,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const flavorHeader = response.headers['metadata-flavor'];
  const flavor = Array.isArray(flavorHeader) ? flavorHeader[0] : flavorHeader;
  let body = '';
  if (readBody) {
    ({ text: body } = await readBounded(response.body, MAX_BODY_BYTES));
  } else {
    await response.body.dump({ limit: MAX_BODY_BYTES }).catch(() => undefined);
  }
  return { status: response.statusCode, flavor, body };
}
