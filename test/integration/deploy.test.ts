/**
 * What `kubectl apply -f deploy/` and the Prometheus objects rely on, checked: every YAML parses, the
 * labels, port name and probes line up with the PodMonitor and scrape config, the security context
 * is hardened, RBAC grants exactly the calls the exporter makes (cluster-wide, and in the namespaced
 * variant of deploy/namespaced/ per namespace), and the alert rules pass `promtool check rules` and
 * their `promtool test rules` unit tests.
 */
import { execFile } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { loadAllYaml } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { startKubeApi, type KubeApi, type RecordedApiRequest } from '../support/kube-api.js';
import { cronJob, daemonSet, deployment, dockerConfigSecret, serviceAccount, statefulSet } from '../support/objects.js';
import { PREFIX, startExporter, type Scrape } from '../support/exporter.js';
import { makeTempDir } from '../support/tmp.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DEPLOY = join(ROOT, 'deploy');
const NAMESPACED = join(DEPLOY, 'namespaced');

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

/** The documents of the YAML files directly in `dir` (not in its subfolders), by file. */
async function loadDir(dir: string): Promise<Map<string, Doc[]>> {
  const files = (await readdir(dir)).filter((f) => /\.ya?ml$/.test(f)).sort();
  return new Map(await Promise.all(files.map(async (f) => [f, await load(join(dir, f))] as const)));
}

/** `group/resource/verb` of every combination a list of RBAC rules grants. */
function grants(rules: readonly Doc[]): Set<string> {
  const out = new Set<string>();
  for (const rule of rules) {
    for (const group of rule.apiGroups) for (const resource of rule.resources) for (const verb of rule.verbs) out.add(`${group}/${resource}/${verb}`);
  }
  return out;
}

interface Call {
  /** Undefined: a cluster-scoped call (or a list over all namespaces). */
  readonly namespace: string | undefined;
  /** `group/resource/verb`, as an RBAC rule grants it. */
  readonly grant: string;
}

/** What RBAC must allow for an API request the exporter made (only gets and lists are made). */
function callOf(request: RecordedApiRequest): Call {
  expect(request.method, request.path).toBe('GET');
  const m = /^\/(?:api\/v1|apis\/([a-z0-9.-]+)\/v1)(?:\/namespaces\/([^/]+))?\/([a-z]+)(?:\/([^/]+))?$/.exec(request.path);
  expect(m, request.path).not.toBeNull();
  return { namespace: m![2], grant: `${m![1] ?? ''}/${m![3]}/${m![4] === undefined ? 'list' : 'get'}` };
}

/** The exporter flags of a Deployment's container, but for the address to listen on (a test picks its own). */
function exporterArgs(deployment: Doc): string[] {
  const args: string[] = deployment.spec.template.spec.containers[0].args;
  return args.filter((a) => !a.startsWith('--bind-address='));
}

const IMAGE = '127.0.0.1:1/x:1';
/** The image of the workloads of namespaces the exporter must not look at: must never be reported. */
const OUTSIDE_IMAGE = '127.0.0.1:1/outside:1';

/**
 * In each namespace a workload of every built-in kind (a Job and a Pod without owners), one naming
 * pull secret `s` itself and the others relying on service account `default`, which names `s` too;
 * so a scrape lists every kind and the service accounts and reads the secret in each namespace.
 */
function seed(kube: KubeApi, namespaces: readonly string[], outside: readonly string[] = []): void {
  const all = [...namespaces, ...outside];
  const containers = (ns: string) => [{ name: 'c', image: outside.includes(ns) ? OUTSIDE_IMAGE : IMAGE }];
  kube.set('Deployment', all.map((ns) => deployment(ns, `d-${ns}`, { containers: containers(ns), imagePullSecrets: ['s'] })));
  kube.set('StatefulSet', all.map((ns) => statefulSet(ns, `s-${ns}`, { containers: containers(ns) })));
  kube.set('DaemonSet', all.map((ns) => daemonSet(ns, `ds-${ns}`, { containers: containers(ns) })));
  kube.set('CronJob', all.map((ns) => cronJob(ns, `cj-${ns}`, { containers: containers(ns) })));
  kube.set('Job', all.map((ns) => ({ metadata: { namespace: ns, name: `j-${ns}` }, spec: { template: { spec: { containers: containers(ns) } } } })));
  kube.set('Pod', all.map((ns) => ({ metadata: { namespace: ns, name: `p-${ns}` }, spec: { containers: containers(ns) } })));
  kube.set('ServiceAccount', all.map((ns) => serviceAccount(ns, 'default', ['s'])));
  kube.set('Secret', all.map((ns) => dockerConfigSecret(ns, 's', { '127.0.0.1:1': { username: 'u', password: 'p' } })));
}

