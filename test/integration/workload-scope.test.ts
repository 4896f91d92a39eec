/**
 * Which workloads are reported: the namespaces an operator chooses (by name, with namespaced calls
 * only, or by label), inactive workloads with and without --skip-inactive-workloads, Jobs and Pods
 * that nothing else reports, and custom resources with a pod template. The loopback API server and
 * a real registry throughout.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { startKubeApi, type KubeApi } from '../support/kube-api.js';
import { cronJob, daemonSet, deployment, dockerConfigSecret, serviceAccount, statefulSet } from '../support/objects.js';
import { PREFIX, startExporter, type RunningExporter, type Scrape } from '../support/exporter.js';
import { startRecordingProxy, type RecordingProxy } from '../support/proxy.js';
import { pushImage } from '../support/push.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';

const STATUS = `${PREFIX}_image_check_status`;
const UP = `${PREFIX}_workload_list_up`;

let registry: RunningRegistry;
let proxy: RecordingProxy; // records which images are checked
let kube: KubeApi;
const running: RunningExporter[] = [];

async function exporterWith(flags: string[], deps: Parameters<typeof startExporter>[2] = {}, api: KubeApi = kube): Promise<RunningExporter> {
  const exporter = await startExporter(api.kubeconfigPath, [`--allow-plain-http=${proxy.host}`, '--check-platforms=false', ...flags], deps);
  running.push(exporter);
  return exporter;
}

const image = (tag: string) => `${proxy.host}/app:${tag}`;
const containers = (tag: string) => ({ containers: [{ name: 'c', image: image(tag) }] });
/** `kind/namespace/name` of each workload with a status series. */
const reported = (scrape: Scrape) => scrape.find(STATUS).map((s) => `${s.labels.owner_kind}/${s.labels.namespace}/${s.labels.owner_name}`).sort();
const checkedTags = () => [...new Set(proxy.requests.map((r) => /\/manifests\/(.+)$/.exec(r.path)?.[1]).filter((t) => t !== undefined))].sort();

function pod(namespace: string, name: string, tag: string, extra: { ownerReferences?: object[]; phase?: string } = {}) {
  return {
    metadata: { namespace, name, ...(extra.ownerReferences ? { ownerReferences: extra.ownerReferences } : {}) },
    spec: { ...containers(tag), restartPolicy: 'Always' },
    status: { phase: extra.phase ?? 'Running' },
  };
}

function job(namespace: string, name: string, tag: string, extra: { ownerReferences?: object[]; complete?: boolean; suspend?: boolean } = {}) {
  return {
    metadata: { namespace, name, ...(extra.ownerReferences ? { ownerReferences: extra.ownerReferences } : {}) },
    spec: { ...(extra.suspend ? { suspend: true } : {}), template: { spec: { ...containers(tag), restartPolicy: 'Never' } } },
    status: extra.complete ? { succeeded: 1, conditions: [{ type: 'Complete', status: 'True' }] } : { active: 1 },
  };
}

const controller = (kind: string, name: string) => ({ apiVersion: 'x/v1', kind, name, uid: `uid-${name}`, controller: true });

beforeAll(async () => {
  registry = await startRegistry();
  for (const tag of ['a', 'b', 'other', 'active', 'scaled', 'suspended', 'finished', 'unscheduled', 'done', 'bare', 'owned', 'cron', 'rollout', 'worker', 'wf-main', 'wf-init', 'wf-script']) {
    await pushImage(registry, 'app', tag, 'docker');
  }
  proxy = await startRecordingProxy(registry.url);
  kube = await startKubeApi();
});

// Stopped after each test: no list of one test's exporter reaches the next test's server.
afterEach(async () => {
  for (const exporter of running.splice(0)) await exporter.stop();
});

afterAll(async () => {
  await kube?.stop();
  await proxy?.stop();
  await registry?.stop();
});

beforeEach(() => {
  for (const kind of ['Deployment', 'StatefulSet', 'DaemonSet', 'CronJob', 'Job', 'Pod', 'Secret', 'ServiceAccount', 'Namespace'] as const) kube.set(kind, []);
  kube.clearFaults();
  kube.requests.length = 0;
  proxy.reset();
});

