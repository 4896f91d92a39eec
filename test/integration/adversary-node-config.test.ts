/**
 * The nodes' own pull configuration (--containerd-hosts-dir, --registries-conf) against hostile
 * endpoints and files, through the real registry client and the process as deployed. The pure
 * bounds are in test/unit/adversary-node-config.test.ts.
 */
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Endpoint, EndpointTls } from '../../src/image/pull-plan.js';
import { parseImageReference } from '../../src/image/reference.js';
import { RegistryClient } from '../../src/registry/client.js';
import { Transport } from '../../src/registry/transport.js';
import { deployedRuntime } from '../support/deployed.js';
import { ended } from '../support/process.js';
import { startKubeApi, type KubeApi } from '../support/kube-api.js';
import { listenLoopback } from '../support/listen.js';
import { deployment } from '../support/objects.js';
import { startExporterProcess, type ExporterProcess } from '../support/process.js';
import { createPki } from '../support/pki.js';
import { pushImage } from '../support/push.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { makeTempDir } from '../support/tmp.js';

describe('an insecure registries.conf endpoint: the HTTPS-or-HTTP decision', () => {
  let server: Server;
  let host: string;
  let probes = 0;
  let manifests = 0;
  let transport: Transport;

  beforeAll(async () => {
    // Plain HTTP only (HTTPS fails at once); its /v2/ answers slowly, so concurrent checks overlap.
    server = createServer((req, res) => {
      if (req.url === '/v2/') {
        probes++;
        setTimeout(() => res.writeHead(200, { 'docker-distribution-api-version': 'registry/2.0' }).end(), 300);
        return;
      }
      manifests++;
      res.writeHead(200, { 'docker-distribution-api-version': 'registry/2.0', 'content-type': 'application/vnd.oci.image.manifest.v1+json' }).end();
    });
    host = await listenLoopback(server);
    transport = new Transport({ requestTimeoutMs: 5_000 });
  });
  afterAll(async () => {
    await transport.destroy();
    server.close();
  });

  test('a burst of 200 checks asks it once, not once per check', async () => {
    const client = new RegistryClient({ transport, isPlainHttpHost: () => false });
    const endpoint: Endpoint = { scheme: 'https', host, apiPath: '/v2', tls: { skipVerify: true }, httpFallback: true };
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => client.attempt(parseImageReference(`${host}/app${i}:1`), undefined, false, endpoint)));
    expect(answers.map((a) => a.status)).toEqual(Array(200).fill('present'));
    expect(manifests).toBe(200);
    expect(probes).toBe(1);
  });
});

