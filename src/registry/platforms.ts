/**
 * Which platforms an image provides, read from the registry once per manifest digest: an index (or
 * Docker manifest list) names its platforms; a single image's platform is in its config blob. Which
 * of the two it was is kept with them: a node pulls only its match from an index, but a single
 * manifest whole, so image volumes are held to an index's platforms only (platform/missing.ts).
 * Content addressed by digest never changes, so the answer is kept (the most recently used ones,
 * up to a bound) and a warm cluster asks nothing more. Read after the existence check, never in
 * its way: what is not read yet, or cannot be, is unknown (undefined) and asked again at the next
 * check; a guess would be a false alert. What the registry says may also be unknowable (too many
 * platforms, names too long: see platform.ts): that is kept as such, without its platforms, and
 * stays unknown without being read again.
 */
import { configMayNamePlatform, isUnknowable, platformOfConfig, platformsOfIndex, type ProvidedPlatforms, type Unknowable } from '../platform/platform.js';
import { digestOf } from '../utils/untrusted.js';
import { Refreshing } from '../utils/refreshing.js';

/** Reads a JSON document of the image's repository (`manifests/<digest>`, `blobs/<digest>`); undefined when it cannot. */
export type DocumentReader = (path: string) => Promise<unknown>;

/**
 * A digest kept costs about 240 bytes (its string, the map entry, the fact and its array; saying
 * whether an index listed them added 0.8 MiB at 20,000 ordinary digests: bench/platform-facts.ts).
 */
const MAX_DIGESTS = 20_000;
/**
 * Platforms kept, summed over the digests: each image may name up to 64 (platform.ts), so this is
 * what bounds many images of many platforms each. Measured (bench/platform-facts.ts, Node 20): at
 * this bound with 64 distinct 32-character platforms per image, 4.8 MiB; 20,000 ordinary digests
 * (one or two platforms each) keep 30,000 platforms in 5.0 MiB.
 */
const MAX_PLATFORMS = 50_000;

type Fact = ProvidedPlatforms | Unknowable;

/**
 * A single manifest whose config names no platform: content addressed, so that never changes and
 * is kept rather than read again at every check (a container's image then has no known platform;
 * an image volume needs none).
 */
const NAMES_NONE: ProvidedPlatforms = Object.freeze({ from: 'manifest', platforms: undefined });

export class PlatformFacts {
  /** Read once per digest (concurrent checks of images with one digest start one read), kept until a bound drops them. */
  private readonly facts: Refreshing<string, Fact>;

  constructor(maxDigests = MAX_DIGESTS, maxPlatforms = MAX_PLATFORMS) {
    this.facts = new Refreshing<string, Fact>((digest) => Promise.reject(new Error(`no reader for ${digest}`)), {
      // Content addressed by digest never changes.
      freshMs: Infinity,
      maxEntries: maxDigests,
      maxWeight: maxPlatforms,
      weigh: (_digest, fact) => (isUnknowable(fact) ? 0 : (fact.platforms?.length ?? 0)),
    });
  }

  /** The platforms of the manifest with this digest (and whether an index lists them), when they have been read and can be known. */
  of(digest: string): ProvidedPlatforms | undefined {
    const known = this.facts.held(digest)?.value;
    return isUnknowable(known) ? undefined : known;
  }

  /** How much is kept: digests and platforms (summed over digests). */
  kept(): { digests: number; platforms: number } {
    const { keys, weight } = this.facts.kept();
    return { digests: keys, platforms: weight };
  }

  /**
   * Starts reading them unless they are known or being read; resolves when done (never rejects),
   * to why they cannot be known when this read found out, else undefined.
   */
  async learn(digest: string, read: DocumentReader): Promise<string | undefined> {
    if (this.facts.held(digest) || this.facts.isLoading(digest)) return undefined;
    // What cannot be read now is not kept: asked again at the next check.
    const load = async () => (await readPlatforms(digest, read)) ?? Promise.reject(new Error('not readable now'));
    const fact = (await this.facts.get(digest, undefined, load))?.value;
    return isUnknowable(fact) ? fact.unknowable : undefined;
  }
}

/** The fact, or undefined when it cannot be read now. */
async function readPlatforms(digest: string, read: DocumentReader): Promise<Fact | undefined> {
  // Only a digest (of the spec's grammar and a digest's length) goes into a URL path.
  if (digestOf(digest) === undefined) return undefined;
  const manifest = await read(`manifests/${digest}`);
  const listed = platformsOfIndex(manifest);
  if (listed) return isUnknowable(listed) ? listed : { from: 'index', platforms: listed };
  const { digest: configDigest, mediaType } = (manifest as { config?: { digest?: unknown; mediaType?: unknown } } | null)?.config ?? {};
  const config = digestOf(configDigest);
  if (config === undefined) return undefined;
  // An artifact's config is not an image's: no blob read for a platform it does not hold.
  if (!configMayNamePlatform(mediaType)) return NAMES_NONE;
  const document = await read(`blobs/${config}`);
  if (document === undefined) return undefined;
  const platform = platformOfConfig(document);
  if (platform === undefined) return NAMES_NONE;
  if (isUnknowable(platform)) return platform;
  return { from: 'manifest', platforms: [platform] };
}
