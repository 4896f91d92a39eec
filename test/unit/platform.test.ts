/**
 * Platforms as containerd matches them when a node pulls: normalization of every spelling, the
 * compatibility vector of Only(node), and the platforms an index or config blob provides.
 */
import { describe, expect, test } from 'vitest';
import {
  canRun,
  formatPlatform,
  isAttestation,
  missingPlatforms,
  normalizePlatform,
  parsePlatform,
  platformOfConfig,
  platformsOfIndex,
  type Platform,
} from '../../src/platform/platform.js';

/** `os/arch[/variant]` as a Platform without normalizing, so tests can feed raw spellings. */
function raw(text: string): Platform {
  const [os, architecture, variant] = text.split('/') as [string, string, string | undefined];
  return variant === undefined ? { os, architecture } : { os, architecture, variant };
}

const runs = (node: string, image: string) => canRun(raw(node), raw(image));

describe('normalizePlatform', () => {
  test.each([
    ['linux/x86_64', { os: 'linux', architecture: 'amd64' }],
    ['linux/x86-64', { os: 'linux', architecture: 'amd64' }],
    ['linux/amd64/v1', { os: 'linux', architecture: 'amd64' }],
    ['linux/amd64/v3', { os: 'linux', architecture: 'amd64', variant: 'v3' }],
    ['linux/aarch64', { os: 'linux', architecture: 'arm64' }],
    ['linux/arm64/v8', { os: 'linux', architecture: 'arm64' }],
    ['linux/arm64/8', { os: 'linux', architecture: 'arm64' }],
    ['linux/arm64/v8.0', { os: 'linux', architecture: 'arm64' }],
    ['linux/arm64/9.0', { os: 'linux', architecture: 'arm64', variant: 'v9' }],
    ['linux/arm64/v8.2', { os: 'linux', architecture: 'arm64', variant: 'v8.2' }],
    ['linux/armhf', { os: 'linux', architecture: 'arm', variant: 'v7' }],
    ['linux/armel', { os: 'linux', architecture: 'arm', variant: 'v6' }],
    ['linux/arm', { os: 'linux', architecture: 'arm', variant: 'v7' }],
    ['linux/arm/7', { os: 'linux', architecture: 'arm', variant: 'v7' }],
    ['linux/arm/6', { os: 'linux', architecture: 'arm', variant: 'v6' }],
    ['linux/arm/5', { os: 'linux', architecture: 'arm', variant: 'v5' }],
    ['linux/arm/8', { os: 'linux', architecture: 'arm', variant: 'v8' }],
    ['linux/i386', { os: 'linux', architecture: '386' }],
    ['linux/i386/v7', { os: 'linux', architecture: '386' }],
    ['LINUX/AMD64', { os: 'linux', architecture: 'amd64' }],
    ['Linux/ARM/V6', { os: 'linux', architecture: 'arm', variant: 'v6' }],
    ['macos/arm64', { os: 'darwin', architecture: 'arm64' }],
    ['windows/amd64', { os: 'windows', architecture: 'amd64' }],
    ['linux/s390x', { os: 'linux', architecture: 's390x' }],
  ])('%s', (text, expected) => {
    // toStrictEqual: an empty variant must be absent, not '' or undefined-valued.
    expect(normalizePlatform(raw(text))).toStrictEqual(expected);
  });

  test('an empty variant is the same as none', () => {
    expect(normalizePlatform({ os: 'linux', architecture: 'amd64', variant: '' })).toStrictEqual({
      os: 'linux',
      architecture: 'amd64',
    });
  });
});

