/**
 * Image platforms and which of them a node can run, the way containerd decides when it pulls
 * (github.com/containerd/platforms: Normalize, and Only(node).Match(image), which is what CRI's
 * platforms.Default() does). Also reads the platforms an image provides out of an index or a config
 * blob. Pure: no I/O.
 */
import { isRecord, nonEmptyString } from '../utils/untrusted.js';

/** An OCI platform: what an image was built for, or what a node is. */
export interface Platform {
  readonly os: string;
  readonly architecture: string;
  /** CPU variant, e.g. `v7` for arm or `v2` for amd64; absent rather than ''. */
  readonly variant?: string;
}

/**
 * The platforms a manifest provides, and where they were read: from an index (or Docker manifest
 * list), whose entries a node chooses among by platform and pulls only its match; or from a single
 * manifest's config, which a node pulls whole (containerd checks no platform of the manifest a
 * reference names, only of an index's entries: images.Manifest and LimitManifests).
 */
export type ProvidedPlatforms =
  | { readonly from: 'index'; readonly platforms: readonly Platform[] }
  /** `platforms` undefined: its config names none (an artifact's config, typically). */
  | { readonly from: 'manifest'; readonly platforms: readonly Platform[] | undefined };

/** The config media types of images; an artifact's config has its own (often the empty `{}`) and names no platform. */
const IMAGE_CONFIG_TYPES: ReadonlySet<unknown> = new Set(['application/vnd.oci.image.config.v1+json', 'application/vnd.docker.container.image.v1+json']);

/** Whether a single manifest's config, by its media type, may name a platform (one without a media type is read: it may). */
export function configMayNamePlatform(mediaType: unknown): boolean {
  return mediaType === undefined || IMAGE_CONFIG_TYPES.has(mediaType);
}

/** An image index entry marked so is a build attestation, not something a node can run. */
const ATTESTATION_TYPE = 'attestation-manifest';
const REFERENCE_TYPE_ANNOTATION = 'vnd.docker.reference.type';
/**
 * No ISA has anywhere near this many levels; enumerating older variants only up to it bounds the
 * work a variant like `v99999999999` could cost (containerd would loop that many times).
 */
const MAX_VARIANT_LEVEL = 64;
/**
 * The most distinct platforms one image may provide and still be checked. Real indexes list a few
 * dozen at most (Docker's official images: about ten; every os/arch/variant containerd knows of that
 * anyone publishes: well under 64); past it the index is not a real one and its platforms are not
 * knowable, rather than kept (registry-controlled: tens of thousands fit in the 1 MiB read limit).
 */
export const MAX_IMAGE_PLATFORMS = 64;
/**
 * The most entries an index may have and be read: 16 per platform allowed (real indexes have one
 * or two per platform: the image and its attestation, or one per Windows os.version), so that
 * normalizing them costs a few milliseconds, not the 60-300 ms (measured on a busy machine) of the
 * 20,000 that fit in 1 MiB.
 */
export const MAX_INDEX_ENTRIES = 16 * MAX_IMAGE_PLATFORMS;
/** Longest os, architecture or variant an image may name (real ones: `dragonfly`, `mips64le`, `v8.9`). */
export const MAX_PLATFORM_FIELD_LENGTH = 32;
/** The characters containerd's Parse allows in a specifier component. */
const COMPONENT = /^[A-Za-z0-9_.-]+$/;

/**
 * Why what an image says about its platforms is not taken: then no platform is reported missing
 * for it (a guess would be a false alert), and nothing of it is kept.
 */
export interface Unknowable {
  readonly unknowable: string;
}

export function isUnknowable(value: unknown): value is Unknowable {
  return isRecord(value) && typeof value['unknowable'] === 'string';
}

const TOO_MANY: Unknowable = Object.freeze({ unknowable: `the image lists more than ${MAX_IMAGE_PLATFORMS} platforms` });
const TOO_MANY_ENTRIES: Unknowable = Object.freeze({ unknowable: `the image index lists more than ${MAX_INDEX_ENTRIES} manifests` });
/**
 * containerd takes an index entry without a platform as a candidate for every node (FilterPlatforms:
 * `d.Platform == nil || m.Match(...)`) and decides by its config: which platforms it serves is not
 * in the index, so a guess from the other entries could report a platform missing that is not.
 */
const NO_PLATFORM: Unknowable = Object.freeze({ unknowable: 'the image index has an entry without a platform (a node would read its config to decide)' });
const TOO_LONG: Unknowable = Object.freeze({
  unknowable: `the image names a platform (os, architecture or variant) longer than ${MAX_PLATFORM_FIELD_LENGTH} characters`,
});

/**
 * arm64 variants containerd knows, each with the majors and the highest minor of each major that a
 * CPU of that variant also runs: a v9.x core implements v8.(x+5) (capped at v8.9).
 */
