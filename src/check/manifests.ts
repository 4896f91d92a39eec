/**
 * Reads Kubernetes manifests (YAML or JSON, multi-document streams, Lists) into what `check` needs:
 * the workloads with a pod template, the docker pull secrets and the service accounts' pull-secret
 * names, each workload with where it was written. Pure: the texts are given.
 *
 * Manifests may come from anyone (Helm output, CI artifacts): any text either reads or fails with a
 * ManifestError, and no secret value ever reaches a warning or an error message.
 */
import type { V1Container, V1PodSpec, V1Volume } from '@kubernetes/client-node';
import { imagesAt, type FoundImage } from '../kubernetes/field-paths.js';
import { holdsImages, knownImageKind, workloadResourceFor } from '../kubernetes/known-image-kinds.js';
import { customSourceId, formatWorkloadResource, templateAt, toWorkload, type ContainerImage, type CustomResource, type Workload, type WorkloadObject } from '../kubernetes/workloads.js';
import { arrayOf, isRecord, nonEmptyString, stringOf } from '../utils/untrusted.js';
import { jsonItemOffsets, linesOfOffsets } from './json-items.js';
import { ManifestError } from './manifest-error.js';
import { MAX_DEPTH, tooDeepValue, yamlValues, type Located } from './yaml-stream.js';

export { ManifestError };

export interface ManifestSource {
  /** File path, or '-' for stdin. */
  readonly name: string;
  /** The argument it was read for (a file, a directory, '-'); the name when not said. */
  readonly input?: string;
  readonly text: string;
}

/** A workload read from a manifest, with where its object starts. */
export interface ManifestWorkload extends Workload {
  readonly source: string;
  /** 1-based. */
  readonly line: number;
  /** The template a `helm template` stream names for the object's document (`# Source:`), when it does. */
  readonly template?: string;
}

export interface ManifestSecret {
  readonly namespace: string;
  readonly name: string;
  readonly type: string;
  /** base64 values, like the API's `data` */
  readonly data: Readonly<Record<string, string>>;
}

export interface ManifestServiceAccount {
  readonly namespace: string;
  readonly name: string;
  readonly imagePullSecrets: readonly string[];
}

export interface ManifestContents {
  readonly workloads: readonly ManifestWorkload[];
  readonly secrets: readonly ManifestSecret[];
  readonly serviceAccounts: readonly ManifestServiceAccount[];
  /** "source:line: message", for stderr */
  readonly warnings: readonly string[];
  /** Kubernetes objects (apiVersion and kind; a List counts, with its items) read from each source, by name. */
  readonly objects: ReadonlyMap<string, number>;
}

const PULL_SECRET_TYPES: ReadonlySet<string> = new Set(['kubernetes.io/dockerconfigjson', 'kubernetes.io/dockercfg']);

interface Collected {
  readonly workloads: ManifestWorkload[];
  readonly secrets: ManifestSecret[];
  readonly serviceAccounts: ManifestServiceAccount[];
  readonly warnings: string[];
  /** Kubernetes objects (apiVersion and kind, Lists included) read per source name. */
  readonly objects: Map<string, number>;
  readonly intern: (text: string) => string;
  /** The --workload-resource that reads objects of this apiVersion and kind. */
  readonly customFor: (apiVersion: string, kind: string) => CustomResource | undefined;
  /** The --workload-resource ids that read some object. */
  readonly customsRead: Set<string>;
  /** Known kinds with images that were not read (no --workload-resource for them), by apiVersion and kind: one warning each. */
  readonly unread: Map<string, { readonly kind: string; readonly suggestion: string; objects: number }>;
}

/** An object's kind and apiVersion when it does not say them (items of a typed list). */
interface Defaults {
  readonly kind?: string;
  readonly apiVersion?: string;
}

/** How manifests are read: the custom resources of --workload-resource, read where it says. */
export interface ManifestOptions {
  readonly customResources?: readonly CustomResource[];
}

/**
 * Reads every source in order; throws ManifestError on the first text that is not valid YAML. Its
 * warnings end with one line per known kind that holds images no --workload-resource reads, and one
 * per --workload-resource that read nothing.
 */
