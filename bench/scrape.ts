/**
 * Benchmark: a synthetic cluster (10,000 Deployments shaped and sized like a real API server's, ~11 KB
 * each, × 2 containers over 1,000 unique images) served by
 * the loopback Kubernetes API, the real registry behind a proxy adding 50 ms per request, and the
 * exporter as its own process. Prints figures; asserts nothing. Run with `npm run bench`.
 *
 *   BENCH_WORKLOADS, BENCH_IMAGES, BENCH_LATENCY_MS override the sizes. `npm run bench` builds dist/ first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';
import { request } from 'undici';
import { OWNER_KINDS } from '../src/kubernetes/workloads.js';
import { WorkloadLister } from '../src/kubernetes/workloads.js';
import { ExporterMetrics } from '../src/metrics.js';
import { scrapeUrl } from '../test/support/exporter.js';
import { startKubeApi } from '../test/support/kube-api.js';
import { realisticDeployment } from '../test/support/objects.js';
import { startRecordingProxy } from '../test/support/proxy.js';
import { pushImage } from '../test/support/push.js';
import { startRegistry, type RunningRegistry } from '../test/support/registry.js';

const WORKLOADS = Number(process.env.BENCH_WORKLOADS ?? 10_000);
const IMAGES = Number(process.env.BENCH_IMAGES ?? 1_000);
const LATENCY_MS = Number(process.env.BENCH_LATENCY_MS ?? 50);
const WARM_SCRAPES = 20;
const CONCURRENT_SCRAPES = 50;
const CONCURRENT_ROUNDS = 3;
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const REPOS = 10;
/** Same as NODE_OPTIONS in deploy/03-deployment.yaml. */
const HEAP_FLAG = '--max-old-space-size=192';

const MANIFEST_TYPE = 'application/vnd.docker.distribution.manifest.v2+json';

/** Tags one pushed manifest under many tags: 1,000 images without 1,000 blob uploads. */
async function tagMany(registry: RunningRegistry, repository: string, tags: string[]): Promise<void> {
  await pushImage(registry, repository, 'base', 'docker');
  const got = await request(`${registry.url}/v2/${repository}/manifests/base`, { headers: { accept: MANIFEST_TYPE } });
  const manifest = Buffer.from(await got.body.arrayBuffer());
  for (const tag of tags) {
    const put = await request(`${registry.url}/v2/${repository}/manifests/${tag}`, {
      method: 'PUT',
      headers: { 'content-type': MANIFEST_TYPE },
      body: manifest,
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
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

async function startExporterProcess(flags: string[]): Promise<{ child: ChildProcess; url: string }> {
  // The compiled exporter with deploy/'s heap setting, as it runs in the cluster.
  const child = spawn(process.execPath, [HEAP_FLAG, 'dist/main.js', '--bind-address=127.0.0.1:0', '--log-level=info', ...flags], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`exporter did not start: ${stderr}`)), 30_000);
    child.stderr!.on('data', (chunk: string) => {
      stderr += chunk;
      const port = /"port":(\d+)/.exec(stderr)?.[1];
      if (port) {
        clearTimeout(timer);
        resolve(`http://127.0.0.1:${port}`);
      }
    });
  });
  return { child, url };
}

