/**
 * Platform-aware checks end to end: a real registry with real multi-platform content (OCI index and
 * Docker manifest list, single manifests whose config blob names the platform, arm variants, an index
 * with attestation entries), the loopback API server serving Nodes of several platforms and workloads
 * with and without node selectors, affinity and tolerations. A recording proxy counts what reaches
 * the registry.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { PREFIX, startExporter, type RunningExporter, type Scrape } from '../support/exporter.js';
import { startKubeApi, type KubeApi } from '../support/kube-api.js';
import { daemonSet, deployment, node, type PodTemplateInput } from '../support/objects.js';
import { startRecordingProxy, type RecordingProxy } from '../support/proxy.js';
import { pushImage } from '../support/push.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';

const MISSING = `${PREFIX}_image_platform_missing`;
const EXISTS = `${PREFIX}_deployment_image_exists`;
const STATUS = `${PREFIX}_image_check_status`;

let registry: RunningRegistry;
let proxy: RecordingProxy;
let kube: KubeApi;
let host: string;

beforeAll(async () => {
  registry = await startRegistry();
  proxy = await startRecordingProxy(registry.url);
  host = proxy.host;
  await pushImage(registry, 'multi/oci', '1', 'oci-index'); // linux/amd64 + linux/arm64
  await pushImage(registry, 'multi/docker', '1', 'docker-list'); // linux/amd64 + linux/arm64
  await pushImage(registry, 'single/amd64', 'docker', 'docker'); // config blob: linux/amd64
  await pushImage(registry, 'single/amd64', 'oci', 'oci');
  await pushImage(registry, 'arm/variants', '1', 'oci-index', {
    platforms: [
      { os: 'linux', architecture: 'arm', variant: 'v7' },
      { os: 'linux', architecture: 'arm', variant: 'v6' },
    ],
  });
  await pushImage(registry, 'arm/v6', '1', 'docker-list', { platforms: [{ os: 'linux', architecture: 'arm', variant: 'v6' }] });
  await pushImage(registry, 'arm64/only', '1', 'oci-index', { platforms: [{ os: 'linux', architecture: 'arm64' }] });
  // As buildx pushes with provenance: the attestation manifest sits in the index as unknown/unknown.
  await pushImage(registry, 'attested/amd64', '1', 'oci-index', {
    platforms: [
      { os: 'linux', architecture: 'amd64' },
      { os: 'unknown', architecture: 'unknown' },
    ],
  });
  kube = await startKubeApi();
});

afterAll(async () => {
  await kube?.stop();
  await proxy?.stop();
  await registry?.stop();
});

beforeEach(() => {
  kube.clearFaults();
  kube.set('Node', [
    node('amd-1', { os: 'linux', architecture: 'amd64' }),
    node('amd-2', { os: 'linux', architecture: 'amd64' }),
    node('arm-1', { os: 'linux', architecture: 'arm64' }),
  ]);
  for (const kind of ['Deployment', 'DaemonSet'] as const) kube.set(kind, []);
});

function app(name: string, image: string, placement?: PodTemplateInput['placement']) {
  return deployment('p', name, { containers: [{ name: 'app', image: `${host}/${image}` }], placement });
}

/** `owner platform` of every platform_missing series, sorted. */
function missing(scrape: Scrape): string[] {
  return scrape
    .find(MISSING)
    .map((s) => `${s.labels.owner_name} ${s.labels.platform}`)
    .sort();
}

async function started(flags: string[] = []): Promise<RunningExporter> {
  return startExporter(kube.kubeconfigPath, [`--allow-plain-http=${host}`, ...flags]);
}

/** Scrapes until every present image's platforms have been read (they are read after the check). */
async function settled(exporter: RunningExporter, expected: number): Promise<Scrape> {
  return exporter.scrapeUntil((s) => missing(s).length >= expected && s.value(`${PREFIX}_checks_pending`) === 0, { withinMs: 8000 });
}

