/**
 * What finding bare Pods costs (issue 20, item 6), against a real kube-apiserver 1.20 + etcd (built
 * by bench/kube-apiserver.sh): a cluster of BENCH_DEPLOYMENTS realistic Deployments whose
 * ReplicaSets run BENCH_PODS realistic Pods (~17 KB each as served: managedFields, status), plus 10
 * bare Pods.
 *
 * 1. One Pod listing, asked for in each candidate way (each LISTS times): the API server's CPU, the
 *    bytes on the wire, the items sent, the time.
 * 2. The exporter as its own process (deployed Node flags), scraped every 10 s with default flags,
 *    then with `--workload-kinds` without Pod: exporter and API-server CPU per 100 s in steady state
 *    (after the first listings), the first Pod listing's time, the bare Pods reported; and the ratios.
 *    BENCH_BASE_ROOT=/tmp/base runs the same for that checkout's exporter on the same cluster.
 *
 * 3. The longest event-loop stall while this process reads every Pod with the exporter's ListReader
 *    (streamed, gzip, 500 a page) and reduces each to a workload, as a listing does.
 *
 * Run with `npx tsx bench/pod-listing.ts`.
 *
 *   BENCH_PODS         owned Pods (default 50000)
 *   BENCH_DEPLOYMENTS  Deployments owning them (default 5000)
 *   BENCH_WINDOW_S     steady-state window per run, seconds (default 100)
 *   BENCH_LISTS        listings per way of asking in part 1 (default 3)
 *   BENCH_BASE_ROOT    another checkout whose exporter is measured too (before/after)
 */
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { KubeConfig } from '@kubernetes/client-node';
import { ListReader } from '../src/kubernetes/list-reader.js';
import { toWorkload, type WorkloadObject } from '../src/kubernetes/workloads.js';
import { deployedRuntime } from '../test/support/deployed.js';
import { startExporterProcess, type ExporterProcess } from '../test/support/process.js';
import { scrapeUrl, type Scrape } from '../test/support/exporter.js';
import { realisticDeployment } from '../test/support/objects.js';
import { pushImage } from '../test/support/push.js';
import { startRegistry } from '../test/support/registry.js';
import { realisticPod } from './support/realistic-pod.js';
import { processCpuSeconds, readWholeList, processRssMiB, startRealApiServer, type RealApiServer } from './support/real-apiserver.js';

const PODS = Number(process.env.BENCH_PODS ?? 50_000);
const DEPLOYMENTS = Number(process.env.BENCH_DEPLOYMENTS ?? 5_000);
const BARE = 10;
const NAMESPACES = 50;
const WINDOW_S = Number(process.env.BENCH_WINDOW_S ?? 100);
const SCRAPE_EVERY_S = 10;
const LISTS = Number(process.env.BENCH_LISTS ?? 3);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BASE_ROOT = process.env.BENCH_BASE_ROOT;
const PREFIX = 'k8s_image_existence_exporter';
const DEPLOYED = deployedRuntime();
/** What the exporter leaves out since issue 20 (src/kubernetes/workloads.ts BARE_POD_SELECTOR). */
const SELECTOR = '!pod-template-hash,!controller-revision-hash,!job-name,!controller-uid,!batch.kubernetes.io/job-name,!batch.kubernetes.io/controller-uid';
const METADATA_ONLY = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1';



const MODES: Record<string, { query: string; accept?: string; paginate: boolean }> = {
  'every pod, paginated from etcd (limit=500): what 05a8720 asks for': { query: '?limit=500', paginate: true },
  '(a) labelSelector leaving out controller-labelled pods, from etcd (limit=500)': { query: `?limit=500&labelSelector=${encodeURIComponent(SELECTOR)}`, paginate: true },
  '(a)+(b) that labelSelector with resourceVersion=0 (watch cache): what the exporter asks for now': {
    query: `?limit=500&resourceVersion=0&labelSelector=${encodeURIComponent(SELECTOR)}`,
    paginate: true,
  },
  '(b) every pod, resourceVersion=0 (one body)': { query: '?resourceVersion=0', paginate: false },
  '(c) metadata only (PartialObjectMetadataList), paginated from etcd': { query: '?limit=500', accept: METADATA_ONLY, paginate: true },
};