export function readManifests(sources: readonly ManifestSource[], options: ManifestOptions = {}): ManifestContents {
  const customs = options.customResources ?? [];
  const into: Collected = {
    workloads: [],
    secrets: [],
    serviceAccounts: [],
    warnings: [],
    objects: new Map(),
    intern: interner(),
    customFor: customMatcher(customs),
    customsRead: new Set(),
    unread: new Map(),
  };
  for (const source of sources) {
    into.objects.set(source.name, into.objects.get(source.name) ?? 0);
    readSource(source, into);
  }
  for (const { kind, suggestion, objects } of into.unread.values()) {
    into.warnings.push(`${objects} ${kind} object${objects === 1 ? '' : 's'} hold${objects === 1 ? 's' : ''} images outside a pod template, not read: --workload-resource=${suggestion} reads them`);
  }
  for (const custom of customs) {
    if (!into.customsRead.has(customSourceId(custom))) {
      into.warnings.push(`--workload-resource=${formatWorkloadResource(custom)} matches no object (apiVersion ${custom.group}/${custom.version}, a kind whose plural in lower case is ${custom.resource})`);
    }
  }
  const { workloads, secrets, serviceAccounts, warnings, objects } = into;
  return { workloads, secrets, serviceAccounts, warnings, objects };
}

/**
 * The --workload-resource that reads an object: its apiVersion is the resource's group/version and
 * its kind's plural is the resource. Without a server to ask, the plural is guessed, leniently:
 * the kind in lower case, with `s` or `es`, or with a final y made `ies` (kubectl's guesses, and
 * `gateways` for Gateway, which kubectl's guess misses).
 */
function customMatcher(customs: readonly CustomResource[]): (apiVersion: string, kind: string) => CustomResource | undefined {
  const byApiVersion = new Map<string, CustomResource[]>();
  for (const custom of customs) {
    const apiVersion = `${custom.group}/${custom.version}`;
    byApiVersion.set(apiVersion, [...(byApiVersion.get(apiVersion) ?? []), custom]);
  }
  return (apiVersion, kind) => {
    const candidates = byApiVersion.get(apiVersion);
    if (!candidates) return undefined;
    const lower = kind.toLowerCase();
    const names = new Set([lower, `${lower}s`, `${lower}es`, ...(lower.endsWith('y') ? [`${lower.slice(0, -1)}ies`] : [])]);
    return candidates.find((custom) => names.has(custom.resource));
  };
}

function readSource(source: ManifestSource, into: Collected): void {
  try {
    // JSON is read as JSON (fast, and no document or alias machinery); text that only looks like
    // JSON falls through to the YAML reader, whose errors name the line.
    if (!readJson(source, into)) readYaml(source, into);
  } catch (error) {
    if (error instanceof ManifestError) throw error;
    // A last resort, never expected: only the error's name, as its message might quote the text.
    throw new ManifestError(source.name, undefined, `cannot be read (${error instanceof Error ? error.name : typeof error})`);
  }
}

/** Reads a YAML stream's objects, one document at a time (yaml-stream.ts). */
function readYaml(source: ManifestSource, into: Collected): void {
  for (const located of yamlValues(source.text, source.name)) readObject(located, source.name, into, {});
}

/** Reads a text that is one JSON value; false (nothing read) when it is not JSON. */
function readJson(source: ManifestSource, into: Collected): boolean {
  const { text, name } = source;
  // A loop, not text.search(/\S/): V8 keeps a regular expression's last subject (the whole input) alive.
  let first = 0;
  while (first < text.length && text.charCodeAt(first) <= 0x20) first++;
  const start = text.charCodeAt(first);
  if (start !== 0x7b && start !== 0x5b) return false; // { or [
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return false;
  }
  // Nesting is bounded as for YAML: whatever reads the value later may recurse.
  if (tooDeepValue(value)) throw new ManifestError(name, undefined, `nested more than ${MAX_DEPTH} levels deep`);
  const line = linesOfOffsets(text, [first])[0] ?? 1;
  // Found only for a List, once; the items of nested Lists are placed at their List's line.
  let itemLines: number[] | undefined;
  const item = (index: number, itemValue: unknown): Located => {
    itemLines ??= linesOfOffsets(text, jsonItemOffsets(text));
    return { value: itemValue, line: itemLines[index] ?? line };
  };
  readObject({ value, line, item }, name, into, {});
  return true;
}

function readObject(at: Located, source: string, into: Collected, defaults: Defaults): void {
  const object = at.value;
  const kind = isRecord(object) ? (nonEmptyString(object['kind']) ?? defaults.kind) : undefined;
  const apiVersion = isRecord(object) ? (nonEmptyString(object['apiVersion']) ?? defaults.apiVersion) : undefined;
  if (!isRecord(object) || kind === undefined || apiVersion === undefined) {
    into.warnings.push(`${source}:${at.line}: not a Kubernetes object (no apiVersion/kind), skipped`);
    return;
  }
  into.objects.set(source, (into.objects.get(source) ?? 0) + 1);
  if (kind.endsWith('List') && Array.isArray(object['items'])) {
    // A typed list (DeploymentList, as the API returns it) leaves its items' kind and apiVersion out.
    const typed = kind !== 'List';
    const itemDefaults = typed ? { kind: kind.slice(0, -'List'.length), apiVersion } : {};
    object['items'].forEach((value: unknown, i: number) =>
      readObject({ ...(at.item?.(i, value) ?? { value, line: at.line }), template: at.template }, source, into, itemDefaults),
    );
    return;
  }
  if (kind === 'Secret' && apiVersion === 'v1') readSecret(object, into);
  else if (kind === 'ServiceAccount' && apiVersion === 'v1') readServiceAccount(object, into);
  else readWorkload(kind, apiVersion, object, at, source, into);
}