async function main(): Promise<void> {
  console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`);
  console.log(`exporter: node ${HEAP_FLAG} dist/main.js`);
  console.log(`cluster: ${WORKLOADS} Deployments × 2 containers, ${IMAGES} unique images, registry latency ${LATENCY_MS} ms/request`);

  const registry = await startRegistry();
  const perRepo = Math.ceil(IMAGES / REPOS);
  const images: string[] = [];
  for (let r = 0; r < REPOS; r++) {
    const tags = Array.from({ length: perRepo }, (_, i) => `v${i}`).slice(0, IMAGES - images.length);
    await tagMany(registry, `bench/app${r}`, tags);
    images.push(...tags.map((t) => `bench/app${r}:${t}`));
  }
  const proxy = await startRecordingProxy(registry.url, { latencyMs: LATENCY_MS });
  const kube = await startKubeApi();
  kube.set(
    'Deployment',
    Array.from({ length: WORKLOADS }, (_, i) =>
      realisticDeployment(
        `ns${i % 100}`,
        `app${i}`,
        {
          containers: [
            { name: 'main', image: `${proxy.host}/${images[i % IMAGES]}` },
            { name: 'sidecar', image: `${proxy.host}/${images[(i * 7 + 3) % IMAGES]}` },
          ],
        },
        i,
      ),
    ),
  );
  const concurrency = 32;
  const perRegistry = 16;
  const { child, url } = await startExporterProcess([
    `--kubeconfig=${kube.kubeconfigPath}`,
    `--allow-plain-http=${proxy.host}`,
    '--check-interval=1h',
    `--max-concurrent-checks=${concurrency}`,
    `--max-concurrent-per-registry=${perRegistry}`,
  ]);

  try {
    // Cold: the first scrape with a 10 s deadline, then scrape until every image has a result.
    const coldStart = performance.now();
    const first = await scrapeUrl(url, { timeoutSeconds: 10 });
    const statusSeries = (s: Awaited<ReturnType<typeof scrapeUrl>>) => s.find('k8s_image_existence_exporter_image_check_status').length;
    const firstResults = statusSeries(first);
    let everything = first;
    while (statusSeries(everything) < WORKLOADS * 2 || everything.value('k8s_image_existence_exporter_checks_pending') !== 0) {
      await new Promise((r) => setTimeout(r, 100));
      everything = await scrapeUrl(url, { timeoutSeconds: 10 });
    }
    const coldMs = performance.now() - coldStart;
    const effective = Math.min(concurrency, perRegistry);
    const idealMs = Math.ceil(IMAGES / effective) * LATENCY_MS;

    // Warm: every result cached.
    const warm: number[] = [];
    for (let i = 0; i < WARM_SCRAPES; i++) warm.push((await scrapeUrl(url, { timeoutSeconds: 10 })).ms);
    const rssBeforeConcurrent = peakRssMiB(child.pid!);

    // Many scrapers at once (HA Prometheus pairs, people with curl): rounds of 50 concurrent scrapes.
    const concurrentMs: number[] = [];
    let concurrentFailures = 0;
    for (let round = 0; round < CONCURRENT_ROUNDS; round++) {
      const answers = await Promise.all(Array.from({ length: CONCURRENT_SCRAPES }, () => scrapeUrl(url, { timeoutSeconds: 10 })));
      for (const answer of answers) {
        concurrentMs.push(answer.ms);
        if (answer.status !== 200 || statusSeries(answer) !== WORKLOADS * 2) concurrentFailures++;
      }
    }
    const alive = child.exitCode === null;

    // Baseline in this process: only listing the workloads and rendering the same metrics.
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(kube.kubeconfigPath);
    const lister = new WorkloadLister(kubeConfig, { pageSize: 500, requestTimeoutMs: 30_000 });
    const metrics = new ExporterMetrics();
    const baseline: number[] = [];
    for (let i = 0; i < WARM_SCRAPES; i++) {
      const started = performance.now();
      const lists = await Promise.all(OWNER_KINDS.map((k) => lister.list(k)));
      const rows = lists.flat().flatMap((w) =>
        w.containers.map((c) => ({
          kind: w.kind,
          namespace: w.namespace,
          owner: w.name,
          container: c.name,
          image: c.image,
          status: 'present' as const,
          exists: 1 as const,
        })),
      );
      const snapshot = { rows, listUp: new Map(OWNER_KINDS.map((k) => [k, true])), listAge: new Map(OWNER_KINDS.map((k) => [k, 0])), pending: 0, collectionSeconds: 0 };
      await metrics.render(async () => snapshot);
      baseline.push(performance.now() - started);
    }

    const registryRequests = proxy.requests.length;
    const warmMedian = quantile(warm, 0.5);
    const baseMedian = quantile(baseline, 0.5);
    console.log('');
    console.log(`warm scrape: median ${warmMedian.toFixed(0)} ms, p99 ${quantile(warm, 0.99).toFixed(0)} ms (${WARM_SCRAPES} scrapes)`);
    console.log(`list + render only: median ${baseMedian.toFixed(0)} ms, p99 ${quantile(baseline, 0.99).toFixed(0)} ms`);
    console.log(`  ratio warm / (list + render): ${(warmMedian / baseMedian).toFixed(2)} (goal ≤ 2)`);
    console.log(`cold: every image has a result after ${coldMs.toFixed(0)} ms; ideal ceil(${IMAGES}/${effective}) × ${LATENCY_MS} ms = ${idealMs} ms`);
    console.log(`  ratio cold / ideal: ${(coldMs / idealMs).toFixed(2)}`);
    console.log(
      `first scrape (10 s deadline): answered in ${first.ms.toFixed(0)} ms, status ${first.status}, ${firstResults} of ${WORKLOADS * 2} container results, ${first.value('k8s_image_existence_exporter_checks_pending')} checks pending`,
    );
    console.log(`registry requests per unique image per interval: ${(registryRequests / IMAGES).toFixed(3)} (${registryRequests} requests; goal ≤ 1.05)`);
    console.log(`peak registry concurrency seen: ${proxy.maxConcurrent}`);
    console.log(
      `${CONCURRENT_ROUNDS} rounds of ${CONCURRENT_SCRAPES} concurrent scrapes: ${concurrentFailures} incomplete or failed answers, slowest ${Math.max(...concurrentMs).toFixed(0)} ms, process ${alive ? 'alive' : 'DEAD'}`,
    );
    console.log(`exporter peak RSS: ${rssBeforeConcurrent.toFixed(0)} MiB before the concurrent scrapes, ${peakRssMiB(child.pid!).toFixed(0)} MiB after`);
  } finally {
    child.kill('SIGTERM');
    await kube.stop();
    await proxy.stop();
    await registry.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
