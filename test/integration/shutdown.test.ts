/**
 * Shutdown of the exporter as a process, the way Kubernetes stops it on every rollout: SIGTERM
 * while Prometheus may be in the middle of a scrape. The scrape in flight must still get its
 * answer, new connections must be refused, and the process must then exit 0 without waiting for
 * registry checks nobody is waiting for any more.
 */
import { Agent, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { parseExposition, PREFIX } from '../support/exporter.js';
import { startHostileHttp, type Hostile } from '../support/hostile.js';
import { startKubeApi, type KubeApi } from '../support/kube-api.js';
import { deployment } from '../support/objects.js';
import { startRecordingProxy, type RecordingProxy } from '../support/proxy.js';
import { pushImage } from '../support/push.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { startExporterProcess, type ExporterProcess } from '../support/process.js';


const children: ExporterProcess[] = [];
/** Scrapers' keep-alive agents: their idle connections stay open until the test ends. */
const agents: Agent[] = [];

async function startProcess(kubeconfigPath: string): Promise<ExporterProcess> {
  const running = await startExporterProcess([`--kubeconfig=${kubeconfigPath}`, '--allow-plain-http=127.0.0.1:*']);
  children.push(running);
  return running;
}

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  /** Date.now() when the whole body had arrived. */
  readonly at: number;
}

/**
 * One scrape like Prometheus': on a keep-alive connection (so only the exporter can decide to close
 * it), with the timeout header.
 */
