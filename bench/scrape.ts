/**
 * Benchmark: the compiled exporter as its own process, with the heap limit deploy/ gives it, against
 * a cluster of Deployments shaped and sized like a real API server's (~11 KB each: managedFields,
 * status, a full pod template), 2 containers each over a set of unique images on a TLS registry
 * trusted through --registry-ca-file, behind a proxy that adds latency to every request, and six
 * nodes for the platform checks (an amd64 pool, a tainted arm64 pool). Prints
 * figures; asserts nothing. `npm run bench` builds dist/ first.
 *
 *   BENCH_SERVER       loopback (default: the test suite's API server) or real (kube-apiserver +
 *                      etcd, built by bench/kube-apiserver.sh)
 *   BENCH_WORKLOADS    Deployments (default 10000)
 *   BENCH_IMAGES       unique images (default 1000)
 *   BENCH_LATENCY_MS   added to every registry request (default 50)
 *   BENCH_NODE_FLAGS   Node flags of the exporter (default: NODE_OPTIONS of deploy/03-deployment.yaml)
 *   BENCH_EXPORTER_ENV environment of the exporter as NAME=VALUE ... (default: the other env of that
 *                      Deployment's container, e.g. the malloc setting)
 *   BENCH_LIST_MAX_AGE --list-max-age of the exporter (default 10s, so that lists run during the warm phase)
 *   BENCH_EXPORTER_MAIN the compiled exporter to run (default dist/main.js; e.g. an older commit's build)
 *   BENCH_DEADLINE_SCRAPES scrapes that wait for their deadline, on a machine as it is (default 6)
 *   BENCH_LOADED_SCRAPES   the same with BENCH_LOAD_PROCS busy-loop processes running (default 18)
 *   BENCH_LOAD_PROCS       busy-loop processes of the loaded phase (default 8; 0: no loaded phase)
 *
 * The deadline phases (loopback API server only) roll out a few Deployments to an image never
 * checked before each scrape, on a registry that answers after 20 s: a scrape whose listing brought
 * such an image waits for it until its collection budget is spent, then renders all rows anew, as a
 * scrape during a rollout to a slow registry does. A phase counts from its first such scrape. Each reports how late it answered relative to the deadline of its
 * X-Prometheus-Scrape-Timeout-Seconds, the longest stall of the exporter's event loop (its own
 * nodejs_eventloop_lag_max_seconds, which covers the time since the previous scrape) and the
 * slowest /healthz answer while it ran (probed back to back from this process).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { get as httpGet } from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import { WorkloadLister } from '../src/kubernetes/workload-lister.js';
import { request } from 'undici';
import { BUILTIN_KINDS } from '../src/kubernetes/workloads.js';
import { ExporterMetrics } from '../src/exporter/metrics.js';
import { collectionBudgetMs } from '../src/exporter/server.js';
import type { ContainerRow, Snapshot } from '../src/engine/collector.js';
import { NO_PLACEMENT } from '../src/platform/placement.js';
import { deployedRuntime } from '../test/support/deployed.js';
import { scrapeUrl, type Scrape } from '../test/support/exporter.js';
import { startKubeApi } from '../test/support/kube-api.js';
import { node, realisticDeployment } from '../test/support/objects.js';
import { createPki } from '../test/support/pki.js';
import { startRecordingProxy } from '../test/support/proxy.js';
import { pushImage } from '../test/support/push.js';
import { startRegistry, type RunningRegistry } from '../test/support/registry.js';
import { makeTempDir } from '../test/support/tmp.js';

const SERVER = process.env.BENCH_SERVER ?? 'loopback';
const WORKLOADS = Number(process.env.BENCH_WORKLOADS ?? 10_000);
const IMAGES = Number(process.env.BENCH_IMAGES ?? 1_000);
const LATENCY_MS = Number(process.env.BENCH_LATENCY_MS ?? 50);
/** The exporter runs with the flags and environment deploy/ gives it, unless told otherwise. */
const DEPLOYED = deployedRuntime();
const NODE_FLAGS = process.env.BENCH_NODE_FLAGS?.split(' ').filter((f) => f !== '') ?? DEPLOYED.nodeArgs;
const EXPORTER_ENV: Record<string, string> = process.env.BENCH_EXPORTER_ENV
  ? Object.fromEntries(process.env.BENCH_EXPORTER_ENV.split(' ').filter((v) => v.includes('=')).map((v) => v.split('=', 2) as [string, string]))
  : { ...DEPLOYED.env };
