import { describe, expect, test } from 'vitest';
import type { ContainerRow, Snapshot } from '../../src/engine/collector.js';
import type { Workload } from '../../src/kubernetes/workloads.js';
import { Gauge, Registry } from 'prom-client';
import { BUILTIN_KINDS } from '../../src/kubernetes/workloads.js';
import { ExporterMetrics, existsMetric } from '../../src/exporter/metrics.js';
import { NO_PLACEMENT } from '../../src/platform/placement.js';

const PREFIX = 'k8s_image_existence_exporter';

function workload(name: string, image: string): Workload {
  return { kind: 'Deployment', namespace: 'a', name, containers: [{ name: 'c', image, init: false }], imagePullSecrets: [], serviceAccountName: 'default', placement: NO_PLACEMENT, placementKey: '', active: true };
}
function rowsOf(workloads: Workload[], status: ContainerRow['status'] = 'present'): ContainerRow[] {
  return workloads.map((w) => ({ workload: w, container: w.containers[0]!, status, detail: undefined, checkedAt: undefined, exists: status === 'present' ? 1 : status === 'absent' ? 0 : undefined, missingPlatforms: undefined }));
}
function snapshot(rows: ContainerRow[], pending = 0): Snapshot {
  return { rows, lists: [{ kind: 'Deployment', up: true, ageSeconds: 1 }], pending, collectionSeconds: 0.5 };
}
const text = (chunks: readonly Buffer[]) => Buffer.concat(chunks).toString('utf8');
const lines = (body: string, name: string) => body.split('\n').filter((l) => l.startsWith(`${PREFIX}_${name}{`));

