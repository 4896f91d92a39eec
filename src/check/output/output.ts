/**
 * What every output of `check` is made from, and the shape each one has: a pure function of one
 * run's result that gives its text in pieces, written as they are made (a run of 100,000s of
 * containers is never one giant string).
 */
import type { FailOn } from '../../flags/config.js';
import type { CheckedContainer, CheckSummary } from '../report.js';

/** One run's result: the same for every output. */
export interface CheckReport {
  /** Problems first (checkedContainers). */
  readonly containers: readonly CheckedContainer[];
  readonly summary: CheckSummary;
  readonly exitCode: number;
  /** Warnings about the inputs ("source:line: …"), also written on stderr. */
  readonly warnings: readonly string[];
  /** Whether images that could not be checked fail the run (`unknown`) or not (`absent`). */
  readonly failOn: FailOn;
}

/** What an output may know of where it runs, given rather than looked up. */
export interface OutputContext {
  /** Colours (the table's): on a terminal, without NO_COLOR. */
  readonly colour: boolean;
  /** Paths are shown relative to this directory when they are inside it. */
  readonly cwd: string;
  /** The tool, as outputs that name it say it (SARIF). */
  readonly tool: ToolInfo;
}

export interface ToolInfo {
  readonly name: string;
  readonly version: string;
  /** Where it is documented, when known. */
  readonly informationUri: string | undefined;
}

/** An output format. Pure: the same report and context give the same text. */
export type Render = (report: CheckReport, context: OutputContext) => Iterable<string>;

/** Items (rows, results, test cases, lines) per piece of text. */
export const ITEMS_PER_PIECE = 1_000;

/** The text of `items`, each made by `text`, in pieces of ITEMS_PER_PIECE items. */
export function* inPieces<T>(items: readonly T[], text: (item: T) => string): Generator<string> {
  for (let from = 0; from < items.length; from += ITEMS_PER_PIECE) {
    let piece = '';
    for (const item of items.slice(from, from + ITEMS_PER_PIECE)) piece += text(item);
    yield piece;
  }
}
