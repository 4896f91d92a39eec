/**
 * Platform rules for image volumes end to end: a real registry (an amd64-only OCI index and Docker
 * manifest list, an amd64 single image, an OCI artifact), the loopback API server with arm64 nodes,
 * and the exporter. An index with no entry for a node is not pulled there, as a volume or as a
 * container; a single manifest is pulled as a volume on any node whatever its config says, while as
 * a container its image must still run there.
 */
import { afterAll, beforeAll, expect, test, vi } from 'vitest';
import { PREFIX, startExporter, type Scrape } from '../support/exporter.js';
import { startKubeApi, type KubeApi } from '../support/kube-api.js';
import { deployment, node } from '../support/objects.js';
import { startRecordingProxy, type RecordingProxy } from '../support/proxy.js';
import { pushImage } from '../support/push.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import type { StatusModel } from '../../src/exporter/status/status-model.js';

vi.setConfig({ testTimeout: 120_000 });

const VOLUME_MISSING = `${PREFIX}_image_volume_platform_missing`;
const CONTAINER_MISSING = `${PREFIX}_image_platform_missing`;
const AMD64 = [{ os: 'linux', architecture: 'amd64' }];

let registry: RunningRegistry;
let proxy: RecordingProxy;
let kube: KubeApi;
let host: string;

beforeAll(async () => {
  registry = await startRegistry();
  proxy = await startRecordingProxy(registry.url);
  host = proxy.host;
  await pushImage(registry, 'vol/index', '1', 'oci-index', { platforms: AMD64 });
  await pushImage(registry, 'vol/list', '1', 'docker-list', { platforms: AMD64 });
  await pushImage(registry, 'vol/single', '1', 'oci', { platforms: AMD64 });
  await pushImage(registry, 'vol/artifact', '1', 'oci-artifact');
  await pushImage(registry, 'app/arm', '1', 'oci-index', { platforms: [{ os: 'linux', architecture: 'arm64' }] });
  kube = await startKubeApi();
  kube.set('Node', [node('arm-1', { os: 'linux', architecture: 'arm64' }), node('arm-2', { os: 'linux', architecture: 'arm64' })]);
  const image = (name: string) => `${host}/vol/${name}:1`;
  kube.set('Deployment', [
    deployment('ml', 'as-volumes', {
      containers: [{ name: 'app', image: `${host}/app/arm:1` }],
      volumes: ['index', 'list', 'single', 'artifact'].map((name) => ({ name: `${name}-vol`, image: { reference: image(name) } })),
    }),
    deployment('ml', 'as-containers', {
      containers: ['index', 'list', 'single', 'artifact'].map((name) => ({ name: `${name}-app`, image: image(name) })),
    }),
  ]);
});

afterAll(async () => {
  await kube?.stop();
  await proxy?.stop();
  await registry?.stop();
});

/** `owner volume-or-container platform` of every series of a family, sorted. */
function missing(scrape: Scrape, family: string): string[] {
  return scrape
    .find(family)
    .map((s) => `${s.labels.owner_name} ${s.labels.volume ?? s.labels.container} ${s.labels.platform}`)
    .sort();
}

test('an amd64-only index misses arm64 as a volume and as a container; an amd64 single image or an artifact only as a container', async () => {
  const exporter = await startExporter(kube.kubeconfigPath, [`--allow-plain-http=${host}`]);
  try {
    // Platforms are read after the checks: wait for the container series (the single image's too,
    // whose digest the volume shares) and for the artifact's manifest read, then scrape once more.
    await exporter.scrapeUntil((s) => missing(s, CONTAINER_MISSING).length >= 3 && s.value(`${PREFIX}_checks_pending`) === 0, { withinMs: 15_000 });
    await vi.waitFor(() => expect(proxy.requests.some((r) => r.method === 'GET' && r.path.startsWith('/v2/vol/artifact/manifests/sha256:'))).toBe(true), { timeout: 15_000 });
    const scrape = await exporter.scrapeFresh();

    expect(missing(scrape, VOLUME_MISSING)).toEqual(['as-volumes index-vol linux/arm64', 'as-volumes list-vol linux/arm64']);
    expect(scrape.find(VOLUME_MISSING, { volume: 'index-vol' })[0]?.labels).toEqual({
      namespace: 'ml',
      owner_kind: 'Deployment',
      owner_name: 'as-volumes',
      volume: 'index-vol',
      image: `${host}/vol/index:1`,
      platform: 'linux/arm64',
    });
    // The container family as it was: the single image must run on the node; the artifact names no platform (unknown).
    expect(missing(scrape, CONTAINER_MISSING)).toEqual([
      'as-containers index-app linux/arm64',
      'as-containers list-app linux/arm64',
      'as-containers single-app linux/arm64',
    ]);
    for (const volume of ['index-vol', 'list-vol', 'single-vol', 'artifact-vol']) {
      expect(scrape.value(`${PREFIX}_image_volume_exists`, { volume }), volume).toBe(1);
    }

    // The status page lists the volumes that miss a platform with the containers, and no other volume.
    const status = (await (await fetch(`${exporter.url}/status?format=json`)).json()) as StatusModel;
    const group = status.groups.find((g) => g.id === 'platform_missing');
    const listed = group?.images.flatMap((i) => i.containers.map((c) => `${c.name} ${c.container} ${c.volume} ${i.missingPlatforms?.join(',')}`)).sort();
    expect(listed).toEqual([
      'as-containers index-app false linux/arm64',
      'as-containers list-app false linux/arm64',
      'as-containers single-app false linux/arm64',
      'as-volumes index-vol true linux/arm64',
      'as-volumes list-vol true linux/arm64',
    ]);
  } finally {
    await exporter.stop();
  }
});