describe('the exporter as deployed, with a hosts directory whose mirrors carry secret headers', () => {
  const SECRET = 'Bearer SECRET-TOKEN-123';
  const KEY = 'SECRET-KEY-456';
  const IMAGES = 40;
  let registry: RunningRegistry;
  let kube: KubeApi;
  let exporter: ExporterProcess;
  let hung: TcpServer;
  let hungHost: string;
  let mirror: Server;
  let mirrorHost: string;
  const hungSockets: Socket[] = [];
  const mirrorSeen: { url: string; headers: IncomingHttpHeaders }[] = [];
  let hostsToml: string;

  const toml = (key: string) =>
    [
      `server = "http://${registry.host}"`,
      // Accepts TCP, never answers TLS: bounded by --registry-timeout.
      `[host."https://${hungHost}"]`,
      `header = { Authorization = "${SECRET}" }`,
      // Answers every request 500 (a mirror whose upstream is down).
      `[host."http://${mirrorHost}"]`,
      `header = { Authorization = "${SECRET}", X-Api-Key = "${key}" }`,
      '',
    ].join('\n');

  beforeAll(async () => {
    registry = await startRegistry();
    await pushImage(registry, 'app', '1', 'oci');
    hung = createTcpServer((socket) => {
      hungSockets.push(socket);
      socket.on('error', () => undefined);
    });
    hung.listen(0, '127.0.0.1');
    await new Promise((resolve) => hung.once('listening', resolve));
    hungHost = `127.0.0.1:${(hung.address() as { port: number }).port}`;
    mirror = createServer((req, res) => {
      mirrorSeen.push({ url: req.url ?? '', headers: req.headers });
      res.writeHead(500).end(`upstream failed for ${req.headers.authorization ?? ''}`);
    });
    mirrorHost = await listenLoopback(mirror);
    const root = await makeTempDir('adv-hosts');
    await mkdir(join(root, '_default'));
    hostsToml = join(root, '_default', 'hosts.toml');
    await writeFile(hostsToml, toml(KEY));
    kube = await startKubeApi();
    kube.set(
      'Deployment',
      Array.from({ length: IMAGES }, (_, i) => deployment('default', `d${i}`, { containers: [{ name: 'c', image: i === 0 ? `${registry.host}/app:1` : `${registry.host}/gone${i}:1` }] })),
    );
    exporter = await startExporterProcess(
      [`--kubeconfig=${kube.kubeconfigPath}`, `--containerd-hosts-dir=${root}`, '--registry-timeout=2s', '--log-level=debug'],
      { ...deployedRuntime(), stderrChars: 4 * 1024 * 1024 },
    );
  }, 90_000);

  afterAll(async () => {
    exporter?.kill();
    await kube?.stop();
    await registry?.stop();
    for (const socket of hungSockets) socket.destroy();
    hung?.close();
    mirror?.close();
  });

  const text = async (path: string) => (await fetch(`${exporter.url}${path}`)).text();
  const exists = (metrics: string) => [...metrics.matchAll(/^k8s_image_existence_exporter_deployment_image_exists\{[^}]*image="([^"]+)"[^}]*\} (\d)$/gm)].map((m) => `${m[1]} ${m[2]}`);

  test('the hung mirror is waited out, the failing one is not trusted, the server proves absence; no secret anywhere', async () => {
    let metrics = '';
    for (let i = 0; i < 60 && exists(metrics).length < IMAGES; i++) {
      metrics = await text('/metrics');
      if (exists(metrics).length < IMAGES) await sleep(1000);
    }
    expect(exists(metrics).sort()).toEqual(
      Array.from({ length: IMAGES }, (_, i) => (i === 0 ? `${registry.host}/app:1 1` : `${registry.host}/gone${i}:1 0`)).sort(),
    );
    // The headers went to the mirror, with the registry named for it.
    expect(mirrorSeen.length).toBeGreaterThan(0);
    expect(mirrorSeen.every((r) => r.headers.authorization?.startsWith('Bearer SECRET') && r.headers['x-api-key'] === KEY)).toBe(true);
    expect(mirrorSeen.some((r) => r.url.includes(`ns=${encodeURIComponent(registry.host)}`))).toBe(true);
    // The hung mirror was asked, and its timeouts opened its circuit rather than a connection per image and request.
    expect(hungSockets.length).toBeGreaterThan(0);
    expect(hungSockets.length).toBeLessThanOrEqual(IMAGES);
    const status = await text('/');
    const statusJson = await (await fetch(`${exporter.url}/status`, { headers: { accept: 'application/json' } })).text();
    for (const place of [metrics, status, statusJson, exporter.stderr()]) {
      expect(place).not.toContain('SECRET');
    }
  }, 90_000);

  test('a reload storm (the file rewritten every 50 ms, 20 scrapers) reads it at most every 2 s and does not check again', async () => {
    const manifestsBefore = mirrorSeen.length;
    const reads = () => exporter.stderr().split('"msg":"node pull configuration read again"').length - 1;
    const readsBefore = reads();
    let storming = true;
    const started = performance.now();
    const writer = (async () => {
      for (let n = 0; storming; n++) {
        await writeFile(hostsToml, toml(`${KEY}-${n}`));
        await sleep(50);
      }
    })();
    const statuses: number[] = [];
    // Each reads its answer, as Prometheus does, so that its connection is used again (an answer left
    // unread keeps its connection, and the next scrape opens another: a flood of connections, not of scrapes).
    const scrapers = Array.from({ length: 20 }, async () => {
      while (storming) {
        const answer = await fetch(`${exporter.url}/metrics`);
        await answer.arrayBuffer();
        statuses.push(answer.status);
      }
    });
    await sleep(6_000);
    storming = false;
    await Promise.all([writer, ...scrapers]);
    const seconds = (performance.now() - started) / 1000;
    expect(statuses.length).toBeGreaterThan(20);
    expect(new Set(statuses)).toEqual(new Set([200]));
    // Looked at no more often than every 2 s.
    expect(reads() - readsBefore).toBeGreaterThan(0);
    expect(reads() - readsBefore).toBeLessThanOrEqual(Math.ceil(seconds / 2) + 1);
    // The results are fresh (check interval 5m): a configuration read again does not start the checks again.
    expect(mirrorSeen.length - manifestsBefore).toBe(0);
    expect(exporter.stderr()).not.toContain('SECRET');
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${exporter.child.pid}/status`, 'utf8'))?.[1]);
    console.log(`reload storm: ${statuses.length} scrapes, ${reads() - readsBefore} readings in ${seconds.toFixed(1)} s, exporter RSS ${(rssKb / 1024).toFixed(0)} MiB, hung-mirror connections so far ${hungSockets.length}`);
  }, 60_000);
});

test('check as a process: a hosts.toml header the HTTP client would refuse is a bad-input error (2) naming it, not a failed check per image', async () => {
  const root = await makeTempDir('adv-check');
  await mkdir(join(root, '_default'));
  await writeFile(join(root, '_default', 'hosts.toml'), '[host."https://mirror.example"]\nheader = { Authorization = "Bearer SECRET-\u20ac" }\n');
  const manifest = join(root, 'pod.yaml');
  await writeFile(manifest, 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: registry.example/app:1}]}\n');
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'check', `--containerd-hosts-dir=${root}`, '--registry-timeout=2s', manifest], {
    cwd: new URL('../..', import.meta.url),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run = await ended(child, { killAfterMs: 50_000 });
  expect(run.code).toBe(2);
  expect(run.stderr).toContain(`${join(root, '_default', 'hosts.toml')}: [host."https://mirror.example"]: header Authorization holds a character an HTTP header cannot carry`);
  expect(run.stderr + run.stdout).not.toContain('SECRET');
}, 60_000);

test('configurations read again (equal CA bundles in new objects) reuse one TLS context: CPU of 30 readings vs 1', async () => {
  const pki = await createPki();
  const server = createHttpsServer({ cert: await readFile(pki.serverCertFile), key: await readFile(pki.serverKeyFile) }, (_req, res) => res.end());
  const host = await listenLoopback(server as unknown as Server);
  const transport = new Transport({ requestTimeoutMs: 10_000 });
  try {
    // A 1 MiB-class bundle: the system's, four times, and the test CA.
    const system = await readFile('/etc/ssl/certs/ca-certificates.crt', 'utf8');
    const bundle = [system, system, system, system, pki.caCertPem].join('\n');
    const reading = (): EndpointTls => ({ caPems: [bundle] }); // what each reading of the files makes
    const cpuOf = async (objects: readonly EndpointTls[]) => {
      const start = process.cpuUsage();
      for (const tls of objects) expect((await transport.send('GET', new URL(`https://${host}/v2/`), {}, false, undefined, tls)).status).toBe(200);
      const used = process.cpuUsage(start);
      return used.user + used.system;
    };
    const one = reading();
    await cpuOf([one]); // its context built
    const sameObject = await cpuOf(Array(30).fill(one));
    const newObjects = await cpuOf(Array.from({ length: 30 }, reading));
    // A context per object costs ~100 ms each here (30 of them: ~3 s); a handshake a few ms.
    console.log(`30 sends: one object ${(sameObject / 1000).toFixed(0)} ms CPU, 30 equal objects ${(newObjects / 1000).toFixed(0)} ms CPU`);
    expect(newObjects).toBeLessThan(sameObject * 10 + 300_000);
  } finally {
    await transport.destroy();
    server.close();
  }
}, 60_000);
