/**
 * The Kubernetes side misbehaving: unreachable, unauthorized, hanging, broken mid-list, garbage, and
 * malformed objects. The exporter always answers, says which kinds it could not list, and never
 * drops series as if workloads had been deleted.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { startKubeApi, type KubeApi } from '../support/kube-api.js';
import { cronJob, deployment } from '../support/objects.js';
import { PREFIX, startExporter } from '../support/exporter.js';
import { pushImage } from '../support/push.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { makeTempDir } from '../support/tmp.js';

const UP = `${PREFIX}_workload_list_up`;
const STATUS = `${PREFIX}_image_check_status`;
const EXISTS = `${PREFIX}_deployment_image_exists`;
const KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'CronJob', 'Job', 'Pod'];

let kube: KubeApi;
let registry: RunningRegistry;

beforeAll(async () => {
  registry = await startRegistry();
  await pushImage(registry, 'app', '1', 'docker');
  kube = await startKubeApi();
});
afterAll(async () => {
  await kube?.stop();
  await registry?.stop();
});
beforeEach(() => {
  kube.clearFaults();
  for (const kind of ['StatefulSet', 'DaemonSet', 'CronJob', 'Secret', 'ServiceAccount'] as const) kube.set(kind, []);
  kube.set('Deployment', [deployment('a', 'web', { containers: [{ name: 'c', image: `${registry.host}/app:1` }] })]);
});

async function kubeconfigFor(server: string, token = 'test-token'): Promise<string> {
  const dir = await makeTempDir('kubeconfig');
  const path = join(dir, 'kubeconfig');
  await writeFile(
    path,
    `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "${server}", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: "${token}"}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`,
  );
  return path;
}

describe('nothing can be listed', () => {
  test.each([
    ['API server unreachable', async () => kubeconfigFor('http://127.0.0.1:1')],
    ['401 Unauthorized (wrong token)', async () => kubeconfigFor(kube.url, 'wrong-token')],
  ])('%s: HTTP 200 with list_up 0 for every kind, no image series, a log line', async (_name, config) => {
    const exporter = await startExporter(await config(), [`--allow-plain-http=${registry.host}`]);
    try {
      const scrape = await exporter.scrape();
      expect(scrape.status).toBe(200);
      for (const kind of KINDS) expect(scrape.value(UP, { kind })).toBe(0);
      expect(scrape.find(STATUS)).toEqual([]);
      expect(exporter.logs.filter((l) => l.includes('cannot list workloads'))).toHaveLength(KINDS.length);
    } finally {
      await exporter.stop();
    }
  });

  test('an API server that stops answering: scrapes still answer at once, with the last known workloads', async () => {
    const exporter = await startExporter(kube.kubeconfigPath, [`--allow-plain-http=${registry.host}`, '--list-timeout=1s']);
    try {
      expect((await exporter.scrape()).value(EXISTS, { owner_name: 'web' })).toBe(1);
      kube.fault({ path: /^\/(apis\/|api\/v1\/pods$)/, hang: true }); // every workload list
      const scrape = await exporter.scrape({ timeoutSeconds: 1.5 });
      expect(scrape.ms).toBeLessThan(1500);
      // The lists started by that scrape time out after --list-timeout: list_up turns 0.
      const later = await exporter.scrapeUntil((s) => KINDS.every((kind) => s.value(UP, { kind }) === 0), { timeoutSeconds: 1.5 });
      expect(later.ms).toBeLessThan(1500);
      // Not "deleted": the workload and its proven result are still reported, and the age of that
      // listing says how old it is.
      expect(later.value(EXISTS, { owner_name: 'web' })).toBe(1);
      expect(later.value(`${PREFIX}_workload_list_age_seconds`, { kind: 'Deployment' })).toBeGreaterThan(1);
    } finally {
      kube.clearFaults();
      await exporter.stop();
    }
  });
});

describe('pull secrets hang', () => {
  test('the scrape still answers in time; without secrets only "present" is believed', async () => {
    kube.set('Deployment', [
      deployment('a', 'web', { containers: [{ name: 'c', image: `${registry.host}/app:1` }] }),
      deployment('a', 'gone', { containers: [{ name: 'c', image: `${registry.host}/app:404` }] }),
    ]);
    kube.fault({ path: '/api/v1/serviceaccounts', hang: true });
    const exporter = await startExporter(kube.kubeconfigPath, [`--allow-plain-http=${registry.host}`]);
    try {
      const scrape = await exporter.scrape({ timeoutSeconds: 1.5 });
      expect(scrape.ms).toBeLessThan(1500);
      expect(scrape.value(EXISTS, { owner_name: 'web' })).toBe(1);
      // Anonymous 404 without the secrets the workload might use: not proof of absence.
      expect(scrape.find(EXISTS, { owner_name: 'gone' })).toEqual([]);
      expect(scrape.find(STATUS, { owner_name: 'gone' }).map((s) => s.labels.status)).toEqual(['auth_failure']);
      expect(exporter.logs.some((l) => l.includes('pull secrets were not read before the scrape deadline'))).toBe(true);
    } finally {
      kube.clearFaults();
      await exporter.stop();
    }
  });
});

describe('one list breaks', () => {
  test('a 500 midway through pagination keeps the previous complete listing', async () => {
    kube.set(
      'Deployment',
      Array.from({ length: 1200 }, (_, i) => deployment('big', `d${i}`, { containers: [{ name: 'c', image: `${registry.host}/app:1` }] })),
    );
    const exporter = await startExporter(kube.kubeconfigPath, [`--allow-plain-http=${registry.host}`]);
    try {
      expect((await exporter.scrape()).find(EXISTS)).toHaveLength(1200);
      kube.fault({ path: '/apis/apps/v1/deployments', afterPages: 1, status: 500 });
      const scrape = await exporter.scrapeUntil((s) => s.value(UP, { kind: 'Deployment' }) === 0);
      expect(scrape.value(UP, { kind: 'CronJob' })).toBe(1);
      // Not the 500 items of the first page: the last complete listing.
      expect(scrape.find(EXISTS)).toHaveLength(1200);
    } finally {
      await exporter.stop();
    }
  });

  test('a list answered with junk JSON is a failed list, not an empty one', async () => {
    const exporter = await startExporter(kube.kubeconfigPath, [`--allow-plain-http=${registry.host}`]);
    try {
      expect((await exporter.scrape()).value(EXISTS, { owner_name: 'web' })).toBe(1);
      kube.fault({ path: '/apis/apps/v1/deployments', rawBody: '{"kind":"DeploymentList","items":[{"metad' });
      const scrape = await exporter.scrapeUntil((s) => s.value(UP, { kind: 'Deployment' }) === 0);
      expect(scrape.value(EXISTS, { owner_name: 'web' })).toBe(1);
    } finally {
      await exporter.stop();
    }
  });
});

describe('malformed objects', () => {
  test('no containers, no spec, empty or invalid images: reported per container, nothing crashes', async () => {
    kube.set('Deployment', [
      deployment('m', 'no-containers', { containers: [] }),
      { metadata: { namespace: 'm', name: 'no-spec' } },
      { metadata: { namespace: 'm', name: 'no-template' }, spec: { replicas: 1 } },
      deployment('m', 'empty-image', { containers: [{ name: 'c', image: '' }] }),
      deployment('m', 'spaces', { containers: [{ name: 'c', image: 'registry.example.com/my app:1' }] }),
      deployment('m', 'uppercase', { containers: [{ name: 'c', image: 'registry.example.com/MyApp:1' }] }),
      deployment('m', 'fine', { containers: [{ name: 'c', image: `${registry.host}/app:1` }] }),
    ]);
    kube.set('CronJob', [{ metadata: { namespace: 'm', name: 'no-job-template' }, spec: { schedule: '* * * * *' } }, cronJob('m', 'ok', { containers: [] })]);
    const exporter = await startExporter(kube.kubeconfigPath, [`--allow-plain-http=${registry.host}`]);
    try {
      const scrape = await exporter.scrape();
      expect(scrape.status).toBe(200);
      for (const kind of KINDS) expect(scrape.value(UP, { kind })).toBe(1);
      for (const owner of ['empty-image', 'spaces', 'uppercase']) {
        expect(scrape.find(STATUS, { owner_name: owner }).map((s) => s.labels.status), owner).toEqual(['bad_reference']);
        expect(scrape.find(EXISTS, { owner_name: owner }), owner).toEqual([]);
      }
      for (const owner of ['no-containers', 'no-spec', 'no-template', 'no-job-template']) {
        expect(scrape.find(STATUS, { owner_name: owner }), owner).toEqual([]);
      }
      expect(scrape.value(EXISTS, { owner_name: 'fine' })).toBe(1);
    } finally {
      await exporter.stop();
    }
  });
});
