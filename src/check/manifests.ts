/**
 * Reads Kubernetes manifests (YAML or JSON, multi-document streams, Lists) into what `check` needs:
 * the workloads with a pod template, the docker pull secrets and the service accounts' pull-secret
 * names, each workload with where it was written. Pure: the texts are given.
 *
 * Manifests may come from anyone (Helm output, CI artifacts): any text either reads or fails with a
 * ManifestError, and no secret value ever reaches a warning or an error message.
 */
import type { V1Container, V1PodSpec } from '@kubernetes/client-node';
import { Composer, CST, LineCounter, Parser, isMap, isNode, isSeq, type Document, type ErrorCode, type YAMLError } from 'yaml';
import { imagesAt, type FoundImage } from '../kubernetes/field-paths.js';
import { holdsImages, knownImageKind, workloadResourceFor } from '../kubernetes/known-image-kinds.js';
import { customSourceId, formatWorkloadResource, templateAt, toWorkload, type CustomResource, type Workload, type WorkloadObject } from '../kubernetes/workloads.js';
import { arrayOf, isRecord, nonEmptyString, stringOf } from '../utils/untrusted.js';
import { CORE_SCHEMA, load as loadYaml } from 'js-yaml';
import { jsonItemOffsets, linesOfOffsets } from './json-items.js';
import { firstContentLine, yamlDocuments, type YamlDocumentText } from './yaml-documents.js';
import { yamlValue, YamlValueError } from './yaml-values.js';

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

export class ManifestError extends Error {
  override readonly name = 'ManifestError';

  constructor(
    readonly source: string,
    readonly line: number | undefined,
    problem: string,
  ) {
    super(line === undefined ? `${source}: ${problem}` : `${source}:${line}: ${problem}`);
  }
}

/**
 * Nodes that the aliases of one document may stand for, copied out: a few lines of anchors could
 * otherwise expand to gigabytes for whoever walks the value.
 */
const MAX_ALIAS_COPIES = 10_000;
/**
 * Nesting allowed: the YAML composer recurses per level, and a stack overflow deep inside it can
 * abort the process instead of throwing. Real objects (CRD schemas included) stay far below this.
 */
const MAX_DEPTH = 200;

const COMPOSE_OPTIONS = {
  // Duplicate keys: the last one wins, as with kubectl (the API server only warns about them).
  uniqueKeys: false,
  // `<<: *defaults` works in kubectl's YAML 1.1; yaml-values.ts applies it.
  merge: true,
} as const;

const PULL_SECRET_TYPES: ReadonlySet<string> = new Set(['kubernetes.io/dockerconfigjson', 'kubernetes.io/dockercfg']);

/**
 * What a YAML error code means. The parser's own messages may quote the text (a block scalar
 * header, an escape sequence), which may be part of a secret: only these are shown.
 */
const SYNTAX_PROBLEMS: Record<ErrorCode, string> = {
  ALIAS_PROPS: 'an alias cannot have an anchor or a tag',
  BAD_ALIAS: 'an alias names no anchor before it',
  BAD_COLLECTION_TYPE: 'a tag does not fit its collection',
  BAD_DIRECTIVE: 'an invalid directive',
  BAD_DQ_ESCAPE: 'an invalid escape sequence in a double-quoted string',
  BAD_INDENT: 'bad indentation',
  BAD_PROP_ORDER: 'anchors and tags must come after the indicator',
  BAD_SCALAR_START: 'a plain value cannot start with this character',
  BLOCK_AS_IMPLICIT_KEY: 'a nested mapping or sequence where a plain key or value was expected',
  BLOCK_IN_FLOW: 'a block collection inside a flow collection',
  DUPLICATE_KEY: 'a duplicate key',
  IMPOSSIBLE: 'a malformed construct',
  KEY_OVER_1024_CHARS: 'an implicit key longer than 1024 characters',
  MISSING_CHAR: 'a missing character (a closing quote or bracket, a comma, a colon, a space or a "-")',
  MULTILINE_IMPLICIT_KEY: 'a key spanning lines (a missing colon?)',
  MULTIPLE_ANCHORS: 'a node with more than one anchor',
  MULTIPLE_DOCS: 'more than one document',
  MULTIPLE_TAGS: 'a node with more than one tag',
  NON_STRING_KEY: 'a key that is not a string',
  RESOURCE_EXHAUSTION: 'nesting too deep to read',
  TAB_AS_INDENT: 'a tab used as indentation',
  TAG_RESOLVE_FAILED: 'an unknown tag',
  UNEXPECTED_TOKEN: 'unexpected text',
};