let top: Doc[];
let deploymentDoc: Doc;
let podMonitor: Doc;
let variantFiles: Map<string, Doc[]>;
let variant: Doc[];

beforeAll(async () => {
  top = [...(await loadDir(DEPLOY)).values()].flat();
  variantFiles = await loadDir(NAMESPACED);
  variant = [...variantFiles.values()].flat();
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
    // Pods in the PodMonitor's own namespace: the exporter's.
    expect(podMonitor.spec.namespaceSelector).toBeUndefined();
    expect(podMonitor.metadata.namespace).toBe(deploymentDoc.metadata.namespace);

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

  test("the nodes' pull configuration, uncommented: each flag names a read-only hostPath mounted at its path on the node", async () => {
    const text = await readFile(join(DEPLOY, '03-deployment.yaml'), 'utf8');
    const uncommented = text.replace(
      /^(\s*)# ((?:- --(?:containerd-hosts-dir|registries-conf)=\S+)|volumeMounts:|volumes:|- name: (?:containerd-hosts|containers-conf)|  mountPath: \S+|  readOnly: true|  hostPath:|    path: \S+|    type: Directory)$/gm,
      '$1$2',
    );
    const doc = (loadAllYaml(uncommented) as Doc[])[0]!;
    const pod = doc.spec.template.spec;
    const [container] = pod.containers;
    const flags = (container.args as string[]).filter((a) => /^--(containerd-hosts-dir|registries-conf)=/.test(a));
    expect(flags).toEqual(['--containerd-hosts-dir=/etc/containerd/certs.d', '--registries-conf=/etc/containers/registries.conf']);
    expect(container.volumeMounts).toHaveLength(2);
    for (const flag of flags) {
      const path = flag.slice(flag.indexOf('=') + 1);
      const mount = container.volumeMounts.find((m: Doc) => path === m.mountPath || path.startsWith(`${m.mountPath}/`));
      expect(mount, flag).toBeDefined();
      expect(mount.readOnly).toBe(true);
      const volume = pod.volumes.find((v: Doc) => v.name === mount.name);
      // The same path as on the node: absolute paths inside the files mean the same there and here.
      expect(volume.hostPath).toEqual({ path: mount.mountPath, type: 'Directory' });
    }
    // As shipped, none of it is active.
    expect(deploymentDoc.spec.template.spec.volumes).toBeUndefined();
    expect(deploymentDoc.spec.template.spec.containers[0].volumeMounts).toBeUndefined();
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
    seed(kube, ['a']);
    const exporter = await startExporter(kube.kubeconfigPath, [...exporterArgs(deploymentDoc), '--allow-plain-http=127.0.0.1:1']);
    const scrape = await exporter.scrapeFresh();
    await exporter.stop();
    for (const owner of ['d-a', 's-a', 'ds-a', 'cj-a', 'j-a', 'p-a']) {
      expect(scrape.find(`${PREFIX}_image_check_status`, { namespace: 'a', owner_name: owner }).length, owner).toBeGreaterThan(0);
    }

    const used = new Set(kube.requests.map((r) => callOf(r).grant));
    const role = top.find((d) => d.kind === 'ClusterRole')!;
    expect([...grants(role.rules)].sort()).toEqual([...used].sort());
  });
});

