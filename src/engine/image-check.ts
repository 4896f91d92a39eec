/**
 * The memoized, concurrency-limited image check. p-memoize shares one in-flight check between
 * concurrent scrapes and keeps its result for as long as CheckStates allows. A check asks each place
 * a node would pull from (mirrors, then the original) with each credential the node would use, in
 * the node's order, until one says present; decideVerdict() judges the answers. Each question takes
 * a slot of the fair limiter for its host, and is not sent at all while the host gate says no. Of a
 * present image, the platforms it provides are then read, where and as whom it was found, once per
 * digest and in the background.
 */
import pMemoize from 'p-memoize';
import { CheckStates, type ExpiryPolicy } from './check-states.js';
import { FairLimiter } from '../utils/fair-limiter.js';
import type { Endpoint } from '../image/pull-plan.js';
import type { ImageReference } from '../image/reference.js';
import type { Logger } from '../utils/log.js';
import type { RegistryClient } from '../registry/client.js';
import type { PullCredential } from '../registry/credentials.js';
import { FailureLog } from '../registry/failure-log.js';
import { HostGate } from '../registry/host-gate.js';
import type { ProvidedPlatforms } from '../platform/platform.js';
import { PlatformFacts } from '../registry/platforms.js';
import { isProven, type CheckResult } from '../registry/status.js';
import { ANONYMOUS, decideVerdict, type Attempt } from '../registry/verdict.js';

/** One place a node pulls the image from, with the credentials it would use there (kubelet order). */
export interface CheckLocation {
  readonly ref: ImageReference;
  /** Has the last word on absence: the original registry, or a mirror that replaces it. */
  readonly authoritative: boolean;
  /** How to reach it, when not the registry's default endpoint (a node configuration file said). */
  readonly endpoint?: Endpoint;
  readonly credentials: readonly PullCredential[];
}

/** One unique thing to check: an image as a node would pull it. */
export interface CheckRequest {
  /** Cache key: the locations and the identities of their credentials (never their content). */
  readonly key: string;
  readonly image: string;
  /** In the order a node tries them; empty when the reference is bad (or the registry refused, with no mirror). */
  readonly locations: readonly CheckLocation[];
  /** Why the reference could not be parsed, when there are no locations. */
  readonly badReference?: string;
  /** Why the node's configuration refuses the image's registry; `locations` are then mirrors only. */
  readonly blocked?: string;
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
  /** Read the platforms of present images (--check-platforms). */
  readonly checkPlatforms?: boolean;
}

export class ImageChecker {
  /** Everything known per check key; also p-memoize's cache. */
  readonly states: CheckStates;
  private readonly limiter: FairLimiter;
  private readonly gate: HostGate;
  private readonly platforms = new PlatformFacts();
  private readonly failures: FailureLog;
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
    this.states = new CheckStates(policy, this.now);
    this.failures = new FailureLog(options.logger, this.now);
    this.limiter = new FairLimiter(options.maxConcurrentChecks, options.maxConcurrentPerHost);
    this.gate = new HostGate(this.now);
    this.check = pMemoize((request: CheckRequest) => this.run(request), {
      cacheKey: ([request]) => request.key,
      cache: this.states,
    });
  }

  /** Checks in flight or queued behind the concurrency limits. */
  get pending(): number {
    return this.inFlight;
  }

  /** Forgets state of images and hosts no scrape has needed for a while, so memory follows the cluster. */
  prune(referenced: ReadonlySet<string>): void {
    this.states.prune(referenced);
    this.failures.prune(referenced);
    this.gate.prune();
    this.options.client.prune();
  }

  private async run(request: CheckRequest): Promise<CheckResult> {
    this.inFlight++;
    try {
      const result = await this.evaluate(request);
      if (!isProven(result.status)) this.options.onFailedCheck?.(result);
      // The registry that has the last word on the image: where its failures are told, grouped.
      const authority = request.locations.at(-1);
      this.failures.record(authority ? this.options.client.apiHost(authority.ref.registry) : '', request.key, request.image, result);
      return result;
    } finally {
      this.inFlight--;
    }
  }

  private async evaluate(request: CheckRequest): Promise<CheckResult> {
    if (request.locations.length === 0 && request.blocked === undefined) {
      return { status: 'bad_reference', detail: request.badReference ?? 'invalid image reference', checkedAt: this.now() };
    }
    const attempts: Attempt[] = [];
    let found: { host: string; ref: ImageReference; endpoint: Endpoint | undefined; credential: PullCredential | undefined; digest: string | undefined } | undefined;
    ask: for (const location of request.locations) {
      const { ref, credentials, endpoint } = location;
      const host = endpoint?.host ?? this.options.client.apiHost(ref.registry);
      const identities: Array<PullCredential | undefined> = [...credentials, undefined];
      for (const credential of identities) {
        // Anonymous comes last and only while no credential got a real answer: it can still prove
        // a public image present, never absent (the node would not try it).
        if (credential === undefined && attempts.some((a) => a.host === host && a.identity !== ANONYMOUS && a.status === 'absent' && a.asIdentity)) {
          continue;
        }
        const { attempt, digest } = await this.ask(host, location, credential, credentials.length > 0);
        attempts.push(attempt);
        if (attempt.status === 'present') {
          found = { host, ref, endpoint, credential, digest };
          break ask;
        }
      }
    }
    const verdict = decideVerdict({ attempts, credentialProblem: request.credentialProblem, blocked: request.blocked });
    const result: CheckResult = { status: verdict.status, detail: verdict.detail, checkedAt: this.now(), retryAfterMs: verdict.retryAfterMs };
    if (verdict.status !== 'present' || !found?.digest) return result;
    if (this.options.checkPlatforms) {
      // Where the node would pull it from, as the identity that was let in; in the background.
      const { host, ref, endpoint, credential, digest } = found;
      void this.platforms
        .learn(digest, (path) => this.limiter.run(host, () => this.options.client.document(ref, credential, path, endpoint)))
        .then((unknowable) => unknowable && this.options.logger.warn('image platforms not knowable, not checked', { image: request.image, digest, reason: unknowable }));
    }
    return { ...result, digest: found.digest };
  }

  /** The platforms of a present image's manifest, once read (see PlatformFacts). */
  platformsOf(digest: string): ProvidedPlatforms | undefined {
    return this.platforms.of(digest);
  }

  /** One question to one host, unless its gate is closed; takes one of the host's fair slots. */
  private ask(
    host: string,
    location: CheckLocation,
    credential: PullCredential | undefined,
    hadCredentials: boolean,
  ): Promise<{ attempt: Attempt; digest?: string }> {
    const { ref, authoritative, endpoint } = location;
    const identity = credential?.id ?? ANONYMOUS;
    return this.limiter.run(host, async () => {
      const refusal = this.gate.admit(host);
      if (refusal) return { attempt: { host, authoritative, identity, asIdentity: false, ...refusal } };
      const answer = await this.options.client.attempt(ref, credential, hadCredentials, endpoint);
      this.gate.record(host, answer);
      return {
        attempt: { host, authoritative, identity, status: answer.status, detail: answer.detail, asIdentity: answer.asIdentity, retryAfterMs: answer.retryAfterMs },
        digest: answer.digest,
      };
    });
  }
}
