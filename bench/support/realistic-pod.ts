/**
 * A Pod as a cluster holds it (~17 KB of JSON as served): the pod template of a realistic
 * Deployment (test/support/objects.ts) made into a pod by its ReplicaSet — labels with
 * `pod-template-hash`, the controller ownerReference, the service-account token volume, default
 * tolerations, a node — and the kubelet's status (conditions, container statuses), with the
 * managedFields of both writers. Without `owner` it is a bare pod (`kubectl run`).
 */
import { realisticDeployment, type ContainerInput } from '../../test/support/objects.js';

export interface PodInput {
  readonly containers: readonly ContainerInput[];
  /** The ReplicaSet's name and hash; none: a bare pod. */
  readonly owner?: { readonly replicaSet: string; readonly hash: string };
}

const TIME = '2026-01-01T00:00:00Z';

/** managedFields mirror an object's field paths, as the server records them (f:… keys). */
function fields(value: unknown): unknown {
  if (Array.isArray(value)) return Object.fromEntries(value.map((v, i) => [`k:{"name":"${(v as { name?: string }).name ?? i}"}`, fields(v)]));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [`f:${k}`, fields(v)]));
  return {};
}

export function realisticPod(namespace: string, name: string, input: PodInput, seq = 0) {
  const template = realisticDeployment(namespace, name, { containers: input.containers }).spec.template;
  const labels: Record<string, string> = { ...template.metadata.labels, ...(input.owner ? { 'pod-template-hash': input.owner.hash } : { run: name }) };
  const token = `kube-api-access-${String(seq % 100_000).padStart(5, '0')}`;
  const spec = {
    ...template.spec,
    volumes: [
      ...template.spec.volumes,
      {
        name: token,
        projected: {
          defaultMode: 420,
          sources: [
            { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
            { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
            { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
          ],
        },
      },
    ],
    containers: template.spec.containers.map((c) => ({ ...c, volumeMounts: [...c.volumeMounts, { name: token, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }] })),
    serviceAccountName: 'default',
    serviceAccount: 'default',
    nodeName: `node-${seq % 50}`,
    enableServiceLinks: true,
    preemptionPolicy: 'PreemptLowerPriority',
    priority: 0,
    tolerations: [
      { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    ],
  };
  const ip = `10.${(seq >> 16) & 255}.${(seq >> 8) & 255}.${seq & 255}`;
  const status = {
    phase: 'Running',
    conditions: ['Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => ({ type, status: 'True', lastProbeTime: null, lastTransitionTime: TIME })),
    hostIP: `192.168.${(seq >> 8) & 255}.${seq & 255}`,
    podIP: ip,
    podIPs: [{ ip }],
    startTime: TIME,
    containerStatuses: input.containers.map((c, i) => ({
      name: c.name,
      state: { running: { startedAt: TIME } },
      lastState: {},
      ready: true,
      restartCount: 0,
      image: c.image,
      imageID: `${c.image.replace(/:[^:/]*$/, '')}@sha256:${(seq * 31 + i).toString(16).padStart(64, '0')}`,
      containerID: `containerd://${(seq * 17 + i).toString(16).padStart(64, '0')}`,
      started: true,
    })),
    qosClass: 'Burstable',
  };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace,
      ...(input.owner ? { generateName: `${input.owner.replicaSet}-` } : {}),
      labels,
      annotations: { ...template.metadata.annotations, 'kubectl.kubernetes.io/restartedAt': TIME },
      ...(input.owner
        ? {
            ownerReferences: [
              {
                apiVersion: 'apps/v1',
                kind: 'ReplicaSet',
                name: input.owner.replicaSet,
                uid: `7a1c${String(seq).padStart(4, '0')}-2b3c-4d5e-9f0a-${String(seq).padStart(12, '0')}`,
                controller: true,
                blockOwnerDeletion: true,
              },
            ],
          }
        : {}),
      managedFields: [
        { manager: 'kube-controller-manager', operation: 'Update', apiVersion: 'v1', time: TIME, fieldsType: 'FieldsV1', fieldsV1: { 'f:metadata': fields({ generateName: '', labels, ownerReferences: {} }), 'f:spec': fields(spec) } },
        { manager: 'kubelet', operation: 'Update', apiVersion: 'v1', time: TIME, fieldsType: 'FieldsV1', fieldsV1: { 'f:status': fields(status) } },
      ],
    },
    spec,
    status,
  };
}
