/**
 * Which platforms an image provides, read from the registry once per manifest digest: an index (or
 * Docker manifest list) names its platforms; a single image's platform is in its config blob.
 * Content addressed by digest never changes, so the answer is kept (the most recently used ones,
 * up to a bound) and a warm cluster asks nothing more. Read after the existence check, never in
 * its way: what is not read yet, or cannot be, is unknown (undefined) and asked again at the next
 * check; a guess would be a false alert.
 */
import { platformOfConfig, platformsOfIndex, type Platform } from '../platform/platform.js';

/** Reads a JSON document of the image's repository (`manifests/<digest>`, `blobs/<digest>`); undefined when it cannot. */
export type DocumentReader = (path: string) => Promise<unknown>;

/** About 200 bytes each: 20,000 digests are a few MB. */
const MAX_DIGESTS = 20_000;

/** The distribution spec's digest grammar: nothing else goes into a URL path. */
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export class PlatformFacts {
  private readonly known = new Map<string, readonly Platform[]>();
  /** Digests being read: concurrent checks of images with one digest start one read. */
  private readonly reading = new Set<string>();

  constructor(private readonly maxDigests = MAX_DIGESTS) {}

  /** The platforms of the manifest with this digest, when they have been read. */
  of(digest: string): readonly Platform[] | undefined {
    const known = this.known.get(digest);
    if (known) {
      // Most recently used last: the first entry is the one to drop.
      this.known.delete(digest);
      this.known.set(digest, known);
    }
    return known;
  }

  /** Starts reading them unless they are known or being read; resolves when done (never rejects). */
  async learn(digest: string, read: DocumentReader): Promise<void> {
    if (this.known.has(digest) || this.reading.has(digest)) return;
    this.reading.add(digest);
    try {
      const platforms = await readPlatforms(digest, read).catch(() => undefined);
      if (platforms) {
        this.known.set(digest, platforms);
        if (this.known.size > this.maxDigests) this.known.delete(this.known.keys().next().value as string);
      }
    } finally {
      this.reading.delete(digest);
    }
  }
}

async function readPlatforms(digest: string, read: DocumentReader): Promise<readonly Platform[] | undefined> {
  if (!DIGEST.test(digest)) return undefined;
  const manifest = await read(`manifests/${digest}`);
  const listed = platformsOfIndex(manifest);
  if (listed) return listed;
  const config = (manifest as { config?: { digest?: unknown } } | null)?.config?.digest;
  if (typeof config !== 'string' || !DIGEST.test(config)) return undefined;
  const platform = platformOfConfig(await read(`blobs/${config}`));
  return platform ? [platform] : undefined;
}
