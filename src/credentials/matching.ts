/**
 * Which docker-config keys apply to an image, the way the kubelet's keyring decides
 * (pkg/credentialprovider): keys may carry a scheme, a port, a path prefix and `*` wildcards in
 * host labels; every Docker Hub spelling means Docker Hub. Keys are parsed once (parseKey) and
 * images once per lookup (targetOf); matching then never backtracks (see glob.ts). Pure.
 */
import { DOCKER_HUB, type ImageReference } from '../image/reference.js';
import { compileGlob, globMatches, hasWildcard, type Glob } from '../utils/glob.js';

/** A parsed config key, ready to match. */
export interface KeyPattern {
  /** Lower-cased host labels, each a glob (runs of `*` collapsed), Docker Hub spellings as docker.io. */
  readonly labels: readonly Glob[];
  readonly port: string | undefined;
  /** `host[:port]` as written after normalization: keys with equal hostPort match the same hosts. */
  readonly hostPort: string;
  /** Labels holding a `*`: 0 means an exact host, indexable by hostPort. */
  readonly wildcards: number;
  /** Path prefix below the host, without slashes at the ends ('' for the whole registry). */
  readonly path: string;
  /** Components of `path` (0 for the whole registry): more is more specific. */
  readonly components: number;
}

/** An image's registry and repository, split once for matching against many keys. */
export interface Target {
  /** Lower-cased `host[:port]`, comparable with KeyPattern.hostPort. */
  readonly hostPort: string;
  readonly labels: readonly string[];
  readonly port: string | undefined;
  readonly repository: string;
  /** Every path a key may name to cover `repository`: '', 'a', 'a/b', … up to the repository. */
  readonly pathPrefixes: readonly string[];
}

const HUB_ALIASES = new Set(['index.docker.io', 'docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

/**
 * Longer keys cannot name a registry (a host is at most 253 characters, a repository name 255), and
 * refusing them before anything else bounds the work any one key can cost.
 */
export const MAX_KEY_LENGTH = 2048;
/** A DNS label has at most 63 characters: a label pattern with more literal ones matches no host. */
const MAX_LABEL_LITERALS = 63;

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;
const HOST_CHARS = /^[a-z0-9*.\-[\]:]+$/;

function withoutTrailingSlashes(text: string): string {
  // A loop, not /\/+$/: that RegExp retries from every slash and is quadratic on a run of them.
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 0x2f) end--;
  return text.slice(0, end);
}

function splitPort(hostPort: string): { host: string; port: string | undefined } {
  const match = /:(\d+)$/.exec(hostPort);
  return match ? { host: hostPort.slice(0, match.index), port: match[1] } : { host: hostPort, port: undefined };
}

function pattern(host: string, port: string | undefined, path: string): KeyPattern | undefined {
  const labels = host.split('.').map((label) => label.replace(/\*+/g, '*'));
  if (labels.some((label) => label.length - (label.split('*').length - 1) > MAX_LABEL_LITERALS)) return undefined;
  const globs = labels.map(compileGlob);
  return {
    labels: globs,
    port,
    hostPort: port === undefined ? labels.join('.') : `${labels.join('.')}:${port}`,
    wildcards: globs.filter(hasWildcard).length,
    path,
    components: path === '' ? 0 : path.split('/').length,
  };
}

/** Parses a config key; undefined for keys that cannot name a registry. */
export function parseKey(key: string): KeyPattern | undefined {
  if (key.length > MAX_KEY_LENGTH) return undefined;
  const rest = withoutTrailingSlashes(key.trim().replace(SCHEME, ''));
  if (rest === '') return undefined;
  const slash = rest.indexOf('/');
  let path = slash === -1 ? '' : rest.slice(slash + 1);
  const { host: rawHost, port } = splitPort(slash === -1 ? rest : rest.slice(0, slash));
  const host = rawHost.toLowerCase();
  if (host === '' || !HOST_CHARS.test(host)) return undefined;
  if (HUB_ALIASES.has(host) && port === undefined) {
    // `https://index.docker.io/v1/` is the historical key for all of Docker Hub.
    if (path === 'v1' || path === 'v2') path = '';
    return pattern(DOCKER_HUB, undefined, path);
  }
  return pattern(host, port, path);
}

export function targetOf(ref: ImageReference): Target {
  const { host, port } = splitPort(ref.registry.toLowerCase());
  const components = ref.repository.split('/');
  const pathPrefixes = [''];
  for (let i = 1; i <= components.length; i++) pathPrefixes.push(components.slice(0, i).join('/'));
  return {
    hostPort: port === undefined ? host : `${host}:${port}`,
    labels: host.split('.'),
    port,
    repository: ref.repository,
    pathPrefixes,
  };
}

/** Host labels match one by one (each a glob within its label), the port exactly. */
export function hostMatches(pattern: KeyPattern, target: Target): boolean {
  if (pattern.labels.length !== target.labels.length || pattern.port !== target.port) return false;
  return pattern.labels.every((glob, i) => globMatches(glob, target.labels[i] as string));
}

/** The path is a prefix of the repository on component boundaries. */
function pathMatches(pattern: KeyPattern, target: Target): boolean {
  const { path } = pattern;
  return path === '' || target.repository === path || target.repository.startsWith(`${path}/`);
}

/** Does this key apply to the image? */
export function keyMatches(pattern: KeyPattern, ref: ImageReference): boolean {
  const target = targetOf(ref);
  return hostMatches(pattern, target) && pathMatches(pattern, target);
}

/** Negative when `a` is more specific: more path components first, then fewer wildcard labels. */
export function bySpecificity(a: KeyPattern, b: KeyPattern): number {
  return b.components - a.components || a.wildcards - b.wildcards;
}
