/**
 * The exporter as a process, the way operators run it: flags, signals, HTTP endpoints, and a scrape
 * that `promtool check metrics` (Debian's prometheus package) accepts.
 */
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startKubeApi, type KubeApi } from '../support/kube-api.js';
import { deployment } from '../support/objects.js';
import { dockerConfigSecret } from '../support/objects.js';
import { pushImage } from '../support/push.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { startExporterProcess, type ExporterProcess } from '../support/process.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = ['--import', 'tsx', 'src/main.ts'];

async function exporterExit(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [...MAIN, ...args], { cwd: ROOT, timeout: 90_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number | null; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('flags', () => {
  test.each([
    [['--check-interval=0'], 'check-interval'],
    [['--check-interval=-1m'], 'check-interval'],
    [['--check-interval=soon'], 'check-interval'],
    [['--bind-address=nope'], 'bind-address'],
    [['--unknown-flag=1'], 'unknown-flag'],
    [['--check-interval=1m', '--check-interval=2m'], 'check-interval'],
    [['--registry-ca-file=/nonexistent/ca.pem'], 'registry-ca-file'],
    [['--registry-ca-file=package.json'], 'registry-ca-file'],
    [['--docker-config=/nonexistent/config.json'], 'docker-config'],
    [['--docker-config=README.md'], 'docker-config'],
    [['--image-mirror=docker.io'], 'image-mirror'],
    [['--default-registry=not a host'], 'default-registry'],
    [['--skip-registry-cert-verification=maybe'], 'skip-registry-cert-verification'],
  ])('%j exits 2 with one line naming the flag', async (args, flag) => {
    const { code, stdout, stderr } = await exporterExit(args);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`--${flag}`);
  });

  test('--help and --version', async () => {
    const help = await exporterExit(['--help']);
    expect(help.code).toBe(0);
    for (const flag of ['--bind-address', '--check-interval', '--ignored-images', '--kubeconfig']) expect(help.stdout).toContain(flag);
    const version = await exporterExit(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout).toMatch(/^k8s-image-existence-exporter \d+\.\d+\.\d+\n$/);
  });

  test('no Kubernetes configuration at all is a clear error, not a guessed localhost', async () => {
    const { code, stderr } = await run(process.execPath, [...MAIN], {
      cwd: ROOT,
      timeout: 90_000,
      env: { ...process.env, HOME: '/nonexistent', KUBECONFIG: '', KUBERNETES_SERVICE_HOST: '' },
    }).then(
      (r) => ({ code: 0, stderr: r.stderr }),
      (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
    );
    expect(code).toBe(1);
    expect(stderr).toContain('no Kubernetes configuration found');
  });

  test('a kubeconfig that does not exist is a clear error, exit 1', async () => {
    const { code, stderr } = await exporterExit(['--kubeconfig=/nonexistent/kubeconfig']);
    expect(code).toBe(1);
    expect(stderr).toContain('cannot load Kubernetes configuration');
  });
});

describe('running process', () => {
  let kube: KubeApi;
  let registry: RunningRegistry;
  let exporter: ExporterProcess;
  let url = '';
  const stderr = () => exporter.stderr();

  beforeAll(async () => {
    registry = await startRegistry();
    await pushImage(registry, 'app', '1', 'docker');
    kube = await startKubeApi();
    kube.set('Deployment', [
      deployment('default', 'web', {
        containers: [
          { name: 'app', image: `${registry.host}/app:1` },
          { name: 'gone', image: `${registry.host}/app:2` },
          { name: 'weird', image: 'Bad Image' },
        ],
      }),
    ]);
    exporter = await startExporterProcess([`--kubeconfig=${kube.kubeconfigPath}`, `--allow-plain-http=${registry.host}`]);
    url = exporter.url;
  });

  afterAll(async () => {
    exporter?.kill();
    await kube?.stop();
    await registry?.stop();
  });

  test('serves /, /healthz and /metrics', async () => {
    const index = await fetch(`${url}/`);
    expect(index.status).toBe(200);
    expect(await index.text()).toContain('href="/metrics"');
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    const metrics = await fetch(`${url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    const text = await metrics.text();
    expect(text).toContain(`k8s_image_existence_exporter_deployment_image_exists{namespace="default",owner_name="web",container="app",image="${registry.host}/app:1"} 1`);
    expect(text).toContain(`container="gone",image="${registry.host}/app:2"} 0`);
    expect(text).toContain('status="bad_reference"');
  });

  test('promtool check metrics accepts a real scrape', async () => {
    const text = await (await fetch(`${url}/metrics`)).text();
    const promtool = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    promtool.stdout.on('data', (d) => (output += d));
    promtool.stderr.on('data', (d) => (output += d));
    promtool.stdin.end(text);
    const [code] = await once(promtool, 'exit');
    expect(output).toBe('');
    expect(code).toBe(0);
  });

  test('logs are JSON lines with a level', () => {
    const lines = stderr().trim().split('\n');
    expect(lines.length).toBeGreaterThan(1);
    for (const line of lines) {
      const parsed = JSON.parse(line) as { level?: string; msg?: string };
      expect(['debug', 'info', 'warn', 'error']).toContain(parsed.level);
      expect(typeof parsed.msg).toBe('string');
    }
    expect(stderr()).toContain('"status":"bad_reference"');
  });

  test('SIGTERM stops it gracefully with exit 0', async () => {
    exporter.child.kill('SIGTERM');
    const { code } = await exporter.exited;
    expect(code).toBe(0);
    expect(stderr()).toContain('"msg":"shutting down"');
  });
});

describe('answers the exporter does not read', () => {
  test('the process survives unread /v2/ challenge bodies (they once crashed it) and keeps answering', async () => {
    // A real htpasswd registry: with credentials, the exporter asks GET /v2/ for the challenge and
    // does not read the 401's body.
    const registry = await startRegistry({ auth: { kind: 'htpasswd', users: { alice: 'pw-cli-1c2d' } } });
    await pushImage(registry, 'app', '1', 'docker');
    const kube = await startKubeApi();
    kube.set('Secret', [dockerConfigSecret('x', 'creds', { [registry.host]: { username: 'alice', password: 'pw-cli-1c2d' } })]);
    kube.set(
      'Deployment',
      Array.from({ length: 5 }, (_, i) =>
        deployment('x', `app${i}`, { containers: [{ name: 'c', image: `${registry.host}/app:${i === 0 ? '1' : `missing${i}`}` }], imagePullSecrets: ['creds'] }),
      ),
    );
    const child = await startExporterProcess([`--kubeconfig=${kube.kubeconfigPath}`, `--allow-plain-http=${registry.host}`]);
    try {
      const { port } = child;
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(text).toContain(`owner_name="app0",container="c",image="${registry.host}/app:1"} 1`);
      expect(text).toContain(`owner_name="app1",container="c",image="${registry.host}/app:missing1"} 0`);
      await new Promise((r) => setTimeout(r, 500));
      expect(child.child.exitCode, child.stderr()).toBeNull();
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    } finally {
      child.kill();
      await kube.stop();
      await registry.stop();
    }
  });
});