const ALIAS_PROBLEMS: Record<YamlValueError['problem'], string> = {
  'bad-alias': `invalid YAML: ${SYNTAX_PROBLEMS.BAD_ALIAS}`,
  'too-many-aliases': `YAML aliases expand to more than ${MAX_ALIAS_COPIES} copies of values, not read`,
  'bad-merge': 'invalid YAML: a merge key (<<) whose value is not a mapping',
};

/** A value read from a document, the line it starts on, and (for a List) where each of its items does. */
interface Located {
  readonly value: unknown;
  readonly line: number;
  readonly item?: (index: number, value: unknown) => Located;
}

/** How manifests are read: the custom resources of --workload-resource, read where it says. */
export interface ManifestOptions {
  readonly customResources?: readonly CustomResource[];
}

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

/** Whether a parsed JSON value nests deeper than MAX_DEPTH, found without recursion. */
function tooDeepValue(value: unknown): boolean {
  const pending: [unknown, number][] = [[value, 0]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [item, depth] = next;
    if (item === null || typeof item !== 'object') continue;
    if (depth >= MAX_DEPTH) return true;
    for (const child of Object.values(item)) if (child !== null && typeof child === 'object') pending.push([child, depth + 1]);
  }
  return false;
}

/**
 * Reads a YAML stream one document at a time: each is cut out (yaml-documents.ts), read for what
 * `check` needs and dropped before the next, so memory does not grow with the number of documents.
 * A document is read by js-yaml (about ten times faster than the yaml package, and as lenient as
 * kubectl's go-yaml where the yaml package is not) unless it needs what only the careful reader
 * gives: bounded aliases (any `&` in the text), merge keys as kubectl reads them (any `<<`), the
 * place of each List item, the place and the words of an error (never js-yaml's, which may quote the
 * text), or the nesting bound.
 */
function readYaml(source: ManifestSource, into: Collected): void {
  for (const document of yamlDocuments(source.text)) {
    const first = firstContentLine(document.text);
    if (first === undefined) continue; // `---` alone, or only comments
    const value = fastValue(document.text);
    if (value === undefined) readComposed(document, source.name, into);
    else if (value !== null) readObject({ value, line: document.line + first }, source.name, into, {});
  }
}

/** Plain dates stay strings, as in the yaml package's core schema. */
const FAST_SCHEMA = CORE_SCHEMA;

/**
 * A document's value as js-yaml reads it; null for an empty one; undefined when the careful reader
 * must read it (see readYaml).
 */
function fastValue(text: string): unknown {
  // Merge keys (`<<`) go to the careful reader too: js-yaml merges as the YAML spec says, kubectl's
  // go-yaml v2 otherwise (yaml-values.ts).
  if (text.includes('&') || text.includes('<<')) return undefined;
  let value: unknown;
  try {
    // json: a duplicate key's last value wins, as with kubectl (the API server only warns).
    value = loadYaml(text, { schema: FAST_SCHEMA, json: true });
  } catch {
    return undefined;
  }
  if (value === undefined || value === null) return null;
  if (tooDeepValue(value)) return undefined;
  if (isRecord(value) && typeof value['kind'] === 'string' && value['kind'].endsWith('List') && Array.isArray(value['items'])) return undefined;
  return value;
}

/** Reads a document (or a few) with the yaml package, its lines counted from the document's. */
function readComposed(document: YamlDocumentText, name: string, into: Collected): void {
  const lineCounter = new LineCounter();
  const offset = document.line - 1;
  const lineOf = (at: number) => lineCounter.linePos(at).line + offset;
  const composer = new Composer(COMPOSE_OPTIONS);
  const readDocument = (composed: Document.Parsed) => {
    const error = composed.errors[0];
    if (error) throw syntaxError(error, lineCounter, offset, name);
    const contents = composed.contents;
    if (contents === null) return; // `---` alone, or only comments
    const line = lineOf(contents.range[0]);
    const value = plainValue(contents, name, line);
    if (value === null || value === undefined) return;
    readObject(locatedNode(value, contents, line, lineOf), name, into, {});
  };
  for (const token of new Parser(lineCounter.addNewLine).parse(document.text)) {
    const tooDeep = tooDeepToken(token);
    if (tooDeep !== undefined) throw new ManifestError(name, lineOf(tooDeep.offset), `nested more than ${MAX_DEPTH} levels deep`);
    for (const composed of composer.next(token)) readDocument(composed);
  }
  for (const composed of composer.end()) readDocument(composed);
}

