/**
 * `--image-mirror`, `--image-mirror-only` and `--default-registry`: where a node pulls an image from.
 * Applied after normalization, so `nginx` (docker.io/library/nginx) is mirrored by a `docker.io`
 * rule. Pure.
 *
 * A mirror works as in containerd: the node tries the mirrors first and falls back to the original
 * registry, which has the last word on absence. A mirror given with `--image-mirror-only` replaces
 * the original (air-gapped clusters): its answer is final.
 */
import type { PullPlaces, PullSource } from './pull-plan.js';
import { looksLikeRegistry, withLocation, type ImageReference } from './reference.js';

export interface Location {
  readonly registry: string;
  /** Repository path prefix ('' for the whole registry). */
  readonly path: string;
}

export interface MirrorRule {
  readonly from: Location;
  readonly to: Location;
  /** The mirror replaces the original: nodes never fall back to it. */
  readonly replaces: boolean;
}

function parseLocation(text: string): Location | undefined {
  const trimmed = text.trim().replace(/^[a-z]+:\/\//i, '').replace(/\/+$/, '');
  if (trimmed === '' || /\s/.test(trimmed)) return undefined;
  const slash = trimmed.indexOf('/');
  const registry = slash === -1 ? trimmed : trimmed.slice(0, slash);
  const path = slash === -1 ? '' : trimmed.slice(slash + 1);
  if (registry === '' || !/^[A-Za-z0-9.-]+(:\d+)?$|^\[[0-9a-fA-F:.]+\](:\d+)?$/.test(registry)) return undefined;
  if (path !== '' && !/^[a-z0-9._/-]+$/.test(path)) return undefined;
  return { registry: registry === 'index.docker.io' ? 'docker.io' : registry, path };
}

/** Parses `original=mirror`, e.g. `docker.io=mirror.example.com/hub`; throws a message for the flag. */
export function parseMirrorRule(text: string, replaces = false): MirrorRule {
  const eq = text.indexOf('=');
  const from = eq > 0 ? parseLocation(text.slice(0, eq)) : undefined;
  const to = eq > 0 ? parseLocation(text.slice(eq + 1)) : undefined;
  if (!from || !to) throw new Error(`expected original=mirror such as docker.io=mirror.example.com/hub, got ${JSON.stringify(text)}`);
  return { from, to, replaces };
}

export function parseRegistryLocation(text: string): Location {
  const location = parseLocation(text);
  if (!location) throw new Error(`expected a registry host[:port][/path], got ${JSON.stringify(text)}`);
  return location;
}

function under(ref: ImageReference, location: Location): boolean {
  if (ref.registry !== location.registry) return false;
  return location.path === '' || ref.repository === location.path || ref.repository.startsWith(`${location.path}/`);
}

function relocate(ref: ImageReference, from: Location, to: Location): ImageReference {
  const rest = from.path === '' ? ref.repository : ref.repository.slice(from.path.length).replace(/^\//, '');
  const repository = [to.path, rest].filter((p) => p !== '').join('/');
  return withLocation(ref, to.registry, repository);
}

/** Whether the image string names its registry (`nginx` does not; `docker.io/nginx` does). */
export function namesRegistry(original: string): boolean {
  const slash = original.indexOf('/');
  return slash !== -1 && looksLikeRegistry(original.slice(0, slash));
}

/** The rules with the longest `from` that covers `ref`, in the order they were given. */
function longestRules(ref: ImageReference, rules: readonly MirrorRule[]): MirrorRule[] {
  const matching = rules.filter((rule) => under(ref, rule.from));
  const longest = Math.max(-1, ...matching.map((rule) => rule.from.path.length));
  return matching.filter((rule) => rule.from.path.length === longest);
}

/** Moves an image whose string names no registry to --default-registry, when one is set. */
function toDefaultRegistry(ref: ImageReference, defaultRegistry: Location): ImageReference {
  if (namesRegistry(ref.original)) return ref;
  return relocate(ref, { registry: ref.registry, path: '' }, defaultRegistry);
}

/**
 * `places` for images moved to --default-registry first (unqualified names), whichever source of
 * pull places it is: the flags or a node's configuration file.
 */
export function withDefaultRegistry(places: PullPlaces, defaultRegistry: Location | undefined): PullPlaces {
  return defaultRegistry ? { plan: (ref) => places.plan(toDefaultRegistry(ref, defaultRegistry)) } : places;
}

/**
 * The flags as a source of pull places: for each image, the mirrors of the longest matching prefix
 * (in flag order), then the original — or, with a replacing mirror, that mirror instead of it.
 */
export function flagPlaces(rules: readonly MirrorRule[]): PullPlaces {
  return { plan: (ref) => ({ sources: mirrorSources(ref, rules) }) };
}

/** The mirrors of the longest matching prefix (in flag order), then the original or its replacement. */
function mirrorSources(resolved: ImageReference, rules: readonly MirrorRule[]): PullSource[] {
  const mirrors = longestRules(resolved, rules.filter((rule) => !rule.replaces));
  const replacement = longestRules(resolved, rules.filter((rule) => rule.replaces))[0];
  const final = replacement ? relocate(resolved, replacement.from, replacement.to) : resolved;
  const sources: PullSource[] = [];
  for (const mirror of mirrors) {
    const mirrored = relocate(resolved, mirror.from, mirror.to);
    if (mirrored.canonical !== final.canonical && !sources.some((s) => s.ref.canonical === mirrored.canonical)) {
      sources.push({ ref: mirrored, authoritative: false });
    }
  }
  sources.push({ ref: final, authoritative: true });
  return sources;
}