describe('formatPlatform and parsePlatform', () => {
  test.each([
    ['linux/amd64', 'linux/amd64'],
    ['linux/x86_64', 'linux/amd64'],
    ['linux/aarch64', 'linux/arm64'],
    ['linux/arm64/v8', 'linux/arm64'],
    ['linux/arm', 'linux/arm/v7'],
    ['linux/armel', 'linux/arm/v6'],
    ['linux/amd64/v2', 'linux/amd64/v2'],
    ['linux/amd64/v1', 'linux/amd64'],
  ])('%s formats as %s', (text, formatted) => {
    expect(formatPlatform(raw(text))).toBe(formatted);
  });

  test.each(['linux/amd64', 'linux/arm64', 'linux/arm/v7', 'linux/amd64/v2', 'linux/arm64/v9', 'windows/amd64'])(
    '%s round-trips',
    (text) => {
      const parsed = parsePlatform(text);
      expect(parsed).toBeDefined();
      expect(formatPlatform(parsed as Platform)).toBe(text);
    },
  );

  test('parsing normalizes', () => {
    expect(parsePlatform('Linux/x86_64')).toStrictEqual({ os: 'linux', architecture: 'amd64' });
    expect(parsePlatform('linux/arm')).toStrictEqual({ os: 'linux', architecture: 'arm', variant: 'v7' });
  });

  test.each(['', 'linux', 'amd64', 'linux/', '/amd64', 'linux//v7', 'linux/arm/v7/', 'linux/arm/v7/x', 'linux/am d64', 'linux/*'])(
    '%j is malformed',
    (text) => {
      expect(parsePlatform(text)).toBeUndefined();
    },
  );
});

describe('canRun (containerd Only(node).Match(image))', () => {
  test('an amd64 node runs amd64 and 386 images but no arm', () => {
    expect(runs('linux/amd64', 'linux/amd64')).toBe(true);
    expect(runs('linux/amd64', 'linux/386')).toBe(true);
    expect(runs('linux/amd64', 'linux/i386')).toBe(true);
    expect(runs('linux/amd64', 'linux/arm64')).toBe(false);
    expect(runs('linux/amd64', 'linux/arm/v7')).toBe(false);
  });

  test('spellings do not matter on either side', () => {
    expect(runs('linux/x86_64', 'LINUX/AMD64/v1')).toBe(true);
    expect(runs('linux/aarch64', 'linux/arm64/v8')).toBe(true);
  });

  test('the operating system must be equal', () => {
    expect(runs('linux/amd64', 'windows/amd64')).toBe(false);
    expect(runs('windows/amd64', 'linux/amd64')).toBe(false);
  });

  test('an arm64 node runs arm64 and 32-bit arm down to v5, not amd64', () => {
    for (const image of ['linux/arm64', 'linux/arm64/v8', 'linux/arm/v8', 'linux/arm/v7', 'linux/arm/v6', 'linux/arm/v5']) {
      expect(runs('linux/arm64', image), image).toBe(true);
    }
    expect(runs('linux/arm64', 'linux/amd64')).toBe(false);
    expect(runs('linux/arm64', 'linux/386')).toBe(false);
    expect(runs('linux/arm64', 'linux/arm64/v8.1')).toBe(false);
    expect(runs('linux/arm64', 'linux/arm64/v9')).toBe(false);
  });

  test('an arm/v7 node runs arm v7, v6 and v5, not v8 nor arm64', () => {
    expect(runs('linux/arm/v7', 'linux/arm/v7')).toBe(true);
    expect(runs('linux/arm/v7', 'linux/arm')).toBe(true);
    expect(runs('linux/arm/v7', 'linux/arm/v6')).toBe(true);
    expect(runs('linux/arm/v7', 'linux/arm/v5')).toBe(true);
    expect(runs('linux/arm/v7', 'linux/arm/v8')).toBe(false);
    expect(runs('linux/arm/v7', 'linux/arm64')).toBe(false);
  });

  test('an arm/v6 node does not run arm/v7', () => {
    expect(runs('linux/arm/v6', 'linux/arm/v7')).toBe(false);
    expect(runs('linux/arm/v6', 'linux/armhf')).toBe(false);
    expect(runs('linux/arm/v6', 'linux/arm/v5')).toBe(true);
  });

  test('an amd64/v3 node runs v3, v2, v1 and 386; plain amd64 (v1) does not run v2', () => {
    expect(runs('linux/amd64/v3', 'linux/amd64/v3')).toBe(true);
    expect(runs('linux/amd64/v3', 'linux/amd64/v2')).toBe(true);
    expect(runs('linux/amd64/v3', 'linux/amd64')).toBe(true);
    expect(runs('linux/amd64/v3', 'linux/386')).toBe(true);
    expect(runs('linux/amd64/v3', 'linux/amd64/v4')).toBe(false);
    expect(runs('linux/amd64', 'linux/amd64/v2')).toBe(false);
  });

  test('arm64 minors: v8.x runs lower v8 minors, v9.x runs lower v9 minors and v8 up to x+5', () => {
    expect(runs('linux/arm64/v8.2', 'linux/arm64/v8.1')).toBe(true);
    expect(runs('linux/arm64/v8.2', 'linux/arm64')).toBe(true);
    expect(runs('linux/arm64/v8.2', 'linux/arm64/v8.3')).toBe(false);
    expect(runs('linux/arm64/v9.2', 'linux/arm64/v9.1')).toBe(true);
    expect(runs('linux/arm64/v9.2', 'linux/arm64/v9')).toBe(true);
    expect(runs('linux/arm64/v9.2', 'linux/arm64/v8.7')).toBe(true);
    expect(runs('linux/arm64/v9.2', 'linux/arm64/v8.8')).toBe(false);
    expect(runs('linux/arm64/v9.6', 'linux/arm64/v8.9')).toBe(true);
    expect(runs('linux/arm64/v9', 'linux/arm/v7')).toBe(true);
  });

  test('an arm64 variant containerd does not know matches nothing, not even itself (as containerd)', () => {
    expect(runs('linux/arm64/v10', 'linux/arm64/v10')).toBe(false);
    expect(runs('linux/arm64/v10', 'linux/arm64')).toBe(false);
  });

  test('absurd variant numbers cost bounded work', () => {
    // A loop over the variant number would run for hours, past the test timeout.
    expect(runs('linux/amd64/v99999999999', 'linux/amd64/v2')).toBe(true);
    expect(runs('linux/arm/v99999999999', 'linux/arm64')).toBe(false);
  });
});

