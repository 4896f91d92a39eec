/**
 * The core exporter end to end: the real exporter, the real @kubernetes/client-node against the
 * loopback API server, and a real distribution registry with real images pushed into it. A
 * recording proxy in front of the registry counts the requests that reach it.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { startKubeApi, type KubeApi } from '../support/kube-api.js';
import { cronJob, daemonSet, deployment, statefulSet } from '../support/objects.js';
import { PREFIX, startExporter, type RunningExporter } from '../support/exporter.js';
import { startRecordingProxy, type RecordingProxy } from '../support/proxy.js';
import { deleteManifest, pushImage, pushManifestByDigestOnly, type PushedImage } from '../support/push.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';

const DEPLOYMENT = `${PREFIX}_deployment_image_exists`;
const STATUS = `${PREFIX}_image_check_status`;
const ERRORS = `${PREFIX}_generic_errors_total`;
const RECHECKS = `${PREFIX}_completed_rechecks_total`;

let registry: RunningRegistry;
let proxy: RecordingProxy;
let kube: KubeApi;
let host: string;
let digestOnly: PushedImage;
let retired: PushedImage;
const missingDigest = `sha256:${'0'.repeat(64)}`;

/** HEAD requests the registry saw for one manifest reference. */
function heads(path: string): number {
  return proxy.requests.filter((r) => r.method === 'HEAD' && r.path === `/v2/${path}`).length;
}

beforeAll(async () => {
  registry = await startRegistry();
  proxy = await startRecordingProxy(registry.url);
  host = proxy.host;
  await pushImage(registry, 'team/app', 'docker', 'docker');
  await pushImage(registry, 'team/app', 'oci', 'oci');
  await pushImage(registry, 'team/app', 'list', 'docker-list');
  await pushImage(registry, 'team/app', 'index', 'oci-index');
  await pushImage(registry, 'team/shared', '1', 'docker');
  await pushImage(registry, 'team/init', '1', 'docker');
  retired = await pushImage(registry, 'team/retired', '1', 'docker');
  digestOnly = await pushManifestByDigestOnly(registry, 'team/pinned', 'oci');
  kube = await startKubeApi();
});

afterAll(async () => {
  await kube?.stop();
  await proxy?.stop();
  await registry?.stop();
});

