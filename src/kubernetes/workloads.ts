/**
 * What a workload is to the exporter and to `check`: the kinds, --workload-kinds and
 * --workload-resource (its grammar), and `toWorkload`, which reduces an object to what is checked —
 * its images (and image volumes; those its opt-out annotation names marked), pull-secret references,
 * placement, and whether it runs pods now. Pure: listing them from an API server is
 * workload-lister.ts's.
 */
import type { V1PodSpec } from '@kubernetes/client-node';
import { NO_PLACEMENT, placementKey, placementOf, type Placement } from '../platform/placement.js';
import { isRecord, quoted } from '../utils/untrusted.js';
import { parseFieldPath, type FieldPath, type FoundImage } from './field-paths.js';
import { IGNORE_ANNOTATION, ignoreRuleOf, ignores, unmatchedNames } from './ignore-annotation.js';

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
  /**
   * An image volume (`spec.volumes[].image`, KEP-4639), `name` being the volume's: the kubelet pulls
   * it as it pulls a container's image, so it is checked alike; its series are of families of their own.
   */
  readonly volume?: true;
  /** Opted out by the workload's annotation (ignore-annotation.ts): reported as skipped, not checked. */
  readonly optedOut?: true;
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
  /** Why its opt-out annotation was not (fully) honoured, for a warning; undefined when it was, or there is none. */
  readonly annotationProblem?: string;
}

/**
 * A custom resource from --workload-resource: where its pods' template is, and where other images
 * are (kinds that keep containers outside a pod template: Argo Workflows, Experiments…).
 */
export interface CustomResource {
  readonly group: string;
  readonly version: string;
  /** Plural resource name, as in the URL. */
  readonly resource: string;
  /** Where the pod template (with its `spec`) is in an object; undefined: it has none to read. */
  readonly templatePath: readonly string[] | undefined;
  /** Paths to containers (objects with `name` and `image`) or image strings. */
  readonly imagePaths: readonly FieldPath[];
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

/** Image paths one --workload-resource may name (Argo Workflows' kinds need five), and its length. */
export const MAX_IMAGE_PATHS = 16;
const MAX_RESOURCE_CHARS = 4096;
export const WORKLOAD_RESOURCE_SYNTAX = 'GROUP/VERSION/RESOURCE[:TEMPLATE.PATH][,images=PATH,...]';

/**
 * --workload-resource: GROUP/VERSION/RESOURCE, then optionally after a colon the pod template's
 * path (default `spec.template`) and, after `images=`, paths to containers or image strings, with
 * `[*]` over arrays: `argoproj.io/v1alpha1/workflows:images=spec.templates[*].container,spec.templates[*].sidecars[*]`.
 * With image paths and no template path, no pod template is read. Throws the problem, for the flag's error.
 */
export function parseWorkloadResource(value: string): CustomResource {
  if (value.length > MAX_RESOURCE_CHARS) throw new Error(`longer than ${MAX_RESOURCE_CHARS} characters`);
  const match = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)\/([a-z0-9]+)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)(?::(.*))?$/s.exec(value.trim());
  if (!match) throw new Error(`expected ${WORKLOAD_RESOURCE_SYNTAX} with the resource in lower case, e.g. argoproj.io/v1alpha1/rollouts, got ${quoted(value, 200)}`);
  const { templatePath, imagePaths } = parsePaths(match[6]);
  return { group: match[1] as string, version: match[3] as string, resource: match[4] as string, templatePath, imagePaths };
}

/** What follows the colon: `[TEMPLATE.PATH][,images=PATH,...]`; nothing means a template at spec.template. */
function parsePaths(text: string | undefined): Pick<CustomResource, 'templatePath' | 'imagePaths'> {
  if (text === undefined) return { templatePath: ['spec', 'template'], imagePaths: [] };
  const items = text.split(',').map((item) => item.trim());
  const imagesFrom = items.findIndex((item) => item.startsWith('images='));
  const before = imagesFrom === -1 ? items : items.slice(0, imagesFrom);
  if (before.length > 1 || (before.length === 1 && imagesFrom !== -1 && before[0] === '')) {
    throw new Error(`expected one template path, then images=PATH,..., got ${quoted(text, 200)}`);
  }
  let templatePath: string[] | undefined;
  if (before.length === 1) {
    templatePath = (before[0] as string).split('.');
    if (templatePath.some((key) => !/^[A-Za-z0-9_-]+$/.test(key))) throw new Error(`TEMPLATE.PATH must be dot-separated field names, got ${quoted(before[0] as string, 200)}`);
  }
  if (imagesFrom === -1) return { templatePath, imagePaths: [] };
  const paths = [(items[imagesFrom] as string).slice('images='.length), ...items.slice(imagesFrom + 1)];
  if (paths.length > MAX_IMAGE_PATHS) throw new Error(`more than ${MAX_IMAGE_PATHS} image paths`);
  return { templatePath, imagePaths: paths.map(parseFieldPath) };
}

