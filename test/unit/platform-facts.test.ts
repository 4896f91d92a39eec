import { describe, expect, test } from 'vitest';
import { PlatformFacts, type DocumentReader } from '../../src/registry/platforms.js';

const digest = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;
const index = { schemaVersion: 2, manifests: [{ digest: digest(900), platform: { os: 'linux', architecture: 'arm64' } }] };

/** A registry's documents by path, counting reads. */
function documents(byPath: Record<string, unknown>): DocumentReader & { reads: string[] } {
  const reads: string[] = [];
  return Object.assign(async (path: string) => {
    reads.push(path);
    return byPath[path];
  }, { reads });
}

describe('PlatformFacts', () => {
  test('an index is one read; a single image is its manifest and config blob; both kept by digest', async () => {
    const facts = new PlatformFacts();
    const read = documents({
      [`manifests/${digest(1)}`]: index,
      [`manifests/${digest(2)}`]: { schemaVersion: 2, config: { digest: digest(3) } },
      [`blobs/${digest(3)}`]: { architecture: 'amd64', os: 'linux' },
    });
    await facts.learn(digest(1), read);
    await facts.learn(digest(2), read);
    // Where they were read is kept: a node chooses among an index's entries, but takes a single manifest whole.
    expect(facts.of(digest(1))).toEqual({ from: 'index', platforms: [{ os: 'linux', architecture: 'arm64' }] });
    expect(facts.of(digest(2))).toEqual({ from: 'manifest', platforms: [{ os: 'linux', architecture: 'amd64' }] });
    await facts.learn(digest(1), read);
    await facts.learn(digest(2), read);
    expect(read.reads).toEqual([`manifests/${digest(1)}`, `manifests/${digest(2)}`, `blobs/${digest(3)}`]);
  });

  test('a Docker manifest list is an index too; an index of one platform is still an index; an empty one lists none', async () => {
    const facts = new PlatformFacts();
    const list = { schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json', manifests: [{ digest: digest(901), platform: { os: 'linux', architecture: 'amd64' } }] };
    await facts.learn(digest(1), documents({ [`manifests/${digest(1)}`]: list }));
    await facts.learn(digest(2), documents({ [`manifests/${digest(2)}`]: { schemaVersion: 2, manifests: [] } }));
    expect(facts.of(digest(1))).toEqual({ from: 'index', platforms: [{ os: 'linux', architecture: 'amd64' }] });
    expect(facts.of(digest(2))).toEqual({ from: 'index', platforms: [] });
    // Weights are the platforms, as before: the wrapper adds none.
    expect(facts.kept()).toEqual({ digests: 2, platforms: 1 });
  });

  test("an artifact's config names no platform: not read, kept as naming none; an image config naming none is kept so too", async () => {
    const facts = new PlatformFacts();
    const artifact = { schemaVersion: 2, artifactType: 'application/vnd.example.models', config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: digest(7), size: 2 } };
    const bare = { schemaVersion: 2, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digest(8) } };
    const read = documents({ [`manifests/${digest(1)}`]: artifact, [`manifests/${digest(2)}`]: bare, [`blobs/${digest(8)}`]: { rootfs: {} } });
    await facts.learn(digest(1), read);
    await facts.learn(digest(2), read);
    expect(facts.of(digest(1))).toEqual({ from: 'manifest', platforms: undefined });
    expect(facts.of(digest(2))).toEqual({ from: 'manifest', platforms: undefined });
    // Content addressed: neither is read again at the next check.
    await facts.learn(digest(1), read);
    await facts.learn(digest(2), read);
    expect(read.reads).toEqual([`manifests/${digest(1)}`, `manifests/${digest(2)}`, `blobs/${digest(8)}`]);
    expect(facts.kept()).toEqual({ digests: 2, platforms: 0 });
  });

  test('a config blob that cannot be read now is not taken as naming no platform: read again next time', async () => {
    const facts = new PlatformFacts();
    const manifest = { schemaVersion: 2, config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: digest(3) } };
    await facts.learn(digest(2), documents({ [`manifests/${digest(2)}`]: manifest }));
    expect(facts.of(digest(2))).toBeUndefined();
    await facts.learn(digest(2), documents({ [`manifests/${digest(2)}`]: manifest, [`blobs/${digest(3)}`]: { os: 'linux', architecture: 'arm64' } }));
    expect(facts.of(digest(2))).toEqual({ from: 'manifest', platforms: [{ os: 'linux', architecture: 'arm64' }] });
  });

  test('concurrent learners of one digest share one read', async () => {
    const facts = new PlatformFacts();
    const read = documents({ [`manifests/${digest(1)}`]: index });
    await Promise.all([facts.learn(digest(1), read), facts.learn(digest(1), read), facts.learn(digest(1), read)]);
    expect(read.reads).toHaveLength(1);
  });

  test('what cannot be read stays unknown and is read again next time; junk never throws', async () => {
    const facts = new PlatformFacts();
    const failing: DocumentReader = async () => {
      throw new Error('connection reset');
    };
    await facts.learn(digest(1), failing);
    expect(facts.of(digest(1))).toBeUndefined();
    for (const junk of [undefined, null, 'text', { manifests: 'x' }, { config: { digest: '../../etc/passwd' } }, { config: {} }]) {
      await facts.learn(digest(1), documents({ [`manifests/${digest(1)}`]: junk }));
      expect(facts.of(digest(1))).toBeUndefined();
    }
    const read = documents({ [`manifests/${digest(1)}`]: index });
    await facts.learn(digest(1), read);
    expect(facts.of(digest(1))?.platforms).toHaveLength(1);
  });

  test('a digest that is not one, or a config digest that is not one, is never put into a path', async () => {
    const facts = new PlatformFacts();
    const read = documents({ 'manifests/x/../../y': index, [`manifests/${digest(5)}`]: { config: { digest: 'sha256:abc/../../z' } } });
    await facts.learn('x/../../y', read);
    await facts.learn(digest(5), read);
    expect(read.reads).toEqual([`manifests/${digest(5)}`]);
  });

  test('memory is bounded: past the bound the least recently used digest is forgotten', async () => {
    const facts = new PlatformFacts(2);
    const read = documents(Object.fromEntries([1, 2, 3].map((n) => [`manifests/${digest(n)}`, index])));
    await facts.learn(digest(1), read);
    await facts.learn(digest(2), read);
    facts.of(digest(1)); // used: digest(2) is now the oldest
    await facts.learn(digest(3), read);
    expect(facts.of(digest(1))).toBeDefined();
    expect(facts.of(digest(2))).toBeUndefined();
    expect(facts.of(digest(3))).toBeDefined();
  });
});