describe('one scrape over all four kinds', () => {
  let exporter: RunningExporter;

  beforeAll(async () => {
    kube.set('Deployment', [
      deployment('prod', 'web', {
        containers: [
          { name: 'docker', image: `${host}/team/app:docker` },
          { name: 'oci', image: `${host}/team/app:oci` },
          { name: 'list', image: `${host}/team/app:list` },
          { name: 'index', image: `${host}/team/app:index` },
          { name: 'missing-tag', image: `${host}/team/app:nope` },
          { name: 'missing-repo', image: `${host}/team/ghost:1` },
          { name: 'pinned', image: `${host}/team/pinned@${digestOnly.digest}` },
          { name: 'pinned-missing', image: `${host}/team/pinned@${missingDigest}` },
          { name: 'bad', image: `${host}/Team/UPPER:1` },
          { name: 'empty', image: '' },
          { name: 'ignored-exact', image: `${host}/team/ignored:1` },
          { name: 'ignored-glob', image: `${host}/vendor/thing:9` },
        ],
        initContainers: [{ name: 'setup', image: `${host}/team/init:1` }],
      }),
      deployment('prod', 'api', { containers: [{ name: 'main', image: `${host}/team/shared:1` }] }),
      deployment('staging', 'api', { containers: [{ name: 'main', image: `${host}/team/shared:1` }] }),
    ]);
    kube.set('StatefulSet', [statefulSet('db', 'pg', { containers: [{ name: 'pg', image: `${host}/team/shared:1` }] })]);
    kube.set('DaemonSet', [daemonSet('kube-system', 'agent', { containers: [{ name: 'agent', image: `${host}/team/app:docker` }] })]);
    kube.set('CronJob', [cronJob('ops', 'backup', { containers: [{ name: 'job', image: `${host}/team/ghost:2` }] })]);
    proxy.reset();
    exporter = await startExporter(kube.kubeconfigPath, [
      `--allow-plain-http=${host}`,
      `--ignored-images=${host}/team/ignored:1,${host}/vendor/*`,
    ]);
  });
  afterAll(() => exporter?.stop());

  test('present images read 1 with status present; absent ones read 0 with status absent', async () => {
    const scrape = await exporter.scrape();
    expect(scrape.status).toBe(200);
    const web = { namespace: 'prod', owner_name: 'web' };
    const exists = (container: string) => scrape.value(DEPLOYMENT, { ...web, container });
    const status = (container: string) =>
      scrape.find(STATUS, { ...web, owner_kind: 'Deployment', container }).map((s) => `${s.labels.status}=${s.value}`);

    for (const container of ['docker', 'oci', 'list', 'index', 'pinned', 'setup']) {
      expect(exists(container), container).toBe(1);
      expect(status(container), container).toEqual(['present=1']);
    }
    for (const container of ['missing-tag', 'missing-repo', 'pinned-missing']) {
      expect(exists(container), container).toBe(0);
      expect(status(container), container).toEqual(['absent=1']);
    }
    // The label carries the image exactly as written in the spec.
    expect(scrape.find(DEPLOYMENT, { ...web, container: 'docker' })[0]?.labels.image).toBe(`${host}/team/app:docker`);
  });

  test('a malformed reference is bad_reference: no 0, counted once, the rest still checked', async () => {
    const scrape = await exporter.scrape();
    for (const container of ['bad', 'empty']) {
      expect(scrape.value(DEPLOYMENT, { owner_name: 'web', container })).toBeUndefined();
      expect(scrape.find(STATUS, { owner_name: 'web', container }).map((s) => s.labels.status)).toEqual(['bad_reference']);
    }
    // Two bad references, each a failed check once per interval however often it is scraped.
    expect(scrape.value(ERRORS)).toBe(2);
    expect(exporter.logs.some((l) => l.includes('"status":"bad_reference"') && l.includes('Team/UPPER'))).toBe(true);
  });

  test('ignored images, exact and glob, are not checked and have no status: they are reported as skipped, with the reason', async () => {
    const scrape = await exporter.scrape();
    for (const container of ['ignored-exact', 'ignored-glob']) {
      expect(scrape.find(STATUS, { container })).toEqual([]);
      expect(scrape.value(DEPLOYMENT, { container })).toBeUndefined();
      expect(scrape.value(`${PREFIX}_image_skipped`, { namespace: 'prod', owner_kind: 'Deployment', owner_name: 'web', container, reason: 'ignored_images' })).toBe(1);
    }
    expect(scrape.find(`${PREFIX}_image_skipped`)).toHaveLength(2);
    expect(proxy.requests.filter((r) => r.path.includes('ignored') || r.path.includes('vendor'))).toEqual([]);
  });

  test('every kind has its own gauge with the right labels', async () => {
    const scrape = await exporter.scrape();
    expect(scrape.value(`${PREFIX}_statefulset_image_exists`, { namespace: 'db', owner_name: 'pg', container: 'pg' })).toBe(1);
    expect(scrape.value(`${PREFIX}_daemonset_image_exists`, { namespace: 'kube-system', owner_name: 'agent' })).toBe(1);
    expect(scrape.value(`${PREFIX}_cronjob_image_exists`, { namespace: 'ops', owner_name: 'backup', container: 'job' })).toBe(0);
    expect(scrape.value(STATUS, { owner_kind: 'CronJob', owner_name: 'backup', status: 'absent' })).toBe(1);
    expect(scrape.value(DEPLOYMENT, { namespace: 'staging', owner_name: 'api', container: 'main' })).toBe(1);
    for (const kind of ['Deployment', 'StatefulSet', 'DaemonSet', 'CronJob']) {
      expect(scrape.value(`${PREFIX}_workload_list_up`, { kind })).toBe(1);
    }
    expect(scrape.value(`${PREFIX}_build_info`)).toBe(1);
    expect(scrape.find('process_cpu_user_seconds_total').length).toBe(1);
  });

  test('each unique image is asked for once per interval, however many workloads and scrapes use it', async () => {
    await exporter.scrape();
    await exporter.scrape();
    // team/shared:1 is used by three workloads; team/app:docker by a Deployment and a DaemonSet.
    expect(heads('team/shared/manifests/1')).toBe(1);
    expect(heads('team/app/manifests/docker')).toBe(1);
    expect(heads('team/app/manifests/oci')).toBe(1);
  });
});

