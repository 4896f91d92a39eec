/**
 * A bounded Map whose entries expire: where every value the exporter keeps between scrapes is held
 * (registry tokens and challenges, host back-offs, plugin answers, verified passwords, platform
 * facts, and through Refreshing the listings, pull secrets and cloud tokens). One place decides
 * how long an entry lives, what a read does to it and which entry goes first when the bounds are
 * reached, so no cache of the process grows with what a tenant or a registry sends. The clock is
 * injected so tests can move time. Also usable as p-memoize's `cache` (has/get/set/delete/clear).
 */
export interface ExpiringMapOptions<K, V> {
  /** Lifetime of an entry set without an explicit one: a number (Infinity: until dropped), or computed from the value. */
  readonly ttlMs: number | ((value: V) => number);
  readonly now?: () => number;
  /**
   * What a read of a live entry does: 'keep' nothing (entries go first in the order they were
   * set); 'touch' makes it the most recently used (least recently used go first); 'extend' also
   * gives it another ttlMs (an entry lives while it is used).
   */
  readonly onRead?: 'keep' | 'touch' | 'extend';
  /** Entries held at most; past it the first to go (see onRead) are dropped, however live. */
  readonly maxEntries?: number;
  /**
   * What the entries may weigh in all (by `weigh`, e.g. characters of a value others chose); past
   * it the first to go are dropped, however live. For caches of what can be asked again.
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
  /** In the order entries go when a bound is reached: the first goes first. */
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
    const { onRead = 'keep' } = this.options;
    if (onRead !== 'keep') {
      this.entries.delete(key);
      this.entries.set(key, onRead === 'extend' ? { ...entry, expiresAt: this.expiry(entry.value) } : entry);
    }
    return entry.value;
  }

  /** The live value, as get, without counting as a read (no touch, no extension). */
  peek(key: K): V | undefined {
    const entry = this.entries.get(key);
    return entry && entry.expiresAt > this.now() ? entry.value : undefined;
  }

  has(key: K): boolean {
    return this.get(key) !== undefined;
  }

  set(key: K, value: V, ttlMs?: number): this {
    const weight = this.options.weigh?.(key, value) ?? 0;
    // Deleted first, so that the entry set last is the last to go.
    this.delete(key);
    this.entries.set(key, { value, expiresAt: this.expiry(value, ttlMs), weight });
    this.weight += weight;
    const { maxWeight = Infinity, maxEntries = Infinity } = this.options;
    while ((this.weight > maxWeight || this.entries.size > maxEntries) && this.entries.size > 0) {
      this.delete(this.entries.keys().next().value as K);
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

  /** The live entries, first to go first, each with the time it has left (to carry it into another map). */
  *live(): IterableIterator<[K, V, number]> {
    const now = this.now();
    for (const [key, entry] of this.entries) if (entry.expiresAt > now) yield [key, entry.value, entry.expiresAt - now];
  }

  /** Entries held, expired ones not yet pruned included. */
  get size(): number {
    return this.entries.size;
  }

  /** Sum of the entries' weights. */
  get weighs(): number {
    return this.weight;
  }

  private expiry(value: V, ttlMs?: number): number {
    const { ttlMs: ttl } = this.options;
    return this.now() + (ttlMs ?? (typeof ttl === 'number' ? ttl : ttl(value)));
  }
}