function readWorkload(kind: string, apiVersion: string, object: Record<string, unknown>, at: Located, source: string, into: Collected): void {
  const custom = into.customFor(apiVersion, kind);
  let template: { spec: Record<string, unknown>; metadata?: unknown } | undefined;
  let moreImages: FoundImage[] = [];
  if (custom) {
    // Read where --workload-resource says, and only there.
    into.customsRead.add(customSourceId(custom));
    template = custom.templatePath ? templateAt(object, custom.templatePath) : undefined;
    moreImages = imagesAt(object, custom.imagePaths);
    if (template === undefined && moreImages.length === 0) return;
  } else {
    template = podTemplateOf(kind, object);
    if (template === undefined) {
      noteUnread(kind, apiVersion, object, into);
      return; // Services, ConfigMaps, CRDs…: nothing to pull
    }
  }
  const metadata = recordAt(object, 'metadata');
  const owner: WorkloadObject = {
    metadata: {
      namespace: stringOf(metadata?.['namespace']),
      name: stringOf(metadata?.['name']),
      generateName: stringOf(metadata?.['generateName']),
      annotations: metadata?.['annotations'],
    },
  };
  const w = toWorkload(kind, owner, template && sanitizedPodSpec(template.spec), { templateMetadata: template?.metadata, moreImages });
  if (w.annotationProblem !== undefined) into.warnings.push(`${source}:${at.line}: ${w.annotationProblem}`);
  const { intern } = into;
  // Written out field by field (a spread gives each object a shape of its own, ~360 bytes), with
  // each string copied out of its document (a slice would keep the whole document's text) and the
  // repeated ones (kinds, namespaces, images…) shared: what is kept of a workload is its own data.
  into.workloads.push({
    kind: intern(w.kind),
    namespace: intern(w.namespace),
    name: ownCopy(w.name),
    containers: w.containers.map((c) => keptContainer(c, intern)),
    imagePullSecrets: w.imagePullSecrets.length === 0 ? NO_NAMES : w.imagePullSecrets.map(intern),
    serviceAccountName: intern(w.serviceAccountName),
    placement: w.placement,
    placementKey: intern(w.placementKey),
    active: w.active,
    source,
    line: at.line,
    template: at.template === undefined ? undefined : intern(at.template),
  });
}

const NO_NAMES: readonly string[] = Object.freeze([]);

/** A container (or image volume) as kept: its strings shared, only the fields it has set (one shape per combination). */
function keptContainer(c: ContainerImage, intern: (text: string) => string): ContainerImage {
  const kept = { name: intern(c.name), image: intern(c.image), init: c.init };
  if (c.volume && c.optedOut) return { ...kept, volume: true, optedOut: true };
  if (c.volume) return { ...kept, volume: true };
  return c.optedOut ? { ...kept, optedOut: true } : kept;
}

/** A string of its own: a slice of a document's text would keep all of that text alive. */
function ownCopy(text: string): string {
  return text.length < 13 ? text : (JSON.parse(JSON.stringify(text)) as string); // V8 copies strings shorter than 13
}

/** Shares one copy of each repeated string read from the manifests. */
function interner(): (text: string) => string {
  const strings = new Map<string, string>();
  return (text) => {
    let kept = strings.get(text);
    if (kept === undefined) strings.set((kept = ownCopy(text)), kept);
    return kept;
  };
}

/** A known kind with images outside a pod template, not read: counted for one warning per kind. */
function noteUnread(kind: string, apiVersion: string, object: Record<string, unknown>, into: Collected): void {
  const known = knownImageKind(apiVersion, kind);
  if (!known || !holdsImages(known, object)) return;
  const key = `${apiVersion}\n${kind}`;
  const seen = into.unread.get(key);
  if (seen) seen.objects++;
  else into.unread.set(key, { kind, suggestion: workloadResourceFor(known, apiVersion.slice(apiVersion.indexOf('/') + 1)), objects: 1 });
}

/**
 * Where each kind keeps the template of the pods it makes (its spec, and its metadata when it has
 * its own); undefined for kinds that make none.
 */
