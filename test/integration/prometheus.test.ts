/**
 * End to end with a real Prometheus (Debian's package): it scrapes the running exporter, which
 * checks a real registry, evaluates the shipped alert rules, and the absent image's alert fires
 * while the present image reads 1; an amd64-only image on a cluster with an arm64 node fires
 * ImagePlatformMissing for each workload using it.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startKubeApi, type KubeApi } from '../support/kube-api.js';
import { deployment, node, statefulSet } from '../support/objects.js';
import { startExporter, type RunningExporter } from '../support/exporter.js';
import { startPrometheus, type RunningPrometheus } from '../support/prometheus.js';
import { pushImage } from '../support/push.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { makeTempDir } from '../support/tmp.js';

const RULES = fileURLToPath(new URL('../../deploy/prometheus/alerts.rules.yaml', import.meta.url));

let registry: RunningRegistry;
let kube: KubeApi;
let exporter: RunningExporter;
let prometheus: RunningPrometheus;

const query = <T>(path: string): Promise<T> => prometheus.get<T>(path);
const until = <T>(what: string, probe: () => Promise<T | undefined>): Promise<T> => prometheus.until(what, probe);

beforeAll(async () => {
  registry = await startRegistry();
  await pushImage(registry, 'shop/web', '1.0', 'docker');
  kube = await startKubeApi();
  kube.set('Deployment', [
    deployment('shop', 'web', {
      containers: [
        { name: 'web', image: `${registry.host}/shop/web:1.0` },
        { name: 'sidecar', image: `${registry.host}/shop/sidecar:deleted` },
      ],
    }),
  ]);
  kube.set('StatefulSet', [statefulSet('shop', 'db', { containers: [{ name: 'db', image: `${registry.host}/shop/web:1.0` }] })]);
  // shop/web:1.0 is built for linux/amd64 only: on the arm64 node neither workload could pull it.
  kube.set('Node', [node('amd-1', { os: 'linux', architecture: 'amd64' }), node('arm-1', { os: 'linux', architecture: 'arm64' })]);
  exporter = await startExporter(kube.kubeconfigPath, [`--allow-plain-http=${registry.host}`]);

  // The shipped rules, with their `for:` shortened to 2 s so the test need not wait 10 minutes.
  const dir = await makeTempDir('prometheus');
  const rules = (await readFile(RULES, 'utf8')).replace(/\bfor: \d+m\b/g, 'for: 2s');
  await writeFile(join(dir, 'alerts.rules.yaml'), rules);
  prometheus = await startPrometheus(
    [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      'rule_files:',
      '  - alerts.rules.yaml',
      'scrape_configs:',
      '  - job_name: image-existence-exporter',
      '    honor_labels: true',
      '    scrape_timeout: 1s',
      '    static_configs:',
      `      - targets: ['${new URL(exporter.url).host}']`,
      '',
    ].join('\n'),
    { dir, args: ['--web.enable-lifecycle'] },
  );
}, 60_000);

afterAll(async () => {
  await prometheus?.stop();
  await exporter?.stop();
  await kube?.stop();
  await registry?.stop();
});

type Vector = Array<{ metric: Record<string, string>; value: [number, string] }>;
type Alerts = { alerts: Array<{ labels: Record<string, string>; state: string; annotations: Record<string, string> }> };

test('Prometheus scrapes the exporter: the present image reads 1 with the workload namespace kept', async () => {
  const present = await until('the present series', async () => {
    const v = await query<{ result: Vector }>(
      `/api/v1/query?query=${encodeURIComponent('k8s_image_existence_exporter_deployment_image_exists{container="web"}')}`,
    );
    return v.result.length > 0 ? v.result : undefined;
  });
  expect(present).toHaveLength(1);
  expect(present[0]!.metric).toMatchObject({ namespace: 'shop', owner_name: 'web', image: `${registry.host}/shop/web:1.0` });
  expect(present[0]!.value[1]).toBe('1');
});

test('the absent-image alert fires for exactly the absent image, with the right kind in its text', async () => {
  const firing = await until('DeploymentImageAbsent to fire', async () => {
    const { alerts } = await query<Alerts>('/api/v1/alerts');
    const found = alerts.filter((a) => a.labels.alertname === 'DeploymentImageAbsent' && a.state === 'firing');
    return found.length > 0 ? found : undefined;
  });
  expect(firing).toHaveLength(1);
  expect(firing[0]!.labels).toMatchObject({
    namespace: 'shop',
    owner_name: 'web',
    container: 'sidecar',
    image: `${registry.host}/shop/sidecar:deleted`,
    severity: 'warning',
  });
  expect(firing[0]!.annotations.description).toContain('Deployment shop/web');

  const { alerts } = await query<Alerts>('/api/v1/alerts');
  const names = new Set(alerts.map((a) => a.labels.alertname));
  for (const quiet of ['StatefulSetImageAbsent', 'ImageCheckFailing', 'ImageExistenceExporterDown', 'ImageExistenceExporterCannotListWorkloads']) {
    expect(names.has(quiet), quiet).toBe(false);
  }
});

test('ImagePlatformMissing fires for each workload whose image has nothing for a node platform, with its kind', async () => {
  const firing = await until('ImagePlatformMissing to fire for both workloads', async () => {
    const { alerts } = await query<Alerts>('/api/v1/alerts');
    const found = alerts.filter((a) => a.labels.alertname === 'ImagePlatformMissing' && a.state === 'firing');
    return found.length >= 2 ? found : undefined;
  });
  const byOwner = new Map(firing.map((a) => [a.labels.owner_name, a]));
  expect([...byOwner.keys()].sort()).toEqual(['db', 'web']);
  expect(byOwner.get('db')!.labels).toMatchObject({
    namespace: 'shop',
    owner_kind: 'StatefulSet',
    container: 'db',
    image: `${registry.host}/shop/web:1.0`,
    platform: 'linux/arm64',
    severity: 'warning',
  });
  expect(byOwner.get('db')!.annotations.description).toContain('StatefulSet shop/db');
  expect(byOwner.get('web')!.labels).toMatchObject({ owner_kind: 'Deployment', container: 'web', platform: 'linux/arm64' });
  // The image exists: no absent alert for it.
  const { alerts } = await query<Alerts>('/api/v1/alerts');
  expect(alerts.filter((a) => a.labels.alertname === 'StatefulSetImageAbsent')).toEqual([]);
});