async function listCosts(server: RealApiServer): Promise<void> {
  console.log(`\n1. One Pod listing (cluster-wide), by how it is asked for; mean of ${LISTS}`);
  for (const [mode, { query, accept, paginate }] of Object.entries(MODES)) {
    const cpu = processCpuSeconds(server.pid);
    const started = performance.now();
    let requests = 0;
    let wireBytes = 0;
    let items = 0;
    for (let list = 0; list < LISTS; list++) {
      const urlOf = (token: string | undefined) => `${server.url}/api/v1/pods${token ? `?limit=500&continue=${encodeURIComponent(token)}` : query}`;
      const cost = await readWholeList(urlOf, { ca: server.caCertPem, token: server.exporterToken, accept }, paginate).catch((error: Error) => Promise.reject(new Error(`${mode}: ${error.message}`)));
      requests += cost.requests;
      wireBytes += cost.wireBytes;
      items += cost.items;
    }
    console.log(`  ${mode}`);
    console.log(
      `    ${(requests / LISTS).toFixed(0)} requests, ${(items / LISTS).toFixed(0)} items, ${(wireBytes / LISTS / 2 ** 20).toFixed(2)} MiB gzip on the wire, ` +
        `${((performance.now() - started) / LISTS).toFixed(0)} ms; API server ${((processCpuSeconds(server.pid) - cpu) / LISTS).toFixed(2)} s CPU`,
    );
  }
}

async function listingStalls(server: RealApiServer): Promise<void> {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(server.exporterKubeconfigPath);
  const reader = new ListReader(kubeConfig, { pageSize: 500, requestTimeoutMs: 60_000 });
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const started = performance.now();
  const workloads = await reader.list('/api/v1/pods', (o: WorkloadObject) => toWorkload('Pod', o, o.spec as never));
  delay.disable();
  console.log(
    `\n3. Reading every Pod in this process (ListReader, gzip, 500 a page, each reduced to a workload): ${workloads.length} in ${((performance.now() - started) / 1000).toFixed(1)} s; ` +
      `event loop delay max ${(delay.max / 1e6).toFixed(0)} ms, p99 ${(delay.percentile(99) / 1e6).toFixed(0)} ms`,
  );
}

interface RunResult {
  readonly firstPodListingS: number | undefined;
  readonly exporterCpuPer100s: number;
  readonly apiCpuPer100s: number;
  readonly barePods: number;
  readonly peakRssMiB: number;
}