describe('cache, rechecks and change', () => {
  test('concurrent scrapes share in-flight checks; expiry rechecks and counts a completed round', async () => {
    kube.set('Deployment', [
      deployment('a', 'one', { containers: [{ name: 'c', image: `${host}/team/app:docker` }] }),
      deployment('a', 'two', { containers: [{ name: 'c', image: `${host}/team/app:oci` }] }),
    ]);
    for (const kind of ['StatefulSet', 'DaemonSet', 'CronJob'] as const) kube.set(kind, []);
    const exporter = await startExporter(kube.kubeconfigPath, [`--allow-plain-http=${host}`, '--check-interval=1500ms']);
    try {
      proxy.reset();
      const [first, second] = await Promise.all([exporter.scrape(), exporter.scrape()]);
      expect(first.value(DEPLOYMENT, { owner_name: 'one' })).toBe(1);
      expect(second.value(DEPLOYMENT, { owner_name: 'two' })).toBe(1);
      expect(heads('team/app/manifests/docker')).toBe(1);
      expect(heads('team/app/manifests/oci')).toBe(1);
      expect(first.value(RECHECKS)! + second.value(RECHECKS)!).toBeGreaterThanOrEqual(1);
      const afterFirstRound = (await exporter.scrape()).value(RECHECKS);
      expect(afterFirstRound).toBe(1);
      expect(heads('team/app/manifests/docker')).toBe(1);

      await sleep(1600);
      const later = await exporter.scrapeFresh();
      expect(heads('team/app/manifests/docker')).toBe(2);
      expect(heads('team/app/manifests/oci')).toBe(2);
      expect(later.value(RECHECKS)).toBe(2);
    } finally {
      await exporter.stop();
    }
  });

  test('a deleted workload disappears with the next listing; a retired tag turns 0 after expiry', async () => {
    kube.set('Deployment', [
      deployment('a', 'keep', { containers: [{ name: 'c', image: `${host}/team/retired:1` }] }),
      deployment('a', 'gone', { containers: [{ name: 'c', image: `${host}/team/app:docker` }] }),
    ]);
    const exporter = await startExporter(kube.kubeconfigPath, [`--allow-plain-http=${host}`, '--check-interval=1s']);
    try {
      let scrape = await exporter.scrape();
      expect(scrape.value(DEPLOYMENT, { owner_name: 'gone' })).toBe(1);
      expect(scrape.value(DEPLOYMENT, { owner_name: 'keep' })).toBe(1);

      kube.remove('Deployment', 'a', 'gone');
      await deleteManifest(registry, 'team/retired', retired.digest);
      scrape = await exporter.scrapeFresh();
      expect(scrape.find(DEPLOYMENT, { owner_name: 'gone' })).toEqual([]);
      expect(scrape.find(STATUS, { owner_name: 'gone' })).toEqual([]);
      expect(scrape.value(DEPLOYMENT, { owner_name: 'keep' })).toBe(1); // still cached

      await sleep(1100);
      scrape = await exporter.scrapeFresh();
      expect(scrape.value(DEPLOYMENT, { owner_name: 'keep' })).toBe(0);
      expect(scrape.value(STATUS, { owner_name: 'keep', status: 'absent' })).toBe(1);
      expect(scrape.find(STATUS, { owner_name: 'keep', status: 'present' })).toEqual([]);
    } finally {
      await exporter.stop();
    }
  });

  test('a workload changed between listings is reported as it is now, unchanged ones as they were', async () => {
    const web = (containers: Array<{ name: string; image: string }>) => deployment('c', 'web', { containers });
    kube.set('Deployment', [web([{ name: 'c', image: `${host}/team/app:docker` }]), deployment('c', 'still', { containers: [{ name: 'c', image: `${host}/team/shared:1` }] })]);
    const exporter = await startExporter(kube.kubeconfigPath, [`--allow-plain-http=${host}`]);
    const series = (scrape: Awaited<ReturnType<RunningExporter['scrape']>>) =>
      [...scrape.find(DEPLOYMENT), ...scrape.find(STATUS)].map((s) => `${s.name.replace(PREFIX, '')} ${s.labels.owner_name} ${s.labels.container} ${s.labels.image} ${s.labels.status ?? ''} ${s.value}`).sort();
    try {
      let scrape = await exporter.scrapeFresh();
      expect(series(scrape)).toEqual([
        `_deployment_image_exists still c ${host}/team/shared:1  1`,
        `_deployment_image_exists web c ${host}/team/app:docker  1`,
        `_image_check_status still c ${host}/team/shared:1 present 1`,
        `_image_check_status web c ${host}/team/app:docker present 1`,
      ]);

      // Another image (absent), then another container name, then a second container.
      kube.set('Deployment', [web([{ name: 'c', image: `${host}/team/app:nope` }]), deployment('c', 'still', { containers: [{ name: 'c', image: `${host}/team/shared:1` }] })]);
      scrape = await exporter.scrapeFresh();
      expect(series(scrape).filter((s) => s.includes(' web '))).toEqual([
        `_deployment_image_exists web c ${host}/team/app:nope  0`,
        `_image_check_status web c ${host}/team/app:nope absent 1`,
      ]);
      kube.set('Deployment', [web([{ name: 'renamed', image: `${host}/team/app:nope` }]), deployment('c', 'still', { containers: [{ name: 'c', image: `${host}/team/shared:1` }] })]);
      scrape = await exporter.scrapeFresh();
      expect(series(scrape).filter((s) => s.includes(' web '))).toEqual([
        `_deployment_image_exists web renamed ${host}/team/app:nope  0`,
        `_image_check_status web renamed ${host}/team/app:nope absent 1`,
      ]);
      kube.set('Deployment', [
        web([
          { name: 'renamed', image: `${host}/team/app:nope` },
          { name: 'second', image: `${host}/team/app:oci` },
        ]),
        deployment('c', 'still', { containers: [{ name: 'c', image: `${host}/team/shared:1` }] }),
      ]);
      scrape = await exporter.scrapeFresh();
      expect(series(scrape)).toEqual([
        `_deployment_image_exists still c ${host}/team/shared:1  1`,
        `_deployment_image_exists web renamed ${host}/team/app:nope  0`,
        `_deployment_image_exists web second ${host}/team/app:oci  1`,
        `_image_check_status still c ${host}/team/shared:1 present 1`,
        `_image_check_status web renamed ${host}/team/app:nope absent 1`,
        `_image_check_status web second ${host}/team/app:oci present 1`,
      ]);
    } finally {
      await exporter.stop();
    }
  });
});