/** A YAML value with its node: a List's items are placed at their own nodes' lines. */
function locatedNode(value: unknown, node: unknown, line: number, lineOf: (offset: number) => number): Located {
  return {
    value,
    line,
    item: (index, itemValue) => {
      const itemsNode = isMap(node) ? node.get('items', true) : undefined;
      const items = isRecord(value) ? value['items'] : undefined;
      // Anchors or merge keys may hide the items' nodes: they are then placed at the list's line.
      const itemNode = isSeq(itemsNode) && Array.isArray(items) && itemsNode.items.length === items.length ? itemsNode.items[index] : undefined;
      const start = isNode(itemNode) ? itemNode.range?.[0] : undefined;
      return locatedNode(itemValue, itemNode, start === undefined ? line : lineOf(start), lineOf);
    },
  };
}

/** The first collection in a token nested deeper than MAX_DEPTH, found without recursion. */
function tooDeepToken(root: CST.Token): CST.Token | undefined {
  const pending: [CST.Token, number][] = [[root, 0]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [token, depth] = next;
    if (token.type === 'document' && token.value) pending.push([token.value, depth]);
    if (!CST.isCollection(token)) continue;
    if (depth >= MAX_DEPTH) return token;
    for (const item of token.items) {
      if (item.key) pending.push([item.key, depth + 1]);
      if (item.value) pending.push([item.value, depth + 1]);
    }
  }
  return undefined;
}

function syntaxError(error: YAMLError, lineCounter: LineCounter, offset: number, source: string): ManifestError {
  const { line, col } = lineCounter.linePos(error.pos[0]);
  return new ManifestError(source, line + offset, `invalid YAML: ${SYNTAX_PROBLEMS[error.code] ?? 'a syntax error'} (column ${col})`);
}

/** A document's plain value; the errors of its aliases (too many, or naming no anchor) become ManifestErrors. */
function plainValue(contents: unknown, source: string, line: number): unknown {
  try {
    return yamlValue(contents, MAX_ALIAS_COPIES);
  } catch (error) {
    if (!(error instanceof YamlValueError)) throw error;
    throw new ManifestError(source, line, ALIAS_PROBLEMS[error.problem]);
  }
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
    object['items'].forEach((value: unknown, i: number) => readObject(at.item?.(i, value) ?? { value, line: at.line }, source, into, itemDefaults));
    return;
  }
  if (kind === 'Secret' && apiVersion === 'v1') readSecret(object, into);
  else if (kind === 'ServiceAccount' && apiVersion === 'v1') readServiceAccount(object, into);
  else readWorkload(kind, apiVersion, object, at.line, source, into);
}

function readWorkload(kind: string, apiVersion: string, object: Record<string, unknown>, line: number, source: string, into: Collected): void {
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
  const owner: WorkloadObject = { metadata: { namespace: stringOf(metadata?.['namespace']), name: stringOf(metadata?.['name']), annotations: metadata?.['annotations'] } };
  const w = toWorkload(kind, owner, template && sanitizedPodSpec(template.spec), { templateMetadata: template?.metadata, moreImages });
  if (w.annotationProblem !== undefined) into.warnings.push(`${source}:${line}: ${w.annotationProblem}`);
  const { intern } = into;
  // Written out field by field (a spread gives each object a shape of its own, ~360 bytes), with
  // each string copied out of its document (a slice would keep the whole document's text) and the
  // repeated ones (kinds, namespaces, images…) shared: what is kept of a workload is its own data.
  into.workloads.push({
    kind: intern(w.kind),
    namespace: intern(w.namespace),
    name: ownCopy(w.name),
    containers: w.containers.map((c) => (c.optedOut ? { name: intern(c.name), image: intern(c.image), init: c.init, optedOut: true } : { name: intern(c.name), image: intern(c.image), init: c.init })),
    imagePullSecrets: w.imagePullSecrets.length === 0 ? NO_NAMES : w.imagePullSecrets.map(intern),
    serviceAccountName: intern(w.serviceAccountName),
    placement: w.placement,
    placementKey: intern(w.placementKey),
    active: w.active,
    source,
    line,
  });
}

const NO_NAMES: readonly string[] = Object.freeze([]);

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
  };
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