const ARM64_VERSIONS: Readonly<Record<string, { readonly majors: readonly number[]; readonly minors: readonly number[] }>> = {
  v8: { majors: [8], minors: [0] },
  'v8.0': { majors: [8], minors: [0] },
  'v8.1': { majors: [8], minors: [1] },
  'v8.2': { majors: [8], minors: [2] },
  'v8.3': { majors: [8], minors: [3] },
  'v8.4': { majors: [8], minors: [4] },
  'v8.5': { majors: [8], minors: [5] },
  'v8.6': { majors: [8], minors: [6] },
  'v8.7': { majors: [8], minors: [7] },
  'v8.8': { majors: [8], minors: [8] },
  'v8.9': { majors: [8], minors: [9] },
  v9: { majors: [9, 8], minors: [0, 5] },
  'v9.0': { majors: [9, 8], minors: [0, 5] },
  'v9.1': { majors: [9, 8], minors: [1, 6] },
  'v9.2': { majors: [9, 8], minors: [2, 7] },
  'v9.3': { majors: [9, 8], minors: [3, 8] },
  'v9.4': { majors: [9, 8], minors: [4, 9] },
  'v9.5': { majors: [9, 8], minors: [5, 9] },
  'v9.6': { majors: [9, 8], minors: [6, 9] },
  'v9.7': { majors: [9, 8], minors: [7, 9] },
};


/** Builds a platform, leaving `variant` out when empty so that equal platforms look equal. */
function platform(os: string, architecture: string, variant: string | undefined): Platform {
  return variant ? { os, architecture, variant } : { os, architecture };
}

function normalizeOs(os: string): string {
  const lower = os.toLowerCase();
  return lower === 'macos' ? 'darwin' : lower;
}

/** containerd's normalizeArch: every spelling of an architecture becomes one name and variant. */
function normalizeArch(rawArch: string, rawVariant: string): { architecture: string; variant: string } {
  const arch = rawArch.toLowerCase();
  const variant = rawVariant.toLowerCase();
  switch (arch) {
    case 'i386':
      return { architecture: '386', variant: '' };
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      return { architecture: 'amd64', variant: variant === 'v1' ? '' : variant };
    case 'aarch64':
    case 'arm64':
      if (variant === '8' || variant === 'v8' || variant === 'v8.0') return { architecture: 'arm64', variant: '' };
      if (variant === '9' || variant === '9.0' || variant === 'v9.0') return { architecture: 'arm64', variant: 'v9' };
      return { architecture: 'arm64', variant };
    case 'armhf':
      return { architecture: 'arm', variant: 'v7' };
    case 'armel':
      return { architecture: 'arm', variant: 'v6' };
    case 'arm':
      if (variant === '' || variant === '7') return { architecture: 'arm', variant: 'v7' };
      if (variant === '5' || variant === '6' || variant === '8') return { architecture: 'arm', variant: `v${variant}` };
      return { architecture: 'arm', variant };
    default:
      return { architecture: arch, variant };
  }
}

/** The canonical spelling of a platform (containerd's Normalize, minus its guess of the local OS). */
export function normalizePlatform(p: Platform): Platform {
  const { architecture, variant } = normalizeArch(p.architecture, p.variant ?? '');
  return platform(normalizeOs(p.os), architecture, variant);
}

/** `os/arch[/variant]` of the normalized platform, e.g. `linux/arm/v7`. */
export function formatPlatform(p: Platform): string {
  const { os, architecture, variant } = normalizePlatform(p);
  return variant === undefined ? `${os}/${architecture}` : `${os}/${architecture}/${variant}`;
}

/** Reads what formatPlatform writes; undefined unless it is `os/arch` or `os/arch/variant`. */
export function parsePlatform(text: string): Platform | undefined {
  const parts = text.split('/');
  if (parts.length < 2 || parts.length > 3 || !parts.every((part) => COMPONENT.test(part))) return undefined;
  const [os, architecture, variant] = parts as [string, string, string | undefined];
  return normalizePlatform(platform(os, architecture, variant));
}

/** The variants `v{from-1}` down to `v{to}`, for CPUs that run every older variant of their ISA. */
function olderVariants(p: Platform, from: number, to: number): Platform[] {
  const older: Platform[] = [];
  for (let version = Math.min(from, MAX_VARIANT_LEVEL + 1) - 1; version >= to; version--) {
    older.push(platform(p.os, p.architecture, `v${version}`));
  }
  return older;
}

/** The number in a `vN` variant, or NaN: containerd's strconv.Atoi(strings.TrimPrefix(v, "v")). */
function variantNumber(variant: string | undefined): number {
  const digits = (variant ?? '').replace(/^v/, '');
  return /^[+-]?\d+$/.test(digits) ? Number(digits) : Number.NaN;
}

/**
 * containerd's platformVector: the node's own platform first, then everything it also runs. Entries
 * need not be normalized (amd64 `v1`, arm64 `v8`); the matcher normalizes them.
 */