/** The exporter of `root` as deployed (its Node flags and memory limit), on a free port. */
function startExporter(root: string, kubeconfig: string, flags: string[]): Promise<ExporterProcess> {
  return startExporterProcess(['--log-level=info', `--kubeconfig=${kubeconfig}`, ...flags], { cwd: root, nodeArgs: DEPLOYED.nodeArgs, env: DEPLOYED.env, stderrChars: 100_000 });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function run(server: RealApiServer, root: string, flags: string[], podKind: boolean): Promise<RunResult> {
  const started = performance.now();
  const { child, url } = await startExporter(root, server.exporterKubeconfigPath, flags);
  try {
    const kind = podKind ? 'Pod' : 'Deployment';
    let firstPodListingS: number | undefined;
    let last: Scrape | undefined;
    // Until the first listing of the kind is in (the first scrape waits up to its deadline, then they go on).
    for (let i = 0; i < 300 && firstPodListingS === undefined; i++) {
      last = await scrapeUrl(url, { timeoutSeconds: 10 });
      if (last.value(`${PREFIX}_workload_list_age_seconds`, { kind }) !== undefined) firstPodListingS = (performance.now() - started) / 1000;
      else await sleep(500);
    }
    // One refresh cycle (list-max-age 30 s) before measuring.
    for (let t = 0; t < 40; t += SCRAPE_EVERY_S) {
      last = await scrapeUrl(url, { timeoutSeconds: 10 });
      await sleep(SCRAPE_EVERY_S * 1000);
    }
    const exporterCpu = processCpuSeconds(child.pid!);
    const apiCpu = processCpuSeconds(server.pid);
    const windowStart = performance.now();
    while (performance.now() - windowStart < WINDOW_S * 1000) {
      last = await scrapeUrl(url, { timeoutSeconds: 10 });
      await sleep(SCRAPE_EVERY_S * 1000);
    }
    const seconds = (performance.now() - windowStart) / 1000;
    const barePods = last?.find(`${PREFIX}_image_check_status`).filter((s) => s.labels.owner_kind === 'Pod').length ?? 0;
    return {
      firstPodListingS: podKind ? firstPodListingS : undefined,
      exporterCpuPer100s: ((processCpuSeconds(child.pid!) - exporterCpu) * 100) / seconds,
      apiCpuPer100s: ((processCpuSeconds(server.pid) - apiCpu) * 100) / seconds,
      barePods,
      peakRssMiB: processRssMiB(child.pid!).peak,
    };
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
}

async function steadyState(server: RealApiServer, registryHost: string, label: string, root: string): Promise<void> {
  const common = [`--allow-plain-http=${registryHost}`, '--check-platforms=false'];
  const withPods = await run(server, root, common, true);
  const without = await run(server, root, [...common, '--workload-kinds=Deployment,StatefulSet,DaemonSet,CronJob,Job'], false);
  const line = (name: string, r: RunResult) =>
    `    ${name}: exporter ${r.exporterCpuPer100s.toFixed(1)} s CPU per 100 s, API server ${r.apiCpuPer100s.toFixed(1)} s per 100 s; ` +
    `bare Pods' series ${r.barePods}; exporter peak RSS ${r.peakRssMiB.toFixed(0)} MiB` +
    (r.firstPodListingS === undefined ? '' : `; first Pod listing in ${r.firstPodListingS.toFixed(1)} s after start`);
  console.log(`\n2. Steady state, ${label} (${root}), scraped every ${SCRAPE_EVERY_S} s, --list-max-age 30s (default), ${WINDOW_S} s window`);
  console.log(line('default kinds', withPods));
  console.log(line('--workload-kinds without Pod', without));
  console.log(
    `    ratio default / without Pod: exporter ${(withPods.exporterCpuPer100s / without.exporterCpuPer100s).toFixed(2)}, API server ${(withPods.apiCpuPer100s / without.apiCpuPer100s).toFixed(2)}`,
  );
}

const registry = await startRegistry();
await pushImage(registry, 'app', 'v1', 'docker');
await pushImage(registry, 'proxy', 'v2', 'docker');
const server = await startRealApiServer();
try {
  const version = await server.api('GET', '/version');
  const containers = [
    { name: 'main', image: `${registry.host}/app:v1` },
    { name: 'sidecar', image: `${registry.host}/proxy:v2` },
  ];
  let t = performance.now();
  const deployments = Array.from({ length: DEPLOYMENTS }, (_, i) => realisticDeployment(`ns${i % NAMESPACES}`, `app${i}`, { containers }, i));
  await server.createObjects('/apis/apps/v1/namespaces/{namespace}/deployments', deployments, { concurrency: 48 });
  deployments.length = 0;
  const loadDeployments = (performance.now() - t) / 1000;
  t = performance.now();
  // In batches: 50,000 pod objects at once would be ~1 GB of JS objects in this process.
  const BATCH = 5_000;
  for (let from = 0; from < PODS; from += BATCH) {
    const pods = Array.from({ length: Math.min(BATCH, PODS - from) }, (_, j) => {
      const i = from + j;
      const app = i % DEPLOYMENTS;
      const hash = (app * 2654435761 % 2 ** 32).toString(16).slice(0, 10);
      return realisticPod(`ns${app % NAMESPACES}`, `app${app}-${hash}-${i.toString(36).padStart(5, '0')}`, { containers, owner: { replicaSet: `app${app}-${hash}`, hash } }, i);
    });
    await server.createObjects('/api/v1/namespaces/{namespace}/pods', pods, { concurrency: 48 });
  }
  const bare = Array.from({ length: BARE }, (_, i) => realisticPod(`ns${i % NAMESPACES}`, `debug-${i}`, { containers }, PODS + i));
  await server.createObjects('/api/v1/namespaces/{namespace}/pods', bare);
  const loadPods = (performance.now() - t) / 1000;
  const one = await server.api('GET', '/api/v1/namespaces/ns0/pods/debug-0');
  console.log(
    `kube-apiserver ${version.body.gitVersion} + etcd: ${DEPLOYMENTS} Deployments (loaded in ${loadDeployments.toFixed(0)} s), ` +
      `${PODS} ReplicaSet-owned Pods + ${BARE} bare ones (loaded in ${loadPods.toFixed(0)} s), ${(JSON.stringify(one.body).length / 1024).toFixed(1)} KB per Pod as served`,
  );

  await listCosts(server);
  await listingStalls(server);
  await steadyState(server, registry.host, 'this checkout', ROOT);
  if (BASE_ROOT) await steadyState(server, registry.host, 'BENCH_BASE_ROOT', BASE_ROOT);
} finally {
  await server.stop();
  await registry.stop();
}
