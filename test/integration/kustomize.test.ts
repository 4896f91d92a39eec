/**
 * `kubectl apply -k` on deploy/: each kustomization (deploy/Kustomization, deploy/namespaced/,
 * deploy/prometheus-operator/) is rendered with the kubectl on PATH (`kubectl kustomize`, no cluster
 * needed) and must give exactly the objects of its plain files, so `-k` and `-f` install the same
 * thing; an overlay like the README's (image, namespace, labels) must change only those; and
 * `kubectl apply -f` on each folder must still read just the plain files, never a Kustomization.
 *
 * Works with kustomize v5 (kubectl >= 1.27) and v2.0.3 (kubectl <= 1.20, Debian's kubernetes-client);
 * only the README overlay is written differently for old versions (they lack `labels:`, and v2 reads
 * directories only under `bases:`). Without kubectl the tests fail: test/install-deps.sh installs it.
 */
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { loadAllYaml } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { makeTempDir } from '../support/tmp.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DEPLOY = join(ROOT, 'deploy');
const NAMESPACED = join(DEPLOY, 'namespaced');
const OPERATOR = join(DEPLOY, 'prometheus-operator');
const TOP_LEVEL = ['00-serviceaccount.yaml', '01-clusterrole.yaml', '02-clusterrolebinding.yaml', '03-deployment.yaml'];
/** The folders applied with `kubectl apply -f DIR` (README) that hold a kustomization too. */
const APPLIED_WITH_F = [DEPLOY, NAMESPACED, OPERATOR];

// Free-form YAML: the assertions below are the schema.
type Doc = Record<string, any>;

interface Output {
  readonly stdout: string;
  readonly stderr: string;
}

