/**
 * A docker config's entries, parsed once when the config is read and indexed for matching: by host
 * and path in a map, with the distinct wildcard hosts aside. A lookup then costs one map probe per
 * path component per matching host plus one glob match per distinct wildcard host: never a
 * re-parse, never a walk over every entry. Pure.
 */
import type { ImageReference } from '../image/reference.js';
import { bySpecificity, hostMatches, parseKey, targetOf, type KeyPattern, type Target } from './matching.js';

/** One entry with its parsed key. */
export interface KeyringEntry<T> {
  readonly value: T;
  readonly pattern: KeyPattern;
  /** Position in the config: the tie-breaker between equally specific keys. */
  readonly index: number;
}

/** `host[:port]/path` of a key: the one place its entries are found. */
const slot = (hostPort: string, path: string) => `${hostPort}/${path}`;

export class Keyring<T> {
  private constructor(
    /** Entries by the host pattern and path of their key. */
    private readonly slots: ReadonlyMap<string, readonly KeyringEntry<T>[]>,
    /** One pattern per distinct wildcard host: the only keys a lookup must try one by one. */
    private readonly wildcardHosts: readonly KeyPattern[],
    /** Entries whose key names no registry (or is absurdly long): never matched. */
    readonly rejected: number,
  ) {}

  static empty<T>(): Keyring<T> {
    return new Keyring<T>(new Map(), [], 0);
  }

  /** Parses every entry's key once; entries keep their order as the tie-breaker. */
  static of<T extends { readonly key: string }>(entries: readonly T[]): Keyring<T> {
    const slots = new Map<string, KeyringEntry<T>[]>();
    const wildcardHosts = new Map<string, KeyPattern>();
    let rejected = 0;
    entries.forEach((value, index) => {
      const pattern = parseKey(value.key);
      if (!pattern) {
        rejected++;
        return;
      }
      if (pattern.wildcards > 0 && !wildcardHosts.has(pattern.hostPort)) wildcardHosts.set(pattern.hostPort, pattern);
      const key = slot(pattern.hostPort, pattern.path);
      const list = slots.get(key);
      if (list) list.push({ value, pattern, index });
      else slots.set(key, [{ value, pattern, index }]);
    });
    return new Keyring(slots, [...wildcardHosts.values()], rejected);
  }

  /** The entries that apply to `ref`, most specific first (stable for equal specificity). */
  match(ref: ImageReference): T[] {
    return matchInOrder([this], targetOf(ref));
  }

  /** The entries that apply to the target, in no particular order. */
  applicable(target: Target): KeyringEntry<T>[] {
    const found: KeyringEntry<T>[] = [];
    // An image host holds no `*`, so its own hostPort only ever finds exact keys.
    const hosts = [target.hostPort];
    for (const pattern of this.wildcardHosts) if (hostMatches(pattern, target)) hosts.push(pattern.hostPort);
    for (const host of hosts) {
      for (const path of target.pathPrefixes) {
        const list = this.slots.get(slot(host, path));
        if (list) for (const entry of list) found.push(entry);
      }
    }
    return found;
  }
}

/**
 * The entries of several keyrings that apply to the target, most specific first; between equally
 * specific keys, earlier keyrings first, then the order within a keyring. This is the order of
 * matching the keyrings' entries concatenated, which is what the kubelet does with a pod's secrets.
 */
export function matchInOrder<T>(keyrings: readonly Keyring<T>[], target: Target): T[] {
  const found: Array<{ entry: KeyringEntry<T>; ring: number }> = [];
  keyrings.forEach((keyring, ring) => {
    for (const entry of keyring.applicable(target)) found.push({ entry, ring });
  });
  found.sort((a, b) => bySpecificity(a.entry.pattern, b.entry.pattern) || a.ring - b.ring || a.entry.index - b.entry.index);
  return found.map((f) => f.entry.value);
}
