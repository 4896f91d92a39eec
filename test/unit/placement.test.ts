/**
 * Where a pod template may be scheduled, as the scheduler's NodeAffinity and TaintToleration filters
 * decide, and which node platforms that makes its images need.
 */
import { describe, expect, test } from 'vitest';
import {
  mayRunOn,
  nodeFactsOf,
  NO_PLACEMENT,
  placementKey,
  placementOf,
  requiredPlatforms,
  type NodeFacts,
  type Taint,
} from '../../src/platform/placement.js';

/** A node with the well-known os/arch labels, as the kubelet sets them. */
function node(name: string, arch: string, extra: { labels?: Record<string, string>; taints?: Taint[] } = {}): NodeFacts {
  return {
    name,
    labels: { 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': arch, 'kubernetes.io/hostname': name, ...extra.labels },
    taints: extra.taints ?? [],
    platform: `linux/${arch}`,
  };
}

const ARM64_TAINT: Taint = { key: 'kubernetes.io/arch', value: 'arm64', effect: 'NoSchedule' };

const amd1 = node('amd-1', 'amd64', { labels: { 'cloud.google.com/gke-nodepool': 'default', cores: '8' } });
const amd2 = node('amd-2', 'amd64', { labels: { 'cloud.google.com/gke-nodepool': 'default', cores: '32' } });
const arm1 = node('arm-1', 'arm64', { labels: { 'cloud.google.com/gke-nodepool': 'arm', cores: '16', gpu: 'none' } });
const CLUSTER = [amd1, amd2, arm1];

/** The names of the nodes a pod spec may run on. */
function namesFor(podSpec: unknown, nodes: readonly NodeFacts[] = CLUSTER): string[] {
  const placement = placementOf(podSpec);
  return nodes.filter((n) => mayRunOn(placement, n)).map((n) => n.name);
}

/** A pod spec with one required node affinity term per argument. */
function affinity(...terms: unknown[]): unknown {
  return { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } } } };
}

const expr = (key: string, operator: string, values?: string[]) =>
  values === undefined ? { key, operator } : { key, operator, values };

describe('nodeSelector', () => {
  test('no constraints: every untainted node', () => {
    expect(namesFor({ containers: [{ name: 'app', image: 'nginx' }] })).toStrictEqual(['amd-1', 'amd-2', 'arm-1']);
    expect(requiredPlatforms(NO_PLACEMENT, CLUSTER)).toStrictEqual(['linux/amd64', 'linux/arm64']);
  });

  test('kubernetes.io/arch: amd64 keeps only amd64 nodes', () => {
    const placement = placementOf({ nodeSelector: { 'kubernetes.io/arch': 'amd64' } });
    expect(requiredPlatforms(placement, CLUSTER)).toStrictEqual(['linux/amd64']);
  });

  test('every entry must equal a label the node has', () => {
    expect(namesFor({ nodeSelector: { 'kubernetes.io/arch': 'amd64', cores: '32' } })).toStrictEqual(['amd-2']);
    expect(namesFor({ nodeSelector: { missing: '' } })).toStrictEqual([]);
  });

  test('label names that are Object.prototype members are not labels every node has', () => {
    expect(namesFor({ nodeSelector: { constructor: 'x' } })).toStrictEqual([]);
    expect(namesFor(affinity({ matchExpressions: [expr('toString', 'Exists')] }))).toStrictEqual([]);
    expect(namesFor(affinity({ matchExpressions: [expr('__proto__', 'DoesNotExist')] }))).toStrictEqual(['amd-1', 'amd-2', 'arm-1']);
  });
});

