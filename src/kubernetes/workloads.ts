/**
 * Lists the four workload kinds in all namespaces, paginated, and reduces each object to what the
 * exporter needs: its pod template's images and pull-secret references.
 */
import { AppsV1Api, BatchV1Api, type KubeConfig, type V1PodSpec } from '@kubernetes/client-node';
import { apiStatus, withTimeout } from './api.js';

export const OWNER_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'CronJob'] as const;
export type OwnerKind = (typeof OWNER_KINDS)[number];

export interface ContainerImage {
  readonly name: string;
  /** As written in the spec (may be empty or malformed: checked later, reported as bad_reference). */
  readonly image: string;
  readonly init: boolean;
}

export interface Workload {
  readonly kind: OwnerKind;
  readonly namespace: string;
  readonly name: string;
  readonly containers: readonly ContainerImage[];
  readonly imagePullSecrets: readonly string[];
  readonly serviceAccountName: string;
}

interface ListPage<T> {
  metadata?: { _continue?: string };
  items: T[];
}
type Page = { limit: number; _continue?: string };

interface MinimalObject {
  metadata?: { namespace?: string; name?: string };
}

export interface WorkloadListerOptions {
  readonly pageSize: number;
  readonly requestTimeoutMs: number;
}

export class WorkloadLister {
  private readonly apps: AppsV1Api;
  private readonly batch: BatchV1Api;

  constructor(
    kubeConfig: KubeConfig,
    private readonly options: WorkloadListerOptions,
  ) {
    this.apps = kubeConfig.makeApiClient(AppsV1Api);
    this.batch = kubeConfig.makeApiClient(BatchV1Api);
  }

  /** Lists one kind in all namespaces; rejects with the API error when the list cannot be completed. */
  async list(kind: OwnerKind): Promise<Workload[]> {
    const call = withTimeout(this.options.requestTimeoutMs);
    switch (kind) {
      case 'Deployment':
        return this.paginate(kind, (p) => this.apps.listDeploymentForAllNamespaces(p, call), (o) => o.spec?.template?.spec);
      case 'StatefulSet':
        return this.paginate(kind, (p) => this.apps.listStatefulSetForAllNamespaces(p, call), (o) => o.spec?.template?.spec);
      case 'DaemonSet':
        return this.paginate(kind, (p) => this.apps.listDaemonSetForAllNamespaces(p, call), (o) => o.spec?.template?.spec);
      case 'CronJob':
        return this.paginate(
          kind,
          (p) => this.batch.listCronJobForAllNamespaces(p, call),
          (o) => o.spec?.jobTemplate?.spec?.template?.spec,
        );
    }
  }

  private async paginate<T extends MinimalObject>(
    kind: OwnerKind,
    fetchPage: (page: Page) => Promise<ListPage<T>>,
    podSpec: (object: T) => V1PodSpec | undefined,
  ): Promise<Workload[]> {
    // A continue token can expire mid-list (410 Gone): start over once, as kubectl does.
    for (let attempt = 0; ; attempt++) {
      const workloads: Workload[] = [];
      let token: string | undefined;
      try {
        do {
          const page = await fetchPage({ limit: this.options.pageSize, _continue: token });
          for (const object of page.items ?? []) workloads.push(toWorkload(kind, object, podSpec(object)));
          token = page.metadata?._continue || undefined;
        } while (token);
        return workloads;
      } catch (error) {
        if (apiStatus(error) === 410 && token !== undefined && attempt < 2) continue;
        throw error;
      }
    }
  }
}

function toWorkload(kind: OwnerKind, object: MinimalObject, spec: V1PodSpec | undefined): Workload {
  const containers: ContainerImage[] = [];
  for (const c of spec?.initContainers ?? []) containers.push({ name: c.name ?? '', image: c.image ?? '', init: true });
  for (const c of spec?.containers ?? []) containers.push({ name: c.name ?? '', image: c.image ?? '', init: false });
  return {
    kind,
    namespace: object.metadata?.namespace ?? '',
    name: object.metadata?.name ?? '',
    containers,
    imagePullSecrets: (spec?.imagePullSecrets ?? []).map((s) => s.name ?? '').filter((n) => n !== ''),
    serviceAccountName: spec?.serviceAccountName || 'default',
  };
}
