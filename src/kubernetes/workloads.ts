/**
 * Lists the workloads: the four kinds of the original contract, Jobs and Pods that no controller
 * owns, and custom resources with a pod template (--workload-resource), in all namespaces or in
 * one, paginated; each object is reduced to what the exporter needs as it is read: its pod
 * template's images, pull-secret references, placement, and whether it runs pods now.
 */
import type { KubeConfig, V1PodSpec } from '@kubernetes/client-node';
import { NO_PLACEMENT, placementKey, placementOf, type Placement } from '../platform/placement.js';
import { isRecord } from '../utils/untrusted.js';
import { ListReader } from './list-reader.js';

/** The kinds of the original contract: their metrics and alerts are the public interface. */
export const OWNER_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'CronJob'] as const;
export type OwnerKind = (typeof OWNER_KINDS)[number];
/** Every kind built in; `--workload-kinds` chooses among them (all by default). */
export const BUILTIN_KINDS = [...OWNER_KINDS, 'Job', 'Pod'] as const;
export type BuiltinKind = (typeof BUILTIN_KINDS)[number];

export interface ContainerImage {
  readonly name: string;
  /** As written in the spec (may be empty or malformed: checked later, reported as bad_reference). */
  readonly image: string;
  readonly init: boolean;
}

export interface Workload {
  /** A built-in kind or a custom resource's kind when listed from a cluster; any kind with a pod template when read from manifests. */
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly containers: readonly ContainerImage[];
  readonly imagePullSecrets: readonly string[];
  readonly serviceAccountName: string;
  /** Where its pods may be scheduled (node selector, required node affinity, tolerations). */
  readonly placement: Placement;
  /** placementKey(placement): '' when the template says nothing about it. */
  readonly placementKey: string;
  /** Runs (or would run) pods now: not scaled to zero, suspended, finished or scheduled nowhere. */
  readonly active: boolean;
}

/** A custom resource with a pod template, from --workload-resource GROUP/VERSION/RESOURCE[:FIELD.PATH]. */
export interface CustomResource {
  readonly group: string;
  readonly version: string;
  /** Plural resource name, as in the URL. */
  readonly resource: string;
  /** Where the pod template (with its `spec`) is in an object. */
  readonly templatePath: readonly string[];
}

/** A listed kind's id: the kind for a built-in one, `group/version/resource` for a custom one. */
export type SourceId = string;

/** The kinds --workload-kinds names, in any case: de-duplicated. Throws the problem, for the flag's error. */
export function parseWorkloadKinds(names: readonly string[]): BuiltinKind[] {
  const kinds = names.map((name) => {
    const kind = BUILTIN_KINDS.find((k) => k.toLowerCase() === name.toLowerCase());
    if (!kind) throw new Error(`unknown kind ${JSON.stringify(name.slice(0, 100))} (kinds: ${BUILTIN_KINDS.join(', ')}; custom resources: --workload-resource)`);
    return kind;
  });
  return [...new Set(kinds)];
}

/** GROUP/VERSION/RESOURCE[:FIELD.PATH], e.g. argoproj.io/v1alpha1/rollouts or apps.kruise.io/v1alpha1/clonesets:spec.template. Throws the problem, for the flag's error. */
export function parseWorkloadResource(value: string): CustomResource {
  const match = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)\/([a-z0-9]+)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)(?::(.*))?$/.exec(value.trim());
  if (!match) throw new Error(`expected GROUP/VERSION/RESOURCE[:FIELD.PATH] in lower case, e.g. argoproj.io/v1alpha1/rollouts, got ${JSON.stringify(value.slice(0, 200))}`);
  const path = (match[6] ?? 'spec.template').split('.');
  if (path.some((key) => !/^[A-Za-z0-9_-]+$/.test(key))) throw new Error(`FIELD.PATH must be dot-separated field names, got ${JSON.stringify(match[6]?.slice(0, 200))}`);
  return { group: match[1] as string, version: match[3] as string, resource: match[4] as string, templatePath: path };
}

