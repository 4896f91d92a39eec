/**
 * The opt-out annotation: `k8s-image-existence-exporter/ignore` on a workload or on its pod
 * template, `"true"` for all its containers or a comma-separated list of container names. Pure;
 * the values are tenants' text, so they are bounded: a value past the bounds is not honoured (its
 * containers are checked as usual) and the problem is said, never guessed at.
 */
import { isRecord, quoted } from '../utils/untrusted.js';

export const IGNORE_ANNOTATION = 'k8s-image-existence-exporter/ignore';
/** Far above any pod's containers, far below what would cost anything to read. */
export const MAX_IGNORE_CHARS = 4096;
export const MAX_IGNORED_NAMES = 256;

/** What the annotations of a workload (and its template) opt out. */
export interface IgnoreRule {
  /** Every container. */
  readonly all: boolean;
  /** These containers, by name. */
  readonly names: ReadonlySet<string>;
  /** Why a value was not honoured, for a warning; undefined when every value was read. */
  readonly problem: string | undefined;
}

const NOTHING: IgnoreRule = { all: false, names: new Set(), problem: undefined };

/**
 * The rule of the annotations of these metadata (the workload's, its template's): `"true"` in
 * either opts every container out, else the union of their names. `"false"` and `""` opt out none.
 */
export function ignoreRuleOf(...metadata: unknown[]): IgnoreRule {
  let all = false;
  const names = new Set<string>();
  let problem: string | undefined;
  for (const meta of metadata) {
    const annotations = isRecord(meta) ? meta['annotations'] : undefined;
    if (!isRecord(annotations) || !Object.hasOwn(annotations, IGNORE_ANNOTATION)) continue;
    const value = annotations[IGNORE_ANNOTATION];
    if (typeof value !== 'string') {
      problem = `annotation ${IGNORE_ANNOTATION} is not a string, not honoured`;
      continue;
    }
    const trimmed = value.trim();
    if (trimmed === 'true') {
      all = true;
      continue;
    }
    if (trimmed === 'false') continue;
    if (value.length > MAX_IGNORE_CHARS) {
      problem = `annotation ${IGNORE_ANNOTATION} is longer than ${MAX_IGNORE_CHARS} characters, not honoured`;
      continue;
    }
    const listed = trimmed.split(',').map((name) => name.trim()).filter((name) => name !== '');
    if (listed.length > MAX_IGNORED_NAMES) {
      problem = `annotation ${IGNORE_ANNOTATION} names more than ${MAX_IGNORED_NAMES} containers, not honoured`;
      continue;
    }
    for (const name of listed) names.add(name);
  }
  if (!all && names.size === 0 && problem === undefined) return NOTHING;
  return { all, names, problem };
}

/** Whether the rule opts this container out. */
export function ignores(rule: IgnoreRule, containerName: string): boolean {
  return rule.all || rule.names.has(containerName);
}

/** Names the rule lists that no container has (a typo, say), quoted and cut for a warning. */
export function unmatchedNames(rule: IgnoreRule, containerNames: readonly string[]): string[] {
  if (rule.names.size === 0) return [];
  const have = new Set(containerNames);
  return [...rule.names].filter((name) => !have.has(name)).map((name) => quoted(name, 100));
}