describe('--namespace', () => {
  beforeEach(() => {
    kube.set('Deployment', [
      deployment('team-a', 'web', { ...containers('a'), imagePullSecrets: ['regcred'] }),
      deployment('team-b', 'api', containers('b')),
      deployment('other', 'secretive', containers('other')),
    ]);
    kube.set('Pod', [pod('team-a', 'debug', 'bare'), pod('other', 'debug', 'other')]);
    kube.set('Secret', [dockerConfigSecret('team-a', 'regcred', { [proxy.host]: { username: 'u', password: 'p' } })]);
    kube.set('ServiceAccount', [serviceAccount('team-b', 'default'), serviceAccount('other', 'default')]);
  });

  test('lists workloads, service accounts and secrets with namespaced calls only; nothing outside is reported', async () => {
    const exporter = await exporterWith(['--namespace=team-a,team-b']);
    const scrape = await exporter.scrapeFresh();
    expect(reported(scrape)).toEqual(['Deployment/team-a/web', 'Deployment/team-b/api', 'Pod/team-a/debug']);
    expect(scrape.text).not.toContain('other');
    expect(checkedTags()).toEqual(['a', 'b', 'bare']);
    const paths = new Set(kube.requests.map((r) => r.path));
    for (const path of paths) expect(path, path).toMatch(/^\/apis?\/(?:[a-z0-9.]+\/)?v1\/namespaces\/team-[ab]\/[a-z]+(?:\/[a-z-]+)?$/);
    // Every kind in both namespaces, the service accounts of the namespace whose workload names no secret, the secret.
    for (const path of ['/apis/apps/v1/namespaces/team-a/deployments', '/apis/batch/v1/namespaces/team-b/jobs', '/api/v1/namespaces/team-a/pods', '/api/v1/namespaces/team-b/serviceaccounts', '/api/v1/namespaces/team-a/secrets/regcred']) {
      expect(paths, path).toContain(path);
    }
    // One up series per kind and namespace.
    for (const namespace of ['team-a', 'team-b']) for (const kind of ['Deployment', 'StatefulSet', 'DaemonSet', 'CronJob', 'Job', 'Pod']) expect(scrape.value(UP, { kind, namespace })).toBe(1);
    expect(scrape.find(UP).every((s) => s.labels.namespace !== undefined)).toBe(true);
  });

  test('a namespace the exporter may not list is workload_list_up 0 for it only; the others are reported', async () => {
    kube.fault({ path: '/apis/apps/v1/namespaces/team-b/deployments', status: 403 });
    const exporter = await exporterWith(['--namespace=team-a', '--namespace=team-b']);
    const scrape = await exporter.scrapeFresh();
    expect(scrape.value(UP, { kind: 'Deployment', namespace: 'team-b' })).toBe(0);
    expect(scrape.value(UP, { kind: 'Deployment', namespace: 'team-a' })).toBe(1);
    expect(scrape.value(UP, { kind: 'Pod', namespace: 'team-b' })).toBe(1);
    expect(reported(scrape)).toEqual(['Deployment/team-a/web', 'Pod/team-a/debug']);
    expect(exporter.logs.some((l) => l.includes('cannot list workloads') && l.includes('"namespace":"team-b"') && l.includes('Deployment'))).toBe(true);
  });
});

describe('--namespace-selector', () => {
  test("follows the namespaces' labels, re-read once a minute", async () => {
    kube.set('Namespace', [
      { metadata: { name: 'team-a', labels: { 'image-checks': 'on' } } },
      { metadata: { name: 'team-b', labels: { 'image-checks': 'off' } } },
      { metadata: { name: 'other' } },
    ]);
    kube.set('Deployment', [deployment('team-a', 'web', containers('a')), deployment('team-b', 'api', containers('b')), deployment('other', 'x', containers('other'))]);
    let offset = 0;
    const exporter = await exporterWith(['--namespace-selector=image-checks=on'], { now: () => Date.now() + offset });
    expect(reported(await exporter.scrapeFresh())).toEqual(['Deployment/team-a/web']);
    const listed = kube.requests.filter((r) => r.path === '/api/v1/namespaces');
    expect(listed.length).toBeGreaterThan(0);
    expect(listed[0]?.query.get('labelSelector')).toBe('image-checks=on');

    // Labels change: nothing happens before the minute is up, then the scope follows.
    kube.set('Namespace', [
      { metadata: { name: 'team-a', labels: { 'image-checks': 'off' } } },
      { metadata: { name: 'team-b', labels: { 'image-checks': 'on' } } },
      { metadata: { name: 'other' } },
    ]);
    const before = kube.requests.filter((r) => r.path === '/api/v1/namespaces').length;
    expect(reported(await exporter.scrapeFresh())).toEqual(['Deployment/team-a/web']);
    expect(kube.requests.filter((r) => r.path === '/api/v1/namespaces').length).toBe(before);
    offset = 61_000;
    const after = await exporter.scrapeUntil((s) => reported(s).join() === 'Deployment/team-b/api');
    expect(after.find(UP).map((s) => s.labels.namespace)).not.toContain('team-a');
  });

  test('a namespace list that fails from the start: every kind down, nothing reported', async () => {
    kube.fault({ path: '/api/v1/namespaces', status: 403 });
    kube.set('Deployment', [deployment('team-a', 'web', containers('a'))]);
    const exporter = await exporterWith(['--namespace-selector=team in (a)']);
    const scrape = await exporter.scrape();
    expect(scrape.value(UP, { kind: 'Deployment' })).toBe(0);
    expect(reported(scrape)).toEqual([]);
    expect(exporter.logs.some((l) => l.includes('cannot list namespaces for --namespace-selector'))).toBe(true);
  });
});