describe('registry down', () => {
  test('no 0 is emitted: last proven value while fresh, registry_unavailable status, errors counted', async () => {
    const flaky = await startRegistry();
    await pushImage(flaky, 'svc', '1', 'docker');
    kube.set('Deployment', [
      deployment('f', 'known', { containers: [{ name: 'c', image: `${flaky.host}/svc:1` }] }),
    ]);
    const exporter = await startExporter(kube.kubeconfigPath, [`--allow-plain-http=${flaky.host}`, '--check-interval=1s']);
    try {
      let scrape = await exporter.scrape();
      expect(scrape.value(DEPLOYMENT, { owner_name: 'known' })).toBe(1);
      const errorsBefore = scrape.value(ERRORS)!;

      await flaky.stop();
      await sleep(1100);
      kube.add('Deployment', deployment('f', 'never-seen', { containers: [{ name: 'c', image: `${flaky.host}/svc:2` }] }));
      scrape = await exporter.scrapeFresh();
      // Proven present 1.1 s ago: still reported (fresh for two intervals), never 0.
      expect(scrape.value(DEPLOYMENT, { owner_name: 'known' })).toBe(1);
      expect(scrape.value(STATUS, { owner_name: 'known', status: 'registry_unavailable' })).toBe(1);
      // Never proven: no series at all rather than a guess.
      expect(scrape.find(DEPLOYMENT, { owner_name: 'never-seen' })).toEqual([]);
      expect(scrape.value(STATUS, { owner_name: 'never-seen', status: 'registry_unavailable' })).toBe(1);
      expect(scrape.value(ERRORS)).toBe(errorsBefore + 2);
      expect(exporter.logs.filter((l) => l.includes('registry_unavailable') && l.includes(`${flaky.host}/svc:2`)).length).toBe(1);

      // After two intervals without proof the old 1 is withdrawn too.
      await sleep(1100);
      scrape = await exporter.scrapeFresh();
      expect(scrape.find(DEPLOYMENT, { owner_name: 'known' })).toEqual([]);
      expect(scrape.samples.filter((s) => s.name.endsWith('_image_exists') && s.value === 0)).toEqual([]);

      // It comes back: the retry after a failure (here one interval) proves presence again.
      await flaky.start();
      await sleep(1100);
      scrape = await exporter.scrapeFresh();
      expect(scrape.value(DEPLOYMENT, { owner_name: 'known' })).toBe(1);
      expect(scrape.value(STATUS, { owner_name: 'known', status: 'present' })).toBe(1);
    } finally {
      await exporter.stop();
      await flaky.stop();
    }
  });
});
