/**
 * Asks a registry whether a manifest exists, speaking the OCI distribution API directly:
 * `HEAD /v2/<repository>/manifests/<reference>`, answering Basic and Bearer challenges.
 * HEAD only (plus a GET to read the error body of a 404 or when HEAD is not allowed): HEAD does not
 * count against Docker Hub's pull limit.
 */
import { DOCKER_HUB, manifestReference, type ImageReference } from '../image/reference.js';
import { parseChallenges, type Challenge } from './challenge.js';
import { basicAuthorization, type RegistryCredential } from './credentials.js';
import {
  classifyManifestAnswer,
  classifyTransportError,
  isProven,
  parseRetryAfter,
  type CheckStatus,
  type Classification,
} from './status.js';
import { requestToken, TokenCache, TokenError } from './tokens.js';
import type { HttpAnswer, Transport } from './transport.js';

/** All four manifest types: without the OCI ones the registry answers 404 for OCI images. */
export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

export const DOCKER_HUB_API_HOST = 'registry-1.docker.io';
const MAX_REDIRECTS = 5;

export interface RegistryClientOptions {
  readonly transport: Transport;
  /** Registry hosts that are contacted over plain HTTP (and may receive credentials that way). */
  readonly isPlainHttpHost: (host: string) => boolean;
  /** API host serving `docker.io` images; overridable so tests can stand a local registry in. */
  readonly dockerHubHost?: string;
  readonly now?: () => number;
}

export interface RegistryVerdict extends Classification {
  readonly retryAfterMs?: number;
  /** The registry host that was asked (for per-host limits and logs). */
  readonly host: string;
}

/** Statuses that mean "these credentials did not work": try the next ones, as the kubelet does. */
const REJECTED: ReadonlySet<CheckStatus> = new Set(['auth_failure', 'access_denied']);

class RedirectError extends Error {}

export class RegistryClient {
  private readonly tokens: TokenCache;
  private readonly now: () => number;

  constructor(private readonly options: RegistryClientOptions) {
    this.now = options.now ?? Date.now;
    this.tokens = new TokenCache(this.now);
  }

  /** The API host (host[:port]) that serves a registry name. */
  apiHost(registry: string): string {
    return registry === DOCKER_HUB ? (this.options.dockerHubHost ?? DOCKER_HUB_API_HOST) : registry;
  }

  /**
   * Checks one image. Credentials are tried most specific first, then anonymous access; the first
   * answer that is not a rejection wins.
   */
  async check(
    ref: ImageReference,
    credentials: readonly RegistryCredential[],
    options: { credentialsExpected?: boolean } = {},
  ): Promise<RegistryVerdict> {
    const host = this.apiHost(ref.registry);
    const attempts: Array<RegistryCredential | undefined> = [...credentials, undefined];
    let first: RegistryVerdict | undefined;
    for (const credential of attempts) {
      const verdict = await this.attempt(ref, host, credential, credentials.length > 0 || options.credentialsExpected === true);
      if (!REJECTED.has(verdict.status)) {
        // A later fallback's "cannot tell" is less useful than the first credential's rejection.
        if (first && !isProven(verdict.status)) return first;
        return verdict;
      }
      first ??= verdict;
    }
    return first as RegistryVerdict;
  }

  private mayCarryCredentials = (url: URL): boolean =>
    url.protocol === 'https:' || this.options.isPlainHttpHost(url.host);

