/**
 * Image volumes (spec.volumes[].image, KEP-4639): read from pod templates by toWorkload and from
 * manifests, checked like containers and marked as volumes; their series in families of their own.
 */
import { describe, expect, test } from 'vitest';
import { readManifests } from '../../src/check/manifests.js';
import type { ContainerRow, Snapshot } from '../../src/engine/collector.js';
import { ExporterMetrics } from '../../src/exporter/metrics.js';
import { IGNORE_ANNOTATION } from '../../src/kubernetes/ignore-annotation.js';
import { keepUnchanged, toWorkload } from '../../src/kubernetes/workloads.js';

const PREFIX = 'k8s_image_existence_exporter';

const SPEC = {
  containers: [{ name: 'app', image: 'registry.example.com/app:1' }],
  volumes: [
    { name: 'config', configMap: { name: 'cfg' } },
    { name: 'models', image: { reference: 'registry.example.com/ml/models:3', pullPolicy: 'IfNotPresent' } },
    { name: 'empty', image: {} },
    { name: 'data', emptyDir: {} },
  ],
};

describe('toWorkload', () => {
  test('image volumes join the containers, marked as volumes; other volumes are ignored; a missing reference is an empty image', () => {
    const w = toWorkload('Deployment', { metadata: { namespace: 'ns', name: 'web' } }, SPEC);
    expect(w.containers).toEqual([
      { name: 'app', image: 'registry.example.com/app:1', init: false },
      { name: 'models', image: 'registry.example.com/ml/models:3', init: false, volume: true },
      { name: 'empty', image: '', init: false, volume: true },
    ]);
  });

  test('the opt-out annotation: "true" opts image volumes out too; a list names containers only, so a volume of that name stays checked', () => {
    const all = toWorkload('Deployment', { metadata: { name: 'web', annotations: { [IGNORE_ANNOTATION]: 'true' } } }, SPEC);
    expect(all.containers.every((c) => c.optedOut)).toBe(true);
    const spec = { ...SPEC, containers: [{ name: 'models', image: 'x:1' }] };
    const listed = toWorkload('Deployment', { metadata: { name: 'web', annotations: { [IGNORE_ANNOTATION]: 'models' } } }, spec);
    expect(listed.containers.map((c) => [c.name, c.volume === true, c.optedOut === true])).toEqual([
      ['models', false, true],
      ['models', true, false],
      ['empty', true, false],
    ]);
    // A name only a volume has is not a container's: the annotation's problem says so.
    const volumeName = toWorkload('Deployment', { metadata: { name: 'web', annotations: { [IGNORE_ANNOTATION]: 'empty' } } }, spec);
    expect(volumeName.annotationProblem).toMatch(/names no container "empty"/);
  });

  test('a workload whose image volume changed is not kept as unchanged', () => {
    const before = [toWorkload('Deployment', { metadata: { name: 'web' } }, SPEC)];
    const volumes = [{ name: 'models', image: { reference: 'registry.example.com/ml/models:4' } }];
    const next = [toWorkload('Deployment', { metadata: { name: 'web' } }, { ...SPEC, volumes })];
    expect(keepUnchanged(before, next)[0]).toBe(next[0]);
    const same = [toWorkload('Deployment', { metadata: { name: 'web' } }, SPEC)];
    expect(keepUnchanged(before, same)[0]).toBe(before[0]);
  });
});

describe("check's manifests", () => {
  const manifest = (volumes: string) => `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    spec:
      containers: [{name: app, image: "registry.example.com/app:1"}]
      volumes:
${volumes}`;

  test('image volumes are read with their name and reference only; other volumes and fields are dropped', () => {
    const { workloads } = readManifests([{ name: 'a.yaml', text: manifest(`        - {name: models, image: {reference: "registry.example.com/ml/models:3", pullPolicy: Always}}
        - {name: no-ref, image: {pullPolicy: Always}}
        - {name: odd-ref, image: {reference: 42}}
        - {name: cfg, configMap: {name: x}}
        - {name: not-an-object, image: "registry.example.com/x:1"}
        - "text"`) }]);
    expect(workloads[0]?.containers).toEqual([
      { name: 'app', image: 'registry.example.com/app:1', init: false },
      { name: 'models', image: 'registry.example.com/ml/models:3', init: false, volume: true },
      { name: 'no-ref', image: '', init: false, volume: true },
      { name: 'odd-ref', image: '', init: false, volume: true },
    ]);
  });

  test('volumes that are not a list are none', () => {
    for (const volumes of ['        {name: models}', '        "x"', '        42']) {
      expect(readManifests([{ name: 'a.yaml', text: manifest(volumes) }]).workloads[0]?.containers.map((c) => c.name)).toEqual(['app']);
    }
  });

  test('10,000 image volumes are read, as 10,000 containers are: the bound is the input size, not a count', () => {
    const many = (n: number, make: (i: number) => string) => Array.from({ length: n }, (_, i) => make(i)).join('\n');
    const volumes = readManifests([{ name: 'a.yaml', text: manifest(many(10_000, (i) => `        - {name: v${i}, image: {reference: "registry.example.com/v:${i}"}}`)) }]);
    expect(volumes.workloads[0]?.containers.filter((c) => c.volume)).toHaveLength(10_000);
    const containers = readManifests([{ name: 'b.yaml', text: `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      containers:
${many(10_000, (i) => `        - {name: c${i}, image: "registry.example.com/c:${i}"}`)}` }]);
    expect(containers.workloads[0]?.containers).toHaveLength(10_000);
  });
});

describe('series', () => {
  const workload = toWorkload('Deployment', { metadata: { namespace: 'ns', name: 'web' } }, { containers: [{ name: 'models', image: 'app:1' }], volumes: [{ name: 'models', image: { reference: 'models:3' } }] });
  const row = (i: number, status: 'present' | 'absent'): ContainerRow => ({
    workload,
    container: workload.containers[i]!,
    status,
    detail: undefined,
    checkedAt: undefined,
    exists: status === 'present' ? 1 : 0,
    missingPlatforms: status === 'present' ? ['linux/s390x'] : undefined,
  });
  const snapshot = (rows: ContainerRow[]): Snapshot => ({ rows, lists: [], pending: 0, collectionSeconds: 0 });
  const lines = (body: string, name: string) => body.split('\n').filter((l) => l.startsWith(`${PREFIX}_${name}{`));

  test('an image volume has series of its own families, none in the container families', async () => {
    const body = Buffer.concat(await new ExporterMetrics().render(snapshot([row(0, 'present'), row(1, 'absent')]))).toString('utf8');
    expect(lines(body, 'image_volume_exists')).toEqual([`${PREFIX}_image_volume_exists{namespace="ns",owner_kind="Deployment",owner_name="web",volume="models",image="models:3"} 0`]);
    expect(lines(body, 'image_volume_check_status')).toEqual([
      `${PREFIX}_image_volume_check_status{namespace="ns",owner_kind="Deployment",owner_name="web",volume="models",image="models:3",status="absent"} 1`,
    ]);
    expect(lines(body, 'deployment_image_exists')).toEqual([`${PREFIX}_deployment_image_exists{namespace="ns",owner_name="web",container="models",image="app:1"} 1`]);
    expect(lines(body, 'image_check_status')).toEqual([
      `${PREFIX}_image_check_status{namespace="ns",owner_kind="Deployment",owner_name="web",container="models",image="app:1",status="present"} 1`,
    ]);
    expect(body).toContain(`# TYPE ${PREFIX}_image_volume_exists gauge`);
    expect(body).toContain(`# TYPE ${PREFIX}_image_volume_check_status gauge`);
  });
});