describe('inactive workloads', () => {
  beforeEach(() => {
    kube.set('Deployment', [
      deployment('ns', 'active', containers('active')),
      { ...deployment('ns', 'scaled-down', containers('scaled')), spec: { ...deployment('ns', 'x', containers('scaled')).spec, replicas: 0 } },
    ]);
    kube.set('StatefulSet', [{ ...statefulSet('ns', 'db', containers('scaled')), spec: { ...statefulSet('ns', 'db', containers('scaled')).spec, replicas: 0 } }]);
    const suspended = cronJob('ns', 'nightly', containers('suspended'));
    kube.set('CronJob', [{ ...suspended, spec: { ...suspended.spec, suspend: true } }]);
    kube.set('DaemonSet', [{ ...daemonSet('ns', 'agent', containers('unscheduled')), status: { desiredNumberScheduled: 0, currentNumberScheduled: 0, numberMisscheduled: 0, numberReady: 0 } }]);
    kube.set('Job', [job('ns', 'migrate', 'finished', { complete: true }), job('ns', 'paused', 'suspended', { suspend: true })]);
    kube.set('Pod', [pod('ns', 'one-off', 'done', { phase: 'Succeeded' })]);
  });

  test('are checked and reported by default (their image is needed the moment they scale up)', async () => {
    const scrape = await (await exporterWith([])).scrapeFresh();
    expect(reported(scrape)).toEqual([
      'CronJob/ns/nightly',
      'DaemonSet/ns/agent',
      'Deployment/ns/active',
      'Deployment/ns/scaled-down',
      'Job/ns/migrate',
      'Job/ns/paused',
      'Pod/ns/one-off',
      'StatefulSet/ns/db',
    ]);
  });

  test('--skip-inactive-workloads: no series and no check for them', async () => {
    const scrape = await (await exporterWith(['--skip-inactive-workloads'])).scrapeFresh();
    expect(reported(scrape)).toEqual(['Deployment/ns/active']);
    expect(checkedTags()).toEqual(['active']);
  });
});

describe('Jobs and Pods', () => {
  test('only those no controller reports: unowned Pods, Jobs no CronJob owns; each with its own metric', async () => {
    kube.set('CronJob', [cronJob('ns', 'nightly', containers('cron'))]);
    kube.set('Job', [
      job('ns', 'nightly-28000000', 'cron', { ownerReferences: [controller('CronJob', 'nightly')] }),
      job('ns', 'migrate', 'bare'),
    ]);
    kube.set('Pod', [
      pod('ns', 'web-7d4b9-abcde', 'owned', { ownerReferences: [controller('ReplicaSet', 'web-7d4b9')] }),
      pod('ns', 'migrate-xyz', 'owned', { ownerReferences: [controller('Job', 'migrate')] }),
      pod('ns', 'db-0', 'owned', { ownerReferences: [controller('StatefulSet', 'db')] }),
      pod('ns', 'static', 'bare', { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'node-1', uid: 'n1', controller: true }] }),
      pod('ns', 'debug', 'bare'),
      // An owner that is not its controller does not recreate it.
      pod('ns', 'adopted', 'bare', { ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'x', uid: 'x' }] }),
    ]);
    const scrape = await (await exporterWith([])).scrapeFresh();
    expect(reported(scrape)).toEqual(['CronJob/ns/nightly', 'Job/ns/migrate', 'Pod/ns/adopted', 'Pod/ns/debug']);
    expect(scrape.value(`${PREFIX}_pod_image_exists`, { namespace: 'ns', owner_name: 'debug', container: 'c', image: image('bare') })).toBe(1);
    expect(scrape.value(`${PREFIX}_job_image_exists`, { namespace: 'ns', owner_name: 'migrate' })).toBe(1);
    expect(checkedTags()).toEqual(['bare', 'cron']);
  });

  test('--workload-kinds leaves kinds out: no list, no series', async () => {
    // An API server of its own: lists that earlier tests' exporters left running do not reach it.
    const own = await startKubeApi();
    try {
      own.set('Pod', [pod('ns', 'debug', 'bare')]);
      own.set('Deployment', [deployment('ns', 'web', containers('a'))]);
      const scrape = await (await exporterWith(['--workload-kinds=Deployment,StatefulSet,DaemonSet,CronJob'], {}, own)).scrapeFresh();
      expect(reported(scrape)).toEqual(['Deployment/ns/web']);
      expect(own.requests.map((r) => r.path).filter((p) => p.endsWith('/pods') || p.endsWith('/jobs'))).toEqual([]);
      expect(scrape.find(UP).map((s) => s.labels.kind).sort()).toEqual(['CronJob', 'DaemonSet', 'Deployment', 'StatefulSet']);
    } finally {
      for (const exporter of running.splice(0)) await exporter.stop();
      await own.stop();
    }
  });
});

