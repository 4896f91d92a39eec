/**
 * Namespaced mode against many namespaces (issue 20, item 5): 300 namespaces chosen by label, one
 * Deployment each, over TLS. A refresh wants 6 kinds × 300 namespaces of lists (and the service
 * accounts of 300 namespaces); the API server must see only a handful at once, over a handful of
 * reused connections, and the listing must still complete with every workload reported.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startKubeApi, type KubeApi } from '../support/kube-api.js';
import { deployment } from '../support/objects.js';
import { PREFIX, startExporter, type RunningExporter, type Scrape } from '../support/exporter.js';
import { createPki } from '../support/pki.js';
import { pushImage } from '../support/push.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { makeTempDir } from '../support/tmp.js';

const NAMESPACES = 300;
/** README: lists in flight against one API server. */
const LISTS_IN_FLIGHT = 6;
/** …and connections kept (the lists' plus two for discovery documents). */
const CONNECTIONS = LISTS_IN_FLIGHT + 2;

let registry: RunningRegistry;
let kube: KubeApi;
let exporter: RunningExporter | undefined;

beforeAll(async () => {
  registry = await startRegistry();
  await pushImage(registry, 'app', 'v1', 'docker');
  kube = await startKubeApi({ tls: await createPki(await makeTempDir('fan-out-pki')) });
  const names = Array.from({ length: NAMESPACES }, (_, i) => `team-${String(i).padStart(3, '0')}`);
  kube.set('Namespace', [...names.map((name) => ({ metadata: { name, labels: { 'image-checks': 'on' } } })), { metadata: { name: 'other' } }]);
  kube.set('Deployment', names.map((namespace) => deployment(namespace, 'web', { containers: [{ name: 'c', image: `${registry.host}/app:v1` }] })));
  // Each answer takes a little while, as a real server's do: lists that were all let go at once overlap.
  kube.fault({ path: /\/namespaces\/team-\d+\//, delayMs: 5 });
}, 60_000);

afterAll(async () => {
  await exporter?.stop();
  await kube?.stop();
  await registry?.stop();
});

const reported = (scrape: Scrape) => scrape.find(`${PREFIX}_image_check_status`).map((s) => `${s.labels.namespace}/${s.labels.owner_name}`);

test('300 namespaces: a handful of lists in flight over a handful of reused connections; every workload reported', async () => {
  kube.resetLoad();
  exporter = await startExporter(kube.kubeconfigPath, [
    '--namespace-selector=image-checks=on',
    `--allow-plain-http=${registry.host}`,
    '--check-platforms=false',
    '--list-max-age=10m', // one listing: the first
  ]);
  const scrape = await exporter.scrapeUntil(
    (s) => reported(s).length === NAMESPACES && s.value(`${PREFIX}_checks_pending`) === 0,
    { timeoutSeconds: 30, withinMs: 90_000 },
  );
  expect(new Set(reported(scrape)).size).toBe(NAMESPACES);
  // Every kind of every namespace was listed, and is up.
  const up = scrape.find(`${PREFIX}_workload_list_up`);
  expect(up).toHaveLength(NAMESPACES * 6);
  expect(up.every((s) => s.value === 1)).toBe(true);

  const lists = kube.requests.filter((r) => r.path.startsWith('/api') && r.method === 'GET').length;
  expect(lists).toBeGreaterThanOrEqual(NAMESPACES * 6);
  const load = kube.load();
  expect(load.maxRequestsInFlight, JSON.stringify(load)).toBeLessThanOrEqual(LISTS_IN_FLIGHT);
  expect(load.maxConnections, JSON.stringify(load)).toBeLessThanOrEqual(CONNECTIONS);
  // Reused: far fewer connections than requests.
  expect(load.connectionsOpened, JSON.stringify({ ...load, lists })).toBeLessThanOrEqual(2 * CONNECTIONS);
}, 120_000);
