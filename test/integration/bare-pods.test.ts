/**
 * Finding the Pods no controller owns (issue 20, item 6) without reading every pod of the cluster:
 * the loopback API server filters by labelSelector as a real one does, and counts the objects it
 * sends. Pods of ReplicaSets, StatefulSets, DaemonSets and Jobs (labelled by their controllers) are
 * never sent; bare Pods are reported; pods of an operator that labels nothing are sent and dropped
 * by their ownerReferences, as before.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startKubeApi, type KubeApi } from '../support/kube-api.js';
import { PREFIX, startExporter, type RunningExporter, type Scrape } from '../support/exporter.js';
import { pushImage } from '../support/push.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';

const OWNED_PER_CONTROLLER = 500;

let registry: RunningRegistry;
let kube: KubeApi;
let exporter: RunningExporter | undefined;

function pod(namespace: string, name: string, image: string, meta: { labels?: Record<string, string>; owner?: string } = {}) {
  return {
    metadata: {
      namespace,
      name,
      labels: { app: name.replace(/-[^-]+$/, ''), ...meta.labels },
      ...(meta.owner ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: meta.owner, name: `${meta.owner.toLowerCase()}-x`, uid: `uid-${meta.owner}`, controller: true, blockOwnerDeletion: true }] } : {}),
    },
    spec: { containers: [{ name: 'c', image, imagePullPolicy: 'IfNotPresent' }], restartPolicy: 'Always', nodeName: 'node-1' },
    status: { phase: 'Running' },
  };
}

beforeAll(async () => {
  registry = await startRegistry();
  await pushImage(registry, 'app', 'owned', 'docker');
  await pushImage(registry, 'app', 'bare', 'docker');
  kube = await startKubeApi();
  const owned = `${registry.host}/app:owned`;
  const bare = `${registry.host}/app:bare`;
  const many = (prefix: string, make: (i: number) => object) => Array.from({ length: OWNED_PER_CONTROLLER }, (_, i) => make(i));
  kube.set('Pod', [
    // As the controllers label them.
    ...many('web', (i) => pod('shop', `web-7d4b9c-${i}`, owned, { labels: { 'pod-template-hash': '7d4b9c' }, owner: 'ReplicaSet' })),
    ...many('db', (i) => pod('shop', `db-${i}`, owned, { labels: { 'controller-revision-hash': 'db-5f6', 'statefulset.kubernetes.io/pod-name': `db-${i}` }, owner: 'StatefulSet' })),
    ...many('agent', (i) => pod('infra', `agent-${i}`, owned, { labels: { 'controller-revision-hash': '6c7', 'pod-template-generation': '2' }, owner: 'DaemonSet' })),
    ...many('job', (i) => pod('batch', `migrate-${i}`, owned, { labels: { 'job-name': `migrate-${i}`, 'controller-uid': `u${i}`, 'batch.kubernetes.io/job-name': `migrate-${i}`, 'batch.kubernetes.io/controller-uid': `u${i}` }, owner: 'Job' })),
    // An operator's pods, with none of those labels: sent, then dropped by their ownerReferences.
    pod('ops', 'operated-0', owned, { owner: 'Rollout' }),
    pod('ops', 'operated-1', owned, { owner: 'Rollout' }),
    // Bare.
    pod('shop', 'debug', bare),
    pod('infra', 'toolbox', bare, { labels: { tier: 'tools' } }),
  ]);
}, 60_000);

afterAll(async () => {
  await exporter?.stop();
  await kube?.stop();
  await registry?.stop();
});

const reportedPods = (scrape: Scrape) =>
  scrape.find(`${PREFIX}_image_check_status`).filter((s) => s.labels.owner_kind === 'Pod').map((s) => `${s.labels.namespace}/${s.labels.owner_name}`).sort();

test('bare Pods are reported; pods their controllers labelled are never sent to the exporter', async () => {
  exporter = await startExporter(kube.kubeconfigPath, [`--allow-plain-http=${registry.host}`, '--check-platforms=false']);
  const scrape = await exporter.scrapeFresh({ timeoutSeconds: 30 });
  expect(reportedPods(scrape)).toEqual(['infra/toolbox', 'shop/debug']);
  expect(scrape.value(`${PREFIX}_pod_image_exists`, { namespace: 'shop', owner_name: 'debug', container: 'c' })).toBe(1);
  expect(scrape.value(`${PREFIX}_workload_list_up`, { kind: 'Pod' })).toBe(1);

  const podLists = kube.requests.filter((r) => r.path === '/api/v1/pods');
  expect(podLists.length).toBeGreaterThan(0);
  const served = podLists.map((r) => r.itemsServed ?? 0);
  // Per listing: the 2 bare pods and the operator's 2; none of the 2,000 the controllers labelled.
  for (const items of served) expect(items, `items served per Pod list: ${served.join(', ')}`).toBeLessThanOrEqual(4);
  expect(served.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(4 * podLists.length);
  // And none fetched one by one instead.
  expect(kube.requests.filter((r) => /\/pods\/[^/]+$/.test(r.path))).toEqual([]);
}, 60_000);