export function customSourceId(custom: CustomResource): SourceId {
  return `${custom.group}/${custom.version}/${custom.resource}`;
}

/**
 * The parts of a workload object read here, as the API server's JSON has them (V1PodSpec's field
 * names are the JSON's for every field read; it is only a type, nothing is converted).
 */
export interface WorkloadObject {
  kind?: unknown;
  metadata?: { namespace?: string; name?: string; generateName?: string; ownerReferences?: unknown };
  spec?: {
    replicas?: unknown;
    suspend?: unknown;
    template?: { spec?: V1PodSpec };
    jobTemplate?: { spec?: { template?: { spec?: V1PodSpec } } };
  } & Record<string, unknown>;
  status?: { phase?: unknown; desiredNumberScheduled?: unknown; conditions?: unknown };
}

/**
 * Labels the built-in controllers put on every pod they make: a Deployment's ReplicaSets
 * `pod-template-hash`, StatefulSets and DaemonSets `controller-revision-hash`, Jobs `job-name` and
 * `controller-uid` (and, since 1.27, the same under `batch.kubernetes.io/`).
 */
export const CONTROLLER_POD_LABELS = [
  'pod-template-hash',
  'controller-revision-hash',
  'job-name',
  'controller-uid',
  'batch.kubernetes.io/job-name',
  'batch.kubernetes.io/controller-uid',
] as const;

/**
 * The Pod list asks the API server for the pods without any of those labels, from its watch cache:
 * in a cluster where nearly every pod belongs to a controller, the server filters tens of thousands
 * of pods in memory and sends the few others, instead of reading all of them from etcd and sending
 * ~17 KB each for the exporter to parse and drop. The ownerReferences check below still decides
 * for what comes back (pods of operators, of bare ReplicaSets). What this misses: a pod that carries
 * such a label but no controller, e.g. one orphaned by `kubectl delete rs --cascade=orphan`.
 */
export const BARE_POD_SELECTOR = CONTROLLER_POD_LABELS.map((label) => `!${label}`).join(',');

/** How one kind is listed and read. */
interface Source {
  /** `/api/v1` or `/apis/GROUP/VERSION`. */
  readonly prefix: string;
  readonly resource: string;
  /** A labelSelector the server filters by (what the kind's own check would drop anyway). */
  readonly labelSelector?: string;
  /** See ListOptions.fromWatchCache: for lists the selector keeps small. */
  readonly fromWatchCache?: boolean;
  readonly podSpec: (object: WorkloadObject) => V1PodSpec | undefined;
  /** See Workload.active. */
  readonly active: (object: WorkloadObject) => boolean;
  /** Reported through another listed workload (its controller), so not on its own. */
  readonly ownedElsewhere?: (object: WorkloadObject, listedKinds: ReadonlySet<string>) => boolean;
}

const templateSpec = (o: WorkloadObject) => o.spec?.template?.spec;
/** replicas: 0 is scaled down; a missing replicas field means 1. */
const scaled = (o: WorkloadObject) => o.spec?.replicas !== 0;

const BUILTIN_SOURCES: Record<BuiltinKind, Source> = {
  Deployment: { prefix: '/apis/apps/v1', resource: 'deployments', podSpec: templateSpec, active: scaled },
  StatefulSet: { prefix: '/apis/apps/v1', resource: 'statefulsets', podSpec: templateSpec, active: scaled },
  // A DaemonSet whose nodes match none schedules no pod; one without a status yet may.
  DaemonSet: { prefix: '/apis/apps/v1', resource: 'daemonsets', podSpec: templateSpec, active: (o) => o.status?.desiredNumberScheduled !== 0 },
  CronJob: { prefix: '/apis/batch/v1', resource: 'cronjobs', podSpec: (o) => o.spec?.jobTemplate?.spec?.template?.spec, active: (o) => o.spec?.suspend !== true },
  Job: {
    prefix: '/apis/batch/v1',
    resource: 'jobs',
    podSpec: templateSpec,
    active: (o) => o.spec?.suspend !== true && !finished(o),
    // A CronJob's Jobs are its pods' template again; so are those of a listed custom kind.
    ownedElsewhere: (o, listed) => { const owner = controllerKind(o); return owner === 'CronJob' || (owner !== undefined && listed.has(owner)); },
  },
  Pod: {
    prefix: '/api/v1',
    resource: 'pods',
    labelSelector: BARE_POD_SELECTOR,
    fromWatchCache: true,
    podSpec: (o) => o.spec as unknown as V1PodSpec | undefined,
    active: (o) => o.status?.phase !== 'Succeeded' && o.status?.phase !== 'Failed',
    // Any controller (ReplicaSet, Job, StatefulSet, DaemonSet, an operator) reports or recreates it.
    ownedElsewhere: (o) => controllerKind(o) !== undefined,
  },
};