describe('custom resources (--workload-resource)', () => {
  test('a template at spec.template and at a custom path, reported under their kind; one not installed is list_up 0 with a clear log line', async () => {
    kube.defineResource({ kind: 'Rollout', group: 'argoproj.io', version: 'v1alpha1', plural: 'rollouts' });
    kube.defineResource({ kind: 'Worker', group: 'example.com', version: 'v1', plural: 'workers' });
    kube.set('Rollout', [{ metadata: { namespace: 'ns', name: 'canary' }, spec: { replicas: 3, template: { spec: containers('rollout') } } }]);
    kube.set('Worker', [
      { metadata: { namespace: 'ns', name: 'queue' }, spec: { workload: { template: { metadata: {}, spec: containers('worker') } } } },
      { metadata: { namespace: 'ns', name: 'no-template' }, spec: {} },
    ]);
    // A Job a Rollout-like controller owns is reported through that controller.
    kube.set('Job', [job('ns', 'canary-analysis', 'rollout', { ownerReferences: [controller('Rollout', 'canary')] })]);
    const exporter = await exporterWith([
      '--workload-resource=argoproj.io/v1alpha1/rollouts',
      '--workload-resource=example.com/v1/workers:spec.workload.template',
      '--workload-resource=missing.example.com/v1/things',
    ]);
    const scrape = await exporter.scrapeFresh();
    expect(reported(scrape)).toEqual(['Rollout/ns/canary', 'Worker/ns/queue']);
    expect(scrape.value(`${PREFIX}_rollout_image_exists`, { namespace: 'ns', owner_name: 'canary', container: 'c' })).toBe(1);
    expect(scrape.value(`${PREFIX}_worker_image_exists`, { namespace: 'ns', owner_name: 'queue' })).toBe(1);
    expect(scrape.text).toContain(`# HELP ${PREFIX}_rollout_image_exists`);
    expect(scrape.value(UP, { kind: 'Rollout' })).toBe(1);
    expect(scrape.value(UP, { kind: 'Worker' })).toBe(1);
    expect(scrape.value(UP, { kind: 'missing.example.com/v1/things' })).toBe(0);
    expect(exporter.logs.some((l) => l.includes('cannot list workloads') && l.includes('is its CustomResourceDefinition installed'))).toBe(true);
    expect(exporter.exporter.inFlight().scrapes).toBe(0); // and the exporter carries on
  });
});

