/** Builders for realistic Kubernetes objects served by the loopback API server. */

export interface ContainerInput {
  readonly name: string;
  readonly image: string;
}

export interface PodTemplateInput {
  readonly containers: readonly ContainerInput[];
  readonly initContainers?: readonly ContainerInput[];
  readonly imagePullSecrets?: readonly string[];
  readonly serviceAccountName?: string;
}

function podTemplate(labels: Record<string, string>, input: PodTemplateInput) {
  return {
    metadata: { labels },
    spec: {
      ...(input.serviceAccountName ? { serviceAccountName: input.serviceAccountName } : {}),
      ...(input.imagePullSecrets ? { imagePullSecrets: input.imagePullSecrets.map((name) => ({ name })) } : {}),
      ...(input.initContainers ? { initContainers: input.initContainers.map((c) => ({ ...c, resources: {} })) } : {}),
      containers: input.containers.map((c) => ({ ...c, imagePullPolicy: 'IfNotPresent', resources: {} })),
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
