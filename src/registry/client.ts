/**
 * Asks a registry whether a manifest exists, speaking the OCI distribution API directly:
 * `HEAD /v2/<repository>/manifests/<reference>`, answering Basic and Bearer challenges.
 * HEAD only (plus a GET to read the error body of a 404 or when HEAD is not allowed): HEAD does not
 * count against Docker Hub's pull limit.
 */
import pMemoize from 'p-memoize';
import { DOCKER_HUB, manifestReference, type ImageReference } from '../image/reference.js';
import { endpointKey, type Endpoint } from '../image/pull-plan.js';
import { answerableChallenges, parseChallenges, type Challenge } from './challenge.js';
import { basicAuthorization, resolveCredential, type PullCredential, type RegistryCredential } from './credentials.js';
import {
  classifyManifestAnswer,
  classifyTransportError,
  isProven,
  parseRetryAfter,
  type Classification,
} from './status.js';
import { requestToken, tokenCacheKey, TokenError, tokenLifetimeMs, DEFAULT_TOKEN_LIFETIME_MS } from './tokens.js';
import { ExpiringMap } from '../utils/expiring-map.js';
import { boundedText, digestOf, MAX_CODE_CHARS } from '../utils/untrusted.js';
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
/**
 * Characters of tokens kept in all (with their keys): a token is up to MAX_SECRET_CHARS, one per
 * repository and identity, and a hostile token service may hand out the longest for every one of
 * a tenant's repositories. Past it the tokens got longest ago are dropped, and asked again when
 * needed: about 13,000 of Docker Hub's (1.2 KB) fit, 1,000 of the longest.
 */
export const MAX_TOKEN_CHARS_KEPT = 16 * 1024 * 1024;
/** A registry's auth scheme rarely changes; its /v2/ challenge is asked again after this. */
const PING_CACHE_MS = 10 * 60_000;

export interface RegistryClientOptions {
  readonly transport: Transport;
  /** Registry hosts that are contacted over plain HTTP (and may receive credentials that way). */
  readonly isPlainHttpHost: (host: string) => boolean;
  /** API host serving `docker.io` images; overridable so tests can stand a local registry in. */
  readonly dockerHubHost?: string;
  readonly now?: () => number;
}

/** What one identity was told by one host. */
export interface AttemptAnswer extends Classification {
  /** The answer is the one this identity gets (see Attempt.asIdentity in verdict.ts). */
  readonly asIdentity: boolean;
  readonly retryAfterMs?: number;
  /** The host did not answer in time: counts toward its circuit breaker. */
  readonly silent: boolean;
  /** Of a present image: the digest of the manifest served for the reference, when the host said it. */
  readonly digest?: string;
}

/**
 * Where one place is asked and how: the registry's default API endpoint, or the endpoint a node's
 * configuration gives (its scheme, path, TLS, headers). Requests to other hosts (a token service, a
 * redirect) get none of the endpoint's headers or TLS settings.
 */
interface Route {
  readonly host: string;
  readonly scheme: 'https' | 'http';
  /** Path before `<repository>/…`, e.g. `/v2`. */
  readonly base: string;
  readonly endpoint: Endpoint | undefined;
  /** Names the route in caches of challenges (the same host may be reached two ways). */
  readonly key: string;
}

/** Manifests, indexes and image configs are small JSON; a bigger one is not read (its facts stay unknown). */
const DOCUMENT_BODY_BYTES = 1024 * 1024;

class RedirectError extends Error {}

export class RegistryClient {
  private readonly tokens: ExpiringMap<string, string>;
  private readonly pings: ExpiringMap<string, Challenge[]>;
  /** The scheme an `insecure` endpoint answered on (HTTPS tried first, as containers/image does). */
  private readonly schemes: ExpiringMap<string, 'https' | 'http'>;
  private readonly now: () => number;

