/**
 * Namespaced mode against many namespaces (issue 20, item 5), on a real kube-apiserver 1.20 + etcd
 * (built by bench/kube-apiserver.sh): BENCH_NAMESPACES namespaces chosen by --namespace-selector,
 * one realistic Deployment each, the exporter as its own process with the deployed Node flags.
 * Prints, for the first scrape (10 s deadline): when it answered and with how many workloads, when
 * every workload was in, the most TCP connections the exporter had open to the API server at once
 * (sampled every 10 ms from /proc/PID/fd and /proc/net/tcp), the exporter's peak RSS, and the API server's CPU.
 * BENCH_BASE_ROOT=/tmp/base runs the same for that checkout's exporter (before/after).
 *
 * Run with `npx tsx bench/namespace-fan-out.ts`.
 */
import { once } from 'node:events';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { deployedRuntime } from '../test/support/deployed.js';
import { startExporterProcess, type ExporterProcess } from '../test/support/process.js';
import { scrapeUrl } from '../test/support/exporter.js';
import { realisticDeployment } from '../test/support/objects.js';
import { pushImage } from '../test/support/push.js';
import { startRegistry } from '../test/support/registry.js';
import { processCpuSeconds, processRssMiB, startRealApiServer, type RealApiServer } from './support/real-apiserver.js';

const NAMESPACES = Number(process.env.BENCH_NAMESPACES ?? 300);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BASE_ROOT = process.env.BENCH_BASE_ROOT;
const PREFIX = 'k8s_image_existence_exporter';
const DEPLOYED = deployedRuntime();

/** TCP connections of process `pid` to `port` not closed yet (its socket inodes in /proc/net/tcp). */
function connectionsTo(pid: number, port: number): number {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) inodes.add(m[1] as string);
      } catch { /* closed meanwhile */ }
    }
  } catch {
    return 0;
  }
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  let count = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      if ((f[2] as string).endsWith(`:${hex}`) && inodes.has(f[9] as string)) count++;
    }
  }
  return count;
}

/** The exporter of `root` as deployed (its Node flags and memory limit), on a free port. */
function startExporter(root: string, kubeconfig: string, flags: string[]): Promise<ExporterProcess> {
  return startExporterProcess(['--log-level=info', `--kubeconfig=${kubeconfig}`, ...flags], { cwd: root, nodeArgs: DEPLOYED.nodeArgs, env: DEPLOYED.env, stderrChars: 100_000 });
}

async function measure(server: RealApiServer, registryHost: string, label: string, root: string): Promise<void> {
  const port = Number(new URL(server.url).port);
  const { child, url, stderr } = await startExporter(root, server.exporterKubeconfigPath, [
    '--namespace-selector=image-checks=on',
    `--allow-plain-http=${registryHost}`,
    '--check-platforms=false',
  ]);
  let maxConnections = 0;
  let peakRss = 0;
  const sampler = setInterval(() => {
    maxConnections = Math.max(maxConnections, connectionsTo(child.pid!, port));
    try {
      peakRss = Math.max(peakRss, processRssMiB(child.pid!).peak);
    } catch { /* exited */ }
  }, 10);
  const apiCpu = processCpuSeconds(server.pid);
  try {
    const started = performance.now();
    const first = await scrapeUrl(url, { timeoutSeconds: 10 });
    const firstMs = performance.now() - started;
    const reported = (s: typeof first) => new Set(s.find(`${PREFIX}_image_check_status`).map((x) => x.labels.namespace)).size;
    // 1.20 serves CronJob only as batch/v1beta1: those lists are requests answered 404, never up.
    const listed = (s: typeof first) => s.find(`${PREFIX}_workload_list_up`).filter((x) => x.value === 1 && x.labels.kind !== 'CronJob').length;
    const firstReported = reported(first);
    const firstListed = listed(first);
    let allMs: number | undefined;
    for (let i = 0; i < 240 && allMs === undefined; i++) {
      const s = await scrapeUrl(url, { timeoutSeconds: 10 });
      if (listed(s) === NAMESPACES * 5) allMs = performance.now() - started;
      else await new Promise((r) => setTimeout(r, 250));
    }
    clearInterval(sampler);
    console.log(`\n${label} (${root})`);
    console.log(`  first scrape (10 s deadline): HTTP ${first.status} in ${(firstMs / 1000).toFixed(1)} s, ${firstListed} of ${NAMESPACES * 5} kind×namespace listings in (CronJob: 404 on 1.20), ${firstReported} of ${NAMESPACES} namespaces' workloads reported`);
    console.log(`  every listing in after ${allMs === undefined ? 'more than 60 s' : `${(allMs / 1000).toFixed(1)} s`}`);
    if (allMs === undefined) console.log(stderr().split('\n').filter((l) => l.includes('"error"') || l.includes('"warn"')).slice(0, 5).join('\n'));
    console.log(`  most TCP connections open to the API server at once: ${maxConnections}`);
    console.log(`  exporter peak RSS ${peakRss.toFixed(0)} MiB; API server CPU ${(processCpuSeconds(server.pid) - apiCpu).toFixed(1)} s`);
  } finally {
    clearInterval(sampler);
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
}

const registry = await startRegistry();
await pushImage(registry, 'app', 'v1', 'docker');
const server = await startRealApiServer();
try {
  const version = await server.api('GET', '/version');
  // --namespace-selector needs to list namespaces (deploy/01-clusterrole.yaml says to add it).
  await server.applyClusterRole([
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'bench-list-namespaces' }, rules: [{ apiGroups: [''], resources: ['namespaces'], verbs: ['list'] }] },
  ]);
  const names = Array.from({ length: NAMESPACES }, (_, i) => `team-${String(i).padStart(3, '0')}`);
  for (const name of names) await server.api('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'image-checks': 'on' } } });
  const deployments = names.map((namespace, i) => realisticDeployment(namespace, 'web', { containers: [{ name: 'main', image: `${registry.host}/app:v1` }] }, i));
  await server.createObjects('/apis/apps/v1/namespaces/{namespace}/deployments', deployments);
  console.log(`kube-apiserver ${version.body.gitVersion} + etcd: ${NAMESPACES} namespaces labelled image-checks=on, one realistic Deployment each; exporter with --namespace-selector=image-checks=on, default kinds`);
  await measure(server, registry.host, 'this checkout', ROOT);
  if (BASE_ROOT) await measure(server, registry.host, 'BENCH_BASE_ROOT', BASE_ROOT);
} finally {
  await server.stop();
  await registry.stop();
}