/** A Job whose Complete or Failed condition is true runs no more pods. */
function finished(object: WorkloadObject): boolean {
  const conditions = Array.isArray(object.status?.conditions) ? object.status.conditions : [];
  return conditions.some((c: unknown) => isRecord(c) && (c['type'] === 'Complete' || c['type'] === 'Failed') && c['status'] === 'True');
}

/** The kind of the object's controller (the ownerReference with `controller: true`), if any. */
function controllerKind(object: WorkloadObject): string | undefined {
  const owners = object.metadata?.ownerReferences;
  if (!Array.isArray(owners)) return undefined;
  const controller = owners.find((o: unknown) => isRecord(o) && o['controller'] === true) as Record<string, unknown> | undefined;
  return controller ? String(controller['kind'] ?? '') : undefined;
}

/** A custom resource's objects: the pod template at its path, active unless scaled to zero. */
function customSource(custom: CustomResource): Source {
  return {
    prefix: `/apis/${custom.group}/${custom.version}`,
    resource: custom.resource,
    podSpec: (o) => {
      let at: unknown = o;
      for (const key of custom.templatePath) at = isRecord(at) && Object.hasOwn(at, key) ? at[key] : undefined;
      return isRecord(at) && isRecord(at['spec']) ? (at['spec'] as unknown as V1PodSpec) : undefined;
    },
    active: scaled,
  };
}

/** The API server does not serve a --workload-resource (its CRD is not installed, or the name is wrong). */
export class NotServedError extends Error {
  override readonly name = 'NotServedError';
}

interface ApiResourceList {
  resources?: Array<{ name?: unknown; kind?: unknown }>;
}

export interface WorkloadListerOptions {
  readonly pageSize: number;
  readonly requestTimeoutMs: number;
  readonly customResources?: readonly CustomResource[];
}

export class WorkloadLister {
  private readonly reader: ListReader;
  private readonly custom = new Map<SourceId, { readonly resource: CustomResource; kind?: string }>();

  constructor(kubeConfig: KubeConfig, options: WorkloadListerOptions) {
    this.reader = new ListReader(kubeConfig, options);
    for (const resource of options.customResources ?? []) this.custom.set(customSourceId(resource), { resource });
  }

  /** The kind label of a source: a custom resource's kind once discovery named it, its id until then. */
  kindOf(source: SourceId): string {
    return this.custom.get(source)?.kind ?? source;
  }

  /**
   * Lists one kind in all namespaces, or in one; rejects with the API error (or NotServedError)
   * when the list cannot be completed.
   */
  async list(source: SourceId, namespace?: string): Promise<Workload[]> {
    const custom = this.custom.get(source);
    const from = custom ? customSource(custom.resource) : BUILTIN_SOURCES[source as BuiltinKind];
    if (!from) throw new Error(`unknown workload source ${source}`);
    const kind = custom ? await this.discover(source) : source;
    const listed = from.ownedElsewhere ? await this.customKinds() : new Set<string>();
    const query = from.labelSelector === undefined ? '' : `?labelSelector=${encodeURIComponent(from.labelSelector)}`;
    const path = `${from.prefix}${namespace === undefined ? '' : `/namespaces/${encodeURIComponent(namespace)}`}/${from.resource}${query}`;
    return this.reader.list(
      path,
      (object: WorkloadObject) => (from.ownedElsewhere?.(object, listed) ? undefined : toWorkload(kind, object, from.podSpec(object), from.active(object))),
      { fromWatchCache: from.fromWatchCache },
    );
  }

