/**
 * `--image-mirror original=mirror` and `--default-registry`: where an image is really pulled from.
 * Applied after normalization, so `nginx` (docker.io/library/nginx) is mirrored by a `docker.io`
 * rule. Pure.
 */
import { looksLikeRegistry, withLocation, type ImageReference } from './reference.js';

export interface Location {
  readonly registry: string;
  /** Repository path prefix ('' for the whole registry). */
  readonly path: string;
}

export interface MirrorRule {
  readonly from: Location;
  readonly to: Location;
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
export function parseMirrorRule(text: string): MirrorRule {
  const eq = text.indexOf('=');
  const from = eq > 0 ? parseLocation(text.slice(0, eq)) : undefined;
  const to = eq > 0 ? parseLocation(text.slice(eq + 1)) : undefined;
  if (!from || !to) throw new Error(`expected original=mirror such as docker.io=mirror.example.com/hub, got ${JSON.stringify(text)}`);
  return { from, to };
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

/**
 * Where to ask for `ref`: unqualified names go to the default registry when one is set; then the
 * mirror rule with the longest matching prefix applies.
 */
export function resolveLocation(
  ref: ImageReference,
  rules: readonly MirrorRule[],
  defaultRegistry: Location | undefined,
): ImageReference {
  let resolved = ref;
  if (defaultRegistry && !namesRegistry(ref.original)) {
    resolved = relocate(ref, { registry: ref.registry, path: '' }, defaultRegistry);
  }
  let best: MirrorRule | undefined;
  for (const rule of rules) {
    if (under(resolved, rule.from) && (!best || rule.from.path.length > best.from.path.length)) best = rule;
  }
  return best ? relocate(resolved, best.from, best.to) : resolved;
}