function podTemplateOf(kind: string, object: Record<string, unknown>): { spec: Record<string, unknown>; metadata?: unknown } | undefined {
  const at = (...path: string[]) => {
    const template = recordAt(object, ...path);
    const spec = template && recordAt(template, 'spec');
    return spec && { spec, metadata: template['metadata'] };
  };
  switch (kind) {
    case 'Pod': {
      // A Pod is its own template: its annotations are the workload's.
      const spec = recordAt(object, 'spec');
      return spec && { spec };
    }
    case 'CronJob':
      return at('spec', 'jobTemplate', 'spec', 'template');
    case 'PodTemplate':
      return at('template');
    default: {
      // Deployments, Jobs, Argo Rollouts, OpenKruise CloneSets…: any kind shaped like them.
      const template = at('spec', 'template');
      return template && Array.isArray(template.spec['containers']) ? template : undefined;
    }
  }
}

/** The pod spec fields toWorkload reads, with the types it expects: whatever else is written is dropped. */
function sanitizedPodSpec(spec: Record<string, unknown>): V1PodSpec {
  return {
    containers: containersOf(spec['containers']),
    initContainers: containersOf(spec['initContainers']),
    imagePullSecrets: namesOf(spec['imagePullSecrets']).map((name) => ({ name })),
    // The deprecated spelling, which the API server copies into serviceAccountName when that is unset.
    serviceAccountName: nonEmptyString(spec['serviceAccountName']) ?? stringOf(spec['serviceAccount']),
    // placementOf reads these as unknown and ignores whatever is malformed: passed on as written.
    nodeSelector: spec['nodeSelector'] as V1PodSpec['nodeSelector'],
    affinity: spec['affinity'] as V1PodSpec['affinity'],
    tolerations: spec['tolerations'] as V1PodSpec['tolerations'],
    volumes: imageVolumesOf(spec['volumes']),
  };
}

/**
 * The image volumes (`volumes[].image`): their names and references only. Bounded as containers
 * are, by the size of the input; volumes of other types are dropped here.
 */
function imageVolumesOf(value: unknown): V1Volume[] {
  const volumes: V1Volume[] = [];
  for (const v of arrayOf(value)) {
    if (!isRecord(v) || !isRecord(v['image'])) continue;
    // A missing reference stays missing: toWorkload makes it '', reported later as a bad reference.
    volumes.push({ name: stringOf(v['name']) ?? '', image: { reference: stringOf(v['image']['reference']) } });
  }
  return volumes;
}

function containersOf(value: unknown): V1Container[] {
  // A missing image stays missing: toWorkload makes it '', reported later as a bad reference.
  return arrayOf(value)
    .filter(isRecord)
    .map((c) => ({ name: stringOf(c['name']) ?? '', image: stringOf(c['image']) }));
}

function readSecret(object: Record<string, unknown>, into: Collected): void {
  const type = stringOf(object['type']);
  if (type === undefined || !PULL_SECRET_TYPES.has(type)) return;
  const data = new Map(stringEntries(object['data']));
  // stringData is written over data, key by key, as the API server does.
  for (const [key, text] of stringEntries(object['stringData'])) data.set(key, Buffer.from(text, 'utf8').toString('base64'));
  // fromEntries defines `__proto__` as a key, never as a prototype.
  into.secrets.push({ ...namespacedName(object), type, data: Object.fromEntries(data) });
}

function readServiceAccount(object: Record<string, unknown>, into: Collected): void {
  into.serviceAccounts.push({ ...namespacedName(object), imagePullSecrets: namesOf(object['imagePullSecrets']) });
}

function namespacedName(object: Record<string, unknown>): { namespace: string; name: string } {
  const metadata = recordAt(object, 'metadata');
  return { namespace: stringOf(metadata?.['namespace']) ?? '', name: stringOf(metadata?.['name']) ?? '' };
}

/** The non-empty `name`s of a list of object references. */
function namesOf(value: unknown): string[] {
  return arrayOf(value)
    .filter(isRecord)
    .map((reference) => nonEmptyString(reference['name']))
    .filter((name): name is string => name !== undefined);
}

function stringEntries(value: unknown): [string, string][] {
  if (!isRecord(value)) return [];
  return Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === 'string');
}

/** The object at a path of keys, or undefined where any step is missing or not an object. */
function recordAt(value: Record<string, unknown>, ...path: string[]): Record<string, unknown> | undefined {
  let current: Record<string, unknown> = value;
  for (const key of path) {
    const next = Object.hasOwn(current, key) ? current[key] : undefined;
    if (!isRecord(next)) return undefined;
    current = next;
  }
  return current;
}