const WARM_SCRAPES = 20;
const WARM_SPACING_MS = 1000;
/** Short enough that background lists run during the warm phase, as they do in steady state. */
const LIST_MAX_AGE = process.env.BENCH_LIST_MAX_AGE ?? '10s';
/** The compiled exporter to run (another build, e.g. of an older commit, to compare). */
const EXPORTER_MAIN = process.env.BENCH_EXPORTER_MAIN ?? 'dist/main.js';
const CONCURRENT_SCRAPES = 50;
const CONCURRENT_ROUNDS = 3;
const SCRAPE_TIMEOUT_S = 10;
const SCRAPE_INTERVAL_S = 30;
const DEADLINE_SCRAPES = Number(process.env.BENCH_DEADLINE_SCRAPES ?? 6);
const LOADED_SCRAPES = Number(process.env.BENCH_LOADED_SCRAPES ?? 18);
const LOAD_PROCS = Number(process.env.BENCH_LOAD_PROCS ?? 8);
/** Latency of the slow registry of the deadline phases: longer than a scrape's budget. */
const SLOW_LATENCY_MS = 20_000;
/** Deployments rolled out to a new image before each scrape of the deadline phases. */
const ROLLOUT = 10;
const LAG_MAX = 'nodejs_eventloop_lag_max_seconds';
const PER_REGISTRY = 16;
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const REPOS = 10;
const MANIFEST_TYPE = 'application/vnd.docker.distribution.manifest.v2+json';
const STATUS = 'k8s_image_existence_exporter_image_check_status';
const PENDING = 'k8s_image_existence_exporter_checks_pending';
const COLLECTION = 'k8s_image_existence_exporter_collection_duration_seconds';

/** Tags one pushed manifest under many tags: 1,000 images without 1,000 blob uploads. */
async function tagMany(registry: RunningRegistry, repository: string, tags: string[]): Promise<void> {
  await pushImage(registry, repository, 'base', 'docker');
  const dispatcher = registry.ca ? new (await import('undici')).Agent({ connect: { ca: registry.ca } }) : undefined;
  const got = await request(`${registry.url}/v2/${repository}/manifests/base`, { headers: { accept: MANIFEST_TYPE }, dispatcher });
  const manifest = Buffer.from(await got.body.arrayBuffer());
  for (const tag of tags) {
    const put = await request(`${registry.url}/v2/${repository}/manifests/${tag}`, {
      method: 'PUT',
      headers: { 'content-type': MANIFEST_TYPE },
      body: manifest,
      dispatcher,
    });
    await put.body.dump();
    if (put.statusCode !== 201) throw new Error(`tagging ${repository}:${tag} answered ${put.statusCode}`);
  }
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number;
}

function peakRssMiB(pid: number): number {
  const kb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return kb / 1024;
}

/** CPU seconds (user + system) a process has used. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function startExporterProcess(flags: string[]): Promise<{ child: ChildProcess; url: string; stderr: () => string }> {
  const child = spawn(process.execPath, [...NODE_FLAGS, EXPORTER_MAIN, '--bind-address=127.0.0.1:0', '--log-level=info', ...flags], {
    cwd: ROOT,
    env: { ...process.env, ...EXPORTER_ENV },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-200_000)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`exporter did not start: ${stderr}`)), 30_000);
    child.stderr!.on('data', () => {
      const port = /"msg":"listening".*"port":(\d+)/.exec(stderr)?.[1];
      if (port) {
        clearTimeout(timer);
        resolve(`http://127.0.0.1:${port}`);
      }
    });
  });
  return { child, url, stderr: () => stderr };
}

/**
 * One scrape read as bytes, as Prometheus reads it (no decoding in the timed part): status, time
 * until the last byte, how many status series it holds and how long the exporter said it collected.
 */
