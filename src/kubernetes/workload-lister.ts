/**
 * Lists the workloads from an API server: the four kinds of the original contract, Jobs and Pods
 * that no controller owns, and custom resources with a pod template or images elsewhere
 * (--workload-resource), in all namespaces or in one, paginated; each object is reduced by
 * toWorkload (workloads.ts) as it is read.
 */
import type { KubeConfig, V1PodSpec } from '@kubernetes/client-node';
import { isRecord } from '../utils/untrusted.js';
import { imagesAt, type FoundImage } from './field-paths.js';
import { ListReader } from './list-reader.js';
import { customSourceId, templateAt, toWorkload, type BuiltinKind, type CustomResource, type PodTemplate, type SourceId, type Workload, type WorkloadObject } from './workloads.js';

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
  /** The pod template its pods are made from (a Pod is its own, without metadata of its own). */
  readonly template: (object: WorkloadObject) => PodTemplate | undefined;
  /** Images outside the pod template (a custom resource's image paths). */
  readonly moreImages?: (object: WorkloadObject) => readonly FoundImage[];
  /** See Workload.active. */
  readonly active: (object: WorkloadObject) => boolean;
  /** Reported through another listed workload (its controller), so not on its own. */
  readonly ownedElsewhere?: (object: WorkloadObject, listedKinds: ReadonlySet<string>) => boolean;
}

const specTemplate = (o: WorkloadObject) => o.spec?.template;
/** replicas: 0 is scaled down; a missing replicas field means 1. */
const scaled = (o: WorkloadObject) => o.spec?.replicas !== 0;

const BUILTIN_SOURCES: Record<BuiltinKind, Source> = {
  Deployment: { prefix: '/apis/apps/v1', resource: 'deployments', template: specTemplate, active: scaled },
  StatefulSet: { prefix: '/apis/apps/v1', resource: 'statefulsets', template: specTemplate, active: scaled },
  // A DaemonSet whose nodes match none schedules no pod; one without a status yet may.
  DaemonSet: { prefix: '/apis/apps/v1', resource: 'daemonsets', template: specTemplate, active: (o) => o.status?.desiredNumberScheduled !== 0 },
  CronJob: { prefix: '/apis/batch/v1', resource: 'cronjobs', template: (o) => o.spec?.jobTemplate?.spec?.template, active: (o) => o.spec?.suspend !== true },
  Job: {
    prefix: '/apis/batch/v1',
    resource: 'jobs',
    template: specTemplate,
    active: (o) => o.spec?.suspend !== true && !finished(o),
    // A CronJob's Jobs are its pods' template again; so are those of a listed custom kind.
    ownedElsewhere: (o, listed) => { const owner = controllerKind(o); return owner === 'CronJob' || (owner !== undefined && listed.has(owner)); },
  },
  Pod: {
    prefix: '/api/v1',
    resource: 'pods',
    labelSelector: BARE_POD_SELECTOR,
    fromWatchCache: true,
    template: (o) => ({ spec: o.spec as unknown as V1PodSpec | undefined }),
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

/** A custom resource's objects: the pod template at its path and the images at its image paths, active unless scaled to zero. */
function customSource(custom: CustomResource): Source {
  const { templatePath, imagePaths } = custom;
  return {
    prefix: `/apis/${custom.group}/${custom.version}`,
    resource: custom.resource,
    template: (o) => (templatePath ? (templateAt(o, templatePath) as PodTemplate | undefined) : undefined),
    moreImages: imagePaths.length > 0 ? (o) => imagesAt(o, imagePaths) : undefined,
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

/**
 * The listed source an API resource is, as an AdmissionReview names it (`apps`, `deployments`):
 * a built-in kind (any version: a CronJob of batch/v1beta1 has the template where batch/v1 has it),
 * or the custom resource of that group, version and resource; undefined for anything else.
 */
export function sourceOfResource(
  resource: { readonly group: string; readonly version: string; readonly resource: string },
  customResources: readonly CustomResource[],
): { readonly source: SourceId; readonly builtin?: BuiltinKind; readonly custom?: CustomResource } | undefined {
  const custom = customResources.find((c) => c.group === resource.group && c.version === resource.version && c.resource === resource.resource);
  if (custom) return { source: customSourceId(custom), custom };
  for (const [kind, from] of Object.entries(BUILTIN_SOURCES) as Array<[BuiltinKind, Source]>) {
    const group = from.prefix === '/api/v1' ? '' : (from.prefix.split('/')[2] as string);
    if (group === resource.group && from.resource === resource.resource) return { source: kind, builtin: kind };
  }
  return undefined;
}

/**
 * One object reduced as a listing of its source reduces it (an admission review's object); undefined
 * when its controller is reported instead (a ReplicaSet's Pod, a CronJob's Job). `listedKinds`: the
 * custom kinds listed, which may own Jobs. Throws on an object not shaped like its kind.
 */
export function workloadOf(kind: string, source: { readonly builtin?: BuiltinKind; readonly custom?: CustomResource }, object: WorkloadObject, listedKinds: ReadonlySet<string>): Workload | undefined {
  const from = source.custom ? customSource(source.custom) : BUILTIN_SOURCES[source.builtin as BuiltinKind];
  if (from.ownedElsewhere?.(object, listedKinds)) return undefined;
  const template = from.template(object);
  return toWorkload(kind, object, template?.spec, { active: from.active(object), templateMetadata: template?.metadata, moreImages: from.moreImages?.(object) });
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
      (object: WorkloadObject) => {
        if (from.ownedElsewhere?.(object, listed)) return undefined;
        const template = from.template(object);
        return toWorkload(kind, object, template?.spec, { active: from.active(object), templateMetadata: template?.metadata, moreImages: from.moreImages?.(object) });
      },
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
