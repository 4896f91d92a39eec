/**
 * What is known about each image check, one record per check key: the latest result, the last
 * proven one, when the latest stops being fresh, and its place in the completion order. It is also
 * p-memoize's cache: a key is cached exactly while its latest result is fresh.
 *
 * A proven result (present/absent) stays fresh `--check-interval` minus up to 10 % jitter, so
 * thousands of entries do not all expire on the same scrape; a failed check is retried sooner.
 */
import type { CacheStorage } from 'p-memoize';
import { MAX_BACKOFF_MS } from '../registry/host-gate.js';
import { isProven, type CheckResult } from '../registry/status.js';

export interface ExpiryPolicy {
  readonly checkIntervalMs: number;
  /** Fraction of the interval by which proven results may expire early (0 disables jitter). */
  readonly jitter: number;
  readonly random: () => number;
}

/** Failed checks come back after this long at most (or the interval, if that is shorter). */
export const FAILURE_RETRY_MS = 30_000;
/** How long a proven result may stand in for failing rechecks, in check intervals. */
export const PROVEN_FRESH_INTERVALS = 2;

export function timeToLive(result: CheckResult, policy: ExpiryPolicy): number {
  const { checkIntervalMs } = policy;
  if (isProven(result.status) || result.status === 'bad_reference' || result.status === 'blocked') {
    return checkIntervalMs * (1 - policy.jitter * policy.random());
  }
  const retry = Math.min(checkIntervalMs, FAILURE_RETRY_MS);
  if (result.retryAfterMs !== undefined) return Math.min(Math.max(result.retryAfterMs, retry), MAX_BACKOFF_MS);
  return retry;
}

interface CheckState {
  readonly latest: CheckResult;
  /** The last present/absent answer (may be older than `latest`). */
  readonly proven: CheckResult | undefined;
  /** `latest` is reused without asking the registry until then. */
  readonly freshUntil: number;
  /** Completion order of `latest`: increases with every finished check of any key. */
  readonly seq: number;
}

export class CheckStates implements CacheStorage<string, CheckResult> {
  private readonly states = new Map<string, CheckState>();
  private seq = 0;

  constructor(
    private readonly policy: ExpiryPolicy,
    private readonly now: () => number,
  ) {}

  /** Fresh: p-memoize serves it without running the check. */
  has(key: string): boolean {
    const state = this.states.get(key);
    return state !== undefined && state.freshUntil > this.now();
  }

  get(key: string): CheckResult | undefined {
    return this.states.get(key)?.latest;
  }

  /** Records a finished check. */
  set(key: string, result: CheckResult): void {
    const previous = this.states.get(key);
    this.states.set(key, {
      latest: result,
      proven: isProven(result.status) ? result : previous?.proven,
      freshUntil: result.checkedAt + timeToLive(result, this.policy),
      seq: ++this.seq,
    });
  }

  delete(key: string): void {
    this.states.delete(key);
  }

  clear(): void {
    this.states.clear();
  }

  /** The latest finished result, however old (a recheck may be running). */
  latest(key: string): CheckResult | undefined {
    return this.get(key);
  }

  /** The last present/absent answer while it is younger than PROVEN_FRESH_INTERVALS intervals. */
  lastProven(key: string): CheckResult | undefined {
    const proven = this.states.get(key)?.proven;
    if (!proven) return undefined;
    if (this.now() - proven.checkedAt > PROVEN_FRESH_INTERVALS * this.policy.checkIntervalMs) return undefined;
    return proven;
  }

  /** Completion sequence number of the key's latest check. */
  finishedSeq(key: string): number | undefined {
    return this.states.get(key)?.seq;
  }

  /** Sequence number of the most recently finished check of any key (0 before the first). */
  get latestSeq(): number {
    return this.seq;
  }

  /** Forgets images no scrape references any more once their results are stale, so memory follows the cluster. */
  prune(referenced: ReadonlySet<string>): void {
    const horizon = this.now() - PROVEN_FRESH_INTERVALS * this.policy.checkIntervalMs;
    for (const [key, state] of this.states) {
      if (!referenced.has(key) && state.latest.checkedAt < horizon) this.states.delete(key);
    }
  }

  get size(): number {
    return this.states.size;
  }
}
