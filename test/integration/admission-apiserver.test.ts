/**
 * The admission webhook as a real kube-apiserver (1.20.2 + etcd, bench/kube-apiserver.sh builds it)
 * calls it: deploy/admission/'s ValidatingWebhookConfiguration applied with kubectl, its certificate
 * and caBundle made by deploy/admission/make-certificate.sh, the API server presenting a client
 * certificate (its admission configuration) that --admission-client-ca-file requires, and the
 * exporter running as deployed (its own process, deploy/'s Node flags). What `kubectl apply` prints
 * is what users see. Then the adversary's requests through the API server: 1,000 containers, 200
 * at once, a registry that never answers; each within the webhook's timeout and the memory limit.
 *
 * Skipped, saying why, where the cached kube-apiserver binary or etcd is missing (CI does not build
 * it: `bash bench/kube-apiserver.sh` does, once, in a few minutes).
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Agent, request } from 'undici';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startRealApiServer, type RealApiServer } from '../../bench/support/real-apiserver.js';
import { createCa, issueCert } from '../support/client-cert.js';
import { deployedRuntime } from '../support/deployed.js';
import { deployment } from '../support/objects.js';
import { startExporterProcess, type ExporterProcess } from '../support/process.js';
import { startHostileTcp, type Hostile } from '../support/hostile.js';
import { pushImage } from '../support/push.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { makeTempDir } from '../support/tmp.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ADMISSION = join(ROOT, 'deploy', 'admission');
const CACHE = process.env['K8S_BENCH_CACHE'] ?? join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'k8s-image-existence-exporter');
const BINARY = join(CACHE, 'kube-apiserver-1.20.2');
const onPath = (cmd: string) => (process.env['PATH'] ?? '').split(delimiter).some((d) => existsSync(join(d, cmd)));
const missing = !existsSync(BINARY)
  ? `no cached kube-apiserver at ${BINARY}: build it once with \`bash bench/kube-apiserver.sh\``
  : !onPath('etcd')
    ? 'no etcd on PATH (Debian: apt-get install etcd-server)'
    : !onPath('kubectl')
      ? 'no kubectl on PATH (Debian: apt-get install kubernetes-client)'
      : undefined;
if (missing) console.warn(`admission-apiserver.test.ts skipped: ${missing}`);

/** The webhook's timeoutSeconds in deploy/admission/ (the deny webhook here gets a shorter one). */
const TIMEOUT_MS = 10_000;
/** deploy/03-deployment.yaml's memory limit. */
const MEMORY_LIMIT_MIB = 320;

let api: RealApiServer;
let registry: RunningRegistry;
let silent: Hostile | undefined;
let warnExporter: ExporterProcess;
let denyExporter: ExporterProcess;
let dir: string;
let host: string;
let silentHost: string;
let dispatcher: Agent;

interface Kubectl {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** kubectl as the admin, with a manifest file made of `objects`. */
async function kubectl(args: string[], objects?: object[]): Promise<Kubectl> {
  const started = performance.now();
  const extra: string[] = [];
  if (objects) {
    const file = join(dir, `manifest-${Math.random().toString(36).slice(2)}.yaml`);
    await writeFile(file, objects.map((o) => stringifyYaml(o)).join('---\n'));
    extra.push('-f', file);
  }
  try {
    const { stdout, stderr } = await run('kubectl', ['--kubeconfig', api.adminKubeconfigPath, ...args, ...extra], { maxBuffer: 16 << 20 });
    return { code: 0, stdout, stderr, ms: performance.now() - started };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '', ms: performance.now() - started };
  }
}

/** A Deployment as a manifest writes it (the loopback builders leave out apiVersion and kind). */
const manifest = (object: object) => ({ apiVersion: 'apps/v1', kind: 'Deployment', ...object });
const app = (namespace: string, name: string, image: string) => manifest(deployment(namespace, name, { containers: [{ name: 'app', image }] }));
const warnings = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('Warning: '));

/** VmHWM of a process, in MiB. */
function peakMiB(pid: number): number {
  return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
}

