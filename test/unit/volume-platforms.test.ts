/**
 * Platform rules for image volumes: a node cannot pull an index that has no entry for it, but pulls
 * a single manifest (image or artifact) whatever its config names, since nothing of a volume runs.
 * Containers keep their rule: the image must run on the node either way.
 */
import { describe, expect, test } from 'vitest';
import type { Workload } from '../../src/kubernetes/workloads.js';
import { MissingPlatforms, platformsToMatch } from '../../src/platform/missing.js';
import { NO_PLACEMENT, type NodeFacts } from '../../src/platform/placement.js';
import type { ProvidedPlatforms } from '../../src/platform/platform.js';

const amd64 = { os: 'linux', architecture: 'amd64' };
const arm64 = { os: 'linux', architecture: 'arm64' };
const index = (...platforms: (typeof amd64)[]): ProvidedPlatforms => ({ from: 'index', platforms });
const single = (platform: typeof amd64): ProvidedPlatforms => ({ from: 'manifest', platforms: [platform] });

function node(name: string, arch: string): NodeFacts {
  return { name, labels: { 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': arch }, taints: [], platform: `linux/${arch}` };
}
const workload: Workload = {
  kind: 'Deployment',
  namespace: 'ml',
  name: 'serve',
  containers: [],
  imagePullSecrets: [],
  serviceAccountName: 'default',
  placement: NO_PLACEMENT,
  placementKey: '',
  active: true,
};
const ARM_CLUSTER = [node('arm-1', 'arm64')];
const MIXED = [node('amd-1', 'amd64'), node('arm-1', 'arm64')];

describe('platformsToMatch', () => {
  test("a container's image must match wherever its platforms were read", () => {
    expect(platformsToMatch(index(amd64), false)).toEqual([amd64]);
    expect(platformsToMatch(single(amd64), false)).toEqual([amd64]);
  });

  test("an image volume must match an index's entries only; a single manifest any node pulls", () => {
    expect(platformsToMatch(index(amd64), true)).toEqual([amd64]);
    expect(platformsToMatch(index(), true)).toEqual([]);
    expect(platformsToMatch(single(amd64), true)).toBe('any');
  });

  test('a single manifest whose config names no platform (an artifact): unknown for a container, any node for a volume', () => {
    const artifact: ProvidedPlatforms = { from: 'manifest', platforms: undefined };
    expect(platformsToMatch(artifact, false)).toBeUndefined();
    expect(platformsToMatch(artifact, true)).toBe('any');
    expect(new MissingPlatforms().ofPulled(workload, false, artifact, ARM_CLUSTER)).toBeUndefined();
    expect(new MissingPlatforms().ofPulled(workload, true, artifact, ARM_CLUSTER)).toEqual([]);
  });
});

describe('MissingPlatforms.ofPulled', () => {
  test('an amd64-only index lacks arm64 for a container and for a volume alike', () => {
    const missing = new MissingPlatforms();
    expect(missing.ofPulled(workload, false, index(amd64), ARM_CLUSTER)).toEqual(['linux/arm64']);
    expect(missing.ofPulled(workload, true, index(amd64), ARM_CLUSTER)).toEqual(['linux/arm64']);
    expect(missing.ofPulled(workload, true, index(amd64), MIXED)).toEqual(['linux/arm64']);
    expect(missing.ofPulled(workload, true, index(amd64, arm64), MIXED)).toEqual([]);
  });

  test('an amd64 single image lacks arm64 as a container, nothing as a volume', () => {
    const missing = new MissingPlatforms();
    expect(missing.ofPulled(workload, false, single(amd64), ARM_CLUSTER)).toEqual(['linux/arm64']);
    expect(missing.ofPulled(workload, true, single(amd64), ARM_CLUSTER)).toEqual([]);
  });

  test('an index listing no platform at all (only attestations, say) is pulled by no node', () => {
    expect(new MissingPlatforms().ofPulled(workload, true, index(), MIXED)).toEqual(['linux/amd64', 'linux/arm64']);
  });
});
