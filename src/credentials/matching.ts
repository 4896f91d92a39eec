/**
 * Which docker-config keys apply to an image, the way the kubelet's keyring decides
 * (pkg/credentialprovider): keys may carry a scheme, a port, a path prefix and `*` wildcards in
 * host labels; every Docker Hub spelling means Docker Hub. Pure.
 */
import { DOCKER_HUB, type ImageReference } from '../image/reference.js';

export interface KeyPattern {
  /** Lower-cased host labels (`*` allowed per label). */
  readonly labels: readonly string[];
  readonly port: string | undefined;
  /** Path prefix below the host, without slashes at the ends ('' for the whole registry). */
  readonly path: string;
}

const HUB_ALIASES = new Set(['index.docker.io', 'docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

/** Parses a config key; undefined for keys that cannot name a registry. */
export function parseKey(key: string): KeyPattern | undefined {
  let rest = key.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  rest = rest.replace(/\/+$/, '');
  if (rest === '') return undefined;
  const slash = rest.indexOf('/');
  let hostPort = slash === -1 ? rest : rest.slice(0, slash);
  let path = slash === -1 ? '' : rest.slice(slash + 1);
  let port: string | undefined;
  const portMatch = /:(\d+)$/.exec(hostPort);
  if (portMatch) {
    port = portMatch[1];
    hostPort = hostPort.slice(0, portMatch.index);
  }
  const host = hostPort.toLowerCase();
  if (host === '' || !/^[a-z0-9*.\-[\]:]+$/.test(host)) return undefined;
  if (HUB_ALIASES.has(host) && port === undefined) {
    // `https://index.docker.io/v1/` is the historical key for all of Docker Hub.
    if (path === 'v1' || path === 'v2') path = '';
    return { labels: DOCKER_HUB.split('.'), port: undefined, path };
  }
  return { labels: host.split('.'), port, path };
}

function labelMatches(pattern: string, label: string): boolean {
  if (!pattern.includes('*')) return pattern === label;
  const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^.]*')}$`);
  return re.test(label);
}

/** Does this key apply to the image? Host labels match one by one, the port exactly, the path as a prefix. */
export function keyMatches(pattern: KeyPattern, ref: ImageReference): boolean {
  const portMatch = /:(\d+)$/.exec(ref.registry);
  const port = portMatch?.[1];
  const host = (portMatch ? ref.registry.slice(0, portMatch.index) : ref.registry).toLowerCase();
  const labels = host.split('.');
  if (labels.length !== pattern.labels.length) return false;
  if (!pattern.labels.every((p, i) => labelMatches(p, labels[i] as string))) return false;
  if (pattern.port !== port) return false;
  if (pattern.path === '') return true;
  return ref.repository === pattern.path || ref.repository.startsWith(`${pattern.path}/`);
}

/** Most specific first: exact hosts before wildcards, then longer paths. */
export function specificity(pattern: KeyPattern): number {
  const wildcards = pattern.labels.filter((l) => l.includes('*')).length;
  return (pattern.path === '' ? 0 : pattern.path.split('/').length) * 100 - wildcards;
}

/** The entries that apply to `ref`, most specific first (stable for equal specificity). */
export function matchingEntries<T extends { readonly key: string }>(entries: readonly T[], ref: ImageReference): T[] {
  const matched: Array<{ entry: T; score: number; index: number }> = [];
  entries.forEach((entry, index) => {
    const pattern = parseKey(entry.key);
    if (pattern && keyMatches(pattern, ref)) matched.push({ entry, score: specificity(pattern), index });
  });
  matched.sort((a, b) => b.score - a.score || a.index - b.index);
  return matched.map((m) => m.entry);
}