describe.skipIf(missing !== undefined)('the webhook called by a real kube-apiserver', () => {
  beforeAll(async () => {
    dir = await makeTempDir('admission-apiserver');
    // The API server's client certificate for webhooks, from its admission configuration.
    const clientCa = await createCa('kube-apiserver webhook client CA');
    const client = await issueCert(clientCa, 'apiserver-webhook-client', { usage: 'client', cn: 'kube-apiserver' });
    await writeFile(join(dir, 'webhook.kubeconfig'), stringifyYaml({
      apiVersion: 'v1', kind: 'Config',
      users: [{ name: '*', user: { 'client-certificate': client.certFile, 'client-key': client.keyFile } }],
    }));
    await writeFile(join(dir, 'admission.yaml'), stringifyYaml({
      apiVersion: 'apiserver.config.k8s.io/v1', kind: 'AdmissionConfiguration',
      plugins: [{ name: 'ValidatingAdmissionWebhook', configuration: { apiVersion: 'apiserver.config.k8s.io/v1', kind: 'WebhookAdmissionConfiguration', kubeConfigFile: join(dir, 'webhook.kubeconfig') } }],
    }));
    [api, registry] = await Promise.all([
      startRealApiServer({ binary: BINARY, extraArgs: ['--admission-control-config-file', join(dir, 'admission.yaml')] }),
      startRegistry(),
    ]);
    dispatcher = new Agent({ connect: { ca: api.caCertPem }, connections: 256 });
    host = registry.host;
    await pushImage(registry, 'team/app', '1', 'docker');
    silent = await startHostileTcp(() => undefined);
    silentHost = silent.host;

    // As the README says: apply deploy/admission/, then make-certificate.sh (here with the
    // loopback address in the certificate, as the API server calls a URL rather than the Service).
    const applied = await kubectl(['apply', '-f', `${ADMISSION}/`]);
    expect(applied).toMatchObject({ code: 0, stderr: '' });
    expect(applied.stdout.trim().split('\n').sort()).toEqual([
      'configmap/image-existence-exporter-web-config created',
      'deployment.apps/image-existence-exporter created',
      'service/image-existence-exporter created',
      'validatingwebhookconfiguration.admissionregistration.k8s.io/image-existence-exporter created',
    ]);
    const tls = join(dir, 'tls');
    await run('bash', [join(ADMISSION, 'make-certificate.sh')], {
      env: { ...process.env, OUT_DIR: tls, EXTRA_SANS: 'IP:127.0.0.1', KUBECONFIG: api.adminKubeconfigPath },
    });
    await writeFile(join(dir, 'web.yml'), `tls_server_config:\n  cert_file: ${join(tls, 'tls.crt')}\n  key_file: ${join(tls, 'tls.key')}\n`);

    const flags = [
      `--kubeconfig=${api.exporterKubeconfigPath}`,
      `--web-config-file=${join(dir, 'web.yml')}`,
      '--admission-webhook',
      `--admission-client-ca-file=${clientCa.caCertFile}`,
      '--allow-plain-http=127.0.0.1:*',
      '--registry-timeout=60s',
    ];
    const runtime = deployedRuntime();
    [warnExporter, denyExporter] = await Promise.all([
      startExporterProcess(flags, { nodeArgs: runtime.nodeArgs, env: runtime.env, stderrChars: 200_000 }),
      startExporterProcess([...flags, '--admission-deny-absent'], { nodeArgs: runtime.nodeArgs, env: runtime.env, stderrChars: 200_000 }),
    ]);

    // The applied webhook calls the warning exporter by URL, for every namespace but those labelled
    // mode=deny, whose webhook (a copy) calls the refusing one, with a timeoutSeconds of 5.
    const selector = (operator: 'In' | 'NotIn') => ({ key: 'mode', operator, values: ['deny'] });
    const patch = [
      { op: 'remove', path: '/webhooks/0/clientConfig/service' },
      { op: 'add', path: '/webhooks/0/clientConfig/url', value: `https://127.0.0.1:${warnExporter.port}/admission` },
      { op: 'add', path: '/webhooks/0/namespaceSelector/matchExpressions/-', value: selector('NotIn') },
    ];
    expect((await kubectl(['patch', 'validatingwebhookconfiguration', 'image-existence-exporter', '--type=json', '-p', JSON.stringify(patch)])).code).toBe(0);
    const [webhook] = (await api.api('GET', '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/image-existence-exporter')).body.webhooks;
    expect(webhook.clientConfig.caBundle).toBe(Buffer.from(await readFile(join(tls, 'ca.crt'))).toString('base64'));
    const deny = parseYaml(await readFile(join(ADMISSION, '40-validatingwebhookconfiguration.yaml'), 'utf8'));
    deny.metadata.name = 'image-existence-exporter-deny';
    deny.webhooks[0] = {
      ...deny.webhooks[0],
      timeoutSeconds: 5,
      clientConfig: { url: `https://127.0.0.1:${denyExporter.port}/admission`, caBundle: webhook.clientConfig.caBundle },
      namespaceSelector: { matchExpressions: [...webhook.namespaceSelector.matchExpressions.slice(0, -1), selector('In')] },
    };
    expect((await kubectl(['apply'], [deny])).code).toBe(0);
    for (const [name, labels] of [['warn', {}], ['deny', { mode: 'deny' }]] as const) {
      await api.api('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
    }
    // The API server learns of webhook configurations through a watch: wait until both are called.
    for (const namespace of ['warn', 'deny']) {
      for (let i = 0; ; i++) {
        const probe = await kubectl(['apply', '--dry-run=server'], [app(namespace, 'probe', `${host}/team/probe:404`)]);
        if (probe.stderr.includes('does not exist')) break;
        if (i > 100) throw new Error(`the webhook was never called in ${namespace}: ${probe.stderr}\n${api.log()}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }, 170_000);

  afterAll(async () => {
    warnExporter?.kill();
    denyExporter?.kill();
    await silent?.stop();
    await dispatcher?.close();
    await Promise.all([api?.stop(), registry?.stop()]);
  }, 60_000);

  test('an absent image: kubectl apply prints the warning and the Deployment is created', async () => {
    const result = await kubectl(['apply'], [app('warn', 'absent', `${host}/team/app:2`)]);
    console.log(`$ kubectl apply -f absent.yaml\n${result.stderr}${result.stdout}`);
    expect(result.code).toBe(0);
    expect(warnings(result.stderr)).toEqual([`Warning: container "app": image ${host}/team/app:2 does not exist (registry says MANIFEST_UNKNOWN): pods cannot start with it; push it or fix the tag`]);
    expect(result.stdout).toBe('deployment.apps/absent created\n');
    expect((await api.api('GET', '/apis/apps/v1/namespaces/warn/deployments/absent')).status).toBe(200);
  });

  test('a present image: nothing printed but the creation', async () => {
    const result = await kubectl(['apply'], [app('warn', 'present', `${host}/team/app:1`)]);
    expect(result).toMatchObject({ code: 0, stderr: '', stdout: 'deployment.apps/present created\n' });
  });

  test('the registry stopped: created, with a "could not be checked" warning, within the timeout', async () => {
    await registry.stop();
    try {
      const result = await kubectl(['apply'], [app('warn', 'registry-down', `${host}/team/app:3`)]);
      console.log(`$ kubectl apply -f registry-down.yaml\n${result.stderr}${result.stdout}`);
      expect(result.code).toBe(0);
      expect(warnings(result.stderr)).toEqual([expect.stringMatching(new RegExp(`^Warning: container "app": image ${host}/team/app:3 could not be checked \\(.*\\); whether it exists is not known \\(not refused\\)$`))]);
      expect(result.stdout).toBe('deployment.apps/registry-down created\n');
      expect(result.ms).toBeLessThan(TIMEOUT_MS);
    } finally {
      await registry.start();
    }
  });

  test('--admission-deny-absent: the absent image is refused with the reason; a present one passes', async () => {
    const refused = await kubectl(['apply'], [app('deny', 'absent', `${host}/team/app:4`)]);
    console.log(`$ kubectl apply -f absent.yaml   # --admission-deny-absent\n${refused.stderr}${refused.stdout}`);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(
      `admission webhook "images.image-existence-exporter.k8s.io" denied the request: an image does not exist (--admission-deny-absent): container "app": image ${host}/team/app:4 does not exist`,
    );
    expect((await api.api('GET', '/apis/apps/v1/namespaces/deny/deployments/absent')).status).toBe(404);
    expect(await kubectl(['apply'], [app('deny', 'present', `${host}/team/app:1`)])).toMatchObject({ code: 0, stderr: '', stdout: 'deployment.apps/present created\n' });
  });

  test('a registry that never answers: created with "not checked in time", within a timeoutSeconds of 10 and of 5 (the API server\'s ?timeout=)', async () => {
    for (const namespace of ['warn', 'deny']) {
      const result = await kubectl(['apply'], [app(namespace, 'silent', `${silentHost}/team/app:1`)]);
      expect(result.code).toBe(0);
      // Had the exporter not read the 5 s from the request, the API server would have given up on
      // it (failurePolicy Ignore: created, but without the warning).
      expect(warnings(result.stderr)).toEqual([expect.stringContaining('not checked in time')]);
      expect(result.ms).toBeLessThan(namespace === 'deny' ? 5000 : TIMEOUT_MS);
    }
  });

  test('1,000 containers in one Deployment: created within the timeout, at most ten warning lines', async () => {
    const containers = Array.from({ length: 1000 }, (_, i) => ({ name: `c${i}`, image: `${host}/team/many-${i}:1` }));
    const result = await kubectl(['apply'], [manifest(deployment('warn', 'huge', { containers }))]);
    expect(result.code).toBe(0);
    const lines = warnings(result.stderr);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.length).toBeLessThanOrEqual(10);
    expect(result.ms).toBeLessThan(TIMEOUT_MS);
  });

  test('a burst of 200 creations at once: every one created with its warning, within the timeout; the exporter within its memory limit', async () => {
    const create = async (i: number) => {
      const started = performance.now();
      const res = await request(`${api.url}/apis/apps/v1/namespaces/warn/deployments`, {
        method: 'POST',
        dispatcher,
        headers: { authorization: `Bearer ${api.adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(app('warn', `burst-${i}`, `${host}/team/burst:${i % 10}`)),
      });
      await res.body.text();
      return { status: res.statusCode, warning: String(res.headers['warning'] ?? ''), ms: performance.now() - started };
    };
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => create(i)));
    for (const result of results) {
      expect(result.status).toBe(201);
      expect(result.warning).toContain('does not exist');
      expect(result.ms).toBeLessThan(TIMEOUT_MS);
    }
    const peaks = { warn: peakMiB(warnExporter.child.pid!), deny: peakMiB(denyExporter.child.pid!) };
    console.log(`exporter peak RSS (VmHWM) after every request of this file: ${JSON.stringify(peaks)} MiB`);
    expect(peaks.warn).toBeLessThan(MEMORY_LIMIT_MIB);
  });
});
