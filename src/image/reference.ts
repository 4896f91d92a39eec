/**
 * Image reference parsing and normalization, following the grammar of the distribution project's
 * `reference` package (what the kubelet and containerd accept). Pure: no I/O.
 */
import { boundedText, MAX_REASON_CHARS } from '../utils/untrusted.js';

export const DOCKER_HUB = 'docker.io';

/** A parsed, normalized image reference. */
export interface ImageReference {
  /** The image string exactly as written in the pod spec. */
  readonly original: string;
  /** Registry host with optional port, e.g. `docker.io`, `ghcr.io`, `127.0.0.1:5000`. */
  readonly registry: string;
  /** Repository path within the registry, e.g. `library/nginx`. */
  readonly repository: string;
  /** Tag; `latest` when neither tag nor digest was written. Undefined for digest-only references. */
  readonly tag: string | undefined;
  /** `algorithm:hex` when the reference pins a digest. */
  readonly digest: string | undefined;
  /** Fully qualified form, e.g. `docker.io/library/nginx:latest`. */
  readonly canonical: string;
}

export class BadReferenceError extends Error {
  constructor(
    readonly image: string,
    reason: string,
  ) {
    // The image is a tenant's text, kept as a reason per container: quoted, but bounded. No image at
    // all is said so: `invalid image reference ""` reads as a parser's riddle.
    super(image === '' ? `no image: ${reason}` : `invalid image reference ${boundedText(JSON.stringify(image), MAX_REASON_CHARS)}: ${reason}`);
    this.name = 'BadReferenceError';
  }
}

const MAX_NAME_LENGTH = 255;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^\w[\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
/**
 * The algorithms go-digest knows (containerd and the kubelet refuse any other as unsupported), with
 * the length of their lowercase hex.
 */
const DIGEST_HEX_LENGTHS: Readonly<Record<string, number>> = { sha256: 64, sha384: 96, sha512: 128 };
const DOMAIN_LABEL = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const IPV6 = /^\[[a-fA-F0-9:.]+(?:%[\w.-]+)?\]$/;

function validDomain(domain: string): boolean {
  let host = domain;
  const port = /:(\d+)$/.exec(domain);
  if (port) {
    if (Number(port[1]) > 65_535) return false;
    host = domain.slice(0, port.index);
  }
  if (host.startsWith('[')) return IPV6.test(host);
  return host.split('.').every((label) => DOMAIN_LABEL.test(label));
}

/** The kubelet's rule: the first path component is a registry only if it looks like a host. */
export function looksLikeRegistry(component: string): boolean {
  return (
    component.includes('.') ||
    component.includes(':') ||
    component === 'localhost' ||
    component !== component.toLowerCase()
  );
}

/** Parses an image reference as written in a pod spec; throws BadReferenceError. */
export function parseImageReference(image: string): ImageReference {
  const fail = (reason: string): never => {
    throw new BadReferenceError(image, reason);
  };
  if (image === '') fail('the container names none (its image field is missing or empty)');
  if (image !== image.trim() || /\s/.test(image)) fail('contains whitespace');

  let rest = image;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) fail('malformed digest');
    const [algorithm = '', hex = ''] = digest.split(':');
    const length = DIGEST_HEX_LENGTHS[algorithm];
    if (length === undefined) fail(`unsupported digest algorithm "${boundedText(algorithm, 50)}" (sha256, sha384 or sha512)`);
    if (hex.length !== length || !/^[a-f0-9]+$/.test(hex)) fail(`${algorithm} digest must be ${length} lowercase hex characters`);
  }

  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) fail('malformed tag');
  }
  if (rest === '') fail('missing repository name');

  let registry = DOCKER_HUB;
  let path = rest;
  const firstSlash = rest.indexOf('/');
  if (firstSlash !== -1 && looksLikeRegistry(rest.slice(0, firstSlash))) {
    registry = rest.slice(0, firstSlash);
    path = rest.slice(firstSlash + 1);
    if (!validDomain(registry)) fail(`malformed registry host "${registry}"`);
  }
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = DOCKER_HUB;

  const components = path.split('/');
  for (const component of components) {
    if (!PATH_COMPONENT.test(component)) {
      fail(
        component !== component.toLowerCase()
          ? 'repository name must be lowercase'
          : `malformed repository path component "${component}"`,
      );
    }
  }
  if (registry === DOCKER_HUB && components.length === 1) path = `library/${path}`;
  if (`${registry}/${path}`.length > MAX_NAME_LENGTH) fail(`name longer than ${MAX_NAME_LENGTH} characters`);

  if (tag === undefined && digest === undefined) tag = 'latest';
  const canonical = `${registry}/${path}${tag !== undefined ? `:${tag}` : ''}${digest !== undefined ? `@${digest}` : ''}`;
  return { original: image, registry, repository: path, tag, digest, canonical };
}

/** The manifest reference to ask the registry for: a pinned digest wins over the tag, as in the kubelet. */
export function manifestReference(ref: ImageReference): string {
  return ref.digest ?? ref.tag ?? 'latest';
}

/** Returns a copy of `ref` served from another registry (and repository prefix), keeping tag and digest. */
export function withLocation(ref: ImageReference, registry: string, repository: string): ImageReference {
  const canonical = `${registry}/${repository}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
  return { ...ref, registry, repository, canonical };
}