describe('rendering an answer', () => {
  test('label values are escaped as the exposition format wants', async () => {
    const odd = workload('odd', 'x');
    const weird: Workload = { ...odd, containers: [{ name: 'c', image: 'reg.example/a"b\\c\nd:1', init: false }] };
    const body = text(await new ExporterMetrics().render(snapshot(rowsOf([weird], 'bad_reference'))));
    expect(lines(body, 'image_check_status')).toEqual([
      `${PREFIX}_image_check_status{namespace="a",owner_kind="Deployment",owner_name="odd",container="c",image="reg.example/a\\"b\\\\c\\nd:1",status="bad_reference"} 1`,
    ]);
    expect(lines(body, 'deployment_image_exists')).toEqual([]);
  });

  test('the per-container text is reused while its rows are the same, and made anew when one changes', async () => {
    const metrics = new ExporterMetrics();
    const workloads = [workload('web', 'app:1'), workload('api', 'app:2')];
    const first = await metrics.render(snapshot(rowsOf(workloads)));
    // Same containers, statuses and values, other small gauges: the same bytes, not a copy.
    const again = await metrics.render(snapshot(rowsOf(workloads), 3));
    expect(again[0]).toBe(first[0]);
    expect(text(again)).toContain(`${PREFIX}_checks_pending 3`);

    const absent = rowsOf(workloads);
    absent[1] = { ...absent[1]!, status: 'absent', exists: 0 };
    const changed = text(await metrics.render(snapshot(absent)));
    expect(lines(changed, 'deployment_image_exists')).toEqual([
      `${PREFIX}_deployment_image_exists{namespace="a",owner_name="web",container="c",image="app:1"} 1`,
      `${PREFIX}_deployment_image_exists{namespace="a",owner_name="api",container="c",image="app:2"} 0`,
    ]);
    expect(lines(changed, 'image_check_status').map((l) => /status="(\w+)"/.exec(l)?.[1])).toEqual(['present', 'absent']);

    // A changed workload is a new object: its series are made from it, not from the old one.
    const renamed = [workload('web', 'app:1'), workload('api', 'app:3')];
    const body = text(await metrics.render(snapshot(rowsOf([workloads[0]!, renamed[1]!]))));
    expect(lines(body, 'deployment_image_exists')[1]).toBe(`${PREFIX}_deployment_image_exists{namespace="a",owner_name="api",container="c",image="app:3"} 1`);
  });

  test('the per-container text, written in slices, is what prom-client writes for the same series', async () => {
    // Kinds built in and custom, a custom kind with nothing proven, statuses with and without a
    // verdict, missing platforms, containers skipped on purpose, label values to escape; more rows
    // than one slice holds.
    const kinds = ['Deployment', 'Rollout', 'CronJob'];
    const statuses = ['present', 'absent', 'auth_failure', undefined] as const;
    const rows: ContainerRow[] = Array.from({ length: 2_500 }, (_, i) => {
      const w = workload(i % 11 === 0 ? `o"d\\d\n${i}` : `w${i}`, `reg.example/app:${i}`);
      const skipped = i % 13 === 5 ? 'annotation' : i % 13 === 6 ? 'ignored-images' : undefined;
      const status = skipped ? undefined : statuses[i % 4];
      return {
        workload: { ...w, kind: kinds[i % 3]! },
        // Some are image volumes: their series are in the volume families only.
        container: i % 17 === 3 ? { ...w.containers[0]!, volume: true } : w.containers[0]!,
        status,
        detail: undefined,
        checkedAt: undefined,
        exists: status === 'present' ? 1 : status === 'absent' ? 0 : undefined,
        missingPlatforms: skipped ? undefined : i % 7 === 0 ? ['linux/arm64', 'linux/s390x'] : i % 2 === 0 ? [] : undefined,
        ...(skipped ? { skipped } : {}),
      } as ContainerRow;
    });
    const unproven = rows[1]!;
    rows.push({ ...unproven, workload: { ...unproven.workload, kind: 'NothingProven' }, status: undefined, exists: undefined });

    const expected = new Registry();
    const registers = [expected];
    const exists = new Map<string, Gauge>();
    for (const kind of [...BUILTIN_KINDS, ...kinds, 'NothingProven']) {
      if (exists.has(kind)) continue;
      const help = `1 if the registry serves the image of a ${kind}'s container, 0 if the registry says it does not exist. No series while that is unknown.`;
      exists.set(kind, new Gauge({ name: existsMetric(kind), help, labelNames: ['namespace', 'owner_name', 'container', 'image'], registers }));
    }
    const status = new Gauge({
      name: `${PREFIX}_image_check_status`,
      help: 'Latest status of the check of a container image; 1 for the current status. See the README for the statuses.',
      labelNames: ['namespace', 'owner_kind', 'owner_name', 'container', 'image', 'status'],
      registers,
    });
    const platform = new Gauge({
      name: `${PREFIX}_image_platform_missing`,
      help: 'The image exists but provides nothing that nodes of this platform, where the workload may run, can pull; 1 per such platform. No series when nothing is missing or it is not known.',
      labelNames: ['namespace', 'owner_kind', 'owner_name', 'container', 'image', 'platform'],
      registers,
    });
    const skippedGauge = new Gauge({
      name: `${PREFIX}_image_skipped`,
      help: 'A container whose image is not checked on purpose: reason "ignored_images" (the image matches --ignored-images) or "annotation" (its workload opts it out with k8s-image-existence-exporter/ignore). 1 per such container.',
      labelNames: ['namespace', 'owner_kind', 'owner_name', 'container', 'image', 'reason'],
      registers,
    });
    const volumeExists = new Gauge({
      name: `${PREFIX}_image_volume_exists`,
      help: "1 if the registry serves the image or artifact of a workload's image volume (spec.volumes[].image), 0 if the registry says it does not exist. No series while that is unknown.",
      labelNames: ['namespace', 'owner_kind', 'owner_name', 'volume', 'image'],
      registers,
    });
    const volumeStatus = new Gauge({
      name: `${PREFIX}_image_volume_check_status`,
      help: 'Latest status of the check of an image volume; 1 for the current status. The statuses are those of image_check_status.',
      labelNames: ['namespace', 'owner_kind', 'owner_name', 'volume', 'image', 'status'],
      registers,
    });
    const volumePlatform = new Gauge({
      name: `${PREFIX}_image_volume_platform_missing`,
      help: "The image volume's index exists but lists nothing that nodes of this platform, where the workload may run, can pull (a single manifest is pulled on any node); 1 per such platform. No series when nothing is missing or it is not known.",
      labelNames: ['namespace', 'owner_kind', 'owner_name', 'volume', 'image', 'platform'],
      registers,
    });
    const volumeSkipped = new Gauge({
      name: `${PREFIX}_image_volume_skipped`,
      help: 'An image volume not checked on purpose: reason "ignored_images" (its image matches --ignored-images) or "annotation" (its workload opts out with k8s-image-existence-exporter/ignore: "true"). 1 per such volume.',
      labelNames: ['namespace', 'owner_kind', 'owner_name', 'volume', 'image', 'reason'],
      registers,
    });
    for (const { workload: w, container: c, status: s, exists: e, missingPlatforms, skipped } of rows) {
      if (c.volume) {
        const volume = { namespace: w.namespace, owner_kind: w.kind, owner_name: w.name, volume: c.name, image: c.image };
        if (e !== undefined) volumeExists.set(volume, e);
        if (s !== undefined) volumeStatus.set({ ...volume, status: s }, 1);
        for (const p of missingPlatforms ?? []) volumePlatform.set({ ...volume, platform: p }, 1);
        if (skipped) volumeSkipped.set({ ...volume, reason: skipped === 'annotation' ? 'annotation' : 'ignored_images' }, 1);
        continue;
      }
      const owner = { namespace: w.namespace, owner_kind: w.kind, owner_name: w.name, container: c.name, image: c.image };
      if (e !== undefined) exists.get(w.kind)!.set({ namespace: w.namespace, owner_name: w.name, container: c.name, image: c.image }, e);
      if (s !== undefined) status.set({ ...owner, status: s }, 1);
      for (const p of missingPlatforms ?? []) platform.set({ ...owner, platform: p }, 1);
      if (skipped) skippedGauge.set({ ...owner, reason: skipped === 'annotation' ? 'annotation' : 'ignored_images' }, 1);
    }
    expect(rows.filter((row) => row.skipped === 'ignored-images').length).toBeGreaterThan(100);
    expect(rows.filter((row) => row.container.volume && row.exists !== undefined).length).toBeGreaterThan(50);
    expect(rows.filter((row) => row.container.volume && row.skipped !== undefined).length).toBeGreaterThan(10);
    expect(rows.filter((row) => row.container.volume && row.missingPlatforms?.length).length).toBeGreaterThan(10);

    const body = text(await new ExporterMetrics().render(snapshot(rows)));
    const containers = body.slice(0, body.indexOf(`# HELP ${PREFIX}_workload_list_up`));
    expect(containers).toBe(await expected.metrics());
  });
});
