/** Builders for realistic Kubernetes objects served by the loopback API server. */
import type { V1Volume } from '@kubernetes/client-node';

export interface ContainerInput {
  readonly name: string;
  readonly image: string;
}

export interface PodTemplateInput {
  readonly containers: readonly ContainerInput[];
  readonly initContainers?: readonly ContainerInput[];
  readonly imagePullSecrets?: readonly string[];
  readonly serviceAccountName?: string;
  /** Pod spec fields of placement, as written in a manifest (nodeSelector, affinity, tolerations). */
  readonly placement?: { nodeSelector?: Record<string, string>; affinity?: object; tolerations?: object[] };
  /** Pod volumes as the API server returns them (image volumes: `{ name, image: { reference, pullPolicy } }`). */
  readonly volumes?: V1Volume[];
}

function podTemplate(labels: Record<string, string>, input: PodTemplateInput) {
  return {
    metadata: { labels },
    spec: {
      ...(input.serviceAccountName ? { serviceAccountName: input.serviceAccountName } : {}),
      ...(input.imagePullSecrets ? { imagePullSecrets: input.imagePullSecrets.map((name) => ({ name })) } : {}),
      ...(input.initContainers ? { initContainers: input.initContainers.map((c) => ({ ...c, resources: {} })) } : {}),
      containers: input.containers.map((c) => ({ ...c, imagePullPolicy: 'IfNotPresent', resources: {} })),
      ...input.placement,
      ...(input.volumes ? { volumes: input.volumes } : {}),
      restartPolicy: 'Always',
    },
  };
}

function meta(namespace: string, name: string) {
  return { namespace, name, labels: { app: name }, creationTimestamp: '2026-01-01T00:00:00Z' };
}

export function deployment(namespace: string, name: string, input: PodTemplateInput) {
  return {
    metadata: meta(namespace, name),
    spec: { replicas: 1, selector: { matchLabels: { app: name } }, template: podTemplate({ app: name }, input) },
    status: {},
  };
}

export function statefulSet(namespace: string, name: string, input: PodTemplateInput) {
  return {
    metadata: meta(namespace, name),
    spec: { replicas: 1, serviceName: name, selector: { matchLabels: { app: name } }, template: podTemplate({ app: name }, input) },
    status: { replicas: 1 },
  };
}

export function daemonSet(namespace: string, name: string, input: PodTemplateInput) {
  return {
    metadata: meta(namespace, name),
    spec: { selector: { matchLabels: { app: name } }, template: podTemplate({ app: name }, input) },
    status: { currentNumberScheduled: 1, desiredNumberScheduled: 1, numberMisscheduled: 0, numberReady: 1 },
  };
}

export function cronJob(namespace: string, name: string, input: PodTemplateInput) {
  const template = podTemplate({ app: name }, input);
  return {
    metadata: meta(namespace, name),
    spec: {
      schedule: '0 3 * * *',
      jobTemplate: { spec: { template: { ...template, spec: { ...template.spec, restartPolicy: 'OnFailure' } } } },
    },
    status: {},
  };
}

export type AuthEntry = { username?: string; password?: string; auth?: string };

export function dockerConfigSecret(namespace: string, name: string, auths: Record<string, AuthEntry>) {
  return {
    metadata: { namespace, name },
    type: 'kubernetes.io/dockerconfigjson',
    data: { '.dockerconfigjson': Buffer.from(JSON.stringify({ auths })).toString('base64') },
  };
}

export function dockercfgSecret(namespace: string, name: string, auths: Record<string, AuthEntry>) {
  return {
    metadata: { namespace, name },
    type: 'kubernetes.io/dockercfg',
    data: { '.dockercfg': Buffer.from(JSON.stringify(auths)).toString('base64') },
  };
}

export function serviceAccount(namespace: string, name: string, imagePullSecrets: readonly string[] = []) {
  return {
    metadata: { namespace, name },
    ...(imagePullSecrets.length ? { imagePullSecrets: imagePullSecrets.map((n) => ({ name: n })) } : {}),
  };
}

/**
 * A Deployment shaped and sized like one a real API server returns (about 10 KB of JSON): uid,
 * resourceVersion, annotations with kubectl's last-applied configuration, `managedFields` of a
 * client-side apply and of the controller manager (about half the bytes), a pod template with
 * env, probes, resources and volumes, and a status with conditions.
 */
