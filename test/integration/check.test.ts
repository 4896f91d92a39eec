/**
 * `check` as a CI job runs it: a process reading manifests (files, directories, stdin) or a cluster,
 * checking against real registries, and saying so with its table, its JSON and its exit code.
 */
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { stringify } from 'yaml';
import { checkHere as runHere } from '../support/check-here.js';
import { startKubeApi, type KubeApi } from '../support/kube-api.js';
import { cronJob, deployment, dockerConfigSecret, serviceAccount, statefulSet, type PodTemplateInput } from '../support/objects.js';
import { createPki } from '../support/pki.js';
import { startRecordingProxy, type RecordingProxy } from '../support/proxy.js';
import { pushImage } from '../support/push.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { makeTempDir } from '../support/tmp.js';
import { ended } from '../support/process.js';

// Most tests start `check` as its own process (node, and tsx transpiling the sources): seconds of CPU
// each, many more on a loaded machine. What they test is bounded work, not time: room for the start-ups.
vi.setConfig({ testTimeout: 120_000 });

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PASSWORD = 'pw-Ch3ck-91ae4f';
const SECRETS = [PASSWORD, Buffer.from(`alice:${PASSWORD}`).toString('base64')];

let open: RunningRegistry; // anonymous, plain HTTP
let proxy: RecordingProxy; // records what reaches `open`
let basic: RunningRegistry; // htpasswd over TLS
let dir: string;
let caFile: string;
/** Flags every run needs to reach the test registries. */
let reach: string[];
/** A HOME and DOCKER_CONFIG with nothing in them: no credentials but the ones a test gives. */
let emptyHome: string;
const runs: CheckRun[] = [];

interface CheckRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

