/**
 * The memoized, concurrency-limited image check. p-memoize shares one in-flight check between
 * concurrent scrapes and keeps its result for as long as ResultCache allows; p-limit bounds how many
 * registry requests run at once, overall and per registry host.
 */
import pLimit, { type LimitFunction } from 'p-limit';
import pMemoize from 'p-memoize';
import type { ImageReference } from './image/reference.js';
import type { Logger } from './log.js';
import type { RegistryClient } from './registry/client.js';
import type { RegistryCredential } from './registry/credentials.js';
import { isProven, type CheckResult } from './registry/status.js';
import { MAX_RETRY_AFTER_MS, ResultCache, type ExpiryPolicy } from './result-cache.js';

/** One unique thing to check: an image as seen with one set of credentials. */
export interface CheckRequest {
  /** Cache key: canonical reference plus the identities of the credentials (never their content). */
  readonly key: string;
  readonly image: string;
  readonly ref: ImageReference | undefined;
  /** Why the reference could not be parsed, when `ref` is undefined. */
  readonly badReference?: string;
  readonly credentials: readonly RegistryCredential[];
  /** A pull secret the workload names could not be read (missing, forbidden, malformed). */
  readonly credentialProblem?: string;
}

export interface CheckerOptions {
  readonly client: RegistryClient;
  readonly checkIntervalMs: number;
  readonly maxConcurrentChecks: number;
  readonly maxConcurrentPerHost: number;
  readonly logger: Logger;
  readonly now?: () => number;
  readonly random?: () => number;
  /** Fraction of the interval by which proven results expire early, to spread rechecks. */
  readonly jitter?: number;
  /** Called once per finished check that did not prove presence or absence. */
  readonly onFailedCheck?: (result: CheckResult) => void;
}

/** How long a proven result may stand in for failing rechecks, in check intervals. */
export const PROVEN_FRESH_INTERVALS = 2;
/** A 429 without Retry-After backs the host off this long. */
const DEFAULT_BACKOFF_MS = 60_000;

export class ImageChecker {
  private readonly cache: ResultCache;
  private readonly proven = new Map<string, CheckResult>();
  private readonly latestResults = new Map<string, CheckResult>();
  /** Completion order of checks, for counting recheck rounds without clock ties. */
  private readonly finishedSeqs = new Map<string, number>();
  private seq = 0;
  private readonly global: LimitFunction;
  private readonly perHost = new Map<string, LimitFunction>();
  private readonly backoffUntil = new Map<string, number>();
  private readonly now: () => number;
  private inFlight = 0;
  readonly check: (request: CheckRequest) => Promise<CheckResult>;

  constructor(private readonly options: CheckerOptions) {
    this.now = options.now ?? Date.now;
    const policy: ExpiryPolicy = {
      checkIntervalMs: options.checkIntervalMs,
      jitter: options.jitter ?? 0.1,
      random: options.random ?? Math.random,
    };
    this.cache = new ResultCache(policy, this.now);
    this.global = pLimit(options.maxConcurrentChecks);
    this.check = pMemoize((request: CheckRequest) => this.run(request), {
      cacheKey: ([request]) => request.key,
      cache: this.cache,
    });
  }

  /** Checks in flight or queued behind the concurrency limits. */
  get pending(): number {
    return this.inFlight;
  }

  /** The latest finished result for a key, however old (a recheck may be running). */
  latest(key: string): CheckResult | undefined {
    return this.latestResults.get(key);
  }

  /** The last present/absent answer for a key while it is younger than two check intervals. */
  lastProven(key: string): CheckResult | undefined {
    const result = this.proven.get(key);
    if (!result) return undefined;
    if (this.now() - result.checkedAt > PROVEN_FRESH_INTERVALS * this.options.checkIntervalMs) return undefined;
    return result;
  }

  /** Sequence number of the latest finished check of a key (increases with every finished check). */
  finishedSeq(key: string): number | undefined {
    return this.finishedSeqs.get(key);
  }

  /** Sequence number of the most recently finished check of any key (0 before the first). */
  get latestSeq(): number {
    return this.seq;
  }

  /** Forgets state of images no scrape has referenced for a while, so memory follows the cluster. */
  prune(referenced: ReadonlySet<string>): void {
    this.cache.prune();
    const horizon = this.now() - PROVEN_FRESH_INTERVALS * this.options.checkIntervalMs;
    for (const [key, result] of this.proven) if (!referenced.has(key) && result.checkedAt < horizon) this.proven.delete(key);
    for (const [key, result] of this.latestResults) {
      if (!referenced.has(key) && result.checkedAt < horizon) {
        this.latestResults.delete(key);
        this.finishedSeqs.delete(key);
      }
    }
    for (const [host, until] of this.backoffUntil) if (until <= this.now()) this.backoffUntil.delete(host);
    this.options.client.prune();
  }

  private async run(request: CheckRequest): Promise<CheckResult> {
    this.inFlight++;
    try {
      const result = await this.evaluate(request);
      this.latestResults.set(request.key, result);
      this.finishedSeqs.set(request.key, ++this.seq);
      if (isProven(result.status)) {
        this.proven.set(request.key, result);
      } else {
        this.options.onFailedCheck?.(result);
        this.options.logger.warn('image check failed', { image: request.image, status: result.status, reason: result.detail });
      }
      return result;
    } finally {
      this.inFlight--;
    }
  }

  private async evaluate(request: CheckRequest): Promise<CheckResult> {
    const { ref } = request;
    if (!ref) {
      return { status: 'bad_reference', detail: request.badReference ?? 'invalid image reference', checkedAt: this.now() };
    }
    const host = this.options.client.apiHost(ref.registry);
    let hostLimit = this.perHost.get(host);
    if (!hostLimit) {
      hostLimit = pLimit(this.options.maxConcurrentPerHost);
      this.perHost.set(host, hostLimit);
    }
    return hostLimit(() =>
      this.global(async (): Promise<CheckResult> => {
        const until = this.backoffUntil.get(host) ?? 0;
        if (until > this.now()) {
          return {
            status: 'rate_limited',
            detail: `${host}: backing off after HTTP 429 until ${new Date(until).toISOString()}`,
            checkedAt: this.now(),
            retryAfterMs: until - this.now(),
          };
        }
        const verdict = await this.options.client.check(ref, request.credentials, {
          credentialsExpected: request.credentialProblem !== undefined,
        });
        let retryAfterMs = verdict.retryAfterMs;
        if (verdict.status === 'rate_limited') {
          retryAfterMs = Math.min(verdict.retryAfterMs ?? DEFAULT_BACKOFF_MS, MAX_RETRY_AFTER_MS);
          this.backoffUntil.set(host, this.now() + retryAfterMs);
        }
        if (request.credentialProblem && verdict.status !== 'present') {
          // Without the secret's credentials, a denial or even a 404 may be about access, not existence.
          return { status: 'auth_failure', detail: `${request.credentialProblem}; registry: ${verdict.detail}`, checkedAt: this.now() };
        }
        return { status: verdict.status, detail: verdict.detail, checkedAt: this.now(), retryAfterMs };
      }),
    );
  }
}
