/**
 * A real kube-apiserver (1.20.2, built by bench/kube-apiserver.sh) on etcd, both on free loopback
 * ports in a temp dir, for benchmarks. Authentication is by static tokens: `admin` (system:masters)
 * and `exporter`, which gets its rights only from the project's deploy/01-clusterrole.yaml bound to
 * the user by a ClusterRoleBinding made here. No controller-manager runs: objects are stored and
 * served, nothing reconciles them.
 *
 * Benchmarks use it, and test/integration/admission-apiserver.test.ts (skipped where the binary was
 * never built: building it takes minutes).
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { request as httpsRequest } from 'node:https';
import { gunzipSync } from 'node:zlib';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { loadAllYaml } from '@kubernetes/client-node';
import { Agent, request } from 'undici';
import { createPki } from '../../test/support/pki.js';
import { makeTempDir } from '../../test/support/tmp.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BUILD_SCRIPT = join(ROOT, 'bench', 'kube-apiserver.sh');
const DEFAULT_CLUSTER_ROLE = join(ROOT, 'deploy', '01-clusterrole.yaml');
const run = promisify(execFile);

export interface RealApiServerOptions {
  /** kube-apiserver binary; default: what bench/kube-apiserver.sh prints (it builds once, then caches). */
  readonly binary?: string;
  /** etcd binary; default `etcd` on PATH (Debian's etcd-server). */
  readonly etcdBinary?: string;
  /** ClusterRole YAML bound to the `exporter` user at start; default deploy/01-clusterrole.yaml; false for none. */
  readonly clusterRole?: string | false;
  /** Extra kube-apiserver flags, appended last. */
  readonly extraArgs?: readonly string[];
  /** How long to wait for /readyz (default 90 s). */
  readonly readyTimeoutMs?: number;
}

export interface CreateOptions {
  /** Requests in flight (default 32). */
  readonly concurrency?: number;
  /** After creating, PUT each object's `status` to the status subresource, as create drops it (default true when it has one). */
  readonly status?: boolean;
}

export interface RealApiServer {
  /** https://127.0.0.1:PORT */
  readonly url: string;
  readonly dir: string;
  readonly caFile: string;
  readonly caCertPem: string;
  readonly adminToken: string;
  readonly exporterToken: string;
  readonly adminKubeconfigPath: string;
  readonly exporterKubeconfigPath: string;
  /** kube-apiserver's pid. */
  readonly pid: number;
  readonly etcdPid: number;
  readonly etcdUrl: string;
  /**
   * POSTs `objects` (JSON, admin token) to `path`, e.g. `/apis/apps/v1/namespaces/{namespace}/deployments`;
   * `{namespace}` is each object's metadata.namespace, and those namespaces are created first.
   * Server-owned metadata (resourceVersion, uid, creationTimestamp, generation) is dropped before sending.
   * Resolves with the objects as created (and status-updated).
   */
  createObjects(path: string, objects: readonly object[], options?: CreateOptions | number): Promise<unknown[]>;
  /**
   * Applies the ClusterRoles in `yaml` (text or parsed objects; create, or replace if present) and
   * binds each to the `exporter` user with a ClusterRoleBinding named after it plus `-exporter-user`.
   * Resolves once the authorizer grants the first rule of each, with the ClusterRoles' names.
   */
  applyClusterRole(yaml: string | readonly object[]): Promise<string[]>;
  /** Admin-token request to the API server; JSON body in and out. */
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  /** Tail of kube-apiserver's (or etcd's) log. */
  log(which?: 'apiserver' | 'etcd'): string;
  /** SIGTERM (then SIGKILL after 10 s) both processes, and removes the temp dir. */
  stop(): Promise<void>;
}

/** utime + stime of a process from /proc/PID/stat, in seconds. */
/** One page of a list as the benchmarks count it: status, bytes on the wire, items, continue token. */
export interface ListPage {
  readonly status: number;
  readonly wireBytes: number;
  readonly items: number;
  readonly continueToken: string | undefined;
}

/**
 * One GET of a list page; counts wire bytes and items without parsing the body (one body of every
 * pod, resourceVersion=0, is longer than a string may be).
 */
