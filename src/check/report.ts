/**
 * What `check` found: one entry per container, problems first, their summary, and the exit code that
 * sums it up. Pure. How it is written is output/'s (table, JSON, SARIF, JUnit, GitHub annotations).
 */
import { skipReasonText, type ContainerRow } from '../engine/collector.js';
import type { FailOn } from '../flags/config.js';
import type { Workload } from '../kubernetes/workloads.js';
import { failsPull, statusRank, type CheckStatus } from '../registry/status.js';

/** A container whose check had not finished (cannot happen without a deadline; reported, not hidden). */
export const NOT_CHECKED = 'not_checked';
/** A container not checked on purpose (--ignored-images, or its workload's opt-out annotation): reported, with the reason. */
export const SKIPPED = 'skipped';

export interface CheckedContainer {
  readonly kind: string;
  /** '' when the manifest names none. */
  readonly namespace: string;
  readonly name: string;
  readonly container: string;
  readonly init: boolean;
  /** An image volume (spec.volumes[].image): `container` is then the volume's name. */
  readonly volume: boolean;
  readonly image: string;
  readonly status: CheckStatus | typeof NOT_CHECKED | typeof SKIPPED;
  readonly reason: string | null;
  /** `file:line` of the object in the manifests; null for a cluster's workloads. */
  readonly source: string | null;
  /** Where the object is, for outputs that point at a place (SARIF, JUnit, annotations); null for a cluster's workloads. */
  readonly location: SourceLocation | null;
}

/** Where a manifest object was read: the file and 1-based line of its document or item. */
export interface SourceLocation {
  readonly file: string;
  readonly line: number;
  /** The template a `helm template` stream says the document came from (`# Source:`), when it says. */
  readonly template?: string;
}

/** How a status counts for the exit code: a skipped container counts for nothing. */
export type Outcome = 'failed' | 'unknown' | 'present' | 'skipped';

export function outcomeOf(status: CheckedContainer['status']): Outcome {
  if (status !== NOT_CHECKED && status !== SKIPPED && failsPull(status)) return 'failed';
  if (status === SKIPPED) return 'skipped';
  return status === 'present' ? 'present' : 'unknown';
}

/** Problems first (statusRank); a check that did not finish counts as one that could not tell; skipped ones last. */
function rank(status: CheckedContainer['status']): number {
  if (status === SKIPPED) return 4;
  return statusRank(status === NOT_CHECKED ? undefined : status);
}

/** The rows as reported, problems first; the order of the input otherwise (the manifests' order). */
export function checkedContainers(rows: readonly ContainerRow[], locationOf: (workload: Workload) => SourceLocation | undefined = () => undefined): CheckedContainer[] {
  const containers = rows.map(({ workload, container, status, detail, skipped }): CheckedContainer => {
    const location = locationOf(workload) ?? null;
    return {
    kind: workload.kind,
    namespace: workload.namespace,
    name: workload.name,
    container: container.name,
    init: container.init,
    volume: container.volume === true,
    image: container.image,
    status: skipped ? SKIPPED : (status ?? NOT_CHECKED),
    reason: skipped ? skipReasonText(skipped) : status ? (detail ?? null) : 'the check did not finish',
    source: location ? `${location.file}:${location.line}` : null,
    location,
    };
  });
  return containers.sort((a, b) => rank(a.status) - rank(b.status)); // stable: manifest order within a rank
}

export interface CheckSummary {
  /** Entries checked: containers and image volumes. */
  readonly containers: number;
  /** Of them, image volumes; only when there are some. */
  readonly volumes?: number;
  /** Distinct image strings. */
  readonly images: number;
  readonly statuses: Readonly<Partial<Record<CheckedContainer['status'], number>>>;
  /** Kinds whose workloads could not be listed (--cluster), with why: nothing of theirs was checked. */
  readonly unlisted: readonly string[];
}

export function summarize(containers: readonly CheckedContainer[], unlisted: readonly string[] = []): CheckSummary {
  const statuses: Partial<Record<CheckedContainer['status'], number>> = {};
  let volumes = 0;
  for (const { status, volume } of containers) {
    statuses[status] = (statuses[status] ?? 0) + 1;
    if (volume) volumes++;
  }
  const images = new Set(containers.map((c) => c.image)).size;
  return volumes > 0 ? { containers: containers.length, volumes, images, statuses, unlisted } : { containers: containers.length, images, statuses, unlisted };
}

/**
 * 0 every image present; 1 some image absent or a reference invalid; 3 some image (or a whole kind,
 * unlisted) could not be checked and none failed, unless `--fail-on absent` accepts that.
 */
export function exitCodeOf(summary: CheckSummary, failOn: FailOn): 0 | 1 | 3 {
  const outcomes = new Set(Object.keys(summary.statuses).map((s) => outcomeOf(s as CheckedContainer['status'])));
  if (outcomes.has('failed')) return 1;
  if ((outcomes.has('unknown') || summary.unlisted.length > 0) && failOn === 'unknown') return 3;
  return 0;
}

/** Where a container's object is, for people: `file:line`, after its template when a helm stream named one. */
export function locationText(location: SourceLocation | null): string {
  if (location === null) return '';
  const place = `${location.file}:${location.line}`;
  return location.template === undefined ? place : `${location.template} (${place})`;
}

/** The summary in one line: counts problems first, and the kinds not listed. */
export function summaryLine(summary: CheckSummary): string {
  const counts = Object.entries(summary.statuses)
    .sort(([a], [b]) => rank(a as CheckedContainer['status']) - rank(b as CheckedContainer['status']) || a.localeCompare(b))
    .map(([status, n]) => `${n} ${status}`);
  const volumes = summary.volumes ?? 0;
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const entries = volumes > 0 ? `${plural(summary.containers - volumes, 'container')} and ${plural(volumes, 'image volume')}` : plural(summary.containers, 'container');
  const images = `${entries}, ${plural(summary.images, 'image')}`;
  const unlisted = summary.unlisted.map((problem) => `; not listed: ${problem}`).join('');
  return `${images}: ${counts.length > 0 ? counts.join(', ') : 'nothing to check'}${unlisted}`;
}
