/**
 * Issue 20, item 8, end to end: while the exporter renders a big answer (10,000 Deployments × 2
 * containers listed from the loopback API server, their image checked against a real registry),
 * /healthz is answered. The exporter runs in this process (the same createExporter main.ts uses),
 * so the test can see when the rendering starts and ends and count the /healthz answers that
 * arrive in between: a render made of one synchronous stretch lets none through, whatever the
 * machine's speed or load; one made in slices lets one through every few slices.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Snapshot } from '../../src/engine/collector.js';
import { startExporter, PREFIX, type RunningExporter } from '../support/exporter.js';
import { startKubeApi, type KubeApi } from '../support/kube-api.js';
import { deployment } from '../support/objects.js';
import { pushImage } from '../support/push.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';

const DEPLOYMENTS = 10_000;

let kube: KubeApi;
let registry: RunningRegistry;
let running: RunningExporter | undefined;

beforeAll(async () => {
  registry = await startRegistry();
  await pushImage(registry, 'app', '1', 'docker');
  kube = await startKubeApi();
  kube.set(
    'Deployment',
    Array.from({ length: DEPLOYMENTS }, (_, i) =>
      deployment(`ns${i % 100}`, `app-${i}`, {
        containers: [
          { name: 'main', image: `${registry.host}/app:1` },
          { name: 'sidecar', image: `${registry.host}/app:1` },
        ],
      }),
    ),
  );
}, 60_000);

afterAll(async () => {
  await running?.stop();
  await kube?.stop();
  await registry?.stop();
});

describe('the exporter under a big answer (issue 20, item 8)', () => {
  test('/healthz is answered while an answer of 20,000 containers is being rendered', async () => {
    running = await startExporter(kube.kubeconfigPath, [`--allow-plain-http=${registry.host}`, '--list-max-age=1h', '--scrape-timeout=60s']);
    const { metrics } = running.exporter;
    // Watch the exporter's own render (calling it unchanged) to know when an answer is being made.
    let rendering = false;
    let renders = 0;
    const render = metrics.render.bind(metrics);
    metrics.render = async (snapshot: Snapshot) => {
      rendering = true;
      renders++;
      try {
        return await render(snapshot);
      } finally {
        rendering = false;
      }
    };

    let answeredWhileRendering = 0;
    let healthy = 0;
    let stop = false;
    const probe = (async () => {
      while (!stop) {
        const response = await fetch(`${running!.url}/healthz`);
        expect(await response.text()).toBe('ok\n');
        healthy++;
        if (rendering) answeredWhileRendering++;
      }
    })();

    // The first scrape waits for the listing and the one image check, then renders every row anew.
    const scrape = await running.scrape({ timeoutSeconds: 60 });
    stop = true;
    await probe;
    expect(scrape.status).toBe(200);
    expect(scrape.find(`${PREFIX}_image_check_status`, { status: 'present' })).toHaveLength(2 * DEPLOYMENTS);
    expect(renders).toBe(1);
    expect(healthy).toBeGreaterThan(0);
    // On one synchronous stretch this is 0: no answer can be read while the loop is held.
    expect(answeredWhileRendering).toBeGreaterThanOrEqual(1);
  }, 60_000);
});
