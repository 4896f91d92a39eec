/**
 * Kinds known to hold images outside a pod template, and the --workload-resource that reads them:
 * README's examples, and what `check` suggests when such objects are in the manifests but no
 * --workload-resource names them. Paths checked against the upstream Go types (Argo Workflows
 * pkg/apis/workflow/v1alpha1: Template's container, script, containerSet.containers,
 * initContainers, sidecars; CronWorkflow's spec.workflowSpec; Argo Rollouts
 * pkg/apis/rollouts/v1alpha1: Experiment's spec.templates[].template, a PodTemplateSpec, and the
 * analysis templates' spec.metrics[].provider.job.spec, a JobSpec; KubeVirt core/v1: the domain's
 * firmware.kernelBoot.container and containerDisk volumes, both with an `image`).
 */
import { imagesAt, parseFieldPath, type FieldPath } from './field-paths.js';
import { formatWorkloadResource } from './workloads.js';

export interface KnownImageKind {
  readonly group: string;
  readonly kind: string;
  /** Plural resource name, as the API serves it. */
  readonly resource: string;
  readonly imagePaths: readonly FieldPath[];
}

/** Where an Argo Workflows WorkflowSpec (at `at`) keeps its templates' containers. */
function workflowPaths(at: string): string[] {
  return ['container', 'script', 'containerSet.containers[*]', 'initContainers[*]', 'sidecars[*]'].map((field) => `${at}.templates[*].${field}`);
}

/** The containers and init containers of a pod template at `at`. */
function podTemplatePaths(at: string): string[] {
  return [`${at}.spec.containers[*]`, `${at}.spec.initContainers[*]`];
}

const KNOWN: ReadonlyArray<readonly [group: string, kind: string, resource: string, paths: readonly string[]]> = [
  ['argoproj.io', 'Workflow', 'workflows', workflowPaths('spec')],
  ['argoproj.io', 'WorkflowTemplate', 'workflowtemplates', workflowPaths('spec')],
  ['argoproj.io', 'ClusterWorkflowTemplate', 'clusterworkflowtemplates', workflowPaths('spec')],
  ['argoproj.io', 'CronWorkflow', 'cronworkflows', workflowPaths('spec.workflowSpec')],
  ['argoproj.io', 'Experiment', 'experiments', podTemplatePaths('spec.templates[*].template')],
  ['argoproj.io', 'AnalysisTemplate', 'analysistemplates', podTemplatePaths('spec.metrics[*].provider.job.spec.template')],
  ['argoproj.io', 'ClusterAnalysisTemplate', 'clusteranalysistemplates', podTemplatePaths('spec.metrics[*].provider.job.spec.template')],
  ['kubevirt.io', 'VirtualMachine', 'virtualmachines', ['spec.template.spec.domain.firmware.kernelBoot.container', 'spec.template.spec.volumes[*].containerDisk']],
  ['kubevirt.io', 'VirtualMachineInstance', 'virtualmachineinstances', ['spec.domain.firmware.kernelBoot.container', 'spec.volumes[*].containerDisk']],
];

export const KNOWN_IMAGE_KINDS: readonly KnownImageKind[] = KNOWN.map(([group, kind, resource, paths]) => ({ group, kind, resource, imagePaths: paths.map(parseFieldPath) }));

const BY_GROUP_KIND = new Map(KNOWN_IMAGE_KINDS.map((known) => [`${known.group}\n${known.kind}`, known]));

/** The known kind of an object's apiVersion (`group/version`) and kind, if it is one. */
export function knownImageKind(apiVersion: string, kind: string): KnownImageKind | undefined {
  const slash = apiVersion.indexOf('/');
  return slash === -1 ? undefined : BY_GROUP_KIND.get(`${apiVersion.slice(0, slash)}\n${kind}`);
}

/** Whether an object of a known kind holds an image at one of its paths. */
export function holdsImages(known: KnownImageKind, object: unknown): boolean {
  return imagesAt(object, known.imagePaths).length > 0;
}

/** The --workload-resource value that reads a known kind at this apiVersion's version. */
export function workloadResourceFor(known: KnownImageKind, version: string): string {
  return formatWorkloadResource({ group: known.group, version, resource: known.resource, templatePath: undefined, imagePaths: known.imagePaths });
}
