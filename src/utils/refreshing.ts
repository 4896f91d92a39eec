/**
 * A keyed value loaded when a caller asks, and kept between scrapes: the one refresh mechanism of
 * this pull-on-scrape design (nothing loads unless a scrape asks). Listings, pull secrets, cloud
 * tokens and platform facts all go through it; it decides, once:
 *
 * - fresh: a value younger than its freshness is served without loading;
 * - due: one load runs per key, shared by every caller; meanwhile the held value is served at once
 *   ('serve': stale-while-revalidate, for listings and secrets) or callers wait for the load and
 *   fall back on the held value only when it fails ('wait': tokens, which a registry refuses once
 *   due); a key never loaded is waited for, up to the caller's deadline;
 * - failure: the held value stays (marked failed) while it is usable; the failure is held for
 *   holdFailureMs (no load starts meanwhile: a failing endpoint is not asked on every scrape);
 * - size: states live in an ExpiringMap (idle keys expire; entries and weight are bounded).
 */
import { beforeDeadline, TIMED_OUT } from './deadline.js';
import { ExpiringMap } from './expiring-map.js';

export interface Loaded<V> {
  readonly value: V;
  /** When the value was loaded (ms since epoch). */
  readonly at: number;
  /** The latest load failed (the value is the last good one). */
  readonly failed: boolean;
}

export interface RefreshingOptions<K, V> {
  /** How long a loaded value is served without loading: a number, or said by the value (a token's renewal time). */
  readonly freshMs: number | ((value: V) => number);
  /** What callers get while a due value reloads (see the header); default 'serve'. */
  readonly whenDue?: 'serve' | 'wait';
  /** How long after loading a value may still be served once due (default: until replaced). */
  readonly usableMs?: (value: V) => number;
  /** After a failed load, none starts for this long (default 0: the next caller tries again). */
  readonly holdFailureMs?: number;
  /** A key no caller asked for this long is dropped (default: kept until a bound drops it). */
  readonly idleMs?: number;
  /** Keys held at most; the least recently asked for go first. */
  readonly maxEntries?: number;
  /** What the held values may weigh in all, by `weigh`. */
  readonly maxWeight?: number;
  readonly weigh?: (key: K, value: V) => number;
  readonly now?: () => number;
  /**
   * A load rejected. `kept`: a held value stays in use; `previousError`: the error of the load
   * before, when it failed too (to log a failure once, not at every try).
   */
  readonly onError?: (key: K, error: unknown, facts: { readonly kept: boolean; readonly previousError: unknown }) => void;
}

/** Loads a key's value; `previous` is the value it replaces, if any (to keep what did not change). */
export type Load<K, V> = (key: K, previous: V | undefined) => Promise<V>;

interface Held<V> extends Loaded<V> {
  readonly freshUntil: number;
  readonly usableUntil: number;
}

interface State<V> {
  readonly held?: Held<V>;
  readonly failure?: { readonly error: unknown; readonly at: number };
}

export class Refreshing<K, V> {
  private readonly now: () => number;
  private readonly states: ExpiringMap<K, State<V>>;
  private readonly loading = new Map<K, Promise<void>>();

  constructor(
    private readonly load: Load<K, V>,
    private readonly options: RefreshingOptions<K, V>,
  ) {
    this.now = options.now ?? Date.now;
    const { weigh } = options;
    this.states = new ExpiringMap<K, State<V>>({
      ttlMs: options.idleMs ?? Infinity,
      now: this.now,
      onRead: options.idleMs === undefined ? 'touch' : 'extend',
      maxEntries: options.maxEntries,
      maxWeight: options.maxWeight,
      weigh: weigh && ((key, state) => (state.held ? weigh(key, state.held.value) : 0)),
    });
  }

  /**
   * The value of `key` to use now, loading it when due (see the header). With nothing to serve,
   * waits for the load until `deadline` (forever when undefined); undefined if none by then, or
   * when the load failed (`failure` says why). `load` replaces the constructor's for this key's load.
   */
  async get(key: K, deadline?: number, load: Load<K, V> = this.load): Promise<Loaded<V> | undefined> {
    const state = this.states.get(key);
    const now = this.now();
    const { held, failure } = state ?? {};
    if (held && now < held.freshUntil) return loaded(held, failure);
    if (failure && now - failure.at < (this.options.holdFailureMs ?? 0)) return this.usable(state);
    const reload = this.reload(key, load);
    if ((this.options.whenDue ?? 'serve') === 'serve' && held && now < held.usableUntil) return loaded(held, failure);
    if (deadline === undefined) await reload;
    else if ((await beforeDeadline(reload, deadline, this.now)) === TIMED_OUT) return undefined;
    return this.usable(this.states.peek(key));
  }

  /** The value held for `key` if usable now, without loading (a use all the same: it stays). */
  held(key: K): Loaded<V> | undefined {
    return this.usable(this.states.get(key));
  }

  /** Why the latest load of `key` failed, while that failure is held. */
  failure(key: K): unknown {
    return this.states.peek(key)?.failure?.error;
  }

  /** A load of `key` is running. */
  isLoading(key: K): boolean {
    return this.loading.has(key);
  }

  /** Drops the keys no caller asked for in idleMs. */
  prune(): void {
    this.states.prune();
  }

  /** Forgets the keys `unwanted` says no caller will ask for again. */
  forget(unwanted: (key: K) => boolean): void {
    for (const [key] of [...this.states.live()]) if (unwanted(key)) this.states.delete(key);
  }

  /** How much is held: keys, and their values' weight. */
  kept(): { keys: number; weight: number } {
    return { keys: this.states.size, weight: this.states.weighs };
  }

  private usable(state: State<V> | undefined): Loaded<V> | undefined {
    const { held, failure } = state ?? {};
    return held && this.now() < held.usableUntil ? loaded(held, failure) : undefined;
  }

  private reload(key: K, load: Load<K, V>): Promise<void> {
    const running = this.loading.get(key);
    if (running) return running;
    const done = load(key, this.states.peek(key)?.held?.value)
      .then(
        (value) => {
          const at = this.now();
          const { freshMs, usableMs } = this.options;
          const freshUntil = at + (typeof freshMs === 'number' ? freshMs : freshMs(value));
          this.states.set(key, { held: { value, at, failed: false, freshUntil, usableUntil: usableMs ? at + usableMs(value) : Infinity } });
        },
        (error: unknown) => {
          const { held, failure } = this.states.peek(key) ?? {};
          const kept = held !== undefined && this.now() < held.usableUntil;
          // Without a value to keep, a failure is remembered only to be held.
          if (kept || this.options.holdFailureMs) this.states.set(key, { held: kept ? held : undefined, failure: { error, at: this.now() } });
          else this.states.delete(key);
          this.options.onError?.(key, error, { kept, previousError: failure?.error });
        },
      )
      .finally(() => this.loading.delete(key));
    this.loading.set(key, done);
    return done;
  }
}

function loaded<V>(held: Held<V>, failure: State<V>['failure']): Loaded<V> {
  return { value: held.value, at: held.at, failed: failure !== undefined };
}
