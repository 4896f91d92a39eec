/**
 * What `kubectl apply -f deploy/` and the Prometheus objects rely on, checked: every YAML parses, the
 * labels, port name and probes line up with the PodMonitor and scrape config, the security context
 * is hardened, RBAC grants exactly the calls the exporter makes, and the alert rules pass
 * `promtool check rules` and their `promtool test rules` unit tests.
 */
import { execFile } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { loadAllYaml } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startKubeApi, type KubeApi } from '../support/kube-api.js';
import { cronJob, daemonSet, deployment, dockerConfigSecret, serviceAccount, statefulSet } from '../support/objects.js';
import { startExporter } from '../support/exporter.js';
import { makeTempDir } from '../support/tmp.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DEPLOY = join(ROOT, 'deploy');

// Free-form YAML: the assertions below are the schema.
type Doc = Record<string, any>;

async function yamlFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await yamlFiles(path)));
    else if (/\.ya?ml$/.test(entry.name)) out.push(path);
  }
  return out.sort();
}

async function load(path: string): Promise<Doc[]> {
  return loadAllYaml(await readFile(path, 'utf8')) as Doc[];
}

async function promtool(args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run('promtool', args, { cwd: ROOT });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, output: e.stdout + e.stderr };
  }
}

let top: Doc[];
let deploymentDoc: Doc;
let podMonitor: Doc;

beforeAll(async () => {
  const files = (await readdir(DEPLOY)).filter((f) => /\.ya?ml$/.test(f)).sort();
  top = (await Promise.all(files.map((f) => load(join(DEPLOY, f))))).flat();
  deploymentDoc = top.find((d) => d.kind === 'Deployment')!;
  podMonitor = (await load(join(DEPLOY, 'prometheus-operator/podmonitor.yaml')))[0]!;
});