export function getListPage(url: string, options: { ca: string; token: string; accept?: string; gzip?: boolean }): Promise<ListPage> {
  return new Promise((resolve, reject) => {
    const headers = { authorization: `Bearer ${options.token}`, accept: options.accept ?? 'application/json', 'accept-encoding': options.gzip === false ? 'identity' : 'gzip' };
    const req = httpsRequest(url, { ca: options.ca, headers }, (res) => {
      let wireBytes = 0;
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => {
        wireBytes += chunk.length;
        chunks.push(chunk);
      });
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        const body = res.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
        const head = body.subarray(0, 4000).toString('utf8');
        const continueToken = /"continue":"([^"]*)"/.exec(head)?.[1] || undefined;
        let items = 0;
        const marker = Buffer.from('"metadata":{"name":');
        for (let at = body.indexOf(marker); at !== -1; at = body.indexOf(marker, at + 1)) items++;
        resolve({ status: res.statusCode ?? 0, wireBytes, items, continueToken });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** What reading a whole list took. */
export interface ListCost {
  readonly requests: number;
  readonly wireBytes: number;
  readonly items: number;
}

/**
 * Reads one list to its end: the page `urlOf(undefined)`, then `urlOf(token)` while the server gives
 * a continue token (only the first page when `paginate` is false). Throws on any status but 200.
 */
export async function readWholeList(urlOf: (token: string | undefined) => string, options: Parameters<typeof getListPage>[1], paginate = true): Promise<ListCost> {
  let requests = 0;
  let wireBytes = 0;
  let items = 0;
  let token: string | undefined;
  do {
    const page = await getListPage(urlOf(token), options);
    if (page.status !== 200) throw new Error(`HTTP ${page.status}`);
    requests++;
    wireBytes += page.wireBytes;
    items += page.items;
    token = paginate ? page.continueToken : undefined;
  } while (token);
  return { requests, wireBytes, items };
}

export function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is in parentheses and may hold spaces; fields after it start at 3.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / clockTicks();
}

/** Resident and peak resident set size of a process from /proc/PID/status, in MiB. */
export function processRssMiB(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

let ticks: number | undefined;
function clockTicks(): number {
  ticks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return ticks;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

async function resolveBinary(options: RealApiServerOptions): Promise<string> {
  if (options.binary) return options.binary;
  try {
    const { stdout } = await run('bash', [BUILD_SCRIPT], { maxBuffer: 1 << 20 });
    return stdout.trim().split('\n').pop()!;
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? String(err);
    throw new Error(`bench/kube-apiserver.sh failed:\n${stderr.split('\n').slice(-15).join('\n')}`);
  }
}

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

function spawnLogged(binary: string, args: string[], logFile: string): ChildProcess {
  const fd = openSync(logFile, 'a');
  try {
    return spawn(binary, args, { stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
}

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (!alive(child)) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => alive(child) && child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Polls `check` every 200 ms until it resolves true; fails early if `child` exits. */
async function waitFor(what: string, child: ChildProcess, logFile: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!alive(child)) throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${tail(logFile)}`);
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} not ready after ${timeoutMs} ms:\n${tail(logFile)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function kubeconfig(server: string, caFile: string, user: string, token: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'real', cluster: { server, 'certificate-authority': caFile } }],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: user, context: { cluster: 'real', user } }],
    'current-context': user,
  }, null, 2);
}

async function runLimited<T, R>(items: readonly T[], concurrency: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

export async function startRealApiServer(options: RealApiServerOptions = {}): Promise<RealApiServer> {
  const binary = await resolveBinary(options);
  const dir = await makeTempDir('apiserver');
  const children: ChildProcess[] = [];
  // Last resort if the caller crashes without stop(): no process outlives it.
  const killAll = () => children.forEach((c) => alive(c) && c.kill('SIGKILL'));
  process.on('exit', killAll);
  const etcdLog = join(dir, 'etcd.log');
  const apiLog = join(dir, 'kube-apiserver.log');
  let agent: Agent | undefined;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    // API server first, so it does not log etcd errors while going down.
    for (const child of [...children].reverse()) await stopChild(child);
    process.off('exit', killAll);
    await agent?.close().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const pki = await createPki(dir);
    const dispatcher = new Agent({ connect: { ca: pki.caCertPem }, connections: 64, pipelining: 1 });
    agent = dispatcher;
    // etcd
    const [clientPort, peerPort, securePort] = [await freePort(), await freePort(), await freePort()];
    const etcdUrl = `http://127.0.0.1:${clientPort}`;
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    const etcd = spawnLogged(options.etcdBinary ?? 'etcd', [
      '--name', 'bench',
      '--data-dir', join(dir, 'etcd'),
      '--listen-client-urls', etcdUrl,
      '--advertise-client-urls', etcdUrl,
      '--listen-peer-urls', peerUrl,
      '--initial-advertise-peer-urls', peerUrl,
      '--initial-cluster', `bench=${peerUrl}`,
      '--quota-backend-bytes', String(8 * 1024 ** 3),
    ], etcdLog);
    children.push(etcd);
    await waitFor('etcd', etcd, etcdLog, 30_000, async () => {
      const res = await request(`${etcdUrl}/health`);
      const body = (await res.body.json()) as { health?: string };
      return res.statusCode === 200 && body.health === 'true';
    });

    // kube-apiserver
    const adminToken = randomBytes(16).toString('hex');
    const exporterToken = randomBytes(16).toString('hex');
    const tokenFile = join(dir, 'tokens.csv');
    await writeFile(tokenFile, `${adminToken},admin,admin-uid,"system:masters"\n${exporterToken},exporter,exporter-uid\n`);
    const url = `https://127.0.0.1:${securePort}`;
    const issuer = 'https://kubernetes.default.svc';
    const api = spawnLogged(binary, [
      '--etcd-servers', etcdUrl,
      '--bind-address', '127.0.0.1',
      '--advertise-address', '127.0.0.1',
      '--secure-port', String(securePort),
      '--insecure-port', '0',
      '--cert-dir', join(dir, 'certs'),
      '--tls-cert-file', pki.serverCertFile,
      '--tls-private-key-file', pki.serverKeyFile,
      '--client-ca-file', pki.caCertFile,
      '--token-auth-file', tokenFile,
      '--authorization-mode', 'RBAC',
      '--service-account-issuer', issuer,
      '--service-account-key-file', join(dir, 'signing.key'),
      '--service-account-signing-key-file', join(dir, 'signing.key'),
      '--api-audiences', issuer,
      '--service-cluster-ip-range', '10.0.0.0/24',
      '--disable-admission-plugins', 'ServiceAccount',
      '--endpoint-reconciler-type', 'none',
      ...(options.extraArgs ?? []),
    ], apiLog);
    children.push(api);

    // The user agent's first word names the field manager that writes an object's managedFields.
    const call = async (method: string, path: string, body?: unknown, userAgent = 'bench-admin/1.0') => {
      const res = await request(`${url}${path}`, {
        method: method as 'GET',
        dispatcher,
        headers: {
          authorization: `Bearer ${adminToken}`,
          accept: 'application/json',
          'user-agent': userAgent,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.body.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch { /* not JSON (/readyz) */ }
      return { status: res.statusCode, body: parsed as any };
    };
    await waitFor('kube-apiserver', api, apiLog, options.readyTimeoutMs ?? 90_000, async () => {
      const res = await call('GET', '/readyz');
      return res.status === 200 && res.body === 'ok';
    });

    const adminKubeconfigPath = join(dir, 'admin.kubeconfig');
    const exporterKubeconfigPath = join(dir, 'exporter.kubeconfig');
    await writeFile(adminKubeconfigPath, kubeconfig(url, pki.caCertFile, 'admin', adminToken));
    await writeFile(exporterKubeconfigPath, kubeconfig(url, pki.caCertFile, 'exporter', exporterToken));

    const must = async (method: string, path: string, body: unknown, ok: (status: number) => boolean = (s) => s < 300, userAgent?: string) => {
      const res = await call(method, path, body, userAgent);
      if (!ok(res.status)) throw new Error(`${method} ${path} answered ${res.status}: ${res.body?.message ?? JSON.stringify(res.body).slice(0, 300)}`);
      return res;
    };

    const applyClusterRole = async (yaml: string | readonly object[]): Promise<string[]> => {
      const docs = (typeof yaml === 'string' ? loadAllYaml(yaml) : [...yaml]).filter(Boolean) as any[];
      const roles = docs.filter((d) => d.kind === 'ClusterRole');
      if (roles.length === 0) throw new Error('no ClusterRole in the given YAML');
      const rbac = '/apis/rbac.authorization.k8s.io/v1';
      const upsert = async (plural: string, obj: any) => {
        const created = await call('POST', `${rbac}/${plural}`, obj);
        if (created.status === 409) await must('PUT', `${rbac}/${plural}/${obj.metadata.name}`, obj);
        else if (created.status >= 300) throw new Error(`creating ${plural}/${obj.metadata.name} answered ${created.status}: ${created.body?.message}`);
      };
      for (const role of roles) {
        await upsert('clusterroles', role);
        await upsert('clusterrolebindings', {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'ClusterRoleBinding',
          metadata: { name: `${role.metadata.name}-exporter-user` },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata.name },
          subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'exporter' }],
        });
        // The authorizer learns of the binding through a watch: wait until it grants the first rule.
        const rule = role.rules?.[0];
        if (rule) {
          const review = {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SubjectAccessReview',
            spec: { user: 'exporter', resourceAttributes: { group: rule.apiGroups?.[0] ?? '', resource: rule.resources?.[0], verb: rule.verbs?.[0] } },
          };
          await waitFor(`RBAC for ${role.metadata.name}`, api, apiLog, 15_000, async () => {
            const res = await must('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', review);
            return res.body?.status?.allowed === true;
          });
        }
      }
      return roles.map((r) => r.metadata.name as string);
    };

    const createObjects = async (path: string, objects: readonly object[], opts: CreateOptions | number = {}): Promise<unknown[]> => {
      const { concurrency = 32, status } = typeof opts === 'number' ? { concurrency: opts } : opts;
      const namespaces = [...new Set(objects.map((o: any) => o.metadata?.namespace).filter(Boolean))] as string[];
      if (path.includes('{namespace}') && namespaces.length < new Set(objects.map((o: any) => o.metadata?.namespace ?? '')).size) {
        throw new Error(`every object needs metadata.namespace for ${path}`);
      }
      await runLimited(namespaces, concurrency, (name) =>
        must('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } }, (s) => s < 300 || s === 409));
      return runLimited(objects, concurrency, async (object: any) => {
        const { resourceVersion: _rv, uid: _uid, creationTimestamp: _ct, generation: _gen, ...metadata } = object.metadata ?? {};
        const collection = path.replace('{namespace}', encodeURIComponent(metadata.namespace ?? ''));
        // Created as kubectl and status written as the controller manager would: the server then
        // merges its managedFields entries into those the objects carry instead of adding its own.
        const created = (await must('POST', collection, { ...object, metadata }, undefined, 'kubectl-client-side-apply/v1.20.2')).body;
        const hasStatus = object.status && Object.keys(object.status).length > 0;
        if (!(status ?? hasStatus) || !hasStatus) return created;
        const itemPath = `${collection}/${encodeURIComponent(created.metadata.name)}/status`;
        return (await must('PUT', itemPath, { ...created, status: object.status }, undefined, 'kube-controller-manager/v1.20.2')).body;
      });
    };

    if (options.clusterRole !== false) {
      await applyClusterRole(await readFile(options.clusterRole ?? DEFAULT_CLUSTER_ROLE, 'utf8'));
    }

    return {
      url,
      dir,
      caFile: pki.caCertFile,
      caCertPem: pki.caCertPem,
      adminToken,
      exporterToken,
      adminKubeconfigPath,
      exporterKubeconfigPath,
      pid: api.pid!,
      etcdPid: etcd.pid!,
      etcdUrl,
      createObjects,
      applyClusterRole,
      api: (method, path, body) => call(method, path, body),
      log: (which = 'apiserver') => tail(which === 'etcd' ? etcdLog : apiLog, 200),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
