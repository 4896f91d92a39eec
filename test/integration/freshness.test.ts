/**
 * Stale-while-revalidate, through the real exporter: a scrape that has a previous answer never
 * waits for the work that would refresh it — neither a slow workload list nor a slow registry
 * recheck — and the freshness gauges say how old what it serves is.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { PREFIX, startExporter } from '../support/exporter.js';
import { startKubeApi, type KubeApi } from '../support/kube-api.js';
import { deployment } from '../support/objects.js';
import { startRecordingProxy, type RecordingProxy } from '../support/proxy.js';
import { pushImage } from '../support/push.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';

const EXISTS = `${PREFIX}_deployment_image_exists`;
const AGE = `${PREFIX}_workload_list_age_seconds`;
const PENDING = `${PREFIX}_checks_pending`;
const SLOW_MS = 2500;

let registry: RunningRegistry;
let slowRegistry: RecordingProxy;
let kube: KubeApi;

beforeAll(async () => {
  registry = await startRegistry();
  await pushImage(registry, 'app', '1', 'docker');
  slowRegistry = await startRecordingProxy(registry.url, { latencyMs: SLOW_MS });
  kube = await startKubeApi();
});

afterAll(async () => {
  await kube?.stop();
  await slowRegistry?.stop();
  await registry?.stop();
});

test('a slow workload list never delays a scrape that has a listing; later scrapes get the new one', async () => {
  kube.set('Deployment', [deployment('f', 'old', { containers: [{ name: 'c', image: `${registry.host}/app:1` }] })]);
  const exporter = await startExporter(kube.kubeconfigPath, ['--allow-plain-http=127.0.0.1:*', '--list-max-age=1s']);
  try {
    const first = await exporter.scrape();
    expect(first.value(EXISTS, { owner_name: 'old' })).toBe(1);
    expect(first.value(AGE, { kind: 'Deployment' })).toBeLessThan(1);

    kube.add('Deployment', deployment('f', 'new', { containers: [{ name: 'c', image: `${registry.host}/app:1` }] }));
    kube.fault({ path: '/apis/apps/v1/deployments', delayMs: SLOW_MS, times: 1 });
    // Within --list-max-age the listing is reused: nothing is asked of the API server.
    const listsBefore = kube.requests.filter((r) => r.path === '/apis/apps/v1/deployments').length;
    await exporter.scrape();
    expect(kube.requests.filter((r) => r.path === '/apis/apps/v1/deployments')).toHaveLength(listsBefore);

    await sleep(1100);
    // Older than --list-max-age: this scrape starts a new list (slow) but answers from the old one at once.
    const stale = await exporter.scrape({ timeoutSeconds: 10 });
    expect(stale.ms).toBeLessThan(SLOW_MS / 2);
    expect(stale.value(EXISTS, { owner_name: 'old' })).toBe(1);
    expect(stale.find(EXISTS, { owner_name: 'new' })).toEqual([]);
    expect(stale.value(AGE, { kind: 'Deployment' })).toBeGreaterThan(1);
    expect(stale.value(`${PREFIX}_workload_list_up`, { kind: 'Deployment' })).toBe(1);
    // Concurrent and later scrapes do not start another list while that one runs.
    await Promise.all([exporter.scrape(), exporter.scrape()]);
    expect(kube.requests.filter((r) => r.path === '/apis/apps/v1/deployments')).toHaveLength(listsBefore + 1);

    const fresh = await exporter.scrapeUntil((s) => s.value(EXISTS, { owner_name: 'new' }) === 1);
    expect(fresh.value(AGE, { kind: 'Deployment' })).toBeLessThan(1);
  } finally {
    kube.clearFaults();
    await exporter.stop();
  }
});

test('a slow recheck never delays a scrape that has a result; only a never-checked image is waited for', async () => {
  kube.set('Deployment', [deployment('f', 'slow', { containers: [{ name: 'c', image: `${slowRegistry.host}/app:1` }] })]);
  const exporter = await startExporter(kube.kubeconfigPath, ['--allow-plain-http=127.0.0.1:*', '--check-interval=1s']);
  try {
    // Never checked: the scrape waits for it (the deadline allows).
    const cold = await exporter.scrape({ timeoutSeconds: 10 });
    expect(cold.ms).toBeGreaterThan(SLOW_MS);
    expect(cold.value(EXISTS, { owner_name: 'slow' })).toBe(1);
    const heads = () => slowRegistry.requests.filter((r) => r.method === 'HEAD').length;
    expect(heads()).toBe(1);

    await sleep(1100);
    // Past --check-interval: served at once while the recheck runs.
    const warm = await exporter.scrape({ timeoutSeconds: 10 });
    expect(warm.ms).toBeLessThan(SLOW_MS / 2);
    expect(warm.value(EXISTS, { owner_name: 'slow' })).toBe(1);
    expect(warm.value(`${PREFIX}_image_check_status`, { owner_name: 'slow', status: 'present' })).toBe(1);
    expect(warm.value(PENDING)).toBe(1);
    // The recheck happened, once, and a round of rechecks is counted when it has finished.
    const settled = await exporter.scrapeUntil((s) => s.value(PENDING) === 0, { withinMs: 2 * SLOW_MS });
    expect(heads()).toBe(2);
    expect(settled.value(`${PREFIX}_completed_rechecks_total`)).toBe(2);
  } finally {
    await exporter.stop();
  }
});