  constructor(private readonly options: RegistryClientOptions) {
    this.now = options.now ?? Date.now;
    this.tokens = new ExpiringMap({
      ttlMs: DEFAULT_TOKEN_LIFETIME_MS,
      now: this.now,
      maxWeight: MAX_TOKEN_CHARS_KEPT,
      weigh: (key, token) => key.length + token.length,
    });
    this.pings = new ExpiringMap({ ttlMs: PING_CACHE_MS, now: this.now });
    this.schemes = new ExpiringMap({ ttlMs: PING_CACHE_MS, now: this.now });
  }

  /** The API host (host[:port]) that serves a registry name. */
  apiHost(registry: string): string {
    return registry === DOCKER_HUB ? (this.options.dockerHubHost ?? DOCKER_HUB_API_HOST) : registry;
  }

  /** How a place is reached: its endpoint, or the registry's own API host (plain HTTP as --allow-plain-http says). */
  private async route(ref: ImageReference, endpoint: Endpoint | undefined): Promise<Route> {
    if (!endpoint) {
      const host = this.apiHost(ref.registry);
      const scheme = this.options.isPlainHttpHost(host) ? 'http' : 'https';
      return { host, scheme, base: '/v2', endpoint, key: `${scheme}://${host}/v2` };
    }
    const scheme = endpoint.httpFallback ? await this.schemeOf(endpoint) : endpoint.scheme;
    return { host: endpoint.host, scheme, base: endpoint.apiPath, endpoint, key: `${scheme} ${endpointKey(endpoint)}` };
  }

  /** Where a path of the image's repository is, the token scope for it, and the identity's token key. */
  private address(ref: ImageReference, credential: RegistryCredential | undefined, path: string, route: Route) {
    const { host, scheme } = route;
    const url = new URL(`${scheme}://${host}${route.base}/${ref.repository}/${path}`);
    for (const [name, value] of Object.entries(route.endpoint?.query ?? {})) url.searchParams.set(name, value);
    const scope = `repository:${ref.repository}:pull`;
    return { host, scheme, url, scope, tokenKey: tokenCacheKey(host, scope, credential) };
  }

  /** Plain HTTP for `url` is allowed by --allow-plain-http, or by the node configuration of its endpoint. */
  private plainHttpAllowed(url: URL, route: Route | undefined): boolean {
    if (this.options.isPlainHttpHost(url.host)) return true;
    const endpoint = route?.endpoint;
    return endpoint !== undefined && url.host === endpoint.host && (endpoint.scheme === 'http' || endpoint.httpFallback === true);
  }

  private mayCarryCredentials(url: URL, route: Route | undefined): boolean {
    return url.protocol === 'https:' || this.plainHttpAllowed(url, route);
  }

  /** Sends to `url`, with the endpoint's TLS settings and headers when `url` is on the endpoint's host. */
  private send(route: Route | undefined, method: 'HEAD' | 'GET', url: URL, headers: Record<string, string>, readBody: boolean, maxBodyBytes?: number) {
    const endpoint = route?.endpoint;
    const own = endpoint !== undefined && url.host === endpoint.host;
    return this.options.transport.send(method, url, own ? { ...endpoint.headers, ...headers } : headers, readBody, maxBodyBytes, own ? endpoint.tls : undefined);
  }

  /**
   * containers/image with `insecure = true`: HTTPS (not verified) when the endpoint answers on it,
   * else plain HTTP when that answers; HTTPS when neither does (the manifest request then says why).
   * Concurrent checks share one decision: a burst of checks would otherwise probe once each.
   */
  private async schemeOf(endpoint: Endpoint): Promise<'https' | 'http'> {
    return this.schemes.get(endpointKey(endpoint)) ?? this.probeScheme(endpoint);
  }