describe('namespaced variant (deploy/namespaced/)', () => {
  const ofKind = (kind: string) => variant.filter((d) => d.kind === kind);
  const one = (kind: string) => {
    const docs = ofKind(kind);
    expect(docs, kind).toHaveLength(1);
    return docs[0]!;
  };
  const roleNamespaces = () => ofKind('Role').map((r) => r.metadata.namespace as string).sort();

  test('a ServiceAccount, a nodes ClusterRole and its binding, the Deployment, and a Role and RoleBinding per namespace', () => {
    const kinds = variant.map((d) => d.kind as string);
    const perNamespace = kinds.filter((k) => k === 'Role' || k === 'RoleBinding');
    expect(kinds.filter((k) => k !== 'Role' && k !== 'RoleBinding').sort()).toEqual(['ClusterRole', 'ClusterRoleBinding', 'Deployment', 'ServiceAccount']);
    const namespaces = roleNamespaces();
    expect(namespaces.length).toBeGreaterThanOrEqual(2);
    expect(new Set(namespaces).size).toBe(namespaces.length);
    expect(ofKind('RoleBinding').map((b) => b.metadata.namespace).sort()).toEqual(namespaces);
    expect(perNamespace).toHaveLength(2 * namespaces.length);
    // One file per namespace, to copy: its Role and RoleBinding, of that namespace only.
    for (const [file, docs] of variantFiles) {
      if (!docs.some((d) => d.kind === 'Role' || d.kind === 'RoleBinding')) continue;
      expect(docs.map((d) => d.kind).sort(), file).toEqual(['Role', 'RoleBinding']);
      expect(new Set(docs.map((d) => d.metadata.namespace)).size, file).toBe(1);
      expect(file).toBe(`10-${docs[0]!.metadata.namespace}.yaml`);
    }
    for (const doc of variant) expect(doc.apiVersion).not.toContain('monitoring.coreos.com');
  });

  test('every binding binds the variant\'s ServiceAccount (the plain one) to a Role of its namespace or to the ClusterRole', () => {
    const account = one('ServiceAccount');
    const plainAccount = top.find((d) => d.kind === 'ServiceAccount')!;
    expect(account).toEqual(plainAccount);
    const subject = { kind: 'ServiceAccount', name: account.metadata.name, namespace: account.metadata.namespace };
    for (const binding of [...ofKind('RoleBinding'), ...ofKind('ClusterRoleBinding')]) {
      const what = `${binding.kind} ${binding.metadata.namespace ?? ''}/${binding.metadata.name}`;
      expect(binding.subjects, what).toEqual([subject]);
      expect(binding.roleRef.apiGroup, what).toBe('rbac.authorization.k8s.io');
      if (binding.kind === 'RoleBinding') {
        expect(binding.roleRef.kind, what).toBe('Role');
        const role = ofKind('Role').find((r) => r.metadata.namespace === binding.metadata.namespace && r.metadata.name === binding.roleRef.name);
        expect(role, what).toBeDefined();
      } else {
        expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: one('ClusterRole').metadata.name });
      }
    }
    // Both ClusterRoles may exist at once (the plain one left over): they must not overwrite each other.
    expect(one('ClusterRole').metadata.name).not.toBe(top.find((d) => d.kind === 'ClusterRole')!.metadata.name);
    expect(one('ClusterRoleBinding').metadata.name).not.toBe(top.find((d) => d.kind === 'ClusterRoleBinding')!.metadata.name);
  });

  test('the ClusterRole grants only list on nodes; each Role what the plain ClusterRole grants but nodes', () => {
    expect(one('ClusterRole').rules).toEqual([{ apiGroups: [''], resources: ['nodes'], verbs: ['list'] }]);
    const plain = grants(top.find((d) => d.kind === 'ClusterRole')!.rules);
    plain.delete('/nodes/list');
    for (const role of ofKind('Role')) expect([...grants(role.rules)].sort(), role.metadata.namespace).toEqual([...plain].sort());
  });

  test('the Deployment is deploy/03-deployment.yaml plus one --namespace naming the namespaces of the Roles', () => {
    const namespaced = one('Deployment');
    const args: string[] = namespaced.spec.template.spec.containers[0].args;
    const scoped = args.filter((a) => a.startsWith('--namespace'));
    expect(scoped).toHaveLength(1);
    expect(scoped[0]).toMatch(/^--namespace=/);
    expect(scoped[0]!.slice('--namespace='.length).split(',').sort()).toEqual(roleNamespaces());
    const without = structuredClone(namespaced);
    without.spec.template.spec.containers[0].args = args.filter((a) => a !== scoped[0]);
    expect(without).toEqual(deploymentDoc);
    expect(namespaced.spec.template.spec.serviceAccountName).toBe(one('ServiceAccount').metadata.name);
  });

  describe('RBAC grants exactly the calls of a real scrape, namespace by namespace', () => {
    let kube: KubeApi | undefined;
    afterEach(async () => {
      await kube?.stop();
      kube = undefined;
    });

    /** The scrape with the variant's Deployment args, `replace`d, in a cluster with one more namespace. */
    async function scrapeVariant(replace: (args: string[]) => string[], namespaces?: object[]): Promise<{ api: KubeApi; scrape: Scrape }> {
      const api = (kube = await startKubeApi());
      seed(api, roleNamespaces(), ['other']);
      if (namespaces) api.set('Namespace', namespaces);
      const exporter = await startExporter(api.kubeconfigPath, [...replace(exporterArgs(one('Deployment'))), '--allow-plain-http=127.0.0.1:1']);
      try {
        return { api, scrape: await exporter.scrapeFresh() };
      } finally {
        await exporter.stop();
      }
    }

    /** Cluster-scoped calls' grants; asserts every namespaced call is in a Role's namespace and granted by that Role. */
    function checkNamespaced(api: KubeApi, scrape: Scrape): Set<string> {
      const roles = new Map(ofKind('Role').map((r) => [r.metadata.namespace as string, grants(r.rules)]));
      const usedIn = new Map([...roles.keys()].map((ns) => [ns, new Set<string>()]));
      const clusterScoped = new Set<string>();
      for (const request of api.requests) {
        const call = callOf(request);
        if (call.namespace === undefined) {
          clusterScoped.add(call.grant);
          continue;
        }
        expect(roles.has(call.namespace), `${request.path}: not in a namespace of a Role`).toBe(true);
        expect(roles.get(call.namespace)!.has(call.grant), `${request.path}: ${call.grant} not granted by the Role of ${call.namespace}`).toBe(true);
        usedIn.get(call.namespace)!.add(call.grant);
      }
      // Nothing granted that is not used: every Role is used in full.
      for (const [ns, granted] of roles) expect([...usedIn.get(ns)!].sort(), ns).toEqual([...granted].sort());

      // The namespaces looked at are reported; the other one is not, nor any of its workloads.
      for (const ns of roles.keys()) {
        for (const owner of ['d', 's', 'ds', 'cj', 'j', 'p']) {
          expect(scrape.find(`${PREFIX}_image_check_status`, { namespace: ns, owner_name: `${owner}-${ns}` }).length, `${owner}-${ns}`).toBeGreaterThan(0);
        }
      }
      const leaked = scrape.samples.filter((s) => Object.values(s.labels).some((v) => v === 'other' || v.endsWith('-other') || v.includes('outside')));
      expect(leaked).toEqual([]);
      expect(scrape.text).not.toContain('outside');
      return clusterScoped;
    }

    test('--namespace: only namespaced calls in those namespaces, each granted by its Role, and list nodes', async () => {
      const { api, scrape } = await scrapeVariant((args) => args);
      const clusterScoped = checkNamespaced(api, scrape);
      // Every other call is namespaced, in a namespace of a Role (checkNamespaced).
      const cluster = api.requests.filter((r) => callOf(r).namespace === undefined).map((r) => r.path);
      expect([...new Set(cluster)]).toEqual(['/api/v1/nodes']);
      expect([...clusterScoped].sort()).toEqual([...grants(one('ClusterRole').rules)].sort());
    });

    test('--namespace-selector: also list namespaces (by label), which the commented-out rule grants', async () => {
      const selected = { 'image-checks': 'on' };
      const { api, scrape } = await scrapeVariant(
        (args) => args.map((a) => (a.startsWith('--namespace=') ? '--namespace-selector=image-checks=on' : a)),
        [
          ...roleNamespaces().map((name) => ({ metadata: { name, labels: selected } })),
          { metadata: { name: 'other', labels: { 'image-checks': 'off' } } },
          { metadata: { name: 'kube-system' } },
        ],
      );
      const clusterScoped = checkNamespaced(api, scrape);
      const cluster = api.requests.filter((r) => callOf(r).namespace === undefined);
      expect([...new Set(cluster.map((r) => r.path))].sort()).toEqual(['/api/v1/namespaces', '/api/v1/nodes']);
      for (const r of cluster.filter((r) => r.path === '/api/v1/namespaces')) expect(r.query.get('labelSelector')).toBe('image-checks=on');

      // What is missing is exactly the rule 01-clusterrole.yaml has commented out.
      const nodesOnly = grants(one('ClusterRole').rules);
      expect([...clusterScoped].sort()).toEqual([...nodesOnly, '/namespaces/list'].sort());
      const text = await readFile(join(NAMESPACED, '01-clusterrole.yaml'), 'utf8');
      const [head, rules] = text.split(/^rules:$/m) as [string, string];
      const [uncommented] = loadAllYaml(`${head}rules:${rules.replace(/^#(?=- |  [a-z])/gm, '')}`) as Doc[];
      expect(uncommented!.rules.length).toBe(one('ClusterRole').rules.length + 1);
      expect([...grants(uncommented!.rules)].sort()).toEqual([...clusterScoped].sort());
    });
  });
});