function rawScrape(url: string): Promise<{ status: number; ms: number; statusLines: number; collectionMs: number; lagMaxMs: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = httpGet(`${url}/metrics`, { headers: { 'x-prometheus-scrape-timeout-seconds': String(SCRAPE_TIMEOUT_S) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const ms = performance.now() - started;
        const body = Buffer.concat(chunks);
        const marker = Buffer.from(`\n${STATUS}{`);
        let statusLines = 0;
        for (let at = body.indexOf(marker); at !== -1; at = body.indexOf(marker, at + 1)) statusLines++;
        const gauge = (name: string) => {
          const at = body.indexOf(`\n${name} `);
          return at < 0 ? Number.NaN : 1000 * Number.parseFloat(body.toString('latin1', at + name.length + 2, at + name.length + 40));
        };
        resolve({ status: res.statusCode ?? 0, ms, statusLines, collectionMs: gauge(COLLECTION), lagMaxMs: gauge(LAG_MAX) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/**
 * Runs `work` while a ticker re-arming itself with setImmediate measures this process's event loop:
 * the longest stretch between two of its turns, and how many turns it got.
 */
async function stretches<T>(work: () => Promise<T>): Promise<{ result: T; longestMs: number; turns: number }> {
  let last = performance.now();
  let longestMs = 0;
  let turns = 0;
  let done = false;
  const tick = () => {
    const at = performance.now();
    longestMs = Math.max(longestMs, at - last);
    last = at;
    turns++;
    if (!done) setImmediate(tick);
  };
  setImmediate(tick);
  try {
    const result = await work();
    tick();
    return { result, longestMs, turns };
  } finally {
    done = true;
  }
}

/** Asks /healthz back to back until stopped; the slowest answer, in ms. */
function probeHealth(url: string): { stop(): Promise<number> } {
  let stopped = false;
  let slowest = 0;
  const running = (async () => {
    while (!stopped) {
      const started = performance.now();
      const answer = await request(`${url}/healthz`);
      await answer.body.dump();
      slowest = Math.max(slowest, performance.now() - started);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await running;
      return slowest;
    },
  };
}

/** Busy-loop processes, one per `count`, as other pods on the node: the machine's load goes up by `count`. */
function loadMachine(count: number): { stop(): void } {
  const children = Array.from({ length: count }, () => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
  return {
    stop() {
      for (const child of children) child.kill('SIGKILL');
    },
  };
}

interface DeadlineScrape {
  /** When the answer's last byte arrived, relative to the scrape's deadline (negative: before it). */
  readonly lateMs: number;
  readonly collectionMs: number;
  readonly lagMaxMs: number;
  readonly healthzMaxMs: number;
  readonly complete: boolean;
}

interface Cluster {
  readonly kubeconfigPath: string;
  /** Replaces a Deployment (loopback API server only). */
  readonly update?: (deployment: object) => void;
  /** The API server's process, when it is a separate one (for its CPU time). */
  readonly pid: number | undefined;
  /** Requests the exporter made to the API server so far, and bytes answered (when known). */
  requests(): number;
  stop(): Promise<void>;
}

/**
 * Nodes of a cluster with an amd64 pool and an arm64 pool tainted for arm64 workloads (as GKE and
 * EKS arm pools are): platform checks run, and the amd64-only images miss nothing.
 */
const NODES = [
  ...[1, 2, 3].map((i) => node(`amd-${i}`, { os: 'linux', architecture: 'amd64' })),
  ...[1, 2, 3].map((i) => node(`arm-${i}`, { os: 'linux', architecture: 'arm64', taints: [{ key: 'kubernetes.io/arch', value: 'arm64', effect: 'NoSchedule' }] })),
];

async function startCluster(deployments: object[]): Promise<Cluster> {
  if (SERVER === 'real') {
    const { startRealApiServer } = await import('./support/real-apiserver.js');
    const server = await startRealApiServer({});
    await server.createObjects('/api/v1/nodes', NODES);
    await server.createObjects('/apis/apps/v1/namespaces/{namespace}/deployments', deployments);
    return {
      kubeconfigPath: server.exporterKubeconfigPath,
      pid: server.pid,
      requests: () => Number.NaN,
      stop: () => server.stop(),
    };
  }
  const kube = await startKubeApi();
  kube.set('Node', NODES);
  kube.set('Deployment', deployments);
  return {
    kubeconfigPath: kube.kubeconfigPath,
    update: (deployment) => kube.add('Deployment', deployment),
    pid: undefined,
    requests: () => kube.requests.length,
    stop: () => kube.stop(),
  };
}

async function main(): Promise<void> {
  console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`);
  const envShown = Object.entries(EXPORTER_ENV).map(([name, value]) => `${name}=${value} `).join('');
  console.log(`exporter: ${envShown}node ${NODE_FLAGS.join(' ')} ${EXPORTER_MAIN} --list-max-age=${LIST_MAX_AGE}`);
  console.log(
    `cluster: ${SERVER} API server, ${WORKLOADS} Deployments (~11 KB each) × 2 containers, ${IMAGES} unique images on a TLS registry (--registry-ca-file), ${LATENCY_MS} ms added per registry request`,
  );

  const pki = await createPki();
  const caFile = join(await makeTempDir('bench'), 'ca.pem');
  await writeFile(caFile, pki.caCertPem);
  const registry = await startRegistry({ tls: pki });
  const perRepo = Math.ceil(IMAGES / REPOS);
  const images: string[] = [];
  for (let r = 0; r < REPOS; r++) {
    const tags = Array.from({ length: perRepo }, (_, i) => `v${i}`).slice(0, IMAGES - images.length);
    await tagMany(registry, `bench/app${r}`, tags);
    images.push(...tags.map((t) => `bench/app${r}:${t}`));
  }
  const proxy = await startRecordingProxy(registry.url, { latencyMs: LATENCY_MS, ca: pki.caCertPem, serveTls: pki });
  const slowProxy = await startRecordingProxy(registry.url, { latencyMs: SLOW_LATENCY_MS, ca: pki.caCertPem, serveTls: pki });
  const deployments = Array.from({ length: WORKLOADS }, (_, i) =>
    realisticDeployment(
      `ns${i % 100}`,
      `app${i}`,
      { containers: [{ name: 'main', image: `${proxy.host}/${images[i % IMAGES]}` }, { name: 'sidecar', image: `${proxy.host}/${images[(i * 7 + 3) % IMAGES]}` }] },
      i,
    ),
  );
  const listBytes = deployments.reduce((sum, d) => sum + JSON.stringify(d).length, 0);
  const cluster = await startCluster(deployments);
  deployments.length = 0;
  // One listing of all kinds, with the exporter's own lister (gzip, streamed), in this process.
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(cluster.kubeconfigPath);
  const lister = new WorkloadLister(kubeConfig, { pageSize: 500, requestTimeoutMs: 120_000 });
  const listStart = performance.now();
  const listing = await stretches(() => Promise.all(BUILTIN_KINDS.map((kind) => lister.list(kind).catch(() => []))));
  const listingMs = performance.now() - listStart;
  const { child, url, stderr } = await startExporterProcess([
    `--kubeconfig=${cluster.kubeconfigPath}`,
    `--registry-ca-file=${caFile}`,
    '--check-interval=1h',
    `--list-max-age=${LIST_MAX_AGE}`,
    `--max-concurrent-per-registry=${PER_REGISTRY}`,
    // The slow registry of the deadline phases answers each request after 20 s.
    '--registry-timeout=30s',
  ]);
  const statusSeries = (s: Scrape) => s.find(STATUS).length;
  const apiCpuStart = cluster.pid ? cpuSeconds(cluster.pid) : 0;

  try {
    // Cold: the first scrape waits for the first listing and, up to its deadline, for the checks.
    const coldStart = performance.now();
    const first = await scrapeUrl(url, { timeoutSeconds: SCRAPE_TIMEOUT_S });
    const firstResults = statusSeries(first);
    let everything = first;
    while (statusSeries(everything) < WORKLOADS * 2 || everything.value(PENDING) !== 0) {
      await new Promise((r) => setTimeout(r, 100));
      everything = await scrapeUrl(url, { timeoutSeconds: SCRAPE_TIMEOUT_S });
    }
    const coldMs = performance.now() - coldStart;
    const idealMs = Math.ceil(IMAGES / PER_REGISTRY) * LATENCY_MS;

    // Warm: one scrape a second; lists older than LIST_MAX_AGE are refreshed in the background.
    const apiRequestsWarmStart = cluster.requests();
    const apiCpuWarmStart = cluster.pid ? cpuSeconds(cluster.pid) : 0;
    const exporterCpuWarmStart = cpuSeconds(child.pid!);
    const warmStart = performance.now();
    const warm: number[] = [];
    const warmCollection: number[] = [];
    const warmLag: number[] = [];
    let pastDeadline = 0;
    let warmIncomplete = 0;
    for (let i = 0; i < WARM_SCRAPES; i++) {
      const started = performance.now();
      const scrape = await rawScrape(url);
      warm.push(scrape.ms);
      warmCollection.push(scrape.collectionMs);
      warmLag.push(scrape.lagMaxMs);
      if (scrape.ms > SCRAPE_TIMEOUT_S * 1000 || scrape.status !== 200) pastDeadline++;
      if (scrape.statusLines !== WORKLOADS * 2) warmIncomplete++;
      await new Promise((r) => setTimeout(r, Math.max(0, WARM_SPACING_MS - (performance.now() - started))));
    }
    const warmSeconds = (performance.now() - warmStart) / 1000;
    const apiRequestsWarm = cluster.requests() - apiRequestsWarmStart;
    const apiCpuWarm = cluster.pid ? cpuSeconds(cluster.pid) - apiCpuWarmStart : Number.NaN;
    const exporterCpuWarm = cpuSeconds(child.pid!) - exporterCpuWarmStart;
    const rssBeforeConcurrent = peakRssMiB(child.pid!);

    // Many scrapers at once (HA Prometheus pairs, people with curl). Bodies are counted, not parsed,
    // so that this process's own work does not pass for the exporter's.
    const concurrentMs: number[] = [];
    let concurrentFailures = 0;
    for (let round = 0; round < CONCURRENT_ROUNDS; round++) {
      const answers = await Promise.all(
        Array.from({ length: CONCURRENT_SCRAPES }, () =>
          rawScrape(url).catch((error: unknown) => {
            console.log(`  a concurrent scrape failed: ${(error as Error).message}`);
            return undefined;
          }),
        ),
      );
      for (const answer of answers) {
        if (answer) concurrentMs.push(answer.ms);
        if (!answer || answer.status !== 200 || answer.statusLines !== WORKLOADS * 2) concurrentFailures++;
      }
    }

    // Scrapes that wait for their deadline: before each, ROLLOUT Deployments move to an image never
    // checked, on the slow registry (the background listing brings them to a later scrape, and
    // every check of them outlasts a scrape's budget, so each scrape has one to wait for).
    let rollouts = 0;
    const deadlineScrape = async (): Promise<DeadlineScrape> => {
      for (let k = 0; k < ROLLOUT; k++) {
        const i = (rollouts * ROLLOUT + k) % WORKLOADS;
        const image = `${slowProxy.host}/bench/app0:rollout-${rollouts}`;
        cluster.update!(realisticDeployment(`ns${i % 100}`, `app${i}`, { containers: [{ name: 'main', image }, { name: 'sidecar', image: `${proxy.host}/${images[(i * 7 + 3) % IMAGES]}` }] }, i));
      }
      rollouts++;
      const health = probeHealth(url);
      const scrape = await rawScrape(url);
      const healthzMaxMs = await health.stop();
      await new Promise((r) => setTimeout(r, WARM_SPACING_MS));
      return {
        lateMs: scrape.ms - SCRAPE_TIMEOUT_S * 1000,
        collectionMs: scrape.collectionMs,
        lagMaxMs: scrape.lagMaxMs,
        healthzMaxMs,
        // Only rolled-out containers may lack a status series (their check is still running).
        complete: scrape.status === 200 && scrape.statusLines >= WORKLOADS * 2 - ROLLOUT * rollouts,
      };
    };
    const waited = (scrape: DeadlineScrape) => scrape.collectionMs >= 0.45 * SCRAPE_TIMEOUT_S * 1000;
    /** `count` scrapes, counted from the first that waits for a check (a listing brought a rollout). */
    const deadlinePhase = async (count: number): Promise<DeadlineScrape[]> => {
      const scrapes: DeadlineScrape[] = [];
      for (let tries = 0; tries < 60 && cluster.update && scrapes.length === 0; tries++) {
        const scrape = await deadlineScrape();
        if (waited(scrape)) scrapes.push(scrape);
      }
      while (scrapes.length > 0 && scrapes.length < count) scrapes.push(await deadlineScrape());
      return scrapes;
    };
    const unloaded = await deadlinePhase(DEADLINE_SCRAPES);
    const load = LOAD_PROCS > 0 && cluster.update ? loadMachine(LOAD_PROCS) : undefined;
    let loaded: DeadlineScrape[] = [];
    let loadAverage = Number.NaN;
    try {
      if (load) {
        await deadlinePhase(1); // the load settles; this scrape's lag covers the time before it started
        loaded = await deadlinePhase(LOADED_SCRAPES);
        loadAverage = loadavg()[0] ?? Number.NaN;
      }
    } finally {
      load?.stop();
    }

    const alive = child.exitCode === null && child.signalCode === null;
    if (!alive) console.log(`exporter exited: code ${child.exitCode}, signal ${child.signalCode}; its last words:\n${stderr().slice(-3000)}`);

    // Rendering the same series alone, in this process: what an answer costs when a series changed
    // since the previous one (two snapshots that differ in one status, in turns, so that no text is
    // reused; the label text of each container is made in the first round and kept, as in the exporter).
    const rows: ContainerRow[] = everything.find(STATUS).map((s) => ({
      workload: {
        kind: 'Deployment' as const,
        namespace: s.labels.namespace as string,
        name: s.labels.owner_name as string,
        containers: [],
        imagePullSecrets: [],
        serviceAccountName: 'default',
        placement: NO_PLACEMENT,
        placementKey: '',
        active: true,
      },
      container: { name: s.labels.container as string, image: s.labels.image as string, init: false },
      status: 'present' as const,
      detail: 'manifest found (HTTP 200)',
      checkedAt: 0,
      exists: 1 as const,
      missingPlatforms: undefined,
    }));
    const snapshot: Snapshot = { rows, lists: BUILTIN_KINDS.map((kind) => ({ kind, up: true, ageSeconds: 1 })), pending: 0, collectionSeconds: 0 };
    const changed: Snapshot = { ...snapshot, rows: rows.map((row, i) => (i === 0 ? { ...row, status: 'absent', exists: 0 } : row)) };
    const metrics = new ExporterMetrics();
    const render: number[] = [];
    let renderStretchMs = 0;
    let renderTurns = 0;
    for (let i = 0; i < WARM_SCRAPES + 1; i++) {
      const started = performance.now();
      const { longestMs, turns } = await stretches(() => metrics.render(i % 2 === 0 ? snapshot : changed));
      if (i > 0) {
        render.push(performance.now() - started);
        renderStretchMs = Math.max(renderStretchMs, longestMs);
        renderTurns = turns;
      }
    }

    const warmMedian = quantile(warm, 0.5);
    const renderMedian = quantile(render, 0.5);
    const listsPerHour = 3600 / Math.max(SCRAPE_INTERVAL_S, 10);
    const pagesPerList = BUILTIN_KINDS.length - 1 + Math.max(1, Math.ceil(WORKLOADS / 500));
    console.log('');
    console.log(
      `warm scrape (${WARM_SCRAPES}, one a second, read as bytes): median ${warmMedian.toFixed(0)} ms, p99 ${quantile(warm, 0.99).toFixed(0)} ms, ${pastDeadline} past the deadline, ${warmIncomplete} incomplete; collection (the exporter's gauge) median ${quantile(warmCollection, 0.5).toFixed(0)} ms`,
    );
    console.log(`rendering the same ${rows.length} series alone after one changed: median ${renderMedian.toFixed(0)} ms`);
    console.log(`  ratio warm / render: ${(warmMedian / renderMedian).toFixed(2)}`);
    console.log(`  longest synchronous stretch of those renders: ${renderStretchMs.toFixed(1)} ms (the event loop got ${renderTurns} turns in one render)`);
    console.log(`warm phase: longest event-loop stall of the exporter (its ${LAG_MAX}, per scrape) ${Math.max(...warmLag).toFixed(0)} ms, median ${quantile(warmLag, 0.5).toFixed(0)} ms`);
    console.log(
      `one listing of all kinds (the exporter's lister, in the benchmark's process): ${listingMs.toFixed(0)} ms; longest synchronous stretch ${listing.longestMs.toFixed(1)} ms, ${listing.turns} turns of the event loop`,
    );
    const budgetMs = collectionBudgetMs(SCRAPE_TIMEOUT_S * 1000);
    const describePhase = (name: string, scrapes: readonly DeadlineScrape[]) => {
      if (scrapes.length === 0) return;
      const late = scrapes.filter((s) => s.lateMs > 0).length;
      const lateness = scrapes.map((s) => s.lateMs);
      console.log(
        `${name}: ${scrapes.length} scrapes waiting for their ${SCRAPE_TIMEOUT_S} s deadline (collection budget ${budgetMs} ms on an idle exporter, less after answers that took long to finish): ${late} answered after it; answered relative to the deadline median ${quantile(lateness, 0.5).toFixed(0)} ms, latest ${Math.max(...lateness).toFixed(0)} ms; ${scrapes.filter((s) => !s.complete).length} incomplete`,
      );
      console.log(`  each, ms relative to the deadline (collection ms): ${scrapes.map((s) => `${s.lateMs.toFixed(0)} (${s.collectionMs.toFixed(0)})`).join(' ')}`);
      console.log(`  ${scrapes.filter(waited).length} of them spent their collection budget waiting for a check (the first always; the others found every image known)`);
      console.log(`  collection (the exporter's gauge) median ${quantile(scrapes.map((s) => s.collectionMs), 0.5).toFixed(0)} ms, longest ${Math.max(...scrapes.map((s) => s.collectionMs)).toFixed(0)} ms`);
      console.log(
        `  longest event-loop stall (the exporter's ${LAG_MAX}) ${Math.max(...scrapes.map((s) => s.lagMaxMs)).toFixed(0)} ms, median ${quantile(scrapes.map((s) => s.lagMaxMs), 0.5).toFixed(0)} ms; slowest /healthz ${Math.max(...scrapes.map((s) => s.healthzMaxMs)).toFixed(0)} ms`,
      );
    };
    if (!cluster.update) console.log('deadline phases: with the loopback API server only');
    describePhase('deadline scrapes, machine as it is', unloaded);
    describePhase(`deadline scrapes, ${LOAD_PROCS} busy-loop processes on ${cpus().length} cores (load average ${loadAverage.toFixed(1)} at the end)`, loaded);
    console.log(`cold: every image has a result after ${coldMs.toFixed(0)} ms; ideal ceil(${IMAGES}/${PER_REGISTRY}) × ${LATENCY_MS} ms = ${idealMs} ms, plus one listing`);
    console.log(`  ratio (cold − listing) / ideal: ${((coldMs - listingMs) / idealMs).toFixed(2)} (goal ≤ 1.5)`);
    console.log(
      `first scrape (${SCRAPE_TIMEOUT_S} s deadline): answered in ${first.ms.toFixed(0)} ms, status ${first.status}, ${firstResults} of ${WORKLOADS * 2} container results, ${first.value(PENDING)} checks pending`,
    );
    const reads = proxy.requests.filter((r) => r.method === 'GET' && /\/(manifests|blobs)\//.test(r.path)).length;
    console.log(
      `registry requests per unique image: ${(proxy.requests.length / IMAGES).toFixed(3)} (${proxy.requests.length} requests, of which ${reads} GETs of manifests and config blobs for platforms)`,
    );
    console.log(`exporter CPU during the warm phase: ${(exporterCpuWarm / warmSeconds).toFixed(2)} s per second of scraping (${(exporterCpuWarm / WARM_SCRAPES).toFixed(2)} s per scrape)`);
    if (cluster.pid) console.log(`API server CPU during the warm phase: ${(apiCpuWarm / WARM_SCRAPES).toFixed(3)} s per scrape; ${(cpuSeconds(cluster.pid) - apiCpuStart).toFixed(1)} s in all`);
    if (!Number.isNaN(apiRequestsWarm)) console.log(`API server requests during the warm phase: ${apiRequestsWarm} in ${warmSeconds.toFixed(0)} s (lists older than ${LIST_MAX_AGE} are refreshed)`);
    console.log(
      `API server load at a ${SCRAPE_INTERVAL_S} s scrape interval (--list-max-age ≤ interval): at most ${listsPerHour} lists per kind per hour = ${(listsPerHour * pagesPerList).toFixed(0)} requests and ${((listsPerHour * listBytes) / 2 ** 30).toFixed(1)} GiB of Deployment JSON per hour`,
    );
    console.log(
      `${CONCURRENT_ROUNDS} rounds of ${CONCURRENT_SCRAPES} concurrent scrapes: ${concurrentFailures} incomplete or failed answers, slowest ${Math.max(...concurrentMs).toFixed(0)} ms, process ${alive ? 'alive' : 'DEAD'}`,
    );
    console.log(`exporter peak RSS: ${rssBeforeConcurrent.toFixed(0)} MiB before the concurrent scrapes, ${peakRssMiB(child.pid!).toFixed(0)} MiB after`);
  } catch (error) {
    console.error(stderr().slice(-5000));
    throw error;
  } finally {
    child.kill('SIGTERM');
    await cluster.stop();
    await proxy.stop();
    await slowProxy.stop();
    await registry.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