describe('what a workload needs against what its image provides', () => {
  test('on an amd64 + arm64 cluster: single-platform images miss arm64 unless the workload keeps off arm64 nodes', async () => {
    kube.set('Deployment', [
      app('amd-docker', 'single/amd64:docker'),
      app('amd-oci', 'single/amd64:oci'),
      app('pinned', 'single/amd64:docker', { nodeSelector: { 'kubernetes.io/arch': 'amd64' } }),
      app('beta-pinned', 'single/amd64:docker', { nodeSelector: { 'beta.kubernetes.io/arch': 'amd64' } }),
      app('not-in-arm', 'single/amd64:oci', {
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/arch', operator: 'NotIn', values: ['arm64'] }] }],
            },
          },
        },
      }),
      app('only-arm', 'single/amd64:oci', {
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/arch', operator: 'In', values: ['arm64'] }] }],
            },
          },
        },
      }),
      app('multi-oci', 'multi/oci:1'),
      app('multi-docker', 'multi/docker:1'),
      app('attested', 'attested/amd64:1'),
      app('arm-variants', 'arm/variants:1'),
    ]);
    const exporter = await started();
    try {
      const scrape = await settled(exporter, 5);
      expect(missing(scrape)).toEqual([
        'amd-docker linux/arm64',
        'amd-oci linux/arm64',
        // arm64 nodes run arm/v7 (containerd's arm64 matcher falls back to 32-bit arm); amd64 ones do not
        'arm-variants linux/amd64',
        // the attestation entry (unknown/unknown) is no arm64 image
        'attested linux/arm64',
        'only-arm linux/arm64',
      ]);
      // The image exists: its status and *_image_exists still say so.
      expect(scrape.value(EXISTS, { owner_name: 'amd-docker' })).toBe(1);
      expect(scrape.value(STATUS, { owner_name: 'amd-docker', status: 'present' })).toBe(1);
      const series = scrape.find(MISSING, { owner_name: 'amd-docker' })[0];
      expect(series?.labels).toEqual({
        namespace: 'p',
        owner_kind: 'Deployment',
        owner_name: 'amd-docker',
        container: 'app',
        image: `${host}/single/amd64:docker`,
        platform: 'linux/arm64',
      });
      expect(series?.value).toBe(1);
    } finally {
      await exporter.stop();
    }
  });

  test('variants: an arm/v7 node runs arm/v6 images, not arm64 ones; DaemonSets follow the same rule', async () => {
    kube.set('Node', [node('pi-1', { os: 'linux', architecture: 'arm', labels: {} })]);
    kube.set('DaemonSet', [
      daemonSet('p', 'v6-agent', { containers: [{ name: 'agent', image: `${host}/arm/v6:1` }] }),
      daemonSet('p', 'arm64-agent', { containers: [{ name: 'agent', image: `${host}/arm64/only:1` }] }),
    ]);
    const exporter = await started();
    try {
      const scrape = await settled(exporter, 1);
      expect(scrape.find(MISSING).map((s) => `${s.labels.owner_kind} ${s.labels.owner_name} ${s.labels.platform}`)).toEqual([
        'DaemonSet arm64-agent linux/arm/v7',
      ]);
    } finally {
      await exporter.stop();
    }
  });

  test('a tainted arm64 pool only counts for workloads that tolerate it', async () => {
    kube.set('Node', [
      node('amd-1', { os: 'linux', architecture: 'amd64' }),
      node('arm-1', { os: 'linux', architecture: 'arm64', taints: [{ key: 'kubernetes.io/arch', value: 'arm64', effect: 'NoSchedule' }] }),
      // A condition taint says nothing about where the pods belong.
      node('amd-3', { os: 'linux', architecture: 'amd64', taints: [{ key: 'node.kubernetes.io/not-ready', effect: 'NoExecute' }] }),
    ]);
    kube.set('Deployment', [
      app('plain', 'single/amd64:docker'),
      app('tolerant', 'single/amd64:docker', { tolerations: [{ key: 'kubernetes.io/arch', operator: 'Equal', value: 'arm64', effect: 'NoSchedule' }] }),
    ]);
    const exporter = await started();
    try {
      const scrape = await settled(exporter, 1);
      expect(missing(scrape)).toEqual(['tolerant linux/arm64']);
    } finally {
      await exporter.stop();
    }
  });
});