describe('admission webhook (deploy/admission/)', () => {
  const ADMISSION = join(DEPLOY, 'admission');
  let docs: Doc[];
  const one = (kind: string) => {
    const found = docs.filter((d) => d.kind === kind);
    expect(found, kind).toHaveLength(1);
    return found[0]!;
  };
  beforeAll(async () => {
    docs = [...(await loadDir(ADMISSION)).values()].flat();
  });

  test('the Deployment is deploy/03-deployment.yaml plus the webhook flags, the web config and certificate volumes, and HTTPS probes', () => {
    const webhook = one('Deployment');
    const container = webhook.spec.template.spec.containers[0];
    const added = ['--web-config-file=/etc/image-existence-exporter/web/web-config.yml', '--admission-webhook'];
    expect(container.args.filter((a: string) => !deploymentDoc.spec.template.spec.containers[0].args.includes(a))).toEqual(added);
    const without = structuredClone(webhook);
    const c = without.spec.template.spec.containers[0];
    c.args = c.args.filter((a: string) => !added.includes(a));
    delete c.volumeMounts;
    delete without.spec.template.spec.volumes;
    for (const probe of [c.livenessProbe, c.readinessProbe]) {
      expect(probe.httpGet.scheme).toBe('HTTPS');
      delete probe.httpGet.scheme;
    }
    expect(without).toEqual(deploymentDoc);
  });

  test('the web config serves TLS from the mounted Secret; the Service, Secret and webhook name one another', () => {
    const deployment = one('Deployment');
    const spec = deployment.spec.template.spec;
    const mounts = Object.fromEntries(spec.containers[0].volumeMounts.map((m: Doc) => [m.name, m.mountPath]));
    const configMap = one('ConfigMap');
    expect(spec.volumes).toContainEqual({ name: 'web-config', configMap: { name: configMap.metadata.name } });
    const web = (loadAllYaml(configMap.data['web-config.yml']) as Doc[])[0]!;
    expect(web.tls_server_config).toEqual({ cert_file: `${mounts['webhook-tls']}/tls.crt`, key_file: `${mounts['webhook-tls']}/tls.key` });
    expect(`${mounts['web-config']}/web-config.yml`).toBe('/etc/image-existence-exporter/web/web-config.yml');
    const secretName = spec.volumes.find((v: Doc) => v.name === 'webhook-tls').secret.secretName;

    const service = one('Service');
    expect(service.metadata.namespace).toBe(deployment.metadata.namespace);
    expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
    expect(service.spec.ports).toEqual([{ name: 'https-webhook', port: 443, targetPort: spec.containers[0].ports[0].name, protocol: 'TCP' }]);

    const config = one('ValidatingWebhookConfiguration');
    const [webhook] = config.webhooks;
    expect(config.webhooks).toHaveLength(1);
    expect(webhook).toMatchObject({ failurePolicy: 'Ignore', sideEffects: 'None', admissionReviewVersions: ['v1'], timeoutSeconds: 10 });
    expect(webhook.clientConfig.service).toEqual({ name: service.metadata.name, namespace: service.metadata.namespace, path: '/admission', port: 443 });
    // kube-system, where the exporter runs, is left out.
    expect(webhook.namespaceSelector.matchExpressions).toContainEqual({ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [deployment.metadata.namespace] });
    const resources = webhook.rules.flatMap((r: Doc) => r.resources).sort();
    expect(resources).toEqual(['cronjobs', 'daemonsets', 'deployments', 'jobs', 'pods', 'statefulsets']);

    // cert-manager's variant and make-certificate.sh write the Secret the Deployment mounts.
    const certificate = async () => (await load(join(ADMISSION, 'cert-manager', 'certificate.yaml'))).find((d) => d.kind === 'Certificate')!;
    return Promise.all([
      certificate().then((cert) => {
        expect(cert.spec.secretName).toBe(secretName);
        expect(config.metadata.annotations['cert-manager.io/inject-ca-from']).toBe(`${cert.metadata.namespace}/${cert.metadata.name}`);
        expect(cert.spec.dnsNames).toContain(`${service.metadata.name}.${service.metadata.namespace}.svc`);
      }),
      readFile(join(ADMISSION, 'make-certificate.sh'), 'utf8').then((script) => {
        expect(script).toContain(`SECRET="\${SECRET:-${secretName}}"`);
        expect(script).toContain(`WEBHOOK="\${WEBHOOK:-${config.metadata.name}}"`);
      }),
    ]);
  });

  test('RBAC grows by nothing: the webhook reads the secrets and service accounts the exporter reads', () => {
    expect(docs.some((d) => /Role/.test(d.kind))).toBe(false);
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
      'ImageVolumeAbsent',
      'ImagePlatformMissing',
      'ImageVolumePlatformMissing',
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