async function kubectl(args: readonly string[]): Promise<Output> {
  try {
    return await run('kubectl', args, { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') {
      throw new Error(
        'kubectl is not on PATH: these tests render deploy/ with `kubectl kustomize`. Install it ' +
          '(test/install-deps.sh installs Debian\'s kubernetes-client) and run them again.',
      );
    }
    throw new Error(`kubectl ${args.join(' ')} failed: ${e.stderr || e.message}`);
  }
}

/** The major version of the kustomize built into kubectl (v2.0.3 up to kubectl 1.20, v4 up to 1.26). */
async function kustomizeMajor(): Promise<number> {
  const { stdout } = await kubectl(['version', '--client']);
  const kustomize = /Kustomize Version: v(\d+)\./.exec(stdout);
  if (kustomize) return Number(kustomize[1]);
  // kubectl < 1.24 does not print it.
  const minor = /Minor:"(\d+)/.exec(stdout) ?? /Client Version: v1\.(\d+)\./.exec(stdout);
  if (!minor) throw new Error(`cannot tell the kubectl version from: ${stdout}`);
  return Number(minor[1]) <= 20 ? 2 : 4;
}

/** `kubectl kustomize dir`: the rendered documents (and stderr, for warnings). */
async function render(dir: string): Promise<{ docs: Doc[]; stderr: string }> {
  const { stdout, stderr } = await kubectl(['kustomize', dir]);
  return { docs: loadAllYaml(stdout) as Doc[], stderr };
}

/** The documents of the given files of `dir`, or of all its *.yaml/*.yml files (not its subfolders). */
async function plain(dir: string, files?: readonly string[]): Promise<Doc[]> {
  const names = files ?? (await readdir(dir)).filter((f) => /\.ya?ml$/.test(f)).sort();
  const docs = await Promise.all(names.map(async (f) => loadAllYaml(await readFile(join(dir, f), 'utf8')) as Doc[]));
  return docs.flat();
}

function idOf(doc: Doc): string {
  return `${doc.apiVersion} ${doc.kind} ${doc.metadata?.namespace ?? ''}/${doc.metadata?.name}`;
}

/** Sorted by id, for comparing renderings (kustomize orders by kind) with files; ids must be unique. */
function byId(docs: readonly Doc[]): Doc[] {
  const ids = docs.map(idOf);
  expect(new Set(ids).size, `duplicate objects: ${ids.join(', ')}`).toBe(ids.length);
  return [...docs].sort((a, b) => idOf(a).localeCompare(idOf(b)));
}

/**
 * What `kubectl apply -f dir` would send, found offline: `kubectl label --local` reads a folder
 * exactly as `apply -f` does (every *.yaml, *.yml and *.json file, no subfolders) without a cluster.
 */
async function readByApplyF(dir: string): Promise<string[]> {
  const { stdout } = await kubectl([
    'label', '--local', '-f', dir, 'kustomize-test-probe=1',
    '-o', 'jsonpath={.apiVersion} {.kind} {.metadata.namespace}/{.metadata.name}{"\\n"}',
  ]);
  return stdout.split('\n').filter((l) => l !== '').sort();
}

/** The checks of deploy.test.ts that a rendering could break. */
function expectValid(docs: readonly Doc[]): void {
  expect(docs.length).toBeGreaterThan(0);
  for (const doc of docs) {
    expect(doc.apiVersion, JSON.stringify(doc)).toEqual(expect.any(String));
    expect(doc.kind, JSON.stringify(doc)).toEqual(expect.any(String));
    expect(doc.metadata?.name, JSON.stringify(doc)).toEqual(expect.any(String));
  }
  const deployment = docs.find((d) => d.kind === 'Deployment')!;
  expect(deployment).toBeDefined();
  const pod = deployment.spec.template.spec;
  expect(pod.securityContext).toEqual({ runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } });
  expect(pod.containers[0].securityContext).toEqual({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
  for (const [key, value] of Object.entries(deployment.spec.selector.matchLabels)) {
    expect(deployment.spec.template.metadata.labels[key], `the selector's ${key} must match the pods`).toBe(value);
  }
  // The ServiceAccount the pods run as, and every binding's subject and role, are in the same rendering.
  const has = (kind: string, name: string, namespace?: string) =>
    docs.some((d) => d.kind === kind && d.metadata.name === name && d.metadata.namespace === namespace);
  expect(has('ServiceAccount', pod.serviceAccountName, deployment.metadata.namespace), 'the Deployment\'s ServiceAccount').toBe(true);
  for (const binding of docs.filter((d) => d.kind === 'ClusterRoleBinding' || d.kind === 'RoleBinding')) {
    const roleNamespace = binding.roleRef.kind === 'Role' ? binding.metadata.namespace : undefined;
    expect(has(binding.roleRef.kind, binding.roleRef.name, roleNamespace), `role of ${idOf(binding)}`).toBe(true);
    for (const subject of binding.subjects) {
      expect(subject.kind).toBe('ServiceAccount');
      expect(has('ServiceAccount', subject.name, subject.namespace), `subject of ${idOf(binding)}`).toBe(true);
    }
  }
}

/** Renderings of the kustomizations in the repository must not warn (deprecated fields, say). */
function expectNoWarnings(stderr: string): void {
  expect(stderr).not.toMatch(/warn|deprecat/i);
}

let major: number;
let tmp: string | undefined;

beforeAll(async () => {
  major = await kustomizeMajor();
  tmp = await makeTempDir('kustomize');
});

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** Writes an overlay of one's own, outside deploy/ as kustomize requires, and renders it. */
async function renderOverlay(name: string, kustomization: (deployPath: string) => string): Promise<{ docs: Doc[]; stderr: string }> {
  const dir = join(tmp!, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'kustomization.yaml'), kustomization(relative(dir, DEPLOY)));
  return render(dir);
}

/** Directories are `resources` from kustomize v2.1 on; v2.0.3 (kubectl <= 1.20) reads them only as `bases`. */
function dirs(): string {
  return major <= 2 ? 'bases' : 'resources';
}

describe('kubectl apply -k deploy/', () => {
  test('renders exactly the four top-level files, unchanged', async () => {
    const { docs, stderr } = await render(DEPLOY);
    expectNoWarnings(stderr);
    expect(byId(docs)).toEqual(byId(await plain(DEPLOY, TOP_LEVEL)));
    expectValid(docs);
  });
});

describe('kubectl apply -k deploy/prometheus-operator/', () => {
  test('renders exactly the PodMonitor and the PrometheusRule, unchanged', async () => {
    const { docs, stderr } = await render(OPERATOR);
    expectNoWarnings(stderr);
    expect(docs.map((d) => d.kind).sort()).toEqual(['PodMonitor', 'PrometheusRule']);
    expect(byId(docs)).toEqual(byId(await plain(OPERATOR)));
  });

  test('in one overlay with deploy/: the exporter and its prometheus-operator objects, unchanged', async () => {
    const { docs } = await renderOverlay('with-operator', (deploy) => `${dirs()}:\n- ${deploy}\n- ${deploy}/prometheus-operator\n`);
    expect(byId(docs)).toEqual(byId([...(await plain(DEPLOY, TOP_LEVEL)), ...(await plain(OPERATOR))]));
    expectValid(docs);
  });
});

describe('kubectl apply -k deploy/namespaced/', () => {
  test('renders exactly the files of deploy/namespaced/, unchanged (every one of them listed)', async () => {
    const { docs, stderr } = await render(NAMESPACED);
    expectNoWarnings(stderr);
    expect(byId(docs)).toEqual(byId(await plain(NAMESPACED)));
    expectValid(docs);
  });

  test('is self-contained: no cluster-wide grant but `list nodes`', async () => {
    const { docs } = await render(NAMESPACED);
    const clusterRoles = docs.filter((d) => d.kind === 'ClusterRole');
    expect(clusterRoles.flatMap((r) => r.rules)).toEqual([{ apiGroups: [''], resources: ['nodes'], verbs: ['list'] }]);
  });
});

describe('an overlay like the README\'s: image, namespace and labels', () => {
  const IMAGE = 'registry.example.com/k8s-image-existence-exporter:0.1.0';
  /** kustomize v5 (kubectl >= 1.27): `labels` without selectors; older ones know only `commonLabels`. */
  const overlay = (deploy: string) =>
    `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
${dirs()}:
- ${deploy}
namespace: monitoring
images:
- name: k8s-image-existence-exporter
  newName: registry.example.com/k8s-image-existence-exporter
  newTag: 0.1.0
` +
    (major >= 5
      ? `labels:
- pairs:
    team: platform
  includeSelectors: false
  includeTemplates: true
`
      : `commonLabels:
  team: platform
`);

  test('moves every namespaced object, and the binding\'s subject, to the namespace', async () => {
    const { docs } = await renderOverlay('readme-example', overlay);
    expect(docs.map((d) => d.kind).sort()).toEqual(['ClusterRole', 'ClusterRoleBinding', 'Deployment', 'ServiceAccount']);
    for (const doc of docs) {
      const clusterScoped = doc.kind === 'ClusterRole' || doc.kind === 'ClusterRoleBinding';
      expect(doc.metadata.namespace, idOf(doc)).toBe(clusterScoped ? undefined : 'monitoring');
    }
    const binding = docs.find((d) => d.kind === 'ClusterRoleBinding')!;
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'image-existence-exporter', namespace: 'monitoring' }]);
    expectValid(docs);
  });

  test('sets the image and the labels, and changes nothing else', async () => {
    const { docs } = await renderOverlay('readme-example', overlay);
    const deployment = docs.find((d) => d.kind === 'Deployment')!;
    expect(deployment.spec.template.spec.containers[0].image).toBe(IMAGE);
    for (const doc of docs) expect(doc.metadata.labels, idOf(doc)).toEqual({ app: 'image-existence-exporter', team: 'platform' });
    expect(deployment.spec.template.metadata.labels).toEqual({ app: 'image-existence-exporter', team: 'platform' });
    // `labels` leaves the selector alone, so the overlay also applies over an existing install
    // (a Deployment's selector cannot change); `commonLabels` extends it.
    expect(deployment.spec.selector.matchLabels).toEqual(major >= 5 ? { app: 'image-existence-exporter' } : { app: 'image-existence-exporter', team: 'platform' });

    // Undo exactly what the overlay asked for: the rest is the plain files.
    const undone = docs.map((doc) => {
      const d = structuredClone(doc);
      delete d.metadata.labels.team;
      if (d.metadata.namespace) d.metadata.namespace = 'kube-system';
      for (const s of d.subjects ?? []) s.namespace = 'kube-system';
      if (d.kind === 'Deployment') {
        delete d.spec.template.metadata.labels.team;
        delete d.spec.selector.matchLabels.team;
        d.spec.template.spec.containers[0].image = 'k8s-image-existence-exporter:0.1.0';
      }
      return d;
    });
    expect(byId(undone)).toEqual(byId(await plain(DEPLOY, TOP_LEVEL)));
  });

  test('with deploy/prometheus-operator/ too, the PodMonitor and the PrometheusRule move to the namespace', async () => {
    const { docs } = await renderOverlay('readme-example-operator', (deploy) => overlay(deploy).replace(`- ${deploy}\n`, `- ${deploy}\n- ${deploy}/prometheus-operator\n`));
    const monitoring = docs.filter((d) => d.apiVersion === 'monitoring.coreos.com/v1');
    expect(monitoring.map((d) => [d.kind, d.metadata.namespace]).sort()).toEqual([['PodMonitor', 'monitoring'], ['PrometheusRule', 'monitoring']]);
    expectValid(docs);
  });

  // The PodMonitor names no namespaceSelector (one would not be rewritten by `namespace:`): it
  // selects pods in its own namespace, which moves with the exporter's.
  test('with deploy/prometheus-operator/ too, the PodMonitor selects the exporter in its new namespace', async () => {
    const { docs } = await renderOverlay('readme-example-operator', (deploy) => overlay(deploy).replace(`- ${deploy}\n`, `- ${deploy}\n- ${deploy}/prometheus-operator\n`));
    const podMonitor = docs.find((d) => d.kind === 'PodMonitor')!;
    const deployment = docs.find((d) => d.kind === 'Deployment')!;
    const namespaces: string[] = podMonitor.spec.namespaceSelector?.matchNames ?? [podMonitor.metadata.namespace];
    expect(namespaces).toEqual([deployment.metadata.namespace]);
  });
});