export function realisticDeployment(namespace: string, name: string, input: PodTemplateInput, seq = 0) {
  const labels = { app: name, 'app.kubernetes.io/name': name, 'app.kubernetes.io/part-of': 'shop', 'app.kubernetes.io/managed-by': 'kubectl' };
  const container = (c: ContainerInput) => ({
    name: c.name,
    image: c.image,
    imagePullPolicy: 'IfNotPresent',
    args: ['--config=/etc/app/config.yaml', '--log-format=json', `--listen=:8080`],
    ports: [
      { name: 'http', containerPort: 8080, protocol: 'TCP' },
      { name: 'metrics', containerPort: 9090, protocol: 'TCP' },
    ],
    env: Array.from({ length: 8 }, (_, i) => ({ name: `APP_SETTING_${i}`, value: `value-${i}-${name}` })).concat([
      { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } } as never,
    ]),
    resources: { limits: { cpu: '500m', memory: '256Mi' }, requests: { cpu: '100m', memory: '128Mi' } },
    livenessProbe: { httpGet: { path: '/healthz', port: 'http', scheme: 'HTTP' }, initialDelaySeconds: 10, periodSeconds: 10, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 },
    readinessProbe: { httpGet: { path: '/ready', port: 'http', scheme: 'HTTP' }, periodSeconds: 5, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 },
    volumeMounts: [{ name: 'config', mountPath: '/etc/app', readOnly: true }, { name: 'tmp', mountPath: '/tmp' }],
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
    securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } },
  });
  const template = {
    metadata: { labels, annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9090' } },
    spec: {
      ...(input.serviceAccountName ? { serviceAccountName: input.serviceAccountName, serviceAccount: input.serviceAccountName } : {}),
      ...(input.imagePullSecrets ? { imagePullSecrets: input.imagePullSecrets.map((n) => ({ name: n })) } : {}),
      ...(input.initContainers ? { initContainers: input.initContainers.map(container) } : {}),
      containers: input.containers.map(container),
      volumes: [{ name: 'config', configMap: { name: `${name}-config`, defaultMode: 420 } }, { name: 'tmp', emptyDir: {} }],
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      securityContext: { runAsUser: 10001, fsGroup: 10001 },
      schedulerName: 'default-scheduler',
      affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { labelSelector: { matchLabels: { app: name } }, topologyKey: 'kubernetes.io/hostname' } }] } },
    },
  };
  const spec = {
    replicas: 2,
    selector: { matchLabels: { app: name } },
    template,
    strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } },
    revisionHistoryLimit: 10,
    progressDeadlineSeconds: 600,
  };
  // managedFields mirror the spec's field paths, as the server records them (f:… keys).
  const fields = (value: unknown): unknown => {
    if (Array.isArray(value)) return Object.fromEntries(value.map((v, i) => [`k:{"name":"${(v as { name?: string }).name ?? i}"}`, fields(v)]));
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [`f:${k}`, fields(v)]));
    return {};
  };
  const time = '2026-01-01T00:00:00Z';
  const status = {
    observedGeneration: 3,
    replicas: 2,
    updatedReplicas: 2,
    readyReplicas: 2,
    availableReplicas: 2,
    conditions: [
      { type: 'Available', status: 'True', lastUpdateTime: time, lastTransitionTime: time, reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.' },
      { type: 'Progressing', status: 'True', lastUpdateTime: time, lastTransitionTime: time, reason: 'NewReplicaSetAvailable', message: `ReplicaSet "${name}-7d9c6b5f4d" has successfully progressed.` },
    ],
  };
  const lastApplied = JSON.stringify({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace, labels }, spec: { replicas: 2, selector: spec.selector, template: { metadata: template.metadata, spec: { containers: input.containers } } } });
  return {
    metadata: {
      name,
      namespace,
      uid: `0b5e${String(seq).padStart(4, '0')}-1c2d-4e5f-8a9b-${String(seq).padStart(12, '0')}`,
      resourceVersion: String(100_000 + seq),
      generation: 3,
      creationTimestamp: time,
      labels,
      annotations: { 'deployment.kubernetes.io/revision': '3', 'kubectl.kubernetes.io/last-applied-configuration': `${lastApplied}\n` },
      managedFields: [
        { manager: 'kubectl-client-side-apply', operation: 'Update', apiVersion: 'apps/v1', time, fieldsType: 'FieldsV1', fieldsV1: { 'f:metadata': fields({ labels, annotations: {} }), 'f:spec': fields(spec) } },
        { manager: 'kube-controller-manager', operation: 'Update', apiVersion: 'apps/v1', time, fieldsType: 'FieldsV1', fieldsV1: { 'f:metadata': { 'f:annotations': { 'f:deployment.kubernetes.io/revision': {} } }, 'f:status': fields(status) }, subresource: 'status' },
      ],
    },
    spec,
    status,
  };
}

export interface NodeInput {
  readonly os: string;
  readonly architecture: string;
  readonly taints?: ReadonlyArray<{ key: string; value?: string; effect: string }>;
  readonly labels?: Record<string, string>;
}

/** A Node as the API server returns it: well-known labels, nodeInfo, taints, conditions. */
export function node(name: string, input: NodeInput) {
  return {
    metadata: {
      name,
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': input.os,
        'kubernetes.io/arch': input.architecture,
        'beta.kubernetes.io/os': input.os,
        'beta.kubernetes.io/arch': input.architecture,
        'node.kubernetes.io/instance-type': 'm6.large',
        'topology.kubernetes.io/zone': 'zone-a',
        ...input.labels,
      },
      creationTimestamp: '2026-01-01T00:00:00Z',
    },
    spec: { podCIDR: '10.244.0.0/24', ...(input.taints ? { taints: input.taints } : {}) },
    status: {
      capacity: { cpu: '2', memory: '8Gi', pods: '110' },
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady' }],
      nodeInfo: {
        architecture: input.architecture,
        operatingSystem: input.os,
        containerRuntimeVersion: 'containerd://1.7.20',
        kubeletVersion: 'v1.31.0',
        osImage: 'Debian GNU/Linux 12 (bookworm)',
      },
    },
  };
}