const DIGEST = `sha256:${'a'.repeat(64)}`;

describe('isAttestation', () => {
  test('an unknown/unknown platform or the attestation-manifest annotation marks one', () => {
    expect(isAttestation({ digest: DIGEST, platform: { os: 'unknown', architecture: 'unknown' } })).toBe(true);
    expect(
      isAttestation({
        digest: DIGEST,
        platform: { os: 'linux', architecture: 'amd64' },
        annotations: { 'vnd.docker.reference.type': 'attestation-manifest' },
      }),
    ).toBe(true);
  });

  test('ordinary entries and junk are not attestations', () => {
    expect(isAttestation({ digest: DIGEST, platform: { os: 'linux', architecture: 'amd64' } })).toBe(false);
    expect(isAttestation({ platform: { os: 'unknown', architecture: 'amd64' } })).toBe(false);
    expect(isAttestation({ annotations: { 'vnd.docker.reference.type': 'something-else' } })).toBe(false);
    expect(isAttestation(null)).toBe(false);
    expect(isAttestation('attestation-manifest')).toBe(false);
  });
});

describe('platformsOfIndex', () => {
  test('a Docker manifest list', () => {
    const list = {
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json',
      manifests: [
        {
          mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
          size: 1570,
          digest: DIGEST,
          platform: { architecture: 'amd64', os: 'linux' },
        },
        {
          mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
          size: 1570,
          digest: DIGEST,
          platform: { architecture: 'arm', os: 'linux', variant: 'v6' },
        },
        {
          mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
          size: 1570,
          digest: DIGEST,
          platform: { architecture: 'arm64', os: 'linux', variant: 'v8' },
        },
        {
          mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
          size: 1570,
          digest: DIGEST,
          platform: { architecture: 'amd64', os: 'windows', 'os.version': '10.0.17763.5576' },
        },
      ],
    };
    expect(platformsOfIndex(list)).toStrictEqual([
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm', variant: 'v6' },
      { os: 'linux', architecture: 'arm64' },
      { os: 'windows', architecture: 'amd64' },
    ]);
  });

  test('an OCI index with BuildKit attestations marked both ways', () => {
    const index = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: DIGEST,
          size: 673,
          platform: { architecture: 'amd64', os: 'linux' },
        },
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: DIGEST,
          size: 566,
          annotations: {
            'vnd.docker.reference.digest': DIGEST,
            'vnd.docker.reference.type': 'attestation-manifest',
          },
          platform: { architecture: 'unknown', os: 'unknown' },
        },
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: DIGEST,
          size: 566,
          annotations: { 'vnd.docker.reference.type': 'attestation-manifest' },
          platform: { architecture: 'arm64', os: 'linux' },
        },
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: DIGEST,
          size: 566,
          platform: { architecture: 'unknown', os: 'unknown' },
        },
      ],
    };
    expect(platformsOfIndex(index)).toStrictEqual([{ os: 'linux', architecture: 'amd64' }]);
  });

  test('entries without a usable platform are skipped', () => {
    // (An entry with no platform at all is not skipped: see adversary-registry-plugin.test.ts.)
    const index = {
      manifests: [
        { digest: DIGEST, platform: 'linux/amd64' },
        { digest: DIGEST, platform: { os: 'linux' } },
        { digest: DIGEST, platform: { os: 'linux', architecture: 7 } },
        null,
        'x',
        { digest: DIGEST, platform: { os: 'Linux', architecture: 'aarch64', variant: 42 } },
      ],
    };
    expect(platformsOfIndex(index)).toStrictEqual([{ os: 'linux', architecture: 'arm64' }]);
  });

  test('an index with no manifests provides no platforms (known, not unknown)', () => {
    expect(platformsOfIndex({ manifests: [] })).toStrictEqual([]);
  });

  test.each([null, undefined, 'x', 42, [], {}, { manifests: 'x' }, { manifests: {} }, { config: {}, layers: [] }])(
    '%j is not an index',
    (document) => {
      expect(platformsOfIndex(document)).toBeUndefined();
    },
  );
});