describe('manifests', () => {
  test('every YAML document under deploy/ parses', async () => {
    const files = await yamlFiles(DEPLOY);
    expect(files.length).toBeGreaterThanOrEqual(8);
    for (const file of files) expect((await load(file)).length, file).toBeGreaterThan(0);
  });

  test('the top level applies without prometheus-operator CRDs', () => {
    expect(top.map((d) => d.kind).sort()).toEqual(['ClusterRole', 'ClusterRoleBinding', 'Deployment', 'ServiceAccount']);
    for (const doc of top) expect(doc.apiVersion).not.toContain('monitoring.coreos.com');
  });

  test('Deployment labels, port and probes match the PodMonitor, the scrape config and the README', async () => {
    const label = { app: 'image-existence-exporter' };
    expect(deploymentDoc.metadata).toMatchObject({ name: 'image-existence-exporter', namespace: 'kube-system', labels: label });
    expect(deploymentDoc.spec.selector.matchLabels).toEqual(label);
    expect(deploymentDoc.spec.template.metadata.labels).toMatchObject(label);
    expect(podMonitor.spec.selector.matchLabels).toEqual(label);
    expect(podMonitor.spec.namespaceSelector.matchNames).toEqual([deploymentDoc.metadata.namespace]);

    const [container] = deploymentDoc.spec.template.spec.containers;
    const port = container.ports.find((p: Doc) => p.name === 'http-metrics');
    expect(port.containerPort).toBe(8080);
    expect(container.args).toContain('--bind-address=:8080');
    expect(podMonitor.spec.podMetricsEndpoints[0]).toMatchObject({ port: 'http-metrics', honorLabels: true, scrapeTimeout: '10s' });
    for (const probe of [container.livenessProbe, container.readinessProbe]) {
      expect(probe.httpGet).toEqual({ path: '/healthz', port: 'http-metrics' });
    }
    expect(container.resources.requests).toBeDefined();
    expect(container.resources.limits.memory).toBeDefined();
    expect(deploymentDoc.spec.template.spec.serviceAccountName).toBe(top.find((d) => d.kind === 'ServiceAccount')!.metadata.name);

    const [scrape] = await load(join(DEPLOY, 'prometheus/scrape-config.yaml'));
    const job = scrape!.scrape_configs[0];
    expect(job.honor_labels).toBe(true);
    const keep = job.relabel_configs.find((r: Doc) => r.source_labels[0] === '__meta_kubernetes_pod_label_app');
    expect(new RegExp(`^(?:${keep.regex})$`).test(label.app)).toBe(true);
    const portKeep = job.relabel_configs.find((r: Doc) => r.source_labels[0] === '__meta_kubernetes_pod_container_port_name');
    expect(portKeep.regex).toBe('http-metrics');
  });

  test('runs as non-root with a read-only root filesystem and no capabilities', () => {
    const pod = deploymentDoc.spec.template.spec;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.containers[0].securityContext).toEqual({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
  });

  test('the Dockerfile runs as the same non-root user', async () => {
    const dockerfile = await readFile(join(ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^USER 65532:65532$/m);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
  });
});

describe('RBAC grants exactly the calls the exporter makes', () => {
  let kube: KubeApi;
  afterAll(() => kube?.stop());

  test('ClusterRole = the (group, resource, verb) set of a real scrape', async () => {
    kube = await startKubeApi();
    kube.set('Deployment', [deployment('a', 'd', { containers: [{ name: 'c', image: '127.0.0.1:1/x:1' }], imagePullSecrets: ['s'] })]);
    kube.set('StatefulSet', [statefulSet('a', 's', { containers: [{ name: 'c', image: '127.0.0.1:1/x:1' }] })]);
    kube.set('DaemonSet', [daemonSet('a', 'ds', { containers: [{ name: 'c', image: '127.0.0.1:1/x:1' }] })]);
    kube.set('CronJob', [cronJob('a', 'cj', { containers: [{ name: 'c', image: '127.0.0.1:1/x:1' }] })]);
    kube.set('ServiceAccount', [serviceAccount('a', 'default', ['s'])]);
    kube.set('Secret', [dockerConfigSecret('a', 's', { '127.0.0.1:1': { username: 'u', password: 'p' } })]);
    const exporter = await startExporter(kube.kubeconfigPath, ['--allow-plain-http=127.0.0.1:1']);
    await exporter.scrape();
    await exporter.stop();

    const used = new Set<string>();
    for (const r of kube.requests) {
      const m = /^\/(?:api\/v1|apis\/([a-z.]+)\/v1)(?:\/namespaces\/[^/]+)?\/([a-z]+)(\/[^/]+)?$/.exec(r.path)!;
      expect(m, r.path).not.toBeNull();
      used.add(`${m[1] ?? ''}/${m[2]}/${m[3] ? 'get' : 'list'}`);
    }
    const role = top.find((d) => d.kind === 'ClusterRole')!;
    const granted = new Set<string>();
    for (const rule of role.rules) {
      for (const group of rule.apiGroups) for (const resource of rule.resources) for (const verb of rule.verbs) granted.add(`${group}/${resource}/${verb}`);
    }
    expect([...granted].sort()).toEqual([...used].sort());
  });
});

describe('alert rules', () => {
  test('the PrometheusRule carries exactly the plain rules file\'s groups', async () => {
    const [plain] = await load(join(DEPLOY, 'prometheus/alerts.rules.yaml'));
    const [operator] = await load(join(DEPLOY, 'prometheus-operator/prometheusrule.yaml'));
    expect(operator!.kind).toBe('PrometheusRule');
    expect(operator!.spec.groups).toEqual(plain!.groups);
    const names = plain!.groups[0].rules.map((r: Doc) => r.alert);
    expect(names).toEqual([
      'DeploymentImageAbsent',
      'StatefulSetImageAbsent',
      'DaemonSetImageAbsent',
      'CronJobImageAbsent',
      'PodImageAbsent',
      'JobImageAbsent',
      'ImagePlatformMissing',
      'ImageCheckFailing',
      'ImageExistenceExporterDown',
      'ImageExistenceExporterCannotListWorkloads',
    ]);
    for (const rule of plain!.groups[0].rules) {
      expect(rule.for, rule.alert).toMatch(/^\d+m$/);
      expect(rule.labels.severity, rule.alert).toBe('warning');
      expect(rule.annotations.runbook, rule.alert).toBeTruthy();
    }
  });

  test('promtool check rules', async () => {
    const { code, output } = await promtool(['check', 'rules', 'deploy/prometheus/alerts.rules.yaml']);
    expect(code, output).toBe(0);
  });

  test('promtool test rules: each alert fires for the right series and only then', async () => {
    const { code, output } = await promtool(['test', 'rules', 'test/alerts/alerts.test.yaml']);
    expect(code, output).toBe(0);
    expect(output).toContain('SUCCESS');
  });

  test('the rule tests can fail: without its for: the absent alert fires too early', async () => {
    const dir = await makeTempDir('rules-negative');
    const rules = await readFile(join(DEPLOY, 'prometheus/alerts.rules.yaml'), 'utf8');
    const broken = rules.replace(/(alert: DeploymentImageAbsent[\s\S]*?)\n {4}for: 10m/, '$1');
    expect(broken).not.toBe(rules);
    await writeFile(join(dir, 'alerts.rules.yaml'), broken);
    const tests = (await readFile(join(ROOT, 'test/alerts/alerts.test.yaml'), 'utf8')).replace(
      '../../deploy/prometheus/alerts.rules.yaml',
      'alerts.rules.yaml',
    );
    await writeFile(join(dir, 'alerts.test.yaml'), tests);
    const { code, output } = await promtool(['test', 'rules', join(dir, 'alerts.test.yaml')]);
    expect(code).not.toBe(0);
    expect(output).toContain('DeploymentImageAbsent');
  });
});
