/**
 * A Map whose entries expire: the one mechanism behind every time-limited cache of the exporter
 * (tokens, registry challenges, pull secrets, host back-offs). The clock is injected so tests can
 * move time. Also usable as p-memoize's `cache` (has/get/set/delete/clear).
 */
export interface ExpiringMapOptions<V> {
  /** Lifetime of an entry set without an explicit one: a number, or computed from the value. */
  readonly ttlMs: number | ((value: V) => number);
  readonly now?: () => number;
}

interface Entry<V> {
  readonly value: V;
  readonly expiresAt: number;
}

export class ExpiringMap<K, V> {
  private readonly entries = new Map<K, Entry<V>>();
  private readonly now: () => number;

  constructor(private readonly options: ExpiringMapOptions<V>) {
    this.now = options.now ?? Date.now;
  }

  /** The live value, or undefined once it expired (the entry is then dropped). */
  get(key: K): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key);
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
    this.entries.set(key, { value, expiresAt: this.now() + lifetime });
    return this;
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  /** Drops every expired entry, so memory follows what is live rather than what was ever seen. */
  prune(): void {
    const now = this.now();
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key);
  }

  /** Entries held, expired ones not yet pruned included. */
  get size(): number {
    return this.entries.size;
  }
}
