/**
 * What `check` says: one line per container, problems first, as a table for people or one JSON
 * document for programs, and the exit code that sums it up. Pure.
 */
import { skipReasonText, type ContainerRow } from '../engine/collector.js';
import type { FailOn } from '../flags/config.js';
import type { Workload } from '../kubernetes/workloads.js';
import { statusRank, type CheckStatus } from '../registry/status.js';

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
  if (status === 'absent' || status === 'bad_reference') return 'failed';
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
  readonly containers: number;
  /** Distinct image strings. */
  readonly images: number;
  readonly statuses: Readonly<Partial<Record<CheckedContainer['status'], number>>>;
  /** Kinds whose workloads could not be listed (--cluster), with why: nothing of theirs was checked. */
  readonly unlisted: readonly string[];
}

export function summarize(containers: readonly CheckedContainer[], unlisted: readonly string[] = []): CheckSummary {
  const statuses: Partial<Record<CheckedContainer['status'], number>> = {};
  for (const { status } of containers) statuses[status] = (statuses[status] ?? 0) + 1;
  return { containers: containers.length, images: new Set(containers.map((c) => c.image)).size, statuses, unlisted };
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

/** The one JSON document of `--output json`. */
export function renderJson(containers: readonly CheckedContainer[], summary: CheckSummary, exitCode: number, warnings: readonly string[]): string {
  // `source` says where in JSON (as it always has); the structured location is for the other outputs.
  const listed = containers.map(({ location: _location, ...container }) => container);
  return `${JSON.stringify({ exitCode, summary, warnings, containers: listed }, null, 2)}\n`;
}

const COLOURS: Record<Outcome, string> = { failed: '\x1b[31m', unknown: '\x1b[33m', present: '\x1b[32m', skipped: '\x1b[2m' };
const RESET = '\x1b[0m';

/** Manifests may hold anything: control characters would rewrite the reader's terminal. */
function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

/** The table of `--output table`, then a summary line; colours only when asked (a TTY). */
export function renderTable(containers: readonly CheckedContainer[], summary: CheckSummary, options: { readonly colour: boolean }): string {
  return [...tableText(containers, summary, options)].join('');
}

/** Rows written per piece of tableText. */
const ROWS_PER_PIECE = 1_000;

/**
 * The text of renderTable in pieces of a thousand rows, to be written as they are made: at 100,000s
 * of rows the whole text, its lines and their cells would be the largest things in memory.
 */
export function* tableText(containers: readonly CheckedContainer[], summary: CheckSummary, options: { readonly colour: boolean }): Generator<string> {
  const header = ['KIND', 'NAMESPACE', 'NAME', 'CONTAINER', 'IMAGE', 'STATUS', 'REASON'];
  const cellsOf = (c: CheckedContainer) =>
    [c.kind, c.namespace || '-', c.name, c.init ? `${c.container} (init)` : c.container, c.image || '""', c.status, c.status === 'present' ? '' : (c.reason ?? '')].map(printable);
  // A loop, not Math.max(...column): spreading 150,000 cells as arguments overflows the stack.
  const widths = header.map((h) => h.length);
  for (const c of containers) cellsOf(c).forEach((cell, i) => (widths[i] = Math.max(widths[i] as number, cell.length)));
  const line = (row: readonly string[], outcome?: Outcome) =>
    row
      .map((cell, i) => {
        const padded = i === row.length - 1 ? cell : cell.padEnd(widths[i] as number);
        return options.colour && outcome && i === 5 ? `${COLOURS[outcome]}${padded}${RESET}` : padded;
      })
      .join('  ')
      .trimEnd();
  let piece = `${line(header)}\n`;
  for (let from = 0; from < containers.length; from += ROWS_PER_PIECE) {
    const lines: string[] = [];
    for (const c of containers.slice(from, from + ROWS_PER_PIECE)) lines.push(line(cellsOf(c), outcomeOf(c.status)));
    yield `${piece}${lines.join('\n')}\n`;
    piece = '';
  }
  yield `${piece}\n${summaryLine(summary)}\n`;
}

export function summaryLine(summary: CheckSummary): string {
  const counts = Object.entries(summary.statuses)
    .sort(([a], [b]) => rank(a as CheckedContainer['status']) - rank(b as CheckedContainer['status']) || a.localeCompare(b))
    .map(([status, n]) => `${n} ${status}`);
  const images = `${summary.containers} container${summary.containers === 1 ? '' : 's'}, ${summary.images} image${summary.images === 1 ? '' : 's'}`;
  const unlisted = summary.unlisted.map((problem) => `; not listed: ${problem}`).join('');
  return `${images}: ${counts.length > 0 ? counts.join(', ') : 'nothing to check'}${unlisted}`;
}
