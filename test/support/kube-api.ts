/**
 * A loopback HTTP server speaking the Kubernetes REST shapes the exporter reads: list (all
 * namespaces and namespaced) for apps/v1 deployments/statefulsets/daemonsets, batch/v1 cronjobs and
 * jobs, v1 pods, secrets, serviceaccounts, (cluster-scoped) nodes and namespaces, and custom resources
 * a test defines (with their discovery document), get of one secret or service account, `limit`/`continue`
 * pagination over a snapshot, `labelSelector` (equality- and set-based, `!key` included) and
 * `resourceVersion=0` (answered in one body, ignoring `limit`, as 1.20's watch cache does), bearer-token
 * auth and `Status` error bodies, over plain HTTP (with
 * insecure-skip-tls-verify) or HTTPS (the kubeconfig then trusts the test CA). Faults can be injected.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Pki } from './pki.js';
import { makeTempDir } from './tmp.js';
import { listenLoopback } from './listen.js';

export type BuiltinKind = 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'CronJob' | 'Job' | 'Pod' | 'Secret' | 'ServiceAccount' | 'Node' | 'Namespace';
/** A built-in kind, or the kind of a custom resource defined with defineResource(). */
export type Kind = BuiltinKind | (string & {});

export interface Resource {
  readonly kind: Kind;
  readonly group: string; // '' for core
  readonly version: string;
  readonly plural: string;
  /** Cluster-scoped resources (nodes, namespaces) are listed only without a namespace. */
  readonly clusterScoped?: boolean;
}

const RESOURCES: readonly Resource[] = [
  { kind: 'Deployment', group: 'apps', version: 'v1', plural: 'deployments' },
  { kind: 'StatefulSet', group: 'apps', version: 'v1', plural: 'statefulsets' },
  { kind: 'DaemonSet', group: 'apps', version: 'v1', plural: 'daemonsets' },
  { kind: 'CronJob', group: 'batch', version: 'v1', plural: 'cronjobs' },
  { kind: 'Secret', group: '', version: 'v1', plural: 'secrets' },
  { kind: 'ServiceAccount', group: '', version: 'v1', plural: 'serviceaccounts' },
  { kind: 'Node', group: '', version: 'v1', plural: 'nodes', clusterScoped: true },
  { kind: 'Namespace', group: '', version: 'v1', plural: 'namespaces', clusterScoped: true },
  { kind: 'Job', group: 'batch', version: 'v1', plural: 'jobs' },
  { kind: 'Pod', group: '', version: 'v1', plural: 'pods' },
];

export interface FaultRule {
  /** Matched against the request path (without query). */
  readonly path: string | RegExp;
  readonly status?: number;
  readonly reason?: string;
  readonly message?: string;
  /** How many matching requests fail (default: all). */
  times?: number;
  /** Only fail list requests that carry a continue token at least this many pages in. */
  readonly afterPages?: number;
  readonly delayMs?: number;
  /** Answer this body as-is (malformed JSON, say) with `status` (default 200). */
  readonly rawBody?: string;
  /** Accept the request and never answer. */
  readonly hang?: boolean;
  /** Send the real answer's headers and first bytes, then close the connection or stall. */
  readonly truncate?: { readonly afterBytes: number; readonly then: 'close' | 'hang' };
}

export interface RecordedApiRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly authorization: string | undefined;
  readonly headers: IncomingHttpHeaders;
  /** Items a list answer carried (set once it is sent). */
  itemsServed?: number;
}

/** What the server has seen since start (or the last resetLoad): how much arrived at once. */
export interface ApiLoad {
  /** Most requests being answered at the same time. */
  readonly maxRequestsInFlight: number;
  /** Most connections open at the same time. */
  readonly maxConnections: number;
  /** Connections opened. */
  readonly connectionsOpened: number;
}

export interface KubeApi {
  readonly url: string;
  readonly kubeconfigPath: string;
  readonly requests: RecordedApiRequest[];
  /** Serves a custom resource (as if its CRD were installed), with its discovery document. */
  defineResource(resource: Resource): void;
  set(kind: Kind, objects: object[]): void;
  add(kind: Kind, object: object): void;
  remove(kind: Kind, namespace: string, name: string): void;
  fault(rule: FaultRule): void;
  clearFaults(): void;
  /** The next request carrying a continue token answers 410 Expired, as after etcd compaction. */
  expireContinue(): void;
  load(): ApiLoad;
  resetLoad(): void;
  stop(): Promise<void>;
}

interface Meta {
  namespace?: string;
  name?: string;
  [key: string]: unknown;
}
type KubeObject = { metadata?: Meta; [key: string]: unknown };

