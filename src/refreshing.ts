/**
 * Stale-while-revalidate, written once: the newest loaded value of each key is served, and when it
 * is older than the maximum age one reload starts (one at a time per key) for later callers. Only a
 * key never loaded is waited for. A failed reload keeps the previous value and is remembered, so
 * callers can say the value is stale. Nothing runs unless a caller asks.
 */
import { beforeDeadline, TIMED_OUT } from './deadline.js';

export interface Loaded<V> {
  readonly value: V;
  /** When the value was loaded (ms since epoch). */
  readonly at: number;
  /** The latest reload failed (the value is the last good one). */
  readonly failed: boolean;
}

export interface RefreshingOptions {
  /** A value older than this is reloaded for later callers. */
  readonly maxAgeMs: number;
  readonly now?: () => number;
  /** Called when a load rejects (the previous value, if any, stays). */
  readonly onError?: (key: unknown, error: unknown) => void;
  /** After a failed load, no other starts for this long (default: the next caller retries). */
  readonly retryFailedAfterMs?: number;
}

export class Refreshing<K, V> {
  private readonly now: () => number;
  private readonly loaded = new Map<K, Loaded<V>>();
  private readonly loading = new Map<K, Promise<void>>();
  /** When the last load of a key failed, while retryFailedAfterMs holds the next one back. */
  private readonly failedAt = new Map<K, number>();

  constructor(
    /** Loads a key's value; `previous` is the value it replaces, if any (to keep what did not change). */
    private readonly load: (key: K, previous: V | undefined) => Promise<V>,
    private readonly options: RefreshingOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /**
   * The newest value of `key`, starting a reload when it is too old. Without any value yet, waits
   * for the first load until `deadline` (forever when undefined); undefined if none by then.
   */
  async get(key: K, deadline?: number): Promise<Loaded<V> | undefined> {
    const current = this.loaded.get(key);
    if (current && this.now() - current.at < this.options.maxAgeMs) return current;
    const failed = this.failedAt.get(key);
    if (failed !== undefined && this.now() - failed < (this.options.retryFailedAfterMs ?? 0)) return current;
    const reload = this.reload(key);
    if (current) return current;
    if (deadline === undefined) await reload;
    else if ((await beforeDeadline(reload, deadline, this.now)) === TIMED_OUT) return undefined;
    return this.loaded.get(key);
  }

  /** A load of `key` is running. */
  isLoading(key: K): boolean {
    return this.loading.has(key);
  }

  /** Forgets keys no caller has needed for `idleMs` (their values are older than that). */
  prune(idleMs: number): void {
    const horizon = this.now() - idleMs;
    for (const [key, entry] of this.loaded) if (entry.at < horizon && !this.loading.has(key)) this.loaded.delete(key);
  }

  /** Forgets the keys `unwanted` says no caller will ask for again. */
  forget(unwanted: (key: K) => boolean): void {
    for (const key of this.loaded.keys()) if (unwanted(key)) this.loaded.delete(key);
    for (const key of this.failedAt.keys()) if (unwanted(key)) this.failedAt.delete(key);
  }

  private reload(key: K): Promise<void> {
    const running = this.loading.get(key);
    if (running) return running;
    const done = this.load(key, this.loaded.get(key)?.value)
      .then(
        (value) => {
          this.loaded.set(key, { value, at: this.now(), failed: false });
          this.failedAt.delete(key);
        },
        (error: unknown) => {
          if (this.options.retryFailedAfterMs) this.failedAt.set(key, this.now());
          const previous = this.loaded.get(key);
          if (previous) this.loaded.set(key, { ...previous, failed: true });
          this.options.onError?.(key, error);
        },
      )
      .finally(() => this.loading.delete(key));
    this.loading.set(key, done);
    return done;
  }
}