describe('what it costs and what it never does', () => {
  test('a second check interval over the same digests reads no manifest or blob again', async () => {
    kube.set('Deployment', [app('amd-docker', 'single/amd64:docker'), app('multi-oci', 'multi/oci:1')]);
    proxy.requests.length = 0;
    const exporter = await started(['--check-interval=1s']);
    try {
      await settled(exporter, 1);
      const gets = () => proxy.requests.filter((r) => r.method === 'GET' && /\/(manifests|blobs)\//.test(r.path));
      // The index once; the single image's manifest and its config blob once.
      expect(gets().map((r) => r.path.replace(/sha256:[0-9a-f]+/, 'DIGEST')).sort()).toEqual([
        '/v2/multi/oci/manifests/DIGEST',
        '/v2/single/amd64/blobs/DIGEST',
        '/v2/single/amd64/manifests/DIGEST',
      ]);
      const heads = () => proxy.requests.filter((r) => r.method === 'HEAD').length;
      const before = { heads: heads(), gets: gets().length };
      await sleep(1200);
      const scrape = await exporter.scrapeUntil((s) => heads() >= before.heads + 2 && s.value(`${PREFIX}_checks_pending`) === 0, { withinMs: 5000 });
      expect(gets()).toHaveLength(before.gets);
      expect(missing(scrape)).toEqual(['amd-docker linux/arm64']);
    } finally {
      await exporter.stop();
    }
  });

  test('nodes that cannot be listed: no platform series, one log line, existence unaffected', async () => {
    kube.requests.length = 0;
    kube.fault({ path: '/api/v1/nodes', status: 403, message: 'nodes is forbidden: User "exporter" cannot list resource "nodes"' });
    kube.set('Deployment', [app('amd-docker', 'single/amd64:docker')]);
    const exporter = await started();
    try {
      let scrape = await exporter.scrape();
      expect(scrape.value(EXISTS, { owner_name: 'amd-docker' })).toBe(1);
      await sleep(500);
      scrape = await exporter.scrapeFresh();
      expect(scrape.find(MISSING)).toEqual([]);
      expect(scrape.value(EXISTS, { owner_name: 'amd-docker' })).toBe(1);
      expect(scrape.value(`${PREFIX}_workload_list_up`, { kind: 'Deployment' })).toBe(1);
      const lines = exporter.logs.filter((l) => l.includes('cannot list nodes'));
      expect(lines).toHaveLength(1);
      // Asked at most once a minute, failing or not.
      expect(kube.requests.filter((r) => r.path === '/api/v1/nodes')).toHaveLength(1);
      expect(JSON.parse(lines[0] as string)).toMatchObject({ level: 'error', reason: expect.stringContaining('403') });
    } finally {
      await exporter.stop();
    }
  });

  test('--check-platforms=false: no node list, no manifest or blob read, no platform series', async () => {
    kube.set('Deployment', [app('amd-docker', 'single/amd64:docker')]);
    kube.requests.length = 0;
    proxy.requests.length = 0;
    const exporter = await started(['--check-platforms=false']);
    try {
      const scrape = await exporter.scrapeFresh();
      expect(scrape.value(EXISTS, { owner_name: 'amd-docker' })).toBe(1);
      await sleep(300);
      expect((await exporter.scrapeFresh()).find(MISSING)).toEqual([]);
      expect(kube.requests.filter((r) => r.path === '/api/v1/nodes')).toEqual([]);
      expect(proxy.requests.filter((r) => r.method === 'GET' && /\/(manifests|blobs)\//.test(r.path))).toEqual([]);
    } finally {
      await exporter.stop();
    }
  });
});