describe('kubectl apply -f keeps reading just the plain files', () => {
  test.each(APPLIED_WITH_F.map((dir) => [relative(ROOT, dir)]))('%s: its kustomization is named Kustomization', async (dir) => {
    const files = await readdir(join(ROOT, dir));
    expect(files).toContain('Kustomization');
    expect(files).not.toContain('kustomization.yaml');
    expect(files).not.toContain('kustomization.yml');
  });

  test.each(APPLIED_WITH_F.map((dir) => [relative(ROOT, dir)]))('%s: no *.yaml, *.yml or *.json file holds a Kustomization', async (dir) => {
    const files = (await readdir(join(ROOT, dir))).filter((f) => /\.(ya?ml|json)$/.test(f));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      for (const doc of loadAllYaml(await readFile(join(ROOT, dir, file), 'utf8')) as Doc[]) {
        expect(String(doc?.kind), file).not.toMatch(/^(Kustomization|Component)$/);
        expect(String(doc?.apiVersion), file).not.toContain('kustomize.config.k8s.io');
      }
    }
  });

  test.each(APPLIED_WITH_F.map((dir) => [relative(ROOT, dir)]))('%s: -f reads the same objects as -k renders', async (dir) => {
    const byF = await readByApplyF(join(ROOT, dir));
    const byK = (await render(join(ROOT, dir))).docs.map((d) => `${d.apiVersion} ${d.kind} ${d.metadata.namespace ?? ''}/${d.metadata.name}`).sort();
    expect(byF).toEqual(byK);
    expect(byF.join('\n')).not.toMatch(/kustomize\.config\.k8s\.io|Kustomization/);
  });
});