describe('platformOfConfig', () => {
  test('a Docker image config', () => {
    const config = {
      architecture: 'amd64',
      config: { Env: ['PATH=/usr/bin'], Cmd: ['sh'] },
      created: '2024-01-01T00:00:00Z',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [DIGEST] },
    };
    expect(platformOfConfig(config)).toStrictEqual({ os: 'linux', architecture: 'amd64' });
  });

  test('an OCI config with a variant, normalized', () => {
    expect(platformOfConfig({ architecture: 'arm', os: 'linux', variant: 'v6', rootfs: {} })).toStrictEqual({
      os: 'linux',
      architecture: 'arm',
      variant: 'v6',
    });
    expect(platformOfConfig({ architecture: 'aarch64', os: 'linux', variant: 'v8' })).toStrictEqual({
      os: 'linux',
      architecture: 'arm64',
    });
  });

  test.each([null, 'linux/amd64', [], {}, { os: 'linux' }, { architecture: 'amd64' }, { os: 'linux', architecture: 64 }])(
    '%j has no platform',
    (document) => {
      expect(platformOfConfig(document)).toBeUndefined();
    },
  );
});

describe('missingPlatforms', () => {
  const amd64: Platform = { os: 'linux', architecture: 'amd64' };
  const arm64: Platform = { os: 'linux', architecture: 'arm64' };

  test('an amd64-only image misses arm64 nodes', () => {
    expect(missingPlatforms(['linux/amd64', 'linux/arm64'], [amd64])).toStrictEqual(['linux/arm64']);
  });

  test('a multi-platform image misses nothing', () => {
    expect(missingPlatforms(['linux/amd64', 'linux/arm64'], [amd64, arm64])).toStrictEqual([]);
  });

  test('older variants serve newer nodes', () => {
    expect(missingPlatforms(['linux/arm/v7'], [{ os: 'linux', architecture: 'arm', variant: 'v6' }])).toStrictEqual([]);
    expect(missingPlatforms(['linux/arm64'], [{ os: 'linux', architecture: 'arm', variant: 'v7' }])).toStrictEqual([]);
    expect(missingPlatforms(['linux/amd64'], [{ os: 'linux', architecture: '386' }])).toStrictEqual([]);
  });

  test('newer variants do not serve older nodes', () => {
    const v2: Platform = { os: 'linux', architecture: 'amd64', variant: 'v2' };
    expect(missingPlatforms(['linux/amd64', 'linux/amd64/v3'], [v2])).toStrictEqual(['linux/amd64']);
    const v7: Platform = { os: 'linux', architecture: 'arm', variant: 'v7' };
    expect(missingPlatforms(['linux/arm/v6'], [v7])).toStrictEqual(['linux/arm/v6']);
  });

  test('the answer is sorted and without repeats; unparseable requirements are skipped', () => {
    expect(missingPlatforms(['linux/s390x', 'linux/arm64', 'linux/arm64', 'junk', 'linux/amd64'], [amd64])).toStrictEqual([
      'linux/arm64',
      'linux/s390x',
    ]);
  });

  test('with nothing provided, everything required is missing', () => {
    expect(missingPlatforms(['linux/arm64', 'linux/amd64'], [])).toStrictEqual(['linux/amd64', 'linux/arm64']);
    expect(missingPlatforms([], [])).toStrictEqual([]);
  });
});