function platformVector(p: Platform): Platform[] {
  switch (p.architecture) {
    case 'amd64': {
      const version = variantNumber(p.variant);
      const older = version > 1 ? olderVariants(p, version, 1) : [];
      // Only() documents it: "For amd64, will also match 386".
      return [p, ...older, platform(p.os, '386', undefined)];
    }
    case 'arm': {
      const version = variantNumber(p.variant);
      return [p, ...(version > 5 ? olderVariants(p, version, 5) : [])];
    }
    case 'arm64':
      return arm64Vector(p);
    default:
      return [p];
  }
}

/** arm64 runs its own older minors, v9 also v8 minors, and every arm64 runs 32-bit arm up to v8. */
function arm64Vector(p: Platform): Platform[] {
  const variant = p.variant ?? 'v8';
  const versions = ARM64_VERSIONS[variant];
  // containerd matches nothing at all for an arm64 variant it does not know, not even itself.
  if (versions === undefined) return [];
  const vector: Platform[] = [];
  versions.majors.forEach((major, i) => {
    for (let minor = versions.minors[i] as number; minor >= 0; minor--) {
      vector.push(platform(p.os, 'arm64', minor === 0 ? `v${major}` : `v${major}.${minor}`));
    }
  });
  return [...vector, ...platformVector(platform(p.os, 'arm', 'v8'))];
}

function samePlatform(a: Platform, b: Platform): boolean {
  return a.os === b.os && a.architecture === b.architecture && a.variant === b.variant;
}

/** Would a node of platform `node` pull and run an image built for `image`? (Only(node).Match(image)) */
export function canRun(node: Platform, image: Platform): boolean {
  const wanted = normalizePlatform(image);
  return platformVector(normalizePlatform(node)).some((candidate) => samePlatform(normalizePlatform(candidate), wanted));
}

/** Is this index entry a build attestation (BuildKit marks them both ways) rather than an image? */
export function isAttestation(descriptor: unknown): boolean {
  if (!isRecord(descriptor)) return false;
  const { platform: p, annotations } = descriptor;
  if (isRecord(p) && p['os'] === 'unknown' && p['architecture'] === 'unknown') return true;
  return isRecord(annotations) && annotations[REFERENCE_TYPE_ANNOTATION] === ATTESTATION_TYPE;
}

/**
 * A platform object as manifests and configs write it; undefined without both os and architecture;
 * unknowable when a field is too long to be a real one (it is not cut: a cut name could match).
 */
function platformFrom(fields: Record<string, unknown>): Platform | Unknowable | undefined {
  const os = nonEmptyString(fields['os']);
  const architecture = nonEmptyString(fields['architecture']);
  if (os === undefined || architecture === undefined) return undefined;
  const variant = nonEmptyString(fields['variant']);
  if (Math.max(os.length, architecture.length, variant?.length ?? 0) > MAX_PLATFORM_FIELD_LENGTH) return TOO_LONG;
  return normalizePlatform(platform(os, architecture, variant));
}

/**
 * The distinct platforms an OCI image index or Docker manifest list provides, attestations left
 * out; undefined when the document is not one, so the caller can say "unknown" instead of guessing;
 * unknowable past MAX_INDEX_ENTRIES, MAX_IMAGE_PLATFORMS or MAX_PLATFORM_FIELD_LENGTH (never the
 * first ones only: the platform a node needs may be further on), or with an entry naming no
 * platform (see NO_PLATFORM).
 */
export function platformsOfIndex(document: unknown): Platform[] | Unknowable | undefined {
  if (!isRecord(document) || !Array.isArray(document['manifests'])) return undefined;
  if (document['manifests'].length > MAX_INDEX_ENTRIES) return TOO_MANY_ENTRIES;
  const platforms = new Map<string, Platform>();
  for (const entry of document['manifests'] as unknown[]) {
    if (!isRecord(entry) || isAttestation(entry)) continue;
    if (entry['platform'] === undefined || entry['platform'] === null) return NO_PLATFORM;
    if (!isRecord(entry['platform'])) continue;
    const found = platformFrom(entry['platform']);
    if (found === undefined) continue;
    if (isUnknowable(found)) return found;
    platforms.set(`${found.os}/${found.architecture}/${found.variant ?? ''}`, found);
    if (platforms.size > MAX_IMAGE_PLATFORMS) return TOO_MANY;
  }
  return [...platforms.values()];
}

/** The platform a single-platform image was built for, from its config blob (OCI or Docker). */
export function platformOfConfig(document: unknown): Platform | Unknowable | undefined {
  return isRecord(document) ? platformFrom(document) : undefined;
}

/**
 * The required (formatted) node platforms that no provided image platform serves, sorted and
 * without repeats. Unparseable requirements are skipped: they name no node we could speak for.
 */
export function missingPlatforms(required: readonly string[], provided: readonly Platform[]): string[] {
  const missing = new Set<string>();
  for (const text of required) {
    const node = parsePlatform(text);
    if (node !== undefined && !provided.some((image) => canRun(node, image))) missing.add(text);
  }
  return [...missing].sort();
}
