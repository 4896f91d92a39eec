/**
 * Which nodes a pod template's pods may be scheduled on, as the Kubernetes scheduler decides it from
 * three things only: nodeSelector, required node affinity and taints/tolerations (its NodeAffinity
 * and TaintToleration filters). Enough to know which node platforms an image must provide. Pure.
 */
import { formatPlatform, normalizePlatform } from './platform.js';
import { parseInt64 } from '../kubernetes/label-selector.js';
import { arrayOf, isRecord, stringOf } from '../utils/untrusted.js';

export interface NodeSelectorRequirement {
  readonly key: string;
  readonly operator: string;
  readonly values: readonly string[];
}

/** All requirements must hold; a term with none matches no node. */
export interface NodeSelectorTerm {
  readonly matchExpressions: readonly NodeSelectorRequirement[];
  readonly matchFields: readonly NodeSelectorRequirement[];
}

export interface Toleration {
  readonly key?: string;
  readonly operator?: string;
  readonly value?: string;
  readonly effect?: string;
}

export interface Taint {
  readonly key: string;
  readonly value?: string;
  readonly effect: string;
}

/** What of a pod template decides where its pods may run. */
export interface Placement {
  readonly nodeSelector: Readonly<Record<string, string>>;
  /** requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms: ORed; undefined when there is no such affinity. */
  readonly requiredTerms?: readonly NodeSelectorTerm[];
  readonly tolerations: readonly Toleration[];
}

/** A node as the exporter keeps it. */
export interface NodeFacts {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly taints: readonly Taint[];
  /** Formatted platform (platform.ts formatPlatform) or undefined when the node does not say. */
  readonly platform: string | undefined;
}

/** A pod template that says nothing about where it runs. */
export const NO_PLACEMENT: Placement = Object.freeze({ nodeSelector: Object.freeze({}), tolerations: Object.freeze([]) });

/** Taints the node lifecycle controller sets for passing conditions (not-ready, disk-pressure, …). */
const CONDITION_TAINT_PREFIX = 'node.kubernetes.io/';
/** The only node field a matchFields requirement can name. */
const NODE_NAME_FIELD = 'metadata.name';