async function check(args: readonly string[], options: { stdin?: string; env?: Record<string, string> } = {}): Promise<CheckRun> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'check', ...args], {
    cwd: ROOT,
    env: { ...process.env, HOME: emptyHome, DOCKER_CONFIG: join(emptyHome, '.docker'), NO_COLOR: '', ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdin.end(options.stdin ?? '');
  const { code, stdout, stderr } = await ended(child, { killAfterMs: 100_000 });
  const run = { code, stdout, stderr };
  runs.push(run);
  return run;
}

/**
 * The same command in this process (runCheck with real streams and the given environment): what the
 * CLI does but its start-up, which on a busy machine costs seconds per run. Tests that are about the
 * process itself (its exit code, main.ts) spawn it with check() above.
 */
async function checkHere(args: readonly string[], options: { stdin?: string; env?: Record<string, string> } = {}): Promise<CheckRun> {
  const env = { HOME: emptyHome, DOCKER_CONFIG: join(emptyHome, '.docker'), NO_COLOR: '', ...options.env };
  const run = await runHere(args, { stdin: options.stdin, env });
  runs.push(run);
  return run;
}

const apps = (kind: string, object: object) => ({ apiVersion: kind === 'CronJob' ? 'batch/v1' : 'apps/v1', kind, ...object });
const workload = (name: string, image: string, extra: Partial<PodTemplateInput> = {}) =>
  apps('Deployment', deployment('shop', name, { containers: [{ name: 'app', image }], ...extra }));

async function manifestDir(name: string, files: Record<string, unknown[]>): Promise<string> {
  const path = join(dir, name);
  for (const [file, objects] of Object.entries(files)) {
    await mkdir(join(path, file, '..'), { recursive: true });
    await writeFile(join(path, file), file.endsWith('.json') ? JSON.stringify(objects[0]) : objects.map((o) => stringify(o)).join('---\n'));
  }
  return path;
}

/** The table's rows as cells (header skipped, up to the blank line before the summary). */
function tableRows(stdout: string): string[][] {
  const lines = stdout.split('\n');
  const end = lines.indexOf('');
  return lines.slice(1, end).map((line) => line.split(/\s{2,}/));
}

beforeAll(async () => {
  dir = await makeTempDir('check');
  emptyHome = join(dir, 'home');
  await mkdir(join(emptyHome, '.docker'), { recursive: true });
  const pki = await createPki();
  caFile = join(dir, 'ca.pem');
  await writeFile(caFile, pki.caCertPem);
  open = await startRegistry();
  await pushImage(open, 'shop/web', '1.0', 'docker');
  await pushImage(open, 'shop/jobs', '2.0', 'oci-index');
  proxy = await startRecordingProxy(open.url);
  basic = await startRegistry({ tls: pki, auth: { kind: 'htpasswd', users: { alice: PASSWORD } } });
  await pushImage(basic, 'team/private', '1', 'docker');
  reach = [`--allow-plain-http=${open.host},${proxy.host},127.0.0.1:1`, `--registry-ca-file=${caFile}`, '--registry-timeout=3s'];
});

afterAll(async () => {
  // Whatever check printed, anywhere: no password, no encoded credential.
  for (const { stdout, stderr } of runs) for (const secret of SECRETS) expect(stdout + stderr).not.toContain(secret);
  await proxy?.stop();
  await open?.stop();
  await basic?.stop();
});

describe('exit codes, from manifests in a directory', () => {
  test('0: every image present; directories are searched recursively, init containers included', async () => {
    const path = await manifestDir('all-present', {
      'web/deployment.yaml': [
        workload('web', `${open.host}/shop/web:1.0`, { initContainers: [{ name: 'migrate', image: `${open.host}/shop/jobs:2.0` }] }),
        { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { ports: [{ port: 80 }] } },
      ],
      'jobs/cron.yml': [apps('CronJob', cronJob('shop', 'nightly', { containers: [{ name: 'job', image: `${open.host}/shop/jobs:2.0` }] }))],
      'README.md': [],
    });
    const run = await check([...reach, path]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const rows = tableRows(run.stdout);
    expect(rows.map((r) => [r[0], r[1], r[2], r[3], r[5]])).toEqual([
      ['CronJob', 'shop', 'nightly', 'job', 'present'],
      ['Deployment', 'shop', 'web', 'migrate (init)', 'present'],
      ['Deployment', 'shop', 'web', 'app', 'present'],
    ]);
    expect(run.stdout).toContain('3 containers, 2 images: 3 present');
  });

  test('1: an absent image, and an invalid reference; problems are listed first', async () => {
    const path = await manifestDir('absent', {
      'a.yaml': [
        workload('fine', `${open.host}/shop/web:1.0`),
        workload('typo', `${open.host}/shop/web:1.0-typo`),
        workload('gone', `${open.host}/shop/deleted:1`),
        workload('bad', 'Not An Image!'),
      ],
    });
    const run = await check([...reach, path]);
    expect(run.code).toBe(1);
    const rows = tableRows(run.stdout);
    expect(rows.map((r) => [r[2], r[5]])).toEqual([
      ['typo', 'absent'],
      ['gone', 'absent'],
      ['bad', 'bad_reference'],
      ['fine', 'present'],
    ]);
    // Where each object is written (`fine` is the first document), then why.
    const file = join(path, 'a.yaml');
    for (const r of rows) expect(r[6]).toMatch(new RegExp(`^${file.replace(/[.]/g, '\\.')}:\\d+$`));
    expect(rows[3]?.[6]).toBe(`${file}:1`);
    expect(rows[0]?.[7]).toContain('MANIFEST_UNKNOWN');
    expect(rows[1]?.[7]).toMatch(/registry says (MANIFEST|NAME)_UNKNOWN/);
  });

  test('3: a registry that cannot be reached and nothing absent; --fail-on absent accepts it; an absent image still fails', async () => {
    const path = await manifestDir('unreachable', {
      'a.yaml': [workload('fine', `${open.host}/shop/web:1.0`), workload('away', '127.0.0.1:1/shop/web:1.0')],
    });
    const unknown = await check([...reach, path]);
    expect(unknown.code).toBe(3);
    expect(tableRows(unknown.stdout).map((r) => [r[2], r[5]])).toEqual([
      ['away', 'registry_unavailable'],
      ['fine', 'present'],
    ]);
    expect((await checkHere([...reach, '--fail-on=absent', path])).code).toBe(0);

    const both = await manifestDir('unreachable-and-absent', {
      'a.yaml': [workload('away', '127.0.0.1:1/shop/web:1.0'), workload('gone', `${open.host}/shop/web:9`)],
    });
    expect((await checkHere([...reach, '--fail-on=absent', both])).code).toBe(1);
  });

  test('2: a file that cannot be parsed names the file and the line; nothing is checked', async () => {
    const path = await manifestDir('broken', { 'ok.yaml': [workload('fine', `${proxy.host}/shop/web:1.0`)] });
    await writeFile(join(path, 'broken.yaml'), 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\n  labels: [unclosed\n');
    proxy.reset();
    const run = await check([...reach, path]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(new RegExp(`${join(path, 'broken.yaml').replace(/[.]/g, '\\.')}:\\d+: `));
    expect(proxy.requests).toHaveLength(0);
  });

  test('2: usage errors are one line naming the flag or what is missing', async () => {
    // Through the process once; the flags' messages in this process (the same code, without six start-ups).
    const cli = await check([]);
    expect(cli.code).toBe(2);
    expect(cli.stdout).toBe('');
    expect(cli.stderr.trim()).toContain('check: name manifest files');
    for (const [args, says] of [
      [['--output=xml', 'x.yaml'], '--output'],
      [['--fail-on=never', 'x.yaml'], '--fail-on'],
      [['--cluster', 'x.yaml'], '--cluster'],
      [['--no-such-flag', 'x.yaml'], '--no-such-flag'],
      [['--docker-config=/nonexistent/config.json', 'x.yaml'], '--docker-config'],
      [[join(dir, 'nonexistent')], join(dir, 'nonexistent')],
    ] as const) {
      const run = await checkHere(args);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stdout).toBe('');
      const lines = run.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(says);
    }
  });

  test('--help describes the exit codes and flags', async () => {
    const run = await check(['--help']);
    expect(run.code).toBe(0);
    for (const text of ['--fail-on', '--output', '--cluster', 'Exit codes', 'k8s-image-existence-exporter/ignore', 'GROUP/VERSION/RESOURCE[:TEMPLATE.PATH][,images=PATH,...]']) {
      expect(run.stdout).toContain(text);
    }
  });
});

describe('inputs', () => {
  test('stdin: a Helm-style stream with comments, an empty document and a document that is not an object', async () => {
    const stream = [
      '---\n# Source: shop/templates/deployment.yaml',
      stringify(workload('web', `${open.host}/shop/web:1.0`)),
      '# Source: shop/templates/empty.yaml\n',
      '# Source: shop/templates/notes.yaml\njust: some values\nnot: a kubernetes object',
      '# Source: shop/templates/statefulset.yaml\n' + stringify(apps('StatefulSet', statefulSet('shop', 'db', { containers: [{ name: 'db', image: `${open.host}/shop/db:1` }] }))),
    ].join('\n---\n');
    const run = await check([...reach, '-'], { stdin: stream });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^warning: -:\d+: .*not a Kubernetes object/m);
    expect(tableRows(run.stdout).map((r) => [r[0], r[2], r[5]])).toEqual([
      ['StatefulSet', 'db', 'absent'],
      ['Deployment', 'web', 'present'],
    ]);
  });

  test('a List in YAML and a single object in JSON, each object at its file and line', async () => {
    const path = await manifestDir('lists', {
      'list.yaml': [{ apiVersion: 'v1', kind: 'List', items: [workload('one', `${open.host}/shop/web:1.0`), workload('two', `${open.host}/shop/jobs:2.0`)] }],
      'single.json': [workload('three', `${open.host}/shop/web:1.0`)],
    });
    const run = await check([...reach, '--output=json', path]);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as { containers: Array<{ name: string; source: string }> };
    expect(report.containers.map((c) => c.name).sort()).toEqual(['one', 'three', 'two']);
    expect(report.containers.find((c) => c.name === 'three')?.source).toBe(`${join(path, 'single.json')}:1`);
  });
});

describe('what kubectl reads, and where findings come from (issue 22)', () => {
  const FIXTURES = join(ROOT, 'test', 'fixtures', 'kubectl-yaml');

  test('a directory holding Argo-style manifests (`args: ["…"]` below their key) is checked, not refused', async () => {
    const path = await manifestDir('argo-style', { 'web/deployment.yaml': [workload('web', `${open.host}/shop/web:1.0`)] });
    await mkdir(join(path, 'workflows'), { recursive: true });
    // The Workflow as written (nothing of it to pull); the Deployment with the test registry's images.
    await writeFile(join(path, 'workflows', 'ci.yaml'), await readFile(join(FIXTURES, 'argo-ci-workflow.yaml')));
    const catalog = (await readFile(join(FIXTURES, 'deployment-shell-args.yaml'), 'utf8'))
      .replace('registry.example.com/tools/netcat:1.10', `${open.host}/shop/jobs:2.0`)
      .replace('registry.example.com/shop/catalog:3.4.1', `${open.host}/shop/catalog:3.4.1`);
    await writeFile(join(path, 'web', 'catalog.yaml'), catalog);
    const run = await check([...reach, path]);
    // Read, not refused; its images are outside a pod template, which no flag here reads: said once.
    expect(run.stderr).toMatch(/^warning: 1 Workflow object holds images outside a pod template, not read: --workload-resource=argoproj\.io\/v1alpha1\/workflows:images=\S+ reads them\n$/);
    expect(run.code).toBe(1);
    expect(tableRows(run.stdout).map((r) => [r[2], r[3], r[5], r[6]])).toEqual([
      ['catalog', 'catalog', 'absent', `${join(path, 'web', 'catalog.yaml')}:3`],
      ['catalog', 'wait-for-db (init)', 'present', `${join(path, 'web', 'catalog.yaml')}:3`],
      ['web', 'app', 'present', `${join(path, 'web', 'deployment.yaml')}:1`],
    ]);
  });

  test('a `helm template` stream: each finding names its template, then the place in the stream', async () => {
    const documents: Array<[string | undefined, string]> = [
      ['shop/templates/web.yaml', stringify(workload('web', `${open.host}/shop/web:1.0`))],
      // Read by the second reader: its args are written Argo-style.
      ['shop/templates/migrate.yaml', `apiVersion: batch/v1\nkind: Job\nmetadata: {name: migrate, namespace: shop}\nspec:\n  template:\n    spec:\n      containers:\n      - name: migrate\n        image: ${open.host}/shop/jobs:2.0\n        args: ["\n        migrate up &&\n        migrate status\n        "]\n`],
      ['shop/charts/cache/templates/cache.yaml', stringify(workload('cache', `${open.host}/shop/cache:7`))],
      [undefined, stringify(workload('extra', `${open.host}/shop/web:1.0`))],
    ];
    const stream = documents.map(([template, text]) => `---\n${template ? `# Source: ${template}\n` : ''}${text}`).join('');
    const lineOf = (name: string) => stream.split('\n').findIndex((line, i, lines) => line.startsWith('apiVersion') && lines.slice(i, i + 12).some((l) => l.includes(`name: ${name}`))) + 1;

    const json = await check([...reach, '--output=json', '-'], { stdin: stream });
    expect(json.code).toBe(1);
    const containers = (JSON.parse(json.stdout) as { containers: Array<Record<string, unknown>> }).containers;
    expect(containers.map((c) => [c.name, c.status, c.source, c.template])).toEqual([
      ['cache', 'absent', `-:${lineOf('cache')}`, 'shop/charts/cache/templates/cache.yaml'],
      ['web', 'present', `-:${lineOf('web')}`, 'shop/templates/web.yaml'],
      ['extra', 'present', `-:${lineOf('extra')}`, undefined],
      ['migrate', 'present', `-:${lineOf('migrate')}`, 'shop/templates/migrate.yaml'],
    ]);
    expect(Object.keys(containers[2] ?? {})).not.toContain('template');

    const table = await checkHere([...reach, '-'], { stdin: stream });
    expect(table.code).toBe(1);
    expect(tableRows(table.stdout).map((r) => [r[2], r[6]])).toEqual([
      ['cache', `shop/charts/cache/templates/cache.yaml (-:${lineOf('cache')})`],
      ['web', `shop/templates/web.yaml (-:${lineOf('web')})`],
      ['extra', `-:${lineOf('extra')}`],
      ['migrate', `shop/templates/migrate.yaml (-:${lineOf('migrate')})`],
    ]);
  });
});

describe('--output json', () => {
  test('one document, checked field by field', async () => {
    const path = await manifestDir('json', {
      'a.yaml': [
        workload('web', `${open.host}/shop/web:1.0`),
        workload('gone', `${open.host}/shop/web:0.9`),
        { ...workload('global', '127.0.0.1:1/x:1'), metadata: { name: 'global' } },
      ],
    });
    const run = await check([...reach, '--output=json', path]);
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout);
    expect(report.exitCode).toBe(1);
    expect(report.summary).toEqual({ containers: 3, images: 3, statuses: { present: 1, absent: 1, registry_unavailable: 1 }, unlisted: [] });
    expect(report.warnings).toEqual([]);
    const file = join(path, 'a.yaml');
    expect(report.containers).toHaveLength(3);
    expect(report.containers[0]).toEqual({
      kind: 'Deployment',
      namespace: 'shop',
      name: 'gone',
      container: 'app',
      init: false,
      volume: false,
      image: `${open.host}/shop/web:0.9`,
      status: 'absent',
      reason: expect.stringContaining('MANIFEST_UNKNOWN'),
      source: expect.stringMatching(new RegExp(`^${file.replace(/[.]/g, '\\.')}:\\d+$`)),
    });
    expect(report.containers[1]).toMatchObject({ name: 'global', namespace: '', status: 'registry_unavailable', reason: expect.any(String) });
    expect(report.containers[2]).toMatchObject({ name: 'web', status: 'present', source: `${file}:1` });
    // Line numbers point at each object's document.
    const lines = [report.containers[0].source, report.containers[1].source].map((s: string) => Number(s.split(':').pop()));
    expect(lines[0]).toBeGreaterThan(1);
    expect(lines[1]).toBeGreaterThan(lines[0] as number);
  });
});

describe('credentials', () => {
  test('a pull secret in the manifests opens the private registry for the workload that names it, and only for it', async () => {
    const image = `${basic.host}/team/private:1`;
    const path = await manifestDir('secrets', {
      'app.yaml': [
        { apiVersion: 'v1', kind: 'Secret', ...dockerConfigSecret('shop', 'regcred', { [basic.host]: { username: 'alice', password: PASSWORD } }) },
        workload('names-it', image, { imagePullSecrets: ['regcred'] }),
        workload('does-not', image),
        apps('Deployment', deployment('other', 'elsewhere', { containers: [{ name: 'app', image }], imagePullSecrets: ['regcred'] })),
        { apiVersion: 'v1', kind: 'ServiceAccount', ...serviceAccount('shop', 'builder', ['regcred']) },
        workload('through-account', image, { serviceAccountName: 'builder' }),
      ],
    });
    const run = await check([...reach, '--output=json', path]);
    const byName = Object.fromEntries((JSON.parse(run.stdout).containers as Array<{ name: string; status: string; reason: string }>).map((c) => [c.name, c]));
    expect(byName['names-it']?.status).toBe('present');
    expect(byName['through-account']?.status).toBe('present');
    expect(byName['does-not']?.status).toBe('auth_failure');
    // Another namespace's workload does not get the secret: it is not in the manifests there.
    expect(byName.elsewhere?.status).toBe('auth_failure');
    expect(byName.elsewhere?.reason).toContain('pull secret other/regcred is not in the manifests');
    expect(run.code).toBe(3);
  });

  test("the docker config of $DOCKER_CONFIG is the CI job's own credentials; --docker-config names another", async () => {
    const path = await manifestDir('docker-config', { 'a.yaml': [workload('private', `${basic.host}/team/private:1`)] });
    const config = join(dir, 'ci-docker');
    await mkdir(config, { recursive: true });
    await writeFile(join(config, 'config.json'), JSON.stringify({ auths: { [basic.host]: { auth: Buffer.from(`alice:${PASSWORD}`).toString('base64') } } }));
    expect((await checkHere([...reach, path])).code).toBe(3);
    expect((await check([...reach, path], { env: { DOCKER_CONFIG: config } })).code).toBe(0);
    expect((await checkHere([...reach, `--docker-config=${join(config, 'config.json')}`, path])).code).toBe(0);
    // $DOCKER_CONFIG without a config.json: ~/.docker/config.json is next.
    const home = join(dir, 'ci-home');
    await mkdir(join(home, '.docker'), { recursive: true });
    await writeFile(join(home, '.docker', 'config.json'), JSON.stringify({ auths: { [basic.host]: { username: 'alice', password: PASSWORD } } }));
    expect((await checkHere([...reach, path], { env: { HOME: home, DOCKER_CONFIG: join(dir, 'nothing-here') } })).code).toBe(0);
    // A broken default config is a warning, not the end of the run.
    await writeFile(join(home, '.docker', 'config.json'), '{"auths": ');
    const broken = await checkHere([...reach, path], { env: { HOME: home } });
    expect(broken.code).toBe(3);
    expect(broken.stderr).toMatch(/^warning: .*config\.json is not valid JSON; going on without its credentials$/m);
  });

  test('a docker config with credential helpers only is a warning, and the run goes on', async () => {
    const path = await manifestDir('helpers', { 'a.yaml': [workload('web', `${open.host}/shop/web:1.0`)] });
    const config = join(dir, 'desktop-docker');
    await mkdir(config, { recursive: true });
    await writeFile(join(config, 'config.json'), JSON.stringify({ auths: { [basic.host]: {} }, credsStore: 'desktop' }));
    const run = await checkHere([...reach, path], { env: { DOCKER_CONFIG: config } });
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('credential helpers');
  });
});

describe('one request per image', () => {
  test('the same image in 100 manifests makes one registry request', async () => {
    const objects = Array.from({ length: 100 }, (_, i) => workload(`app-${i}`, `${proxy.host}/shop/web:1.0`));
    const path = await manifestDir('hundred', Object.fromEntries(objects.map((o, i) => [`app-${i}.yaml`, [o]])));
    proxy.reset();
    const run = await check([...reach, path]);
    expect(run.code).toBe(0);
    expect(tableRows(run.stdout)).toHaveLength(100);
    expect(proxy.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['HEAD /v2/shop/web/manifests/1.0']);
  });
});

describe('images outside pod templates, and containers opted out', () => {
  const WORKFLOWS =
    '--workload-resource=argoproj.io/v1alpha1/workflows:images=spec.templates[*].container,spec.templates[*].script,' +
    'spec.templates[*].containerSet.containers[*],spec.templates[*].initContainers[*],spec.templates[*].sidecars[*]';
  /** An Argo Workflow as Argo's types have it: a steps template, a container template with an init container and sidecars, a script. */
  const workflow = (name: string, sidecarImage: string) => ({
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Workflow',
    metadata: { name, namespace: 'ci' },
    spec: {
      entrypoint: 'main',
      templates: [
        { name: 'main', steps: [[{ name: 'build', template: 'build' }, { name: 'report', template: 'report' }]] },
        {
          name: 'build',
          container: { image: `${proxy.host}/shop/web:1.0`, command: ['make'] },
          initContainers: [{ name: 'fetch', image: `${proxy.host}/shop/jobs:2.0` }],
          sidecars: [{ name: 'cache', image: sidecarImage }],
        },
        { name: 'report', script: { image: `${proxy.host}/shop/web:1.0`, source: 'echo done' } },
      ],
    },
  });

  test('an Argo Workflow with the image paths: every image checked against the registry, containers named by name or path', async () => {
    const path = await manifestDir('workflow', { 'wf.yaml': [workflow('build', `${proxy.host}/shop/cache:gone`)] });
    proxy.reset();
    const run = await check([...reach, WORKFLOWS, path]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(1);
    expect(tableRows(run.stdout).map((r) => [r[0], r[1], r[2], r[3], r[5]])).toEqual([
      ['Workflow', 'ci', 'build', 'cache', 'absent'],
      ['Workflow', 'ci', 'build', 'spec.templates[1].container', 'present'],
      ['Workflow', 'ci', 'build', 'spec.templates[2].script', 'present'],
      ['Workflow', 'ci', 'build', 'fetch (init)', 'present'],
    ]);
    expect(proxy.requests.map((r) => `${r.method} ${r.path}`).sort()).toEqual([
      'GET /v2/shop/cache/manifests/gone',
      'HEAD /v2/shop/cache/manifests/gone',
      'HEAD /v2/shop/jobs/manifests/2.0',
      'HEAD /v2/shop/web/manifests/1.0',
    ]);
  });

  test('without the flag: one warning naming the kind and the flag that reads it, whatever the number of Workflows', async () => {
    const path = await manifestDir('workflow-unread', {
      'wf.yaml': [workflow('a', `${open.host}/shop/web:1.0`), workflow('b', `${open.host}/shop/web:1.0`)],
      'web.yaml': [workload('web', `${open.host}/shop/web:1.0`)],
    });
    const run = await checkHere([...reach, path]);
    expect(run.code).toBe(0);
    expect(run.stderr.trim().split('\n')).toEqual([
      `warning: 2 Workflow objects hold images outside a pod template, not read: ${WORKFLOWS} reads them`,
    ]);
    expect(tableRows(run.stdout).map((r) => r[0])).toEqual(['Deployment']);
  });

  test('the annotation and --ignored-images: skipped, with the reason, never asked of the registry, never failing the run', async () => {
    const annotated = (name: string, annotations: Record<string, string>, at: 'workload' | 'template') => {
      const object = workload(name, `${proxy.host}/shop/web:1.0`, {
        containers: [{ name: 'app', image: `${proxy.host}/shop/web:1.0` }, { name: 'legacy', image: `${proxy.host}/shop/legacy:gone` }],
      }) as unknown as { metadata: Record<string, unknown>; spec: { template: { metadata: Record<string, unknown> } } };
      if (at === 'workload') object.metadata['annotations'] = annotations;
      else object.spec.template.metadata['annotations'] = annotations;
      return object;
    };
    const path = await manifestDir('opted-out', {
      'a.yaml': [
        annotated('named', { 'k8s-image-existence-exporter/ignore': 'legacy' }, 'workload'),
        annotated('all', { 'k8s-image-existence-exporter/ignore': 'true' }, 'template'),
        workload('vendor', `${proxy.host}/vendor/tool:gone`),
      ],
    });
    proxy.reset();
    const run = await checkHere([...reach, `--ignored-images=${proxy.host}/vendor/*`, '--output=json', path]);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as { summary: { statuses: Record<string, number> }; containers: Array<Record<string, unknown>> };
    expect(report.summary.statuses).toEqual({ present: 1, skipped: 4 });
    expect(report.containers.map((c) => [c['name'], c['container'], c['status'], c['reason']])).toEqual([
      ['named', 'app', 'present', expect.any(String)],
      ['named', 'legacy', 'skipped', 'skipped: opted out by the annotation k8s-image-existence-exporter/ignore'],
      ['all', 'app', 'skipped', 'skipped: opted out by the annotation k8s-image-existence-exporter/ignore'],
      ['all', 'legacy', 'skipped', 'skipped: opted out by the annotation k8s-image-existence-exporter/ignore'],
      ['vendor', 'app', 'skipped', 'skipped: the image matches --ignored-images'],
    ]);
    expect(proxy.requests.map((r) => r.path)).toEqual(['/v2/shop/web/manifests/1.0']);
  });
});

describe('--cluster', () => {
  let kube: KubeApi;

  beforeAll(async () => {
    kube = await startKubeApi();
    kube.set('Deployment', [deployment('shop', 'web', { containers: [{ name: 'app', image: `${open.host}/shop/web:1.0` }] })]);
    kube.set('CronJob', [cronJob('shop', 'nightly', { containers: [{ name: 'job', image: `${open.host}/shop/jobs:0` }] })]);
  });

  afterAll(async () => {
    await kube?.stop();
  });

  test("checks the cluster's workloads, one collection as the exporter does it", async () => {
    const run = await check([...reach, '--cluster', `--kubeconfig=${kube.kubeconfigPath}`]);
    expect(run.code).toBe(1);
    expect(tableRows(run.stdout).map((r) => [r[0], r[1], r[2], r[5]])).toEqual([
      ['CronJob', 'shop', 'nightly', 'absent'],
      ['Deployment', 'shop', 'web', 'present'],
    ]);
    const paths = kube.requests.map((r) => r.path);
    expect(paths).toEqual(expect.arrayContaining(['/apis/apps/v1/deployments', '/apis/batch/v1/cronjobs']));
  });

  test('a kind that cannot be listed is reported and makes the run unknown (3)', async () => {
    kube.fault({ path: /cronjobs/, status: 403 });
    try {
      const run = await check([...reach, '--cluster', `--kubeconfig=${kube.kubeconfigPath}`]);
      expect(run.code).toBe(3);
      expect(run.stdout).toContain('not listed: CronJob');
    } finally {
      kube.clearFaults();
    }
  });

  test('no Kubernetes configuration: one line, exit 2', async () => {
    const run = await check(['--cluster'], { env: { KUBECONFIG: '', KUBERNETES_SERVICE_HOST: '' } });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('no Kubernetes configuration found');
  });
});


describe('on a terminal', () => {
  const inProcess = (args: readonly string[], tty: boolean, env: Record<string, string> = {}) => runHere(args, { tty, env: { HOME: emptyHome, ...env } });

  test('colours on a terminal, not with NO_COLOR, never in a pipe; the progress line on a terminal only, erased at the end', async () => {
    // Slow answers, so that the progress line is drawn at least once.
    const slow = await startRecordingProxy(open.url, { latencyMs: 700 });
    try {
      const path = await manifestDir('terminal', { 'a.yaml': [workload('web', `${slow.host}/shop/web:1.0`), workload('gone', `${slow.host}/shop/web:404`)] });
      const args = [`--allow-plain-http=${slow.host}`, path];
      const tty = await inProcess(args, true);
      expect(tty.code).toBe(1);
      expect(tty.stdout).toContain('\x1b[31mabsent');
      expect(tty.stdout).toContain('\x1b[32mpresent');
      expect(tty.stderr).toMatch(/checking images: \d+\/\d+/);
      expect(tty.stderr.endsWith('\r\x1b[2K')).toBe(true);
      const noColour = await inProcess(args, true, { NO_COLOR: '1' });
      expect(noColour.stdout).not.toContain('\x1b[');
      const pipe = await inProcess(args, false);
      expect(pipe.stdout).not.toContain('\x1b[');
      expect(pipe.stderr).toBe('');
      expect(pipe.stdout).toBe(noColour.stdout);
    } finally {
      await slow.stop();
    }
  });
});
