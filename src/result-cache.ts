/**
 * The p-memoize cache of check results: each entry lives as long as its result deserves.
 * A proven result (present/absent) lives `--check-interval` minus up to 10 % jitter, so thousands of
 * entries do not all expire on the same scrape; a failed check is retried sooner.
 */
import type { CacheStorage } from 'p-memoize';
import type { CheckResult } from './registry/status.js';
import { isProven } from './registry/status.js';

export interface ExpiryPolicy {
  readonly checkIntervalMs: number;
  /** Fraction of the interval by which proven results may expire early (0 disables jitter). */
  readonly jitter: number;
  readonly random: () => number;
}

/** Failed checks come back after this long at most (or the interval, if that is shorter). */
export const FAILURE_RETRY_MS = 30_000;
/** Never wait longer than this for a registry that asked us to back off. */
export const MAX_RETRY_AFTER_MS = 10 * 60_000;

export function timeToLive(result: CheckResult, policy: ExpiryPolicy): number {
  const { checkIntervalMs } = policy;
  if (isProven(result.status) || result.status === 'bad_reference') {
    return checkIntervalMs * (1 - policy.jitter * policy.random());
  }
  const retry = Math.min(checkIntervalMs, FAILURE_RETRY_MS);
  if (result.retryAfterMs !== undefined) return Math.min(Math.max(result.retryAfterMs, retry), MAX_RETRY_AFTER_MS);
  return retry;
}

interface Entry {
  readonly result: CheckResult;
  readonly expiresAt: number;
}

export class ResultCache implements CacheStorage<string, CheckResult> {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly policy: ExpiryPolicy,
    private readonly now: () => number,
  ) {}

  has(key: string): boolean {
    const entry = this.entries.get(key);
    if (!entry) return false;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return false;
    }
    return true;
  }

  // No expiry test here: p-memoize calls get() right after has() said yes.
  get(key: string): CheckResult | undefined {
    return this.entries.get(key)?.result;
  }

  set(key: string, result: CheckResult): void {
    this.entries.set(key, { result, expiresAt: result.checkedAt + timeToLive(result, this.policy) });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  /** Drops expired entries that no scrape asked for again. */
  prune(): void {
    const now = this.now();
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}
