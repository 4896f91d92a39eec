/**
 * Lists the four workload kinds in all namespaces, paginated, and reduces each object to what the
 * exporter needs as it is read: its pod template's images, pull-secret references and placement.
 */
import type { KubeConfig, V1PodSpec } from '@kubernetes/client-node';
import { NO_PLACEMENT, placementKey, placementOf, type Placement } from '../platform/placement.js';
import { ListReader } from './list-reader.js';

export const OWNER_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'CronJob'] as const;
export type OwnerKind = (typeof OWNER_KINDS)[number];

export interface ContainerImage {
  readonly name: string;
  /** As written in the spec (may be empty or malformed: checked later, reported as bad_reference). */
  readonly image: string;
  readonly init: boolean;
}

export interface Workload {
  /** One of OWNER_KINDS when listed from a cluster; any kind with a pod template when read from manifests. */
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
}

/**
 * The parts of a workload object read here, as the API server's JSON has them (V1PodSpec's field
 * names are the JSON's for every field read; it is only a type, nothing is converted).
 */
export interface WorkloadObject {
  metadata?: { namespace?: string; name?: string };
  spec?: {
    template?: { spec?: V1PodSpec };
    jobTemplate?: { spec?: { template?: { spec?: V1PodSpec } } };
  };
}

/** Where each kind is listed, and where its pod template is. */
const SOURCES: Record<OwnerKind, { path: string; podSpec: (object: WorkloadObject) => V1PodSpec | undefined }> = {
  Deployment: { path: '/apis/apps/v1/deployments', podSpec: (o) => o.spec?.template?.spec },
  StatefulSet: { path: '/apis/apps/v1/statefulsets', podSpec: (o) => o.spec?.template?.spec },
  DaemonSet: { path: '/apis/apps/v1/daemonsets', podSpec: (o) => o.spec?.template?.spec },
  CronJob: { path: '/apis/batch/v1/cronjobs', podSpec: (o) => o.spec?.jobTemplate?.spec?.template?.spec },
};

export interface WorkloadListerOptions {
  readonly pageSize: number;
  readonly requestTimeoutMs: number;
}

export class WorkloadLister {
  private readonly reader: ListReader;

  constructor(kubeConfig: KubeConfig, options: WorkloadListerOptions) {
    this.reader = new ListReader(kubeConfig, options);
  }

  /** Lists one kind in all namespaces; rejects with the API error when the list cannot be completed. */
  async list(kind: OwnerKind): Promise<Workload[]> {
    const { path, podSpec } = SOURCES[kind];
    return this.reader.list(path, (object: WorkloadObject) => toWorkload(kind, object, podSpec(object)));
  }
}

/** A workload of this kind whose pods are made from `spec` (the object gives its namespace and name). */
export function toWorkload(kind: string, object: WorkloadObject, spec: V1PodSpec | undefined): Workload {
  const containers: ContainerImage[] = [];
  for (const c of spec?.initContainers ?? []) containers.push({ name: c.name ?? '', image: c.image ?? '', init: true });
  for (const c of spec?.containers ?? []) containers.push({ name: c.name ?? '', image: c.image ?? '', init: false });
  const placement = placementOf(spec);
  const key = placementKey(placement);
  return {
    kind,
    namespace: object.metadata?.namespace ?? '',
    name: object.metadata?.name ?? '',
    containers,
    imagePullSecrets: (spec?.imagePullSecrets ?? []).map((s) => s.name ?? '').filter((n) => n !== ''),
    serviceAccountName: spec?.serviceAccountName || 'default',
    // Most templates say nothing about placement: they share one object.
    placement: key === '' ? NO_PLACEMENT : placement,
    placementKey: key,
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