  /** The kinds of the custom resources the API server serves (what owns a Job may be one of them). */
  private async customKinds(): Promise<Set<string>> {
    const kinds = await Promise.all([...this.custom.keys()].map((source) => this.discover(source).catch(() => undefined)));
    return new Set(kinds.filter((kind): kind is string => kind !== undefined));
  }

  /** A custom resource's kind, from API discovery (once: kinds do not change). */
  private async discover(source: SourceId): Promise<string> {
    const entry = this.custom.get(source)!;
    if (entry.kind) return entry.kind;
    const { group, version, resource } = entry.resource;
    let found: string | undefined;
    try {
      const list = await this.reader.document<ApiResourceList>(`/apis/${group}/${version}`);
      const kind = (list.resources ?? []).find((r) => r.name === resource)?.kind;
      found = typeof kind === 'string' && kind !== '' ? kind : undefined;
    } catch (error) {
      if ((error as { code?: unknown }).code !== 404) throw error;
    }
    if (!found) throw new NotServedError(`the API server does not serve ${resource} in ${group}/${version} (is its CustomResourceDefinition installed?)`);
    entry.kind = found;
    return found;
  }
}

/** A workload of this kind whose pods are made from `spec` (the object gives its namespace and name). */
export function toWorkload(kind: string, object: WorkloadObject, spec: V1PodSpec | undefined, active = true): Workload {
  const containers: ContainerImage[] = [];
  for (const c of spec?.initContainers ?? []) containers.push({ name: c.name ?? '', image: c.image ?? '', init: true });
  for (const c of spec?.containers ?? []) containers.push({ name: c.name ?? '', image: c.image ?? '', init: false });
  const placement = placementOf(spec);
  const key = placementKey(placement);
  return {
    kind,
    namespace: object.metadata?.namespace ?? '',
    // A manifest may name an object only by the prefix the API server completes (kubectl create):
    // the prefix says which object it is; a blank says nothing.
    name: object.metadata?.name || object.metadata?.generateName || '',
    containers,
    imagePullSecrets: (spec?.imagePullSecrets ?? []).map((s) => s.name ?? '').filter((n) => n !== ''),
    serviceAccountName: spec?.serviceAccountName || 'default',
    // Most templates say nothing about placement: they share one object.
    placement: key === '' ? NO_PLACEMENT : placement,
    placementKey: key,
    active,
  };
}

/**
 * The new listing, with each workload that did not change replaced by the object that stood for it
 * in the previous listing. Identity then means "unchanged": what is derived from a workload (its
 * check plans, the text of its series) is kept from one listing to the next instead of being made
 * anew for every object of every list.
 */
export function keepUnchanged(previous: readonly Workload[], next: Workload[]): Workload[] {
  const byName = new Map<string, Workload>();
  for (const workload of previous) byName.set(`${workload.namespace}/${workload.name}`, workload);
  for (let i = 0; i < next.length; i++) {
    const workload = next[i] as Workload;
    const before = byName.get(`${workload.namespace}/${workload.name}`);
    if (before && sameWorkload(before, workload)) next[i] = before;
  }
  return next;
}

function sameWorkload(a: Workload, b: Workload): boolean {
  return (
    a.kind === b.kind &&
    a.active === b.active &&
    a.serviceAccountName === b.serviceAccountName &&
    a.placementKey === b.placementKey &&
    a.containers.length === b.containers.length &&
    a.containers.every((c, i) => {
      const d = b.containers[i] as ContainerImage;
      return c.name === d.name && c.image === d.image && c.init === d.init;
    }) &&
    a.imagePullSecrets.length === b.imagePullSecrets.length &&
    a.imagePullSecrets.every((name, i) => name === b.imagePullSecrets[i])
  );
}