/** The resource as --workload-resource writes it (for messages: what would read a kind). */
export function formatWorkloadResource(custom: CustomResource): string {
  const template = custom.templatePath?.join('.');
  const parts = [template === 'spec.template' && custom.imagePaths.length === 0 ? undefined : template];
  if (custom.imagePaths.length > 0) parts.push(`images=${custom.imagePaths.map((p) => p.text).join(',')}`);
  const suffix = parts.filter((p) => p !== undefined).join(',');
  return `${customSourceId(custom)}${suffix === '' ? '' : `:${suffix}`}`;
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
  metadata?: { namespace?: string; name?: string; generateName?: string; ownerReferences?: unknown; annotations?: unknown };
  spec?: {
    replicas?: unknown;
    suspend?: unknown;
    template?: PodTemplate;
    jobTemplate?: { spec?: { template?: PodTemplate } };
  } & Record<string, unknown>;
  status?: { phase?: unknown; desiredNumberScheduled?: unknown; conditions?: unknown };
}

/** A pod template: the pods' spec, and its own metadata (where the opt-out annotation may be). */
export interface PodTemplate {
  spec?: V1PodSpec;
  metadata?: unknown;
}

/** The pod template at a path of keys: an object with an object `spec`; undefined otherwise. */
export function templateAt(object: unknown, path: readonly string[]): { spec: Record<string, unknown>; metadata: unknown } | undefined {
  let at: unknown = object;
  for (const key of path) at = isRecord(at) && Object.hasOwn(at, key) ? at[key] : undefined;
  return isRecord(at) && isRecord(at['spec']) ? { spec: at['spec'], metadata: at['metadata'] } : undefined;
}

export interface WorkloadParts {
  /** See Workload.active (default true). */
  readonly active?: boolean;
  /** The pod template's metadata: its annotations opt containers out as the workload's do. */
  readonly templateMetadata?: unknown;
  /** Images found outside the pod template (a custom resource's image paths). */
  readonly moreImages?: readonly FoundImage[];
}

/**
 * A workload of this kind whose pods are made from `spec`, with the images found elsewhere in it
 * (the object gives its namespace, name and annotations).
 */
export function toWorkload(kind: string, object: WorkloadObject, spec: V1PodSpec | undefined, parts: WorkloadParts = {}): Workload {
  const { active = true, templateMetadata, moreImages = [] } = parts;
  const containers: ContainerImage[] = [];
  for (const c of spec?.initContainers ?? []) containers.push({ name: c.name ?? '', image: c.image ?? '', init: true });
  for (const c of spec?.containers ?? []) containers.push({ name: c.name ?? '', image: c.image ?? '', init: false });
  for (const found of moreImages) containers.push({ name: found.name, image: found.image, init: found.init });
  // Volumes of other types pull nothing. A missing reference stays '', a bad reference as for a container.
  for (const v of spec?.volumes ?? []) if (v.image) containers.push({ name: v.name ?? '', image: v.image.reference ?? '', init: false, volume: true });
  const { containers: marked, problem } = optOut(containers, object.metadata, templateMetadata);
  const placement = placementOf(spec);
  const key = placementKey(placement);
  return {
    kind,
    namespace: object.metadata?.namespace ?? '',
    // A manifest may name an object only by the prefix the API server completes (kubectl create):
    // the prefix says which object it is; a blank says nothing.
    name: object.metadata?.name || object.metadata?.generateName || '',
    containers: marked,
    imagePullSecrets: (spec?.imagePullSecrets ?? []).map((s) => s.name ?? '').filter((n) => n !== ''),
    serviceAccountName: spec?.serviceAccountName || 'default',
    // Most templates say nothing about placement: they share one object.
    placement: key === '' ? NO_PLACEMENT : placement,
    placementKey: key,
    active,
    ...(problem === undefined ? {} : { annotationProblem: problem }),
  };
}

/** The containers, those the annotations opt out marked; and what of the annotations was not honoured. */
function optOut(containers: ContainerImage[], ...metadata: unknown[]): { containers: ContainerImage[]; problem: string | undefined } {
  const rule = ignoreRuleOf(...metadata);
  // The annotation lists container names: an image volume is opted out only by "true" (a volume may share a container's name).
  const unmatched = unmatchedNames(rule, containers.filter((c) => !c.volume).map((c) => c.name));
  const problems = [rule.problem, unmatched.length > 0 ? `annotation ${IGNORE_ANNOTATION} names no container ${unmatched.slice(0, 5).join(', ')}${unmatched.length > 5 ? ', …' : ''}` : undefined];
  const problem = problems.filter((p) => p !== undefined).join('; ') || undefined;
  if (!rule.all && rule.names.size === 0) return { containers, problem };
  return { containers: containers.map((c) => ((c.volume ? rule.all : ignores(rule, c.name)) ? { ...c, optedOut: true } : c)), problem };
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
    a.annotationProblem === b.annotationProblem &&
    a.serviceAccountName === b.serviceAccountName &&
    a.placementKey === b.placementKey &&
    a.containers.length === b.containers.length &&
    a.containers.every((c, i) => {
      const d = b.containers[i] as ContainerImage;
      return c.name === d.name && c.image === d.image && c.init === d.init && c.volume === d.volume && c.optedOut === d.optedOut;
    }) &&
    a.imagePullSecrets.length === b.imagePullSecrets.length &&
    a.imagePullSecrets.every((name, i) => name === b.imagePullSecrets[i])
  );
}