describe('required node affinity', () => {
  test('NotIn [arm64] keeps the other nodes', () => {
    expect(namesFor(affinity({ matchExpressions: [expr('kubernetes.io/arch', 'NotIn', ['arm64'])] }))).toStrictEqual([
      'amd-1',
      'amd-2',
    ]);
  });

  test('In with two values', () => {
    const spec = affinity({ matchExpressions: [expr('kubernetes.io/hostname', 'In', ['amd-1', 'arm-1'])] });
    expect(namesFor(spec)).toStrictEqual(['amd-1', 'arm-1']);
    expect(requiredPlatforms(placementOf(spec), CLUSTER)).toStrictEqual(['linux/amd64', 'linux/arm64']);
  });

  test('Exists and DoesNotExist', () => {
    expect(namesFor(affinity({ matchExpressions: [expr('gpu', 'Exists')] }))).toStrictEqual(['arm-1']);
    expect(namesFor(affinity({ matchExpressions: [expr('gpu', 'DoesNotExist')] }))).toStrictEqual(['amd-1', 'amd-2']);
  });

  test('NotIn matches where the label is absent', () => {
    expect(namesFor(affinity({ matchExpressions: [expr('gpu', 'NotIn', ['none'])] }))).toStrictEqual(['amd-1', 'amd-2']);
  });

  test('Gt and Lt compare integers; a non-integer never matches', () => {
    expect(namesFor(affinity({ matchExpressions: [expr('cores', 'Gt', ['8'])] }))).toStrictEqual(['amd-2', 'arm-1']);
    expect(namesFor(affinity({ matchExpressions: [expr('cores', 'Lt', ['16'])] }))).toStrictEqual(['amd-1']);
    // Integers, not strings: '8' < '16' as numbers, though not as text.
    expect(namesFor(affinity({ matchExpressions: [expr('cores', 'Gt', ['9'])] }))).toStrictEqual(['amd-2', 'arm-1']);
    expect(namesFor(affinity({ matchExpressions: [expr('cores', 'Gt', ['-1'])] }))).toStrictEqual(['amd-1', 'amd-2', 'arm-1']);
    expect(namesFor(affinity({ matchExpressions: [expr('cores', 'Gt', ['eight'])] }))).toStrictEqual([]);
    expect(namesFor(affinity({ matchExpressions: [expr('gpu', 'Lt', ['100'])] }))).toStrictEqual([]);
    expect(namesFor(affinity({ matchExpressions: [expr('missing', 'Lt', ['100'])] }))).toStrictEqual([]);
  });

  test("Gt and Lt read values as Go's strconv.ParseInt(v, 10, 64): sign, leading zeros, int64 bounds", () => {
    expect(namesFor(affinity({ matchExpressions: [expr('cores', 'Gt', ['+0008'])] }))).toStrictEqual(['amd-2', 'arm-1']);
    expect(namesFor(affinity({ matchExpressions: [expr('cores', 'Lt', ['9223372036854775807'])] }))).toStrictEqual(['amd-1', 'amd-2', 'arm-1']);
    expect(namesFor(affinity({ matchExpressions: [expr('cores', 'Lt', ['9223372036854775808'])] }))).toStrictEqual([]);
    expect(namesFor(affinity({ matchExpressions: [expr('cores', 'Gt', ['-9223372036854775809'])] }))).toStrictEqual([]);
    // Out of range however long: a manifest's million digits are refused without being converted.
    const started = performance.now();
    expect(namesFor(affinity({ matchExpressions: [expr('cores', 'Lt', ['9'.repeat(1_000_000)])] }))).toStrictEqual([]);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  test('value counts the API server rejects never match', () => {
    expect(namesFor(affinity({ matchExpressions: [expr('gpu', 'In', [])] }))).toStrictEqual([]);
    expect(namesFor(affinity({ matchExpressions: [expr('gpu', 'NotIn', [])] }))).toStrictEqual([]);
    expect(namesFor(affinity({ matchExpressions: [expr('gpu', 'Exists', ['none'])] }))).toStrictEqual([]);
    expect(namesFor(affinity({ matchExpressions: [expr('cores', 'Gt', ['1', '2'])] }))).toStrictEqual([]);
  });

  test('an unknown operator makes the term fail', () => {
    expect(namesFor(affinity({ matchExpressions: [expr('gpu', 'Matches', ['none'])] }))).toStrictEqual([]);
  });

  test('matchFields on metadata.name with In and NotIn', () => {
    expect(namesFor(affinity({ matchFields: [expr('metadata.name', 'In', ['amd-2'])] }))).toStrictEqual(['amd-2']);
    expect(namesFor(affinity({ matchFields: [expr('metadata.name', 'NotIn', ['amd-2'])] }))).toStrictEqual(['amd-1', 'arm-1']);
    expect(namesFor(affinity({ matchFields: [expr('metadata.uid', 'In', ['amd-2'])] }))).toStrictEqual([]);
    expect(namesFor(affinity({ matchFields: [expr('metadata.name', 'Exists')] }))).toStrictEqual([]);
  });

  test('matchExpressions and matchFields of one term must all hold', () => {
    const term = {
      matchExpressions: [expr('kubernetes.io/arch', 'In', ['amd64'])],
      matchFields: [expr('metadata.name', 'NotIn', ['amd-1'])],
    };
    expect(namesFor(affinity(term))).toStrictEqual(['amd-2']);
  });

  test('terms are ORed', () => {
    const spec = affinity(
      { matchFields: [expr('metadata.name', 'In', ['amd-1'])] },
      { matchExpressions: [expr('kubernetes.io/arch', 'In', ['arm64'])] },
    );
    expect(namesFor(spec)).toStrictEqual(['amd-1', 'arm-1']);
  });

  test('an empty term matches nothing, but does not stop another term matching', () => {
    expect(namesFor(affinity({}))).toStrictEqual([]);
    expect(namesFor(affinity({ matchExpressions: [], matchFields: [] }))).toStrictEqual([]);
    expect(namesFor(affinity({}, { matchExpressions: [expr('gpu', 'Exists')] }))).toStrictEqual(['arm-1']);
  });

  test('required affinity without terms matches nothing', () => {
    expect(namesFor(affinity())).toStrictEqual([]);
    const noTerms = { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: {} } } };
    expect(namesFor(noTerms)).toStrictEqual([]);
  });

  test('only preferred affinity constrains nothing', () => {
    const preferred = {
      affinity: {
        nodeAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [
            { weight: 1, preference: { matchExpressions: [expr('gpu', 'Exists')] } },
          ],
        },
      },
    };
    expect(placementOf(preferred).requiredTerms).toBeUndefined();
    expect(namesFor(preferred)).toStrictEqual(['amd-1', 'amd-2', 'arm-1']);
  });

  test('nodeSelector and affinity must both hold', () => {
    const spec = {
      nodeSelector: { 'cloud.google.com/gke-nodepool': 'default' },
      ...(affinity({ matchExpressions: [expr('cores', 'Gt', ['10'])] }) as object),
    };
    expect(namesFor(spec)).toStrictEqual(['amd-2']);
  });
});