function status(code: number, reason: string, message: string): object {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  410: 'Expired',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
};

export interface KubeApiOptions {
  readonly token?: string;
  /** Serve HTTPS with the PKI's server certificate; the kubeconfig names its CA. */
  readonly tls?: Pki;
  /** The kubeconfig's user: the token itself (default) or an exec credential plugin printing it. */
  readonly user?: 'token' | 'exec';
}

export async function startKubeApi(options: KubeApiOptions = {}): Promise<KubeApi> {
  const token = options.token ?? 'test-token';
  const resources: Resource[] = [...RESOURCES];
  const store = new Map<Kind, Map<string, KubeObject>>(RESOURCES.map((r) => [r.kind, new Map()]));
  const requests: RecordedApiRequest[] = [];
  let faults: FaultRule[] = [];
  let expireNextContinue = false;
  let resourceVersion = 1000;
  let uid = 0;
  /** List snapshots for continue tokens: consistent pages like the real API server. */
  const snapshots = new Map<string, KubeObject[]>();
  let snapshotSeq = 0;
  const hanging = new Set<ServerResponse>();
  let inFlight = 0;
  let openConnections = 0;
  let load = { maxRequestsInFlight: 0, maxConnections: 0, connectionsOpened: 0 };

  const send = (res: ServerResponse, code: number, body: object | string, truncate?: FaultRule['truncate'], acceptEncoding?: string) => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    // Like the real API server: gzip for clients that ask, on answers over 128 KiB.
    const gzip = /\bgzip\b/.test(acceptEncoding ?? '') && text.length > 128 * 1024;
    const bytes = gzip ? gzipSync(text, { level: 4 }) : Buffer.from(text); // the API server's level
    res.writeHead(code, { 'content-type': 'application/json', 'content-length': bytes.length, ...(gzip ? { 'content-encoding': 'gzip' } : {}) });
    if (!truncate) return res.end(bytes);
    // Only once those bytes are out: the client must see a response that breaks off.
    res.write(bytes.subarray(0, truncate.afterBytes), () => {
      if (truncate.then === 'close') res.destroy();
    });
    if (truncate.then === 'hang') hanging.add(res);
  };

  const decorate = (resource: Resource, object: KubeObject): KubeObject => ({
    apiVersion: resource.group ? `${resource.group}/${resource.version}` : resource.version,
    kind: resource.kind,
    ...object,
  });

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const record: RecordedApiRequest = { method: req.method ?? '', path, query: url.searchParams, authorization: req.headers.authorization, headers: req.headers };
    requests.push(record);

    if (req.headers.authorization !== `Bearer ${token}`) {
      return send(res, 401, status(401, 'Unauthorized', 'Unauthorized'));
    }

    const cont = url.searchParams.get('continue') ?? undefined;
    const page = cont ? Number(JSON.parse(Buffer.from(cont, 'base64url').toString()).page ?? 0) : 0;
    const rule = faults.find((f) => (typeof f.path === 'string' ? f.path === path : f.path.test(path)) && (f.afterPages === undefined || page >= f.afterPages));
    if (rule) {
      if (rule.times !== undefined) {
        rule.times--;
        if (rule.times <= 0) faults = faults.filter((f) => f !== rule);
      }
      if (rule.delayMs) await new Promise((r) => setTimeout(r, rule.delayMs));
      if (rule.hang) {
        hanging.add(res);
        return;
      }
      if (rule.rawBody !== undefined) {
        res.writeHead(rule.status ?? 200, { 'content-type': 'application/json' });
        return res.end(rule.rawBody);
      }
      if (rule.status) {
        const reason = rule.reason ?? REASONS[rule.status] ?? 'Unknown';
        return send(res, rule.status, status(rule.status, reason, rule.message ?? `injected ${rule.status}`));
      }
    }

    if (req.method !== 'GET') return send(res, 405, status(405, 'MethodNotAllowed', `${req.method} is not supported`));

    // Discovery of a group version: /apis/GROUP/VERSION lists the resources it serves.
    const discovery = /^\/apis\/([a-z0-9.-]+)\/([a-z0-9]+)$/.exec(path);
    if (discovery) {
      const served = resources.filter((r) => r.group === discovery[1] && r.version === discovery[2]);
      if (served.length === 0) return send(res, 404, status(404, 'NotFound', 'the server could not find the requested resource'));
      return send(res, 200, {
        kind: 'APIResourceList',
        apiVersion: 'v1',
        groupVersion: `${discovery[1]}/${discovery[2]}`,
        resources: served.map((r) => ({ name: r.plural, singularName: r.kind.toLowerCase(), namespaced: !r.clusterScoped, kind: r.kind, verbs: ['get', 'list', 'watch'] })),
      });
    }

    // /api/v1[/namespaces/NS]/PLURAL[/NAME] and /apis/GROUP/VERSION[/namespaces/NS]/PLURAL[/NAME]
    const match = /^\/(?:api\/(v1)|apis\/([a-z0-9.-]+)\/([a-z0-9]+))(?:\/namespaces\/([^/]+))?\/([a-z]+)(?:\/([^/]+))?$/.exec(path);
    const resource = match && resources.find((r) => r.plural === match[5] && r.group === (match[2] ?? '') && r.version === (match[1] ?? match[3]));
    if (!match || !resource || (resource.clusterScoped && match[4] !== undefined)) {
      return send(res, 404, status(404, 'NotFound', `the server could not find the requested resource (${path})`));
    }
    const namespace = match[4];
    const name = match[6];
    const objects = store.get(resource.kind)!;

    if (name !== undefined) {
      const object = namespace ? objects.get(`${namespace}/${name}`) : undefined;
      if (!object) {
        return send(res, 404, {
          ...status(404, 'NotFound', `${resource.plural} "${name}" not found`),
          details: { name, kind: resource.plural },
        });
      }
      return send(res, 200, decorate(resource, object), rule?.truncate);
    }

    const selector = parseLabelSelector(url.searchParams.get('labelSelector') ?? '');
    if (typeof selector === 'string') return send(res, 400, status(400, 'BadRequest', `unable to parse requirement: ${selector}`));
    const resourceVersionParam = url.searchParams.get('resourceVersion');
    if (cont && resourceVersionParam !== null && resourceVersionParam !== '') {
      return send(res, 400, status(400, 'BadRequest', 'specifying resource version is not allowed when using continue'));
    }
    let items: KubeObject[];
    let offset = 0;
    let snapshotId: string;
    if (cont) {
      const parsed = JSON.parse(Buffer.from(cont, 'base64url').toString()) as { id: string; offset: number };
      const snapshot = snapshots.get(parsed.id);
      if (expireNextContinue || !snapshot) {
        expireNextContinue = false;
        return send(
          res,
          410,
          status(
            410,
            'Expired',
            'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.',
          ),
        );
      }
      items = snapshot;
      offset = parsed.offset;
      snapshotId = parsed.id;
    } else {
      items = [...objects.values()]
        .filter((o) => namespace === undefined || o.metadata?.namespace === namespace)
        .filter((o) => selector((o.metadata?.labels ?? {}) as Record<string, string>))
        .sort((a, b) => `${a.metadata?.namespace}/${a.metadata?.name}`.localeCompare(`${b.metadata?.namespace}/${b.metadata?.name}`));
      snapshotId = String(++snapshotSeq);
    }
    // resourceVersion=0 is served from the watch cache, which (1.20) ignores limit: one body.
    const limit = resourceVersionParam === '0' ? 0 : Number(url.searchParams.get('limit') ?? 0);
    const end = limit > 0 ? Math.min(items.length, offset + limit) : items.length;
    const metadata: Record<string, unknown> = { resourceVersion: String(resourceVersion) };
    if (end < items.length) {
      snapshots.set(snapshotId, items);
      metadata.continue = Buffer.from(JSON.stringify({ id: snapshotId, offset: end, page: page + 1 })).toString('base64url');
      metadata.remainingItemCount = items.length - end;
    } else {
      snapshots.delete(snapshotId);
    }
    record.itemsServed = end - offset;
    send(res, 200, {
      kind: `${resource.kind}List`,
      apiVersion: resource.group ? `${resource.group}/${resource.version}` : resource.version,
      metadata,
      items: items.slice(offset, end).map((o) => decorate(resource, o)),
    }, rule?.truncate, req.headers['accept-encoding']);
  };

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    // Counted while being answered (a delay fault included), until the body is sent or the client hung up.
    inFlight++;
    load.maxRequestsInFlight = Math.max(load.maxRequestsInFlight, inFlight);
    let counted = true;
    const done = () => {
      if (counted) inFlight--;
      counted = false;
    };
    res.once('finish', done);
    res.once('close', done);
    handle(req, res).catch((error: unknown) => send(res, 500, status(500, 'InternalError', String(error))));
  };
  const tls = options.tls;
  const server = tls
    ? createHttpsServer({ cert: await readFile(tls.serverCertFile), key: await readFile(tls.serverKeyFile) }, listener)
    : createServer(listener);
  server.on(tls ? 'secureConnection' : 'connection', (socket: import('node:net').Socket) => {
    openConnections++;
    load.connectionsOpened++;
    load.maxConnections = Math.max(load.maxConnections, openConnections);
    socket.once('close', () => openConnections--);
  });
  const url = `${tls ? 'https' : 'http'}://${await listenLoopback(server)}`;

  const dir = await makeTempDir('kube-api');
  const kubeconfigPath = join(dir, 'kubeconfig');
  // client-node 1.x refuses plain http unless the cluster skips TLS verification.
  const cluster = tls ? `certificate-authority: "${tls.caCertFile}"` : 'insecure-skip-tls-verify: true';
  const credential = JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { token } });
  const user =
    options.user === 'exec'
      ? `exec: { apiVersion: client.authentication.k8s.io/v1, command: /bin/sh, args: [-c, ${JSON.stringify(`printf '%s' '${credential}'`)}] }`
      : `token: "${token}"`;
  await writeFile(
    kubeconfigPath,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      `- name: loopback`,
      `  cluster: { server: "${url}", ${cluster} }`,
      'users:',
      `- name: tester`,
      `  user: { ${user} }`,
      'contexts:',
      '- name: loopback',
      '  context: { cluster: loopback, user: tester }',
      'current-context: loopback',
      '',
    ].join('\n'),
  );

  const keyOf = (object: KubeObject) => `${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;
  const withMeta = (object: KubeObject): KubeObject => ({
    ...object,
    metadata: { uid: `uid-${++uid}`, resourceVersion: String(++resourceVersion), ...object.metadata },
  });

  return {
    url,
    kubeconfigPath,
    requests,
    defineResource(resource) {
      resources.push(resource);
      store.set(resource.kind, new Map());
    },
    set(kind, list) {
      const objects = store.get(kind)!;
      objects.clear();
      for (const object of list as KubeObject[]) objects.set(keyOf(object), withMeta(object));
    },
    add(kind, object) {
      store.get(kind)!.set(keyOf(object as KubeObject), withMeta(object as KubeObject));
    },
    remove(kind, namespace, name) {
      store.get(kind)!.delete(`${namespace}/${name}`);
      resourceVersion++;
    },
    fault(rule) {
      faults.push({ ...rule });
    },
    clearFaults() {
      faults = [];
    },
    expireContinue() {
      expireNextContinue = true;
    },
    load: () => ({ ...load }),
    resetLoad() {
      load = { maxRequestsInFlight: inFlight, maxConnections: openConnections, connectionsOpened: 0 };
    },
    async stop() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      server.close();
      await once(server, 'close').catch(() => undefined);
    },
  };
}

/**
 * A label selector as the API server parses it (k8s.io/apimachinery/pkg/labels): requirements joined
 * by commas, each `key`, `!key`, `key=v`, `key==v`, `key!=v`, `key in (a,b)` or `key notin (a,b)`.
 * `!=` and `notin` match objects without the label, as on a real server. A string: why it is invalid.
 */
export function parseLabelSelector(text: string): ((labels: Record<string, string>) => boolean) | string {
  const requirements: Array<(labels: Record<string, string>) => boolean> = [];
  // Split on commas outside parentheses.
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')') depth--;
    else if (text[i] === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  const key = String.raw`((?:[a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)`;
  const value = String.raw`((?:[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?)`;
  for (const raw of parts) {
    const part = raw.trim();
    if (part === '' && parts.length === 1) break;
    let m: RegExpExecArray | null;
    if ((m = new RegExp(`^!\\s*${key}$`).exec(part))) {
      const k = m[1] as string;
      requirements.push((labels) => !Object.hasOwn(labels, k));
    } else if ((m = new RegExp(`^${key}$`).exec(part))) {
      const k = m[1] as string;
      requirements.push((labels) => Object.hasOwn(labels, k));
    } else if ((m = new RegExp(`^${key}\\s*(==|=|!=)\\s*${value}$`).exec(part))) {
      const [k, op, v] = [m[1] as string, m[4] as string, m[5] as string];
      requirements.push(op === '!=' ? (labels) => labels[k] !== v : (labels) => Object.hasOwn(labels, k) && labels[k] === v);
    } else if ((m = new RegExp(`^${key}\\s+(in|notin)\\s*\\(([^()]*)\\)$`).exec(part))) {
      const [k, op] = [m[1] as string, m[4] as string];
      const values = (m[5] as string).split(',').map((v) => v.trim());
      if (values.some((v) => !new RegExp(`^${value}$`).test(v))) return part;
      const set = new Set(values);
      requirements.push(op === 'in' ? (labels) => Object.hasOwn(labels, k) && set.has(labels[k] as string) : (labels) => !Object.hasOwn(labels, k) || !set.has(labels[k] as string));
    } else {
      return part;
    }
  }
  return (labels) => requirements.every((r) => r(labels));
}
