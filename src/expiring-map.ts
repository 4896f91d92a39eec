/**
 * A Map whose entries expire: the one mechanism behind every time-limited cache of the exporter
 * (tokens, registry challenges, pull secrets, host back-offs). The clock is injected so tests can
 * move time. Also usable as p-memoize's `cache` (has/get/set/delete/clear).
 */
export interface ExpiringMapOptions<K, V> {
  /** Lifetime of an entry set without an explicit one: a number, or computed from the value. */
  readonly ttlMs: number | ((value: V) => number);
  readonly now?: () => number;
  /**
   * What the entries may weigh in all (by `weigh`, e.g. characters of a value others chose); past
   * it the entries set longest ago are dropped, however live. For caches of what can be asked again.
   */
  readonly maxWeight?: number;
  readonly weigh?: (key: K, value: V) => number;
}

interface Entry<V> {
  readonly value: V;
  readonly expiresAt: number;
  readonly weight: number;
}

export class ExpiringMap<K, V> {
  private readonly entries = new Map<K, Entry<V>>();
  private readonly now: () => number;
  /** Sum of the entries' weights (0 without `weigh`). */
  private weight = 0;

  constructor(private readonly options: ExpiringMapOptions<K, V>) {
    this.now = options.now ?? Date.now;
  }

  /** The live value, or undefined once it expired (the entry is then dropped). */
  get(key: K): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.delete(key);
      return undefined;
    }
    return entry.value;
  }

  has(key: K): boolean {
    return this.get(key) !== undefined;
  }

  set(key: K, value: V, ttlMs?: number): this {
    const { ttlMs: ttl } = this.options;
    const lifetime = ttlMs ?? (typeof ttl === 'number' ? ttl : ttl(value));
    const weight = this.options.weigh?.(key, value) ?? 0;
    // Deleted first, so that the order of the entries is the order they were set in.
    this.delete(key);
    this.entries.set(key, { value, expiresAt: this.now() + lifetime, weight });
    this.weight += weight;
    const { maxWeight } = this.options;
    if (maxWeight !== undefined) {
      while (this.weight > maxWeight && this.entries.size > 0) this.delete(this.entries.keys().next().value as K);
    }
    return this;
  }

  delete(key: K): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.weight -= entry.weight;
  }

  clear(): void {
    this.entries.clear();
    this.weight = 0;
  }

  /** Drops every expired entry, so memory follows what is live rather than what was ever seen. */
  prune(): void {
    const now = this.now();
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.delete(key);
  }

  /** Entries held, expired ones not yet pruned included. */
  get size(): number {
    return this.entries.size;
  }
}