  private async attempt(
    ref: ImageReference,
    host: string,
    credential: RegistryCredential | undefined,
    hadCredentials: boolean,
  ): Promise<RegistryVerdict> {
    const scheme = this.options.isPlainHttpHost(host) ? 'http' : 'https';
    const url = new URL(`${scheme}://${host}/v2/${ref.repository}/manifests/${manifestReference(ref)}`);
    const scope = `repository:${ref.repository}:pull`;
    const tokenKey = TokenCache.key(host, scope, credential);
    const verdict = (c: Classification, retryAfterMs?: number): RegistryVerdict => ({ ...c, host, retryAfterMs });

    try {
      const cached = this.tokens.get(tokenKey);
      let authorization = cached ? `Bearer ${cached}` : undefined;
      let afterToken = false;
      let answer = await this.request('HEAD', url, authorization, false);

      if (answer.status === 401) {
        const challenges = parseChallenges(answer.headers['www-authenticate']);
        const bearer = challenges.find((c) => c.scheme === 'bearer');
        const basic = challenges.find((c) => c.scheme === 'basic');
        if (cached) this.tokens.delete(tokenKey);
        if (bearer) {
          const token = await this.fetchToken(bearer, scope, credential, tokenKey);
          authorization = `Bearer ${token}`;
          afterToken = true;
          answer = await this.request('HEAD', url, authorization, false);
        } else if (basic && credential) {
          if (!this.mayCarryCredentials(url)) {
            return verdict({ status: 'auth_failure', detail: `refusing to send credentials over plain HTTP to ${host}` });
          }
          authorization = basicAuthorization(credential);
          answer = await this.request('HEAD', url, authorization, false);
        } else if (basic || challenges.length === 0) {
          return verdict({ status: 'auth_failure', detail: `registry ${host} requires credentials and none matched` });
        }
      }

      // HEAD carries no body: read the error document of a 404 to be sure it means "unknown manifest";
      // and some servers do not allow HEAD at all.
      if (answer.status === 404 || answer.status === 405) {
        answer = await this.request('GET', url, authorization, answer.status === 404);
      }

      const classification = classifyManifestAnswer({
        httpStatus: answer.status,
        errorCodes: errorCodes(answer.body),
        speaksDistribution: /registry\/2\.0/i.test(answer.headers['docker-distribution-api-version'] ?? ''),
        bearerError: parseChallenges(answer.headers['www-authenticate']).find((c) => c.scheme === 'bearer')?.params.error,
        afterToken,
        // An anonymous "insufficient_scope" is only proof of absence when nobody had credentials for
        // this registry: with rejected credentials, the repository may simply be private.
        isDockerHub: ref.registry === DOCKER_HUB && !hadCredentials,
        expectedDigest: ref.digest,
        servedDigest: answer.headers['docker-content-digest'],
      });
      const retryAfterMs = answer.status === 429 ? parseRetryAfter(answer.headers['retry-after'], this.now()) : undefined;
      return verdict(
        isProven(classification.status)
          ? classification
          : { status: classification.status, detail: `${host}: ${classification.detail}` },
        retryAfterMs,
      );
    } catch (error) {
      if (error instanceof TokenError) return verdict(error.classification);
      if (error instanceof RedirectError) return verdict({ status: 'unknown_error', detail: error.message });
      const { status, detail } = classifyTransportError(error);
      return verdict({ status, detail: `${host}: ${detail}` });
    }
  }

  private async fetchToken(
    challenge: Challenge,
    scope: string,
    credential: RegistryCredential | undefined,
    tokenKey: string,
  ): Promise<string> {
    const { token, expiresInS } = await requestToken(
      this.options.transport,
      challenge,
      scope,
      credential,
      this.mayCarryCredentials,
    );
    this.tokens.set(tokenKey, token, expiresInS);
    return token;
  }

  /**
   * One request, following redirects by hand so that `Authorization` is never forwarded to another
   * host and never downgraded to plain HTTP.
   */
  private async request(
    method: 'HEAD' | 'GET',
    start: URL,
    authorization: string | undefined,
    readBody: boolean,
  ): Promise<HttpAnswer> {
    let url = start;
    let auth = authorization;
    for (let hop = 0; ; hop++) {
      const headers: Record<string, string> = { accept: MANIFEST_ACCEPT };
      if (auth) headers.authorization = auth;
      const answer = await this.options.transport.send(method, url, headers, readBody);
      const location = answer.headers.location;
      if (answer.status < 300 || answer.status >= 400 || answer.status === 304 || !location) return answer;
      if (hop >= MAX_REDIRECTS) throw new RedirectError(`${start.host}: more than ${MAX_REDIRECTS} redirects`);
      const next = new URL(location, url);
      if (next.protocol === 'http:' && !this.options.isPlainHttpHost(next.host)) {
        throw new RedirectError(`${start.host}: refusing redirect to plain HTTP ${next.host}`);
      }
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        throw new RedirectError(`${start.host}: refusing redirect to ${next.protocol} URL`);
      }
      if (next.host !== url.host) auth = undefined;
      url = next;
    }
  }

  /** Forgets expired tokens; called once per scrape. */
  prune(): void {
    this.tokens.prune();
  }
}

/** `errors[].code` of a distribution error document; empty for anything else. */
export function errorCodes(body: string): string[] {
  if (!body) return [];
  try {
    const parsed = JSON.parse(body) as { errors?: Array<{ code?: unknown }> };
    if (!Array.isArray(parsed?.errors)) return [];
    return parsed.errors.map((e) => e?.code).filter((c): c is string => typeof c === 'string');
  } catch {
    return [];
  }
}
