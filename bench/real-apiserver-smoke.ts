/**
 * Smoke run of bench/support/real-apiserver.ts: a real kube-apiserver + etcd on loopback, 200
 * realistic Deployments in 10 namespaces, listed with the exporter's kubeconfig through
 * @kubernetes/client-node, plus the list behaviours a benchmark depends on (limit/continue,
 * resourceVersion=0, gzip). Prints figures; asserts little. Run with `npx tsx bench/real-apiserver-smoke.ts`.
 */
import { existsSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { AppsV1Api, BatchV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { realisticDeployment } from '../test/support/objects.js';
import { processCpuSeconds, processRssMiB, startRealApiServer } from './support/real-apiserver.js';

const NAMESPACES = 10;
const DEPLOYMENTS = 200;

function ms(since: number): string {
  return `${Math.round(performance.now() - since)} ms`;
}

/** Raw GET with the exporter's token: status, headers and wire bytes, no decompression. */
function rawGet(url: string, ca: string, token: string, headers: Record<string, string>) {
  return new Promise<{ status: number; encoding: string | undefined; wireBytes: number }>((resolve, reject) => {
    const req = httpsRequest(url, { ca, headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...headers } }, (res) => {
      let wireBytes = 0;
      res.on('data', (chunk: Buffer) => (wireBytes += chunk.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, encoding: res.headers['content-encoding'], wireBytes }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

let t = performance.now();
const server = await startRealApiServer();
try {
  console.log(`started kube-apiserver (pid ${server.pid}) + etcd (pid ${server.etcdPid}) at ${server.url} in ${ms(t)}`);
  const version = await server.api('GET', '/version');
  console.log(`version: ${version.body.gitVersion} (${version.body.goVersion})`);

  const input = Array.from({ length: DEPLOYMENTS }, (_, i) =>
    realisticDeployment(`ns-${i % NAMESPACES}`, `app-${i}`, {
      containers: [
        { name: 'app', image: `registry.example/shop/app-${i % 50}:1.${i % 7}` },
        { name: 'sidecar', image: 'registry.example/infra/proxy:2.0' },
      ],
    }, i));
  t = performance.now();
  const cpu0 = processCpuSeconds(server.pid);
  await server.createObjects('/apis/apps/v1/namespaces/{namespace}/deployments', input, { concurrency: 32 });
  console.log(`created ${DEPLOYMENTS} Deployments (+ status) in ${NAMESPACES} namespaces in ${ms(t)}; apiserver CPU ${(processCpuSeconds(server.pid) - cpu0).toFixed(2)} s`);

  const kc = new KubeConfig();
  kc.loadFromFile(server.exporterKubeconfigPath);
  const apps = kc.makeApiClient(AppsV1Api);

  t = performance.now();
  const list = await apps.listDeploymentForAllNamespaces({ limit: 500 });
  console.log(`exporter list limit=500: ${list.items.length} items, continue=${JSON.stringify(list.metadata?._continue ?? '')}, rv=${list.metadata?.resourceVersion}, ${ms(t)}`);
  const one = list.items[0]!;
  const raw = await server.api('GET', `/apis/apps/v1/namespaces/${one.metadata!.namespace}/deployments/${one.metadata!.name}`);
  const sent = input.find((d) => d.metadata.name === one.metadata!.name)!;
  console.log(`one object: ${JSON.stringify(one).length} B as client-node returns it, ${JSON.stringify(raw.body).length} B as served, ${JSON.stringify(sent).length} B as built by realisticDeployment; managedFields: ${raw.body.metadata.managedFields.map((f: { manager: string }) => f.manager).join(', ')}; status.replicas=${raw.body.status?.replicas}`);

  const pages = async (params: { limit: number; resourceVersion?: string }) => {
    let count = 0;
    let n = 0;
    let token: string | undefined;
    do {
      const page = await apps.listDeploymentForAllNamespaces({ ...params, ...(token ? { _continue: token } : {}) });
      count += page.items.length;
      n += 1;
      token = page.metadata?._continue || undefined;
    } while (token && n < 100);
    return { count, pages: n };
  };
  const paged = await pages({ limit: 50 });
  console.log(`limit=50: ${paged.pages} pages, ${paged.count} items -> limit ${paged.pages > 1 ? 'honoured' : 'NOT honoured'}`);
  const rv0 = await pages({ limit: 50, resourceVersion: '0' });
  console.log(`limit=50&resourceVersion=0: ${rv0.pages} pages, ${rv0.count} items -> ${rv0.pages > 1 ? 'limit honoured with rv=0' : 'rv=0 served from the watch cache, limit ignored'}`);

  for (const query of ['limit=500', 'limit=1']) {
    const url = `${server.url}/apis/apps/v1/deployments?${query}`;
    const plain = await rawGet(url, server.caCertPem, server.exporterToken, {});
    const gz = await rawGet(url, server.caCertPem, server.exporterToken, { 'accept-encoding': 'gzip' });
    console.log(`gzip (${query}): status ${gz.status}, content-encoding=${gz.encoding ?? 'none'}, ${gz.wireBytes} B on the wire vs ${plain.wireBytes} B plain`);
  }

  // The exporter's rights come from deploy/01-clusterrole.yaml only.
  const core = kc.makeApiClient(CoreV1Api);
  const denied = await core.listSecretForAllNamespaces().then(() => 'allowed (unexpected)', (e: { code?: number }) => `HTTP ${e.code}`);
  const sas = await core.listServiceAccountForAllNamespaces({ limit: 1 }).then(() => 'allowed', (e: { code?: number }) => `HTTP ${e.code}`);
  const cron = await kc.makeApiClient(BatchV1Api).listCronJobForAllNamespaces({ limit: 1 }).then(() => 'allowed', (e: { code?: number }) => `HTTP ${e.code}`);
  console.log(`exporter RBAC: list secrets -> ${denied}; list serviceaccounts -> ${sas}; list batch/v1 cronjobs -> ${cron} (1.20 serves CronJob only as batch/v1beta1)`);

  const rss = processRssMiB(server.pid);
  console.log(`apiserver: CPU ${processCpuSeconds(server.pid).toFixed(2)} s total, RSS ${rss.rss.toFixed(0)} MiB (peak ${rss.peak.toFixed(0)}); etcd CPU ${processCpuSeconds(server.etcdPid).toFixed(2)} s`);
} finally {
  t = performance.now();
  await server.stop();
  const gone = (pid: number) => !existsSync(`/proc/${pid}`);
  console.log(`stopped in ${ms(t)}: apiserver gone=${gone(server.pid)}, etcd gone=${gone(server.etcdPid)}, temp dir removed=${!existsSync(server.dir)}`);
}