function scrape(port: number, timeoutSeconds: number): Promise<Answer> {
  const agent = new Agent({ keepAlive: true });
  agents.push(agent);
  return new Promise<Answer>((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path: '/metrics', agent, headers: { 'x-prometheus-scrape-timeout-seconds': String(timeoutSeconds) } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, at: Date.now() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Resolves with the error code of a fresh TCP connection attempt, or 'connected'. */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

function logLines(stderr: string): Array<{ level: string; msg: string; [key: string]: unknown }> {
  return stderr
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { level: string; msg: string });
}

let kube: KubeApi;
let registry: RunningRegistry;
let slow: RecordingProxy;

beforeAll(async () => {
  registry = await startRegistry();
  await pushImage(registry, 'app', '1', 'docker');
  // Every registry request takes a second: a check (ping plus manifest) takes about two.
  slow = await startRecordingProxy(registry.url, { latencyMs: 1000 });
  kube = await startKubeApi();
});

afterEach(() => {
  for (const agent of agents.splice(0)) agent.destroy();
  for (const running of children.splice(0)) running.kill();
});

afterAll(async () => {
  await kube?.stop();
  await slow?.stop();
  await registry?.stop();
});

describe('SIGTERM', () => {
  test('lets the scrape in flight answer completely, refuses new connections, then exits 0 promptly', async () => {
    kube.set('Deployment', [deployment('default', 'web', { containers: [{ name: 'app', image: `${slow.host}/app:1` }] })]);
    slow.reset();
    const exporter = await startProcess(kube.kubeconfigPath);

    const answer = scrape(exporter.port, 5);
    answer.catch(() => undefined); // inspected below
    // The scrape has listed the workloads and is waiting for the (slow) registry.
    await waitFor('the registry check to start', () => slow.requests.length > 0);
    const signalled = Date.now();
    exporter.child.kill('SIGTERM');
    await waitFor('the shutdown log line', () => exporter.stderr().includes('"msg":"shutting down"'), 2000);

    expect(await tryConnect(exporter.port)).toBe('ECONNREFUSED');

    const scraped = await answer;
    expect(scraped.status).toBe(200);
    expect(scraped.headers.connection).toBe('close');
    // Complete and parsable, with the result the registry gave after the signal.
    const samples = parseExposition(scraped.body);
    expect(samples.find((s) => s.name === `${PREFIX}_build_info`)).toBeDefined();
    const series = samples.filter((s) => s.name === `${PREFIX}_deployment_image_exists`);
    expect(series).toEqual([
      { name: `${PREFIX}_deployment_image_exists`, labels: { namespace: 'default', owner_name: 'web', container: 'app', image: `${slow.host}/app:1` }, value: 1 },
    ]);
    expect(scraped.at - signalled).toBeGreaterThan(500); // it really was answered after the signal

    const exit = await exporter.exited;
    expect(exit.code, exporter.stderr()).toBe(0);
    // A correctness bound, not a benchmark: well before the old fixed 5 s fallback.
    expect(exit.at - scraped.at).toBeLessThan(3000);

    const lines = logLines(exporter.stderr());
    const start = lines.find((l) => l.msg === 'shutting down');
    expect(start).toMatchObject({ level: 'info', signal: 'SIGTERM', scrapesInFlight: 1 });
    expect(lines.find((l) => l.msg === 'shut down')).toMatchObject({ level: 'info', scrapesAnswered: 1 });
    expect(exporter.stderr()).not.toContain('unhandled rejection');
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);
  });

  test('with nothing in flight, exits 0 promptly', async () => {
    kube.set('Deployment', []);
    const exporter = await startProcess(kube.kubeconfigPath);
    const signalled = Date.now();
    exporter.child.kill('SIGTERM');
    const exit = await exporter.exited;
    expect(exit.code, exporter.stderr()).toBe(0);
    expect(exit.at - signalled).toBeLessThan(2000);
    const lines = logLines(exporter.stderr());
    expect(lines.find((l) => l.msg === 'shutting down')).toMatchObject({ signal: 'SIGTERM', scrapesInFlight: 0 });
    expect(lines.find((l) => l.msg === 'shut down')).toMatchObject({ scrapesAnswered: 0 });
  });

  describe('with a registry that never answers', () => {
    let hanging: Hostile;
    beforeAll(async () => {
      hanging = await startHostileHttp(() => undefined);
    });
    afterAll(() => hanging?.stop());

    test('abandons the check still running after its scrape answered: exits 0 promptly, without an unhandled rejection', async () => {
      kube.set('Deployment', [deployment('default', 'stuck', { containers: [{ name: 'app', image: `${hanging.host}/app:1` }] })]);
      const exporter = await startProcess(kube.kubeconfigPath);
      // The scrape gives up on the check at its deadline; the check goes on in the background.
      const scraped = await scrape(exporter.port, 1);
      expect(scraped.status).toBe(200);
      expect(hanging.requests.length).toBeGreaterThan(0);
      expect(parseExposition(scraped.body).find((s) => s.name === `${PREFIX}_checks_pending`)?.value).toBeGreaterThan(0);

      const signalled = Date.now();
      exporter.child.kill('SIGTERM');
      const exit = await exporter.exited;
      expect(exit.code, exporter.stderr()).toBe(0);
      expect(exit.at - signalled).toBeLessThan(2000);
      expect(exporter.stderr()).not.toContain('unhandled rejection');
      expect(logLines(exporter.stderr()).filter((l) => l.level === 'error')).toEqual([]);
    });
  });

  test('a second signal exits at once, even with a scrape in flight', async () => {
    kube.set('Deployment', [deployment('default', 'web', { containers: [{ name: 'app', image: `${slow.host}/app:1` }] })]);
    slow.reset();
    const exporter = await startProcess(kube.kubeconfigPath);
    const answer = scrape(exporter.port, 5);
    answer.catch(() => undefined); // cut by the second signal
    await waitFor('the registry check to start', () => slow.requests.length > 0);
    exporter.child.kill('SIGTERM');
    await waitFor('the shutdown log line', () => exporter.stderr().includes('"msg":"shutting down"'), 2000);
    const again = Date.now();
    exporter.child.kill('SIGTERM');
    const exit = await exporter.exited;
    expect(exit.at - again).toBeLessThan(1000);
    expect(exit.code).not.toBeNull();
    expect(exporter.stderr()).toContain('"msg":"second signal, exiting now"');
  });
});