describe('images outside pod templates, and containers opted out', () => {
  const WORKFLOWS =
    '--workload-resource=argoproj.io/v1alpha1/workflows:images=spec.templates[*].container,spec.templates[*].script,' +
    'spec.templates[*].containerSet.containers[*],spec.templates[*].initContainers[*],spec.templates[*].sidecars[*]';
  const SKIPPED = `${PREFIX}_image_skipped`;

  test('a Workflow\'s images, found at the image paths, checked against the registry and reported under its kind', async () => {
    kube.defineResource({ kind: 'Workflow', group: 'argoproj.io', version: 'v1alpha1', plural: 'workflows' });
    kube.set('Workflow', [
      {
        metadata: { namespace: 'ci', name: 'build' },
        spec: {
          entrypoint: 'main',
          templates: [
            { name: 'main', steps: [[{ name: 'build', template: 'build' }]] },
            {
              name: 'build',
              container: { image: image('wf-main'), command: ['make'] },
              initContainers: [{ name: 'fetch', image: image('wf-init') }],
              sidecars: [{ name: 'cache', image: image('wf-gone') }],
            },
            { name: 'report', script: { image: image('wf-script'), source: 'echo' } },
          ],
        },
        status: { phase: 'Running' },
      },
    ]);
    const scrape = await (await exporterWith([WORKFLOWS])).scrapeFresh();
    const exists = `${PREFIX}_workflow_image_exists`;
    expect(scrape.find(exists).map((s) => [s.labels.container, s.labels.image, s.value]).sort()).toEqual([
      ['cache', image('wf-gone'), 0],
      ['fetch', image('wf-init'), 1],
      ['spec.templates[1].container', image('wf-main'), 1],
      ['spec.templates[2].script', image('wf-script'), 1],
    ]);
    expect(scrape.value(STATUS, { owner_kind: 'Workflow', namespace: 'ci', owner_name: 'build', container: 'cache', status: 'absent' })).toBe(1);
    expect(scrape.value(UP, { kind: 'Workflow' })).toBe(1);
    expect(checkedTags()).toEqual(['wf-gone', 'wf-init', 'wf-main', 'wf-script']);
    expect(kube.requests.some((r) => r.path === '/apis/argoproj.io/v1alpha1/workflows')).toBe(true);
  });

  test('the annotation (on the workload or its template) and --ignored-images: image_skipped with the reason, on the status page too, and never checked', async () => {
    const web = deployment('ns', 'web', { containers: [{ name: 'app', image: image('a') }, { name: 'legacy', image: image('legacy-gone') }] });
    (web.metadata as Record<string, unknown>)['annotations'] = { 'k8s-image-existence-exporter/ignore': 'legacy' };
    const all = cronJob('ns', 'nightly', containers('cron-gone'));
    (all.spec.jobTemplate.spec.template.metadata as Record<string, unknown>)['annotations'] = { 'k8s-image-existence-exporter/ignore': 'true' };
    kube.set('Deployment', [web, deployment('ns', 'vendor', { containers: [{ name: 'tool', image: `${proxy.host}/vendor/tool:1` }] })]);
    kube.set('CronJob', [all]);
    const exporter = await exporterWith([`--ignored-images=${proxy.host}/vendor/*`]);
    const scrape = await exporter.scrapeFresh();
    expect(scrape.find(SKIPPED).map((s) => [s.labels.owner_kind, s.labels.owner_name, s.labels.container, s.labels.reason, s.value]).sort()).toEqual([
      ['CronJob', 'nightly', 'c', 'annotation', 1],
      ['Deployment', 'vendor', 'tool', 'ignored_images', 1],
      ['Deployment', 'web', 'legacy', 'annotation', 1],
    ]);
    expect(scrape.value(`${PREFIX}_deployment_image_exists`, { owner_name: 'web', container: 'app' })).toBe(1);
    expect(scrape.find(STATUS, { container: 'legacy' })).toEqual([]);
    expect(checkedTags()).toEqual(['a']);
    expect(proxy.requests.some((r) => r.path.includes('vendor'))).toBe(false);

    const status = (await (await fetch(`${exporter.url}/status?format=json`)).json()) as {
      totals: { skipped: number };
      groups: Array<{ id: string; images: Array<{ reason: string; containers: Array<{ name: string; container: string }> }> }>;
    };
    expect(status.totals.skipped).toBe(3);
    const skipped = status.groups.find((g) => g.id === 'skipped')!;
    expect(skipped.images.flatMap((i) => i.containers.map((c) => `${c.name}/${c.container}: ${i.reason}`)).sort()).toEqual([
      'nightly/c: skipped: opted out by the annotation k8s-image-existence-exporter/ignore',
      'vendor/tool: skipped: the image matches --ignored-images',
      'web/legacy: skipped: opted out by the annotation k8s-image-existence-exporter/ignore',
    ]);
  });

  test('an annotation that is not honoured is logged once, and its containers are checked', async () => {
    const web = deployment('ns', 'web', containers('a'));
    (web.metadata as Record<string, unknown>)['annotations'] = { 'k8s-image-existence-exporter/ignore': 'x,'.repeat(3000) };
    kube.set('Deployment', [web]);
    const exporter = await exporterWith([]);
    await exporter.scrapeFresh();
    const scrape = await exporter.scrapeFresh();
    expect(scrape.value(`${PREFIX}_deployment_image_exists`, { owner_name: 'web' })).toBe(1);
    expect(scrape.find(SKIPPED)).toEqual([]);
    const warnings = exporter.logs.filter((l) => l.includes('workload annotation not honoured'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('longer than 4096 characters');
  });
});
