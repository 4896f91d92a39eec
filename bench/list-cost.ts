/**
 * What one listing of 10,000 realistic Deployments costs a real kube-apiserver 1.20 + etcd (built by
 * bench/kube-apiserver.sh), by the way it is asked for: paginated from etcd (what the exporter
 * does: no resourceVersion, limit=500), resourceVersion=0 (served from the watch cache), and
 * resourceVersion=0 with resourceVersionMatch=NotOlderThan and limit; with gzip and without. Each mode
 * is listed LISTS times, the body read and counted (not parsed). Prints the server's CPU and peak RSS growth,
 * requests, wire bytes and wall time per listing. Run with `npx tsx bench/list-cost.ts`.
 *
 *   BENCH_WORKLOADS  Deployments (default 10000)
 */
import { realisticDeployment } from '../test/support/objects.js';
import { processCpuSeconds, processRssMiB, readWholeList, startRealApiServer } from './support/real-apiserver.js';

const WORKLOADS = Number(process.env.BENCH_WORKLOADS ?? 10_000);
const LISTS = 5;
const PATH = '/apis/apps/v1/deployments';



const paginated = (c: string | undefined) => `?limit=500${c ? `&continue=${encodeURIComponent(c)}` : ''}`;
const MODES: Record<string, { query: (token: string | undefined) => string; gzip: boolean }> = {
  'paginated from etcd (limit=500, no resourceVersion), gzip: what the exporter asks for': { query: paginated, gzip: true },
  'the same without gzip': { query: paginated, gzip: false },
  'resourceVersion=0 (watch cache), gzip': { query: () => '?resourceVersion=0', gzip: true },
  'resourceVersion=0&resourceVersionMatch=NotOlderThan&limit=500, gzip': {
    query: (c) => (c ? paginated(c) : '?resourceVersion=0&resourceVersionMatch=NotOlderThan&limit=500'),
    gzip: true,
  },
};

const server = await startRealApiServer();
try {
  const version = await server.api('GET', '/version');
  console.log(`kube-apiserver ${version.body.gitVersion} + etcd, ${WORKLOADS} Deployments (~11 KB each as stored)`);
  const deployments = Array.from({ length: WORKLOADS }, (_, i) =>
    realisticDeployment(`ns${i % 100}`, `app${i}`, { containers: [{ name: 'main', image: `registry.example/app${i % 1000}:1` }, { name: 'sidecar', image: 'registry.example/proxy:2' }] }, i),
  );
  await server.createObjects('/apis/apps/v1/namespaces/{namespace}/deployments', deployments);
  deployments.length = 0;
  for (const [mode, { query, gzip }] of Object.entries(MODES)) {
    const cpu = processCpuSeconds(server.pid);
    const rssBefore = processRssMiB(server.pid).rss;
    let peak = rssBefore;
    const sampler = setInterval(() => (peak = Math.max(peak, processRssMiB(server.pid).rss)), 20);
    const started = performance.now();
    let requests = 0;
    let wireBytes = 0;
    let items = 0;
    for (let list = 0; list < LISTS; list++) {
      const urlOf = (token: string | undefined) => `${server.url}${PATH}${query(token)}`;
      const cost = await readWholeList(urlOf, { ca: server.caCertPem, token: server.exporterToken, gzip }).catch((error: Error) => Promise.reject(new Error(`${mode}: ${error.message}`)));
      requests += cost.requests;
      wireBytes += cost.wireBytes;
      items += cost.items;
    }
    clearInterval(sampler);
    console.log(`\n${mode}`);
    console.log(`  per listing: ${(requests / LISTS).toFixed(0)} requests, ${(items / LISTS).toFixed(0)} items, ${(wireBytes / LISTS / 2 ** 20).toFixed(1)} MiB on the wire, ${((performance.now() - started) / LISTS).toFixed(0)} ms`);
    console.log(`  API server: ${((processCpuSeconds(server.pid) - cpu) / LISTS).toFixed(2)} s CPU per listing; RSS ${rssBefore.toFixed(0)} MiB before, peak ${peak.toFixed(0)} MiB while listing`);
  }
} finally {
  await server.stop();
}