  private readonly probeScheme = pMemoize(
    async (endpoint: Endpoint): Promise<'https' | 'http'> => {
      const key = endpointKey(endpoint);
      const answers = async (scheme: 'https' | 'http') => {
        const route: Route = { host: endpoint.host, scheme, base: endpoint.apiPath, endpoint, key };
        return this.send(route, 'GET', new URL(`${scheme}://${endpoint.host}${endpoint.apiPath}/`), {}, false).then(
          () => true,
          () => false,
        );
      };
      const scheme = (await answers('https')) || !(await answers('http')) ? 'https' : 'http';
      this.schemes.set(key, scheme);
      return scheme;
    },
    { cacheKey: ([endpoint]) => endpointKey(endpoint), cache: false },
  );

  /**
   * Asks the registry for one image as one identity (a credential, or anonymous when undefined).
   * `hadCredentials`: some credential exists for this registry (Docker Hub's insufficient_scope
   * then no longer means absent).
   */
  async attempt(ref: ImageReference, given: PullCredential | undefined, hadCredentials: boolean, endpoint?: Endpoint): Promise<AttemptAnswer> {
    const route = await this.route(ref, endpoint);
    if (given === undefined) return this.attemptAs(ref, undefined, hadCredentials, route);
    const resolved = await resolveCredential(given);
    // A provider that gives nothing is like a rejected credential: never proof of anything.
    if ('problem' in resolved) return { status: 'auth_failure', detail: resolved.problem, asIdentity: false, silent: false };
    return this.attemptAs(ref, resolved.credential, hadCredentials, route);
  }

