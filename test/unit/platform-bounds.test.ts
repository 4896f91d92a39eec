/**
 * Issue 20, item 2: what one digest may contribute to the platform facts is bounded (distinct
 * platforms per image, characters per name), and so is what all digests together keep. Past a
 * bound an image's platforms are not knowable, never trusted in part: the platform a node needs may
 * be the one left out, and reporting it missing would be a false alert.
 */
import { describe, expect, test } from 'vitest';
import {
  MAX_IMAGE_PLATFORMS,
  MAX_INDEX_ENTRIES,
  MAX_PLATFORM_FIELD_LENGTH,
  isUnknowable,
  platformOfConfig,
  platformsOfIndex,
  type Platform,
} from '../../src/platform/platform.js';
import { PlatformFacts, type DocumentReader } from '../../src/registry/platforms.js';

const digest = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;
const linux = (architecture: string, variant?: string): Platform => (variant ? { os: 'linux', architecture, variant } : { os: 'linux', architecture });
const numbered = (count: number, prefix = 'a'): Platform[] => Array.from({ length: count }, (_, i) => linux(`${prefix}${i}`));
const indexOf = (platforms: readonly Platform[]) => ({ schemaVersion: 2, manifests: platforms.map((platform) => ({ digest: digest(0), platform })) });

/** A registry whose every manifest is `document`, counting reads. */
function serving(document: unknown): DocumentReader & { reads: string[] } {
  const reads: string[] = [];
  return Object.assign(async (path: string) => {
    reads.push(path);
    return document;
  }, { reads });
}

describe('platforms one image may name', () => {
  test(`up to ${MAX_IMAGE_PLATFORMS} distinct platforms are read; one more and they are not knowable`, () => {
    expect(MAX_IMAGE_PLATFORMS).toBe(64);
    expect(platformsOfIndex(indexOf(numbered(64)))).toHaveLength(64);
    expect(platformsOfIndex(indexOf(numbered(65)))).toEqual({ unknowable: 'the image lists more than 64 platforms' });
  });

  test(`an index of more than ${MAX_INDEX_ENTRIES} entries is not read through: not knowable`, () => {
    expect(MAX_INDEX_ENTRIES).toBe(1024);
    const amd64 = Array.from({ length: 1024 }, () => linux('amd64'));
    expect(platformsOfIndex(indexOf(amd64))).toStrictEqual([linux('amd64')]);
    expect(platformsOfIndex(indexOf([...amd64, linux('amd64')]))).toEqual({ unknowable: 'the image index lists more than 1024 manifests' });
    expect(platformsOfIndex(indexOf(numbered(20_000)))).toEqual({ unknowable: 'the image index lists more than 1024 manifests' });
  });

  test('never the first ones only: the platform a node needs may come after them', () => {
    const listed = platformsOfIndex(indexOf([...numbered(64), linux('amd64')]));
    expect(isUnknowable(listed)).toBe(true);
  });

  test('distinct is after normalizing, and attestations do not count: repeats of a few platforms are an ordinary index', () => {
    const spellings = [linux('arm64'), linux('aarch64'), linux('arm64', 'v8'), linux('AArch64', 'v8.0'), linux('x86_64'), linux('amd64', 'v1')];
    const repeated = Array.from({ length: MAX_INDEX_ENTRIES - 100 }, (_, i) => spellings[i % spellings.length] as Platform);
    expect(platformsOfIndex(indexOf(repeated))).toStrictEqual([linux('arm64'), linux('amd64')]);
    const attested = {
      manifests: [
        ...numbered(64).map((platform) => ({ digest: digest(0), platform })),
        ...Array.from({ length: 100 }, () => ({ digest: digest(0), platform: { os: 'unknown', architecture: 'unknown' } })),
      ],
    };
    expect(platformsOfIndex(attested)).toHaveLength(64);
  });

  test(`a name longer than ${MAX_PLATFORM_FIELD_LENGTH} characters makes the image's platforms not knowable, never cut`, () => {
    const longest = 'x'.repeat(MAX_PLATFORM_FIELD_LENGTH);
    const tooLong = 'x'.repeat(MAX_PLATFORM_FIELD_LENGTH + 1);
    expect(platformsOfIndex(indexOf([{ os: longest, architecture: longest, variant: longest }]))).toStrictEqual([
      { os: longest, architecture: longest, variant: longest },
    ]);
    for (const platform of [
      { os: tooLong, architecture: 'amd64' },
      { os: 'linux', architecture: tooLong },
      { os: 'linux', architecture: 'arm', variant: tooLong },
    ]) {
      expect(isUnknowable(platformsOfIndex(indexOf([linux('amd64'), platform])))).toBe(true);
      expect(isUnknowable(platformOfConfig({ ...platform, rootfs: {} }))).toBe(true);
    }
    expect(platformOfConfig({ os: 'linux', architecture: 'amd64', 'os.version': 'x'.repeat(100_000) })).toStrictEqual(linux('amd64'));
  });
});

describe('what the platform facts keep', () => {
  test.each([20_000, 1000])('500 images each listing %i platforms: nothing of them is kept, each is not knowable, and none is read again', async (count) => {
    const facts = new PlatformFacts();
    const read = serving(indexOf(numbered(count)));
    const reasons = [];
    for (let n = 1; n <= 500; n++) reasons.push(await facts.learn(digest(n), read));
    expect(new Set(reasons)).toEqual(new Set([count > 1024 ? 'the image index lists more than 1024 manifests' : 'the image lists more than 64 platforms']));
    expect(facts.kept()).toEqual({ digests: 500, platforms: 0 });
    for (let n = 1; n <= 500; n++) expect(facts.of(digest(n))).toBeUndefined();
    for (let n = 1; n <= 500; n++) expect(await facts.learn(digest(n), read)).toBeUndefined();
    expect(read.reads).toHaveLength(500);
  });

  test('platforms kept are bounded in total: past it the least recently used digests are forgotten, and read again later', async () => {
    const facts = new PlatformFacts(100, 130);
    const read = serving(indexOf(numbered(64)));
    await facts.learn(digest(1), read);
    await facts.learn(digest(2), read);
    expect(facts.kept()).toEqual({ digests: 2, platforms: 128 });
    await facts.learn(digest(3), read);
    expect(facts.kept()).toEqual({ digests: 2, platforms: 128 });
    expect(facts.of(digest(1))).toBeUndefined();
    expect(facts.of(digest(3))?.platforms).toHaveLength(64);
    await facts.learn(digest(1), read);
    expect(read.reads).toHaveLength(4);
  });

  test('with the default bounds, 1,000 images of 64 platforms each keep at most 50,000 platforms', async () => {
    const facts = new PlatformFacts();
    for (let n = 1; n <= 1000; n++) await facts.learn(digest(n), serving(indexOf(numbered(64, `n${n}-`))));
    const kept = facts.kept();
    expect(kept.platforms).toBeLessThanOrEqual(50_000);
    expect(kept).toEqual({ digests: Math.floor(50_000 / 64), platforms: Math.floor(50_000 / 64) * 64 });
    expect(facts.of(digest(1000))?.platforms).toHaveLength(64);
    expect(facts.of(digest(1))).toBeUndefined();
  });
});