/** The string-valued entries of a map; fromEntries defines `__proto__` as a key, never a prototype. */
function stringMap(value: unknown): Readonly<Record<string, string>> {
  if (!isRecord(value)) return {};
  return Object.fromEntries(Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}

/** A label's value; own keys only, so a label named `constructor` is not found on every node. */
function labelOf(labels: Readonly<Record<string, string>>, key: string): string | undefined {
  return Object.hasOwn(labels, key) ? labels[key] : undefined;
}

/** Only the string fields of an object, the others dropped rather than trusted. */
function stringFields<K extends string>(value: Record<string, unknown>, keys: readonly K[]): Partial<Record<K, string>> {
  const fields: Partial<Record<K, string>> = {};
  for (const key of keys) {
    const field = stringOf(value[key]);
    if (field !== undefined) fields[key] = field;
  }
  return fields;
}

function requirementsOf(value: unknown): NodeSelectorRequirement[] {
  const requirements: NodeSelectorRequirement[] = [];
  for (const item of arrayOf(value)) {
    if (!isRecord(item)) continue;
    const key = stringOf(item['key']);
    const operator = stringOf(item['operator']);
    if (key === undefined || operator === undefined) continue;
    const values = arrayOf(item['values']).filter((v): v is string => typeof v === 'string');
    requirements.push({ key, operator, values });
  }
  return requirements;
}

function requiredTermsOf(affinity: unknown): NodeSelectorTerm[] | undefined {
  const nodeAffinity = isRecord(affinity) ? affinity['nodeAffinity'] : undefined;
  const required = isRecord(nodeAffinity) ? nodeAffinity['requiredDuringSchedulingIgnoredDuringExecution'] : undefined;
  if (!isRecord(required)) return undefined;
  // A required affinity without terms is kept (as []): the scheduler then places the pod nowhere.
  return arrayOf(required['nodeSelectorTerms'])
    .filter(isRecord)
    .map((term) => ({ matchExpressions: requirementsOf(term['matchExpressions']), matchFields: requirementsOf(term['matchFields']) }));
}

function tolerationsOf(value: unknown): Toleration[] {
  return arrayOf(value)
    .filter(isRecord)
    .map((item) => stringFields(item, ['key', 'operator', 'value', 'effect'] as const));
}

/** The placement of a pod spec as the API server's JSON has it; anything malformed is ignored. */
export function placementOf(podSpec: unknown): Placement {
  if (!isRecord(podSpec)) return NO_PLACEMENT;
  const requiredTerms = requiredTermsOf(podSpec['affinity']);
  const placement = { nodeSelector: stringMap(podSpec['nodeSelector']), tolerations: tolerationsOf(podSpec['tolerations']) };
  return requiredTerms === undefined ? placement : { ...placement, requiredTerms };
}

function hasNoConstraints(placement: Placement): boolean {
  return (
    Object.keys(placement.nodeSelector).length === 0 &&
    placement.requiredTerms === undefined &&
    placement.tolerations.length === 0
  );
}

function requirementKey(requirement: NodeSelectorRequirement): unknown {
  return [requirement.key, requirement.operator, requirement.values];
}

/**
 * A string equal for equal placements, whatever order their maps were written in, so workloads
 * that place alike can share one answer; '' for no constraints. Absent fields become null so that
 * they differ from empty strings.
 */
export function placementKey(placement: Placement): string {
  if (hasNoConstraints(placement)) return '';
  const selector = Object.entries(placement.nodeSelector).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const terms = placement.requiredTerms?.map((term) => [
    term.matchExpressions.map(requirementKey),
    term.matchFields.map(requirementKey),
  ]);
  const tolerations = placement.tolerations.map((t) => [t.key ?? null, t.operator ?? null, t.value ?? null, t.effect ?? null]);
  return JSON.stringify([selector, terms ?? null, tolerations]);
}

/** The node's platform: what its kubelet reports, else its os/arch labels, else their beta spellings. */
function platformOf(labels: Readonly<Record<string, string>>, nodeInfo: unknown): string | undefined {
  const info = isRecord(nodeInfo) ? nodeInfo : {};
  const pairs: [unknown, unknown][] = [
    [info['operatingSystem'], info['architecture']],
    [labelOf(labels, 'kubernetes.io/os'), labelOf(labels, 'kubernetes.io/arch')],
    [labelOf(labels, 'beta.kubernetes.io/os'), labelOf(labels, 'beta.kubernetes.io/arch')],
  ];
  for (const [os, architecture] of pairs) {
    if (typeof os === 'string' && os !== '' && typeof architecture === 'string' && architecture !== '') {
      return formatPlatform(normalizePlatform({ os, architecture }));
    }
  }
  return undefined;
}

function taintsOf(value: unknown): Taint[] {
  const taints: Taint[] = [];
  for (const item of arrayOf(value)) {
    if (!isRecord(item)) continue;
    const key = stringOf(item['key']);
    const effect = stringOf(item['effect']);
    const taintValue = stringOf(item['value']);
    if (key === undefined || effect === undefined) continue;
    taints.push(taintValue === undefined ? { key, effect } : { key, value: taintValue, effect });
  }
  return taints;
}

/** What the exporter keeps of a Node object's JSON; undefined without metadata.name. */
export function nodeFactsOf(node: unknown): NodeFacts | undefined {
  if (!isRecord(node) || !isRecord(node['metadata'])) return undefined;
  const name = stringOf(node['metadata']['name']);
  if (name === undefined || name === '') return undefined;
  const labels = stringMap(node['metadata']['labels']);
  const spec = isRecord(node['spec']) ? node['spec'] : {};
  const status = isRecord(node['status']) ? node['status'] : {};
  return { name, labels, taints: taintsOf(spec['taints']), platform: platformOf(labels, status['nodeInfo']) };
}

/**
 * One matchExpressions requirement against the node's labels (labels.Requirement.Matches). Value
 * counts the API server would reject make the scheduler fail the term; here they never match.
 */
function expressionMatches(requirement: NodeSelectorRequirement, labels: Readonly<Record<string, string>>): boolean {
  const { operator, values } = requirement;
  const label = labelOf(labels, requirement.key);
  switch (operator) {
    case 'In':
      return label !== undefined && values.includes(label);
    case 'NotIn':
      return values.length > 0 && (label === undefined || !values.includes(label));
    case 'Exists':
      return values.length === 0 && label !== undefined;
    case 'DoesNotExist':
      return values.length === 0 && label === undefined;
    case 'Gt':
    case 'Lt': {
      const bound = values.length === 1 ? parseInt64(values[0] as string) : undefined;
      const actual = label === undefined ? undefined : parseInt64(label);
      if (bound === undefined || actual === undefined) return false;
      return operator === 'Gt' ? actual > bound : actual < bound;
    }
    default:
      return false;
  }
}

/** One matchFields requirement: only metadata.name, only In/NotIn with exactly one value, as Kubernetes. */
function fieldMatches(requirement: NodeSelectorRequirement, node: NodeFacts): boolean {
  const [value] = requirement.values;
  if (requirement.key !== NODE_NAME_FIELD || requirement.values.length !== 1) return false;
  if (requirement.operator === 'In') return node.name === value;
  if (requirement.operator === 'NotIn') return node.name !== value;
  return false;
}

function termMatches(term: NodeSelectorTerm, node: NodeFacts): boolean {
  if (term.matchExpressions.length === 0 && term.matchFields.length === 0) return false;
  return (
    term.matchExpressions.every((requirement) => expressionMatches(requirement, node.labels)) &&
    term.matchFields.every((requirement) => fieldMatches(requirement, node))
  );
}

/** core/v1 Toleration.ToleratesTaint. */
function tolerates(toleration: Toleration, taint: Taint): boolean {
  if (toleration.effect && toleration.effect !== taint.effect) return false;
  if (toleration.key && toleration.key !== taint.key) return false;
  switch (toleration.operator ?? '') {
    case '':
    case 'Equal':
      return (toleration.value ?? '') === (taint.value ?? '');
    case 'Exists':
      return true;
    default:
      return false;
  }
}

/** Taints that keep pods off a node for what the node is, not for how it is doing right now. */
function repels(taint: Taint): boolean {
  if (taint.key.startsWith(CONDITION_TAINT_PREFIX)) return false;
  return taint.effect === 'NoSchedule' || taint.effect === 'NoExecute';
}

/** May the scheduler place a pod with this placement on the node? */
export function mayRunOn(placement: Placement, node: NodeFacts): boolean {
  const selected = Object.entries(placement.nodeSelector).every(([key, value]) => labelOf(node.labels, key) === value);
  if (!selected) return false;
  if (placement.requiredTerms !== undefined && !placement.requiredTerms.some((term) => termMatches(term, node))) return false;
  return node.taints.filter(repels).every((taint) => placement.tolerations.some((t) => tolerates(t, taint)));
}

/** The platforms, sorted and unique, of the nodes the placement allows and that say their platform. */
export function requiredPlatforms(placement: Placement, nodes: readonly NodeFacts[]): string[] {
  const platforms = new Set<string>();
  for (const node of nodes) {
    if (node.platform !== undefined && mayRunOn(placement, node)) platforms.add(node.platform);
  }
  return [...platforms].sort();
}