  private async attemptAs(ref: ImageReference, credential: RegistryCredential | undefined, hadCredentials: boolean, route: Route): Promise<AttemptAnswer> {
    const { host, url, scope, tokenKey } = this.address(ref, credential, `manifests/${manifestReference(ref)}`, route);
    // Anonymous answers are by definition what an anonymous puller gets.
    let asIdentity = credential === undefined;
    const answerOf = (c: Classification, extra: { retryAfterMs?: number; silent?: boolean } = {}): AttemptAnswer => ({
      ...c,
      asIdentity,
      retryAfterMs: extra.retryAfterMs,
      silent: extra.silent ?? false,
    });

    try {
      const cached = this.tokens.get(tokenKey);
      let authorization = cached ? `Bearer ${cached}` : undefined;
      if (authorization) asIdentity = true;
      let afterToken = false;
      let authorizedUpfront = false;
      // With credentials, learn the registry's challenge from `GET /v2/` first (as docker does) and
      // send them with the first manifest request: some registries answer an anonymous request for a
      // private repository with 404 rather than a challenge.
      if (credential && !authorization) {
        const challenges = await this.challengesOf(route);
        if (challenges && challenges.length > 0) {
          const auth = await this.authorize(challenges, url, scope, credential, tokenKey, route);
          if ('status' in auth) return answerOf(auth);
          ({ authorization, afterToken } = auth);
          authorizedUpfront = true;
          asIdentity = true;
        } else if (challenges) {
          asIdentity = true; // the registry asks nobody for credentials
        } else if (this.mayCarryCredentials(url, route)) {
          // /v2/ failed: send the credentials as Basic anyway, so a registry that hides private
          // repositories can still say "present". Whether it read them is unknown, so its 404 proves
          // nothing (asIdentity stays false); a challenge in return is answered as usual.
          authorization = basicAuthorization(credential);
        }
      }
      let answer = await this.request(route, 'HEAD', url, authorization, false);

      if (answer.status === 401 && !authorizedUpfront) {
        if (cached) this.tokens.delete(tokenKey);
        const auth = await this.authorize(parseChallenges(answer.headers['www-authenticate']), url, scope, credential, tokenKey, route);
        if ('status' in auth) return answerOf(auth);
        ({ authorization, afterToken } = auth);
        asIdentity = true;
        answer = await this.request(route, 'HEAD', url, authorization, false);
      }

      // HEAD carries no body: read the error document of a 404 to be sure it means "unknown manifest";
      // and some servers do not allow (405) or implement (501) HEAD at all.
      if (answer.status === 404 || answer.status === 405 || answer.status === 501) {
        answer = await this.request(route, 'GET', url, authorization, answer.status === 404);
      }

      // What the registry says goes no further unchecked and unbounded (see boundedText).
      const servedDigest = answer.headers['docker-content-digest'];
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
        servedDigest: servedDigest === undefined ? undefined : (digestOf(servedDigest) ?? boundedText(servedDigest, MAX_CODE_CHARS)),
        plainHttp: url.protocol === 'http:',
        bodyTruncated: answer.truncated === true,
      });
      const retryAfterMs = answer.status === 429 ? parseRetryAfter(answer.headers['retry-after'], this.now()) : undefined;
      const result = answerOf(
        isProven(classification.status) ? classification : { status: classification.status, detail: `${host}: ${classification.detail}` },
        { retryAfterMs },
      );
      // Only a well-formed digest is kept (and used in a URL to read the image's platforms).
      const digest = digestOf(servedDigest) ?? ref.digest;
      return classification.status === 'present' && digest ? { ...result, digest } : result;
    } catch (error) {
      if (error instanceof TokenError) return answerOf(error.classification);
      if (error instanceof RedirectError) return answerOf({ status: 'unknown_error', detail: error.message });
      const { status, detail, silent } = classifyTransportError(error);
      return answerOf({ status, detail: `${host}: ${detail}` }, { silent });
    }
  }

  /**
   * A JSON document of a repository (`manifests/<digest>` or `blobs/<digest>`) as one identity, after
   * an attempt of that identity said the image is present: its token is usually cached. Undefined
   * when it cannot be had (any status but 200, a transport error, not JSON, too big): the caller then
   * knows nothing, and says nothing.
   */
  async document(ref: ImageReference, given: PullCredential | undefined, path: string, endpoint?: Endpoint): Promise<unknown> {
    const resolved = given === undefined ? { credential: undefined } : await resolveCredential(given);
    if ('problem' in resolved) return undefined;
    const { credential } = resolved;
    try {
      const route = await this.route(ref, endpoint);
      const { url, scope, tokenKey } = this.address(ref, credential, path, route);
      const cached = this.tokens.get(tokenKey);
      let authorization = cached ? `Bearer ${cached}` : credential && this.mayCarryCredentials(url, route) ? basicAuthorization(credential) : undefined;
      let answer = await this.request(route, 'GET', url, authorization, true, DOCUMENT_BODY_BYTES);
      if (answer.status === 401) {
        if (cached) this.tokens.delete(tokenKey);
        const auth = await this.authorize(parseChallenges(answer.headers['www-authenticate']), url, scope, credential, tokenKey, route);
        if ('status' in auth) return undefined;
        authorization = auth.authorization;
        answer = await this.request(route, 'GET', url, authorization, true, DOCUMENT_BODY_BYTES);
      }
      return answer.status === 200 ? JSON.parse(answer.body) : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * How to authenticate for `challenges`: a Bearer token (anonymous or with the credential), Basic
   * credentials, or a Classification saying why not.
   */
  private async authorize(
    challenges: readonly Challenge[],
    url: URL,
    scope: string,
    credential: RegistryCredential | undefined,
    tokenKey: string,
    route: Route,
  ): Promise<{ authorization: string; afterToken: boolean } | Classification> {
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    if (bearer) return { authorization: `Bearer ${await this.fetchToken(bearer, scope, credential, tokenKey, route)}`, afterToken: true };
    if (challenges.some((c) => c.scheme === 'basic') && credential) {
      if (!this.mayCarryCredentials(url, route)) {
        return { status: 'auth_failure', detail: `refusing to send credentials over plain HTTP to ${url.host}` };
      }
      return { authorization: basicAuthorization(credential), afterToken: false };
    }
    return { status: 'auth_failure', detail: `registry ${url.host} requires credentials and none matched` };
  }

  /** The challenges of a registry's `GET /v2/` ([] when it needs none), cached; undefined if unknown. */
  private async challengesOf(route: Route): Promise<Challenge[] | undefined> {
    const known = this.pings.get(route.key);
    if (known) return known;
    const challenges = await this.ping(route);
    if (challenges) this.pings.set(route.key, challenges);
    return challenges;
  }

  private readonly ping = pMemoize(
    async (route: Route): Promise<Challenge[] | undefined> => {
      try {
        const answer = await this.send(route, 'GET', new URL(`${route.scheme}://${route.host}${route.base}/`), {}, false);
        // Kept per host for PING_CACHE_MS: only what can be answered.
        if (answer.status === 401) return answerableChallenges(parseChallenges(answer.headers['www-authenticate']));
        return answer.status === 200 ? [] : undefined;
      } catch {
        return undefined; // the manifest request will tell what is wrong
      }
    },
    { cacheKey: ([route]) => route.key, cache: false },
  );

  /** Concurrent checks of one repository with one identity share one token request. */
  private readonly fetchToken = pMemoize(
    async (challenge: Challenge, scope: string, credential: RegistryCredential | undefined, tokenKey: string, route: Route): Promise<string> => {
      // Another check of the same repository may have got one while this one waited for its 401.
      const fresh = this.tokens.get(tokenKey);
      if (fresh) return fresh;
      // A token service on the endpoint's own host is reached the way the endpoint is.
      const sender = { send: this.send.bind(this, route) } as Pick<Transport, 'send'>;
      const { token, expiresInS } = await requestToken(sender, challenge, scope, credential, (url) => this.mayCarryCredentials(url, route));
      this.tokens.set(tokenKey, token, tokenLifetimeMs(expiresInS));
      return token;
    },
    { cacheKey: (args) => args[3], cache: false },
  );

  /**
   * One request, following redirects by hand so that `Authorization` is never forwarded to another
   * host and never downgraded to plain HTTP.
   */
  private async request(
    route: Route,
    method: 'HEAD' | 'GET',
    start: URL,
    authorization: string | undefined,
    readBody: boolean,
    maxBodyBytes?: number,
  ): Promise<HttpAnswer> {
    let url = start;
    let auth = authorization;
    for (let hop = 0; ; hop++) {
      const headers: Record<string, string> = { accept: MANIFEST_ACCEPT };
      if (auth) headers.authorization = auth;
      const answer = await this.send(route, method, url, headers, readBody, maxBodyBytes);
      const location = answer.headers.location;
      if (answer.status < 300 || answer.status >= 400 || answer.status === 304 || !location) return answer;
      if (hop >= MAX_REDIRECTS) throw new RedirectError(`${start.host}: more than ${MAX_REDIRECTS} redirects`);
      const next = new URL(location, url);
      if (next.protocol === 'http:' && !this.plainHttpAllowed(next, route)) {
        throw new RedirectError(`${start.host}: refusing redirect to plain HTTP ${boundedText(next.host, MAX_CODE_CHARS)}`);
      }
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        throw new RedirectError(`${start.host}: refusing redirect to ${boundedText(next.protocol, MAX_CODE_CHARS)} URL`);
      }
      if (next.host !== url.host) auth = undefined;
      url = next;
    }
  }

  /** Forgets expired tokens and registry challenges; called once per scrape. */
  prune(): void {
    this.tokens.prune();
    this.pings.prune();
    this.schemes.prune();
  }
}

/** `errors[].code` of a distribution error document, each bounded; empty for anything else. */
export function errorCodes(body: string): string[] {
  if (!body) return [];
  try {
    const parsed = JSON.parse(body) as { errors?: Array<{ code?: unknown }> };
    if (!Array.isArray(parsed?.errors)) return [];
    // A cut code ends in the cut mark, so it is never one of the codes that mean absent.
    return parsed.errors
      .map((e) => e?.code)
      .filter((c): c is string => typeof c === 'string')
      .map((c) => boundedText(c, MAX_CODE_CHARS));
  } catch {
    return [];
  }
}
