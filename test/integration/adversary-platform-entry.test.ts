/**
 * Issue 20, item 2, never a false alert: an image index may list a manifest without a `platform`
 * (the OCI spec makes it optional). containerd takes such an entry as a candidate for every node
 * and decides by its config (images.FilterPlatforms: `d.Platform == nil || m.Match(...)`), so what
 * the index says of its platforms is not all there is. A real registry holds an index of an
 * arm64 image without a platform and an amd64 one with it, checked on amd64 + arm64 nodes: arm64
 * must not be reported missing; the image's platforms are not knowable (one log line).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { request } from 'undici';
import { PREFIX, startExporter, type Scrape } from '../support/exporter.js';
import { startKubeApi, type KubeApi } from '../support/kube-api.js';
import { deployment, node } from '../support/objects.js';
import { MEDIA_TYPES, pushImage, type Platform } from '../support/push.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';

const MISSING = `${PREFIX}_image_platform_missing`;
const EXISTS = `${PREFIX}_deployment_image_exists`;

let registry: RunningRegistry;
let kube: KubeApi;
let host: string;

const linux = (architecture: string): Platform => ({ os: 'linux', architecture });

beforeAll(async () => {
  registry = await startRegistry();
  host = new URL(registry.url).host;
  const arm = await pushImage(registry, 'mixed/index', 'arm', 'oci', { platforms: [linux('arm64')] });
  const amd = await pushImage(registry, 'mixed/index', 'amd', 'oci', { platforms: [linux('amd64')] });
  const manifests = [
    { mediaType: MEDIA_TYPES.ociManifest, digest: arm.digest, size: 1 },
    { mediaType: MEDIA_TYPES.ociManifest, digest: amd.digest, size: 1, platform: linux('amd64') },
  ];
  const res = await request(`${registry.url}/v2/mixed/index/manifests/1`, {
    method: 'PUT',
    body: JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests }),
    headers: { 'content-type': MEDIA_TYPES.ociIndex },
  });
  expect(res.statusCode, await res.body.text()).toBe(201);
  await pushImage(registry, 'single/amd64', '1', 'docker');
  kube = await startKubeApi();
  kube.set('Node', [node('amd-1', { os: 'linux', architecture: 'amd64' }), node('arm-1', { os: 'linux', architecture: 'arm64' })]);
  kube.set('Deployment', [
    deployment('p', 'mixed', { containers: [{ name: 'app', image: `${host}/mixed/index:1` }] }),
    deployment('p', 'single', { containers: [{ name: 'app', image: `${host}/single/amd64:1` }] }),
  ]);
}, 60_000);

afterAll(async () => {
  await kube?.stop();
  await registry?.stop();
});

describe('an index entry without a platform', () => {
  test('no platform reported missing (a node would read its config): not knowable, said once', async () => {
    const exporter = await startExporter(kube.kubeconfigPath, [`--allow-plain-http=${host}`]);
    try {
      const said = () => exporter.logs.filter((l) => l.includes('image platforms not knowable') && l.includes('mixed/index'));
      const missing = (s: Scrape) => s.find(MISSING).map((m) => `${m.labels.owner_name} ${m.labels.platform}`).sort();
      // Settled: the plain amd64 image's platforms were read, and the index was read or reported.
      const scrape = await exporter.scrapeUntil(
        (s) => missing(s).includes('single linux/arm64') && (said().length > 0 || missing(s).some((m) => m.startsWith('mixed '))) && s.value(`${PREFIX}_checks_pending`) === 0,
        { withinMs: 20_000 },
      );
      expect(scrape.value(EXISTS, { owner_name: 'mixed' })).toBe(1);
      expect(missing(scrape)).toEqual(['single linux/arm64']);
      expect(said()).toHaveLength(1);
    } finally {
      await exporter.stop();
    }
  }, 60_000);
});