describe('taints and tolerations', () => {
  const taintedArm = node('arm-pool', 'arm64', { taints: [ARM64_TAINT] });
  const nodes = [amd1, taintedArm];

  test('a tainted arm64 pool (as GKE taints it) is excluded unless tolerated', () => {
    expect(namesFor({}, nodes)).toStrictEqual(['amd-1']);
    expect(requiredPlatforms(NO_PLACEMENT, nodes)).toStrictEqual(['linux/amd64']);
  });

  test('an Equal toleration with the right value', () => {
    const equal = { key: 'kubernetes.io/arch', operator: 'Equal', value: 'arm64', effect: 'NoSchedule' };
    expect(namesFor({ tolerations: [equal] }, nodes)).toStrictEqual(['amd-1', 'arm-pool']);
    expect(namesFor({ tolerations: [{ ...equal, value: 'amd64' }] }, nodes)).toStrictEqual(['amd-1']);
    expect(namesFor({ tolerations: [{ ...equal, key: 'arch' }] }, nodes)).toStrictEqual(['amd-1']);
  });

  test('the operator defaults to Equal', () => {
    expect(namesFor({ tolerations: [{ key: 'kubernetes.io/arch', value: 'arm64' }] }, nodes)).toStrictEqual(['amd-1', 'arm-pool']);
    expect(namesFor({ tolerations: [{ key: 'kubernetes.io/arch' }] }, nodes)).toStrictEqual(['amd-1']);
  });

  test('Exists with a key tolerates any value of it; Exists without a key tolerates everything', () => {
    expect(namesFor({ tolerations: [{ key: 'kubernetes.io/arch', operator: 'Exists' }] }, nodes)).toStrictEqual([
      'amd-1',
      'arm-pool',
    ]);
    expect(namesFor({ tolerations: [{ key: 'other', operator: 'Exists' }] }, nodes)).toStrictEqual(['amd-1']);
    expect(namesFor({ tolerations: [{ operator: 'Exists' }] }, nodes)).toStrictEqual(['amd-1', 'arm-pool']);
  });

  test('an effect-specific toleration tolerates only that effect', () => {
    const noExecute = { key: 'kubernetes.io/arch', operator: 'Exists', effect: 'NoExecute' };
    expect(namesFor({ tolerations: [noExecute] }, nodes)).toStrictEqual(['amd-1']);
    const evicting = node('arm-evict', 'arm64', { taints: [{ ...ARM64_TAINT, effect: 'NoExecute' }] });
    expect(namesFor({ tolerations: [noExecute] }, [evicting])).toStrictEqual(['arm-evict']);
    expect(namesFor({}, [evicting])).toStrictEqual([]);
  });

  test('an unknown toleration operator tolerates nothing', () => {
    expect(namesFor({ tolerations: [{ key: 'kubernetes.io/arch', operator: 'Like' }] }, nodes)).toStrictEqual(['amd-1']);
  });

  test('every repelling taint must be tolerated', () => {
    const twice = node('twice', 'arm64', { taints: [ARM64_TAINT, { key: 'dedicated', value: 'ml', effect: 'NoSchedule' }] });
    const archOnly = { key: 'kubernetes.io/arch', operator: 'Exists' };
    expect(namesFor({ tolerations: [archOnly] }, [twice])).toStrictEqual([]);
    expect(namesFor({ tolerations: [archOnly, { key: 'dedicated', value: 'ml' }] }, [twice])).toStrictEqual(['twice']);
  });

  test('node condition taints (node.kubernetes.io/…) are ignored', () => {
    const notReady = node('not-ready', 'amd64', {
      taints: [
        { key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' },
        { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' },
        { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' },
      ],
    });
    expect(namesFor({}, [notReady])).toStrictEqual(['not-ready']);
  });

  test('PreferNoSchedule is ignored', () => {
    const preferred = node('preferred', 'arm64', { taints: [{ ...ARM64_TAINT, effect: 'PreferNoSchedule' }] });
    expect(namesFor({}, [preferred])).toStrictEqual(['preferred']);
  });
});

describe('placementKey', () => {
  test("'' for no constraints", () => {
    expect(placementKey(NO_PLACEMENT)).toBe('');
    expect(placementKey(placementOf({}))).toBe('');
    expect(placementKey(placementOf({ nodeSelector: {}, tolerations: [] }))).toBe('');
  });

  test('equal for equal placements written in different key orders', () => {
    const a = placementOf({
      nodeSelector: { 'kubernetes.io/os': 'linux', pool: 'default' },
      tolerations: [{ key: 'k', operator: 'Equal', value: 'v', effect: 'NoSchedule' }],
      ...(affinity({ matchExpressions: [expr('gpu', 'Exists')] }) as object),
    });
    const b = placementOf({
      ...(affinity({ matchExpressions: [{ operator: 'Exists', key: 'gpu' }] }) as object),
      tolerations: [{ effect: 'NoSchedule', value: 'v', operator: 'Equal', key: 'k' }],
      nodeSelector: { pool: 'default', 'kubernetes.io/os': 'linux' },
    });
    expect(placementKey(a)).not.toBe('');
    expect(placementKey(a)).toBe(placementKey(b));
  });

  test('different for different placements', () => {
    const keys = [
      placementOf({ nodeSelector: { pool: 'default' } }),
      placementOf({ nodeSelector: { pool: 'other' } }),
      placementOf({ tolerations: [{ operator: 'Exists' }] }),
      placementOf({ tolerations: [{ key: '', operator: 'Exists' }] }),
      placementOf(affinity()),
      placementOf(affinity({})),
      placementOf(affinity({ matchExpressions: [expr('gpu', 'Exists')] })),
      placementOf(affinity({ matchFields: [expr('gpu', 'Exists')] })),
    ].map(placementKey);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys).not.toContain('');
  });
});

describe('placementOf on junk', () => {
  test.each([
    null,
    undefined,
    42,
    'spec',
    [],
    { nodeSelector: { a: 1, b: null, c: 'ok' } },
    { nodeSelector: 'x' },
    { tolerations: 'x' },
    { tolerations: [null, 1, 'x', { key: 5, operator: 'Exists' }] },
    { affinity: 'x' },
    { affinity: { nodeAffinity: null } },
    { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: 'x' } } },
    affinity('term', 7, null),
    affinity({ matchExpressions: 'x', matchFields: [null, { key: 1 }, { key: 'a', operator: 'In', values: 'x' }] }),
    affinity({ matchExpressions: [{ key: 'a', operator: 'In', values: [1, 'b', null] }] }),
  ])('%j', (spec) => {
    const placement = placementOf(spec);
    // Whatever came in, what comes out is well formed and usable.
    expect(() => placementKey(placement)).not.toThrow();
    expect(() => requiredPlatforms(placement, CLUSTER)).not.toThrow();
    expect(Object.values(placement.nodeSelector).every((v) => typeof v === 'string')).toBe(true);
    expect(placement.tolerations.every((t) => Object.values(t).every((v) => typeof v === 'string'))).toBe(true);
    for (const term of placement.requiredTerms ?? []) {
      for (const r of [...term.matchExpressions, ...term.matchFields]) {
        expect([typeof r.key, typeof r.operator, r.values.every((v) => typeof v === 'string')]).toStrictEqual([
          'string',
          'string',
          true,
        ]);
      }
    }
  });

  test('keeps the string parts of malformed input', () => {
    expect(placementOf({ nodeSelector: { a: 1, c: 'ok' } }).nodeSelector).toStrictEqual({ c: 'ok' });
    expect(placementOf({ tolerations: [null, { key: 5, operator: 'Exists', tolerationSeconds: 30 }] }).tolerations).toStrictEqual([
      { operator: 'Exists' },
    ]);
    const terms = placementOf(affinity('term', { matchExpressions: [{ key: 'a', operator: 'In', values: [1, 'b'] }] })).requiredTerms;
    expect(terms).toStrictEqual([{ matchExpressions: [{ key: 'a', operator: 'In', values: ['b'] }], matchFields: [] }]);
  });

  test('a junk spec places anywhere untainted', () => {
    expect(placementOf(null)).toStrictEqual(NO_PLACEMENT);
    expect(namesFor(42)).toStrictEqual(['amd-1', 'amd-2', 'arm-1']);
  });
});

