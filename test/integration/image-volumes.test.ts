/**
 * Image volumes (spec.volumes[].image, KEP-4639) end to end: the exporter against the loopback API
 * server and a real registry reports a present and an absent image volume in the volume families
 * (never in the container families); `check` reports them on manifests and with --cluster, named
 * "image volume <name>".
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { stringify } from 'yaml';
import { checkHere as runHere } from '../support/check-here.js';
import { PREFIX, startExporter, type RunningExporter } from '../support/exporter.js';
import { startKubeApi, type KubeApi } from '../support/kube-api.js';
import { deployment } from '../support/objects.js';
import { pushImage } from '../support/push.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { makeTempDir } from '../support/tmp.js';

vi.setConfig({ testTimeout: 120_000 });

let registry: RunningRegistry;
let kube: KubeApi;
let host: string;
let dir: string;

const VOLUMES = () => [
  { name: 'models', image: { reference: `${host}/ml/models:3`, pullPolicy: 'IfNotPresent' } },
  { name: 'gone', image: { reference: `${host}/ml/models:nope` } },
  { name: 'no-ref', image: { pullPolicy: 'Always' } },
  { name: 'scratch', emptyDir: {} },
];
const serve = () => deployment('ml', 'serve', { containers: [{ name: 'app', image: `${host}/ml/serve:1` }], volumes: VOLUMES() });

beforeAll(async () => {
  registry = await startRegistry();
  host = registry.host;
  await pushImage(registry, 'ml/serve', '1', 'docker');
  await pushImage(registry, 'ml/models', '3', 'oci');
  kube = await startKubeApi();
  kube.set('Deployment', [serve()]);
  dir = await makeTempDir('image-volumes');
});

afterAll(async () => {
  await kube?.stop();
  await registry?.stop();
});

describe('the exporter', () => {
  let exporter: RunningExporter;
  beforeAll(async () => {
    exporter = await startExporter(kube.kubeconfigPath, [`--allow-plain-http=${host}`]);
  });
  afterAll(() => exporter?.stop());

  test('a present and an absent image volume in the volume families; a missing reference is bad_reference; none in the container families', async () => {
    const scrape = await exporter.scrapeFresh();
    const owner = { namespace: 'ml', owner_kind: 'Deployment', owner_name: 'serve' };
    expect(scrape.value(`${PREFIX}_image_volume_exists`, { ...owner, volume: 'models', image: `${host}/ml/models:3` })).toBe(1);
    expect(scrape.value(`${PREFIX}_image_volume_exists`, { ...owner, volume: 'gone', image: `${host}/ml/models:nope` })).toBe(0);
    expect(scrape.value(`${PREFIX}_image_volume_exists`, { ...owner, volume: 'no-ref' })).toBeUndefined();
    const status = (volume: string) => scrape.find(`${PREFIX}_image_volume_check_status`, { ...owner, volume }).map((s) => s.labels.status);
    expect([status('models'), status('gone'), status('no-ref'), status('scratch')]).toEqual([['present'], ['absent'], ['bad_reference'], []]);
    // The container families hold the container only, with their labels as always.
    expect(scrape.find(`${PREFIX}_deployment_image_exists`).map((s) => s.labels)).toEqual([{ namespace: 'ml', owner_name: 'serve', container: 'app', image: `${host}/ml/serve:1` }]);
    expect(scrape.find(`${PREFIX}_image_check_status`).map((s) => s.labels.container)).toEqual(['app']);
    expect(scrape.find(`${PREFIX}_image_volume_skipped`)).toEqual([]);
  });

  test('an image volume skipped on purpose is said in image_volume_skipped, and has no other series', async () => {
    const ignoring = await startExporter(kube.kubeconfigPath, [`--allow-plain-http=${host}`, `--ignored-images=${host}/ml/models:3`]);
    try {
      const scrape = await ignoring.scrapeFresh();
      const models = { namespace: 'ml', owner_kind: 'Deployment', owner_name: 'serve', volume: 'models', image: `${host}/ml/models:3` };
      expect(scrape.find(`${PREFIX}_image_volume_skipped`).map((s) => s.labels)).toEqual([{ ...models, reason: 'ignored_images' }]);
      expect(scrape.find(`${PREFIX}_image_volume_exists`, { volume: 'models' })).toEqual([]);
      expect(scrape.find(`${PREFIX}_image_volume_check_status`, { volume: 'models' })).toEqual([]);
      expect(scrape.find(`${PREFIX}_image_skipped`)).toEqual([]);
    } finally {
      await ignoring.stop();
    }
  });
});

describe('check', () => {
  const checkHere = (args: readonly string[]) => runHere(args, { env: { HOME: dir, DOCKER_CONFIG: join(dir, '.docker'), NO_COLOR: '' } });

  test('on a manifest: the image volumes are checked and named "image volume <name>"; the absent one fails the run', async () => {
    const file = join(dir, 'manifests', 'serve.yaml');
    await mkdir(join(dir, 'manifests'), { recursive: true });
    await writeFile(file, stringify({ apiVersion: 'apps/v1', kind: 'Deployment', ...serve() }));
    const run = await checkHere([`--allow-plain-http=${host}`, '--output=json', file]);
    expect(run.code, run.stderr).toBe(1);
    const report = JSON.parse(run.stdout) as { containers: Array<{ container: string; volume: boolean; status: string }> };
    expect(report.containers.map((c) => [c.container, c.volume, c.status]).sort()).toEqual([
      ['app', false, 'present'],
      ['gone', true, 'absent'],
      ['models', true, 'present'],
      ['no-ref', true, 'bad_reference'],
    ]);
    expect((JSON.parse(run.stdout) as { summary: { containers: number; volumes?: number } }).summary).toMatchObject({ containers: 4, volumes: 3 });
    const github = await checkHere([`--allow-plain-http=${host}`, '--output=github', file]);
    expect(github.stdout).toContain(`Deployment ml/serve, image volume gone: image "${host}/ml/models:nope" does not exist`);
    // The summary tells volumes from containers.
    expect(github.stdout.trimEnd().split('\n').at(-1)).toMatch(/^1 container and 3 image volumes, \d+ images: /);
  });

  test('--cluster: the image volumes of the listed Deployments are checked too', async () => {
    const run = await checkHere([`--allow-plain-http=${host}`, '--output=json', '--cluster', `--kubeconfig=${kube.kubeconfigPath}`]);
    expect(run.code, run.stderr).toBe(1);
    const report = JSON.parse(run.stdout) as { containers: Array<{ container: string; volume: boolean; status: string }> };
    expect(report.containers.filter((c) => c.volume).map((c) => [c.container, c.status]).sort()).toEqual([
      ['gone', 'absent'],
      ['models', 'present'],
      ['no-ref', 'bad_reference'],
    ]);
  });
});
