/**
 * Many scrapes at once against the exporter as deployed: its own process with deploy/'s Node flags
 * and environment (a 192 MB heap), 3,000 Deployments shaped like a real API server's (about 11 KB each)
 * with 2 containers. Fifty concurrent scrapes must all be answered in full, by one shared collection
 * (one list per kind), with the process alive afterwards; cold, one registry request per image.
 * (Peak memory under this load is measured by `npm run bench`, not here.)
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { parseExposition, PREFIX } from '../support/exporter.js';
import { startKubeApi, type KubeApi } from '../support/kube-api.js';
import { realisticDeployment } from '../support/objects.js';
import { startExporterProcess, type ExporterProcess } from '../support/process.js';
import { deployedRuntime } from '../support/deployed.js';
import { startRecordingProxy, type RecordingProxy } from '../support/proxy.js';
import { pushImage } from '../support/push.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';

const WORKLOADS = 3000;
const IMAGES = 60;
let registry: RunningRegistry;
let proxy: RecordingProxy;
let kube: KubeApi;
let exporter: ExporterProcess | undefined;

beforeAll(async () => {
  registry = await startRegistry();
  // Half of the images exist.
  for (let i = 0; i < IMAGES / 2; i++) await pushImage(registry, `svc${i}`, '1', 'docker');
  proxy = await startRecordingProxy(registry.url, { latencyMs: 100 });
  kube = await startKubeApi();
  kube.set(
    'Deployment',
    Array.from({ length: WORKLOADS }, (_, i) =>
      realisticDeployment(
        `ns${i % 40}`,
        `w${i}`,
        { containers: [{ name: 'app', image: `${proxy.host}/svc${i % IMAGES}:1` }, { name: 'sidecar', image: `${proxy.host}/svc${(i + 7) % IMAGES}:1` }] },
        i,
      ),
    ),
  );
});

afterAll(async () => {
  exporter?.kill();
  await kube?.stop();
  await proxy?.stop();
  await registry?.stop();
});

async function scrape(url: string, timeoutSeconds: number): Promise<{ status: number; text: string }> {
  const response = await fetch(`${url}/metrics`, { headers: { 'X-Prometheus-Scrape-Timeout-Seconds': String(timeoutSeconds) } });
  return { status: response.status, text: await response.text() };
}

test('fifty concurrent scrapes at 3,000 real-sized Deployments: one shared collection, every answer whole, the process alive', async () => {
  exporter = await startExporterProcess([`--kubeconfig=${kube.kubeconfigPath}`, '--allow-plain-http=127.0.0.1:*'], deployedRuntime());
  const listsBefore = kube.requests.filter((r) => r.path === '/apis/apps/v1/deployments').length;
  const answers = await Promise.all(Array.from({ length: 50 }, () => scrape(exporter!.url, 20)));
  expect(exporter.child.exitCode, exporter.stderr().slice(-2000)).toBeNull();
  for (const answer of answers) {
    expect(answer.status).toBe(200);
    const samples = parseExposition(answer.text);
    // Every container has a status series: nothing was cut short.
    expect(samples.filter((s) => s.name === `${PREFIX}_image_check_status`)).toHaveLength(2 * WORKLOADS);
  }
  // A few shared answers, not fifty: each carries its own collection_duration_seconds and process
  // figures, so fifty collections would give fifty different texts.
  expect(new Set(answers.map((a) => a.text)).size).toBeLessThanOrEqual(5);
  // One collection served all fifty: the workloads were listed once (paginated), not fifty times.
  const lists = kube.requests.filter((r) => r.path === '/apis/apps/v1/deployments').slice(listsBefore);
  expect(lists.filter((r) => !r.query.get('continue'))).toHaveLength(1);
  // Each image was asked for once (HEAD), however many scrapes and containers named it.
  const heads = new Map<string, number>();
  for (const r of proxy.requests.filter((r) => r.method === 'HEAD')) heads.set(r.path, (heads.get(r.path) ?? 0) + 1);
  expect(heads.size).toBe(IMAGES);
  expect([...heads.values()].every((n) => n === 1)).toBe(true);
  const final = parseExposition((await scrape(exporter.url, 10)).text);
  expect(final.filter((s) => s.name === `${PREFIX}_deployment_image_exists` && s.value === 1)).toHaveLength(WORKLOADS);
  expect(final.filter((s) => s.name === `${PREFIX}_deployment_image_exists` && s.value === 0)).toHaveLength(WORKLOADS);
  expect(exporter.stderr()).not.toMatch(/unhandled rejection|heap out of memory/i);
}, 120_000);
