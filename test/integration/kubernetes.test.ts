/**
 * Listing workloads through the real @kubernetes/client-node against the loopback API server:
 * pagination, expired continue tokens, and errors that must not take other kinds down with them.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { WorkloadLister } from '../../src/kubernetes/workload-lister.js';
import { placementKey, placementOf } from '../../src/platform/placement.js';
import { startKubeApi, type KubeApi } from '../support/kube-api.js';
import { cronJob, deployment } from '../support/objects.js';
import { PREFIX, startExporter } from '../support/exporter.js';

let kube: KubeApi;
let lister: WorkloadLister;

beforeAll(async () => {
  kube = await startKubeApi();
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kube.kubeconfigPath);
  lister = new WorkloadLister(kubeConfig, { pageSize: 10, requestTimeoutMs: 2000 });
});
afterAll(() => kube?.stop());
beforeEach(() => {
  kube.clearFaults();
  kube.requests.length = 0;
  kube.set(
    'Deployment',
    Array.from({ length: 25 }, (_, i) =>
      deployment(`ns${i % 3}`, `d${String(i).padStart(2, '0')}`, {
        containers: [{ name: 'app', image: `127.0.0.1:1/app:${i}` }],
        initContainers: i === 0 ? [{ name: 'init', image: 'example.com/init:1' }] : undefined,
        imagePullSecrets: i === 1 ? ['regcred'] : undefined,
        serviceAccountName: i === 2 ? 'builder' : undefined,
      }),
    ),
  );
});

describe('WorkloadLister', () => {
  test('follows continue tokens page by page and keeps everything', async () => {
    const workloads = await lister.list('Deployment');
    expect(workloads).toHaveLength(25);
    const lists = kube.requests.filter((r) => r.path === '/apis/apps/v1/deployments');
    expect(lists).toHaveLength(3);
    expect(lists.map((r) => r.query.get('limit'))).toEqual(['10', '10', '10']);
    expect(lists[0]?.query.get('continue')).toBeNull();
    expect(lists[1]?.query.get('continue')).toBeTruthy();
    const first = workloads.find((w) => w.name === 'd00')!;
    expect(first.containers).toEqual([
      { name: 'init', image: 'example.com/init:1', init: true },
      { name: 'app', image: '127.0.0.1:1/app:0', init: false },
    ]);
    expect(workloads.find((w) => w.name === 'd01')?.imagePullSecrets).toEqual(['regcred']);
    expect(workloads.find((w) => w.name === 'd02')?.serviceAccountName).toBe('builder');
    expect(workloads.find((w) => w.name === 'd03')?.serviceAccountName).toBe('default');
  });

  test('cron jobs: the pod template under jobTemplate', async () => {
    const placement = { nodeSelector: { 'kubernetes.io/arch': 'arm64' } };
    kube.set('CronJob', [cronJob('ops', 'backup', { containers: [{ name: 'job', image: 'example.com/backup:1' }], placement })]);
    expect(await lister.list('CronJob')).toEqual([
      {
        kind: 'CronJob',
        namespace: 'ops',
        name: 'backup',
        containers: [{ name: 'job', image: 'example.com/backup:1', init: false }],
        imagePullSecrets: [],
        serviceAccountName: 'default',
        placement: placementOf(placement),
        placementKey: placementKey(placementOf(placement)),
        active: true,
      },
    ]);
    expect(placementKey(placementOf(placement))).not.toBe('');
  });

  test('410 Gone on an expired continue token restarts the list from the beginning', async () => {
    kube.fault({ path: '/apis/apps/v1/deployments', afterPages: 1, status: 410, times: 1 });
    const workloads = await lister.list('Deployment');
    expect(workloads).toHaveLength(25);
    expect(new Set(workloads.map((w) => w.name)).size).toBe(25);
    const lists = kube.requests.filter((r) => r.path === '/apis/apps/v1/deployments');
    // page 1, page 2 → 410, then pages 1-3 again
    expect(lists).toHaveLength(5);
  });

  test('a 500 midway through pagination fails the list (no half list passed off as complete)', async () => {
    kube.fault({ path: '/apis/apps/v1/deployments', afterPages: 1, status: 500 });
    await expect(lister.list('Deployment')).rejects.toMatchObject({ code: 500 });
  });
});

describe('exporter when listing fails', () => {
  test('403 on one kind: list_up 0 for it, the others still exported', async () => {
    kube.set('CronJob', [cronJob('ops', 'backup', { containers: [{ name: 'job', image: 'bad image' }] })]);
    const exporter = await startExporter(kube.kubeconfigPath, ['--allow-plain-http=127.0.0.1:1']);
    try {
      kube.fault({ path: '/apis/batch/v1/cronjobs', status: 403, message: 'cronjobs.batch is forbidden' });
      const scrape = await exporter.scrape();
      expect(scrape.status).toBe(200);
      expect(scrape.value(`${PREFIX}_workload_list_up`, { kind: 'CronJob' })).toBe(0);
      expect(scrape.value(`${PREFIX}_workload_list_up`, { kind: 'Deployment' })).toBe(1);
      // 25 deployments, one with an init container.
      expect(scrape.find(`${PREFIX}_image_check_status`, { owner_kind: 'Deployment' })).toHaveLength(26);
      expect(exporter.logs.some((l) => l.includes('cannot list workloads') && l.includes('cronjobs.batch is forbidden'))).toBe(true);
    } finally {
      await exporter.stop();
    }
  });

  test('a kind that listed before keeps its last known workloads while its list fails', async () => {
    kube.set('CronJob', [cronJob('ops', 'backup', { containers: [{ name: 'job', image: 'bad image' }] })]);
    const exporter = await startExporter(kube.kubeconfigPath, ['--allow-plain-http=127.0.0.1:1']);
    try {
      let scrape = await exporter.scrape();
      expect(scrape.value(`${PREFIX}_image_check_status`, { owner_kind: 'CronJob', owner_name: 'backup' })).toBe(1);
      kube.fault({ path: '/apis/batch/v1/cronjobs', status: 500 });
      scrape = await exporter.scrapeUntil((s) => s.value(`${PREFIX}_workload_list_up`, { kind: 'CronJob' }) === 0);
      expect(scrape.value(`${PREFIX}_image_check_status`, { owner_kind: 'CronJob', owner_name: 'backup' })).toBe(1);
    } finally {
      await exporter.stop();
    }
  });
});