describe('nodeFactsOf', () => {
  test('from a full Node object: platform from status.nodeInfo', () => {
    const facts = nodeFactsOf({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: 'gke-arm-1',
        labels: { 'kubernetes.io/arch': 'arm64', 'kubernetes.io/os': 'linux', weird: 3 },
      },
      spec: {
        taints: [
          { key: 'kubernetes.io/arch', value: 'arm64', effect: 'NoSchedule' },
          { key: 'dedicated', effect: 'NoExecute', timeAdded: '2024-01-01T00:00:00Z' },
          { key: 'no-effect' },
          'junk',
        ],
      },
      status: { nodeInfo: { operatingSystem: 'linux', architecture: 'arm64', kubeletVersion: 'v1.30.1' } },
    });
    expect(facts).toStrictEqual({
      name: 'gke-arm-1',
      labels: { 'kubernetes.io/arch': 'arm64', 'kubernetes.io/os': 'linux' },
      taints: [
        { key: 'kubernetes.io/arch', value: 'arm64', effect: 'NoSchedule' },
        { key: 'dedicated', effect: 'NoExecute' },
      ],
      platform: 'linux/arm64',
    });
  });

  test('nodeInfo wins over labels', () => {
    const facts = nodeFactsOf({
      metadata: { name: 'n', labels: { 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'arm64' } },
      status: { nodeInfo: { operatingSystem: 'linux', architecture: 'amd64' } },
    });
    expect(facts?.platform).toBe('linux/amd64');
  });

  test('from labels only, then from beta labels', () => {
    const labelled = nodeFactsOf({ metadata: { name: 'n', labels: { 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'arm' } } });
    expect(labelled?.platform).toBe('linux/arm/v7');
    const beta = nodeFactsOf({
      metadata: { name: 'n', labels: { 'beta.kubernetes.io/os': 'windows', 'beta.kubernetes.io/arch': 'amd64' } },
      status: { nodeInfo: { operatingSystem: 'windows' } },
    });
    expect(beta?.platform).toBe('windows/amd64');
  });

  test('architecture aliases are normalized', () => {
    const x86 = nodeFactsOf({ metadata: { name: 'a' }, status: { nodeInfo: { operatingSystem: 'Linux', architecture: 'x86_64' } } });
    expect(x86?.platform).toBe('linux/amd64');
    const aarch64 = nodeFactsOf({ metadata: { name: 'b', labels: { 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'aarch64' } } });
    expect(aarch64?.platform).toBe('linux/arm64');
  });

  test('a node that does not say its platform has none', () => {
    const facts = nodeFactsOf({ metadata: { name: 'quiet', labels: { 'kubernetes.io/arch': 'amd64' } }, status: { nodeInfo: {} } });
    expect(facts).toStrictEqual({ name: 'quiet', labels: { 'kubernetes.io/arch': 'amd64' }, taints: [], platform: undefined });
  });

  test.each([null, 'node', {}, { metadata: {} }, { metadata: { name: '' } }, { metadata: { name: 7 } }, { metadata: 'x' }])(
    '%j is no node',
    (object) => {
      expect(nodeFactsOf(object)).toBeUndefined();
    },
  );
});

describe('requiredPlatforms', () => {
  test('sorted and unique, skipping nodes that do not say their platform', () => {
    const nodes: NodeFacts[] = [
      node('z', 'arm64'),
      node('y', 'amd64'),
      node('x', 'arm64'),
      { name: 'quiet', labels: {}, taints: [], platform: undefined },
      { name: 'pi', labels: {}, taints: [], platform: 'linux/arm/v7' },
      node('w', 'amd64'),
    ];
    expect(requiredPlatforms(NO_PLACEMENT, nodes)).toStrictEqual(['linux/amd64', 'linux/arm/v7', 'linux/arm64']);
  });

  test('nothing when no node may run the pod', () => {
    expect(requiredPlatforms(placementOf({ nodeSelector: { pool: 'none' } }), CLUSTER)).toStrictEqual([]);
    expect(requiredPlatforms(NO_PLACEMENT, [])).toStrictEqual([]);
  });
});
