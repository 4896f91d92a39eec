/**
 * Fifty scrapes at once against a cold cache: one registry request per image, every answer inside
 * its deadline, no unhandled rejection, memory that does not grow with the number of scrapes.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startKubeApi, type KubeApi } from '../support/kube-api.js';
import { deployment } from '../support/objects.js';
import { PREFIX, startExporter } from '../support/exporter.js';
import { startRecordingProxy, type RecordingProxy } from '../support/proxy.js';
import { pushImage } from '../support/push.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';

const IMAGES = 40;
let registry: RunningRegistry;
let proxy: RecordingProxy;
let kube: KubeApi;
const rejections: unknown[] = [];
const onRejection = (reason: unknown) => rejections.push(reason);

beforeAll(async () => {
  registry = await startRegistry();
  for (let i = 0; i < IMAGES / 2; i++) await pushImage(registry, `svc${i}`, '1', 'docker');
  proxy = await startRecordingProxy(registry.url, { latencyMs: 400 });
  kube = await startKubeApi();
  // 200 workloads over 40 images, half of which do not exist.
  kube.set(
    'Deployment',
    Array.from({ length: 200 }, (_, i) =>
      deployment(`ns${i % 7}`, `w${i}`, { containers: [{ name: 'c', image: `${proxy.host}/svc${i % IMAGES}:1` }] }),
    ),
  );
  process.on('unhandledRejection', onRejection);
});

afterAll(async () => {
  process.off('unhandledRejection', onRejection);
  await kube?.stop();
  await proxy?.stop();
  await registry?.stop();
});

test('50 concurrent cold scrapes', async () => {
  const exporter = await startExporter(kube.kubeconfigPath, [
    '--allow-plain-http=127.0.0.1:*',
    '--max-concurrent-per-registry=8',
  ]);
  try {
    const heapBefore = process.memoryUsage().heapUsed;
    // 400 ms per request, 8 at a time, 40 images (+ GETs reading the 20 absent ones' 404 bodies):
    // more than a 2 s deadline allows, so the answers are partial.
    const scrapes = await Promise.all(Array.from({ length: 50 }, () => exporter.scrape({ timeoutSeconds: 2 })));
    for (const scrape of scrapes) {
      expect(scrape.status).toBe(200);
      expect(scrape.ms).toBeLessThan(2000);
    }
    expect(scrapes.some((s) => s.value(`${PREFIX}_checks_pending`)! > 0)).toBe(true);
    // The checks went on; a later scrape has them all, and each image was asked for once.
    let final = await exporter.scrape({ timeoutSeconds: 10 });
    while (final.value(`${PREFIX}_checks_pending`) !== 0) final = await exporter.scrape({ timeoutSeconds: 10 });
    expect(final.find(`${PREFIX}_deployment_image_exists`)).toHaveLength(200);
    const heads = new Map<string, number>();
    for (const r of proxy.requests.filter((r) => r.method === 'HEAD')) heads.set(r.path, (heads.get(r.path) ?? 0) + 1);
    expect(heads.size).toBe(IMAGES);
    expect([...heads.values()].every((n) => n === 1)).toBe(true);
    expect(proxy.maxConcurrent).toBeLessThanOrEqual(8);
    // Loose on purpose: a leak per scrape (copies of the workload list, results) would blow far past it.
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(64 * 1024 * 1024);
    expect(rejections).toEqual([]);
  } finally {
    await exporter.stop();
  }
});
