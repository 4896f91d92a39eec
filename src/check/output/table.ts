/** `--output table`: aligned columns for people, problems first, then the summary line. */
import { locationText, outcomeOf, summaryLine, type CheckedContainer, type Outcome } from '../report.js';
import { ITEMS_PER_PIECE, type Render } from './output.js';

const COLOURS: Record<Outcome, string> = { failed: '\x1b[31m', unknown: '\x1b[33m', present: '\x1b[32m', skipped: '\x1b[2m' };
const RESET = '\x1b[0m';

/** Manifests may hold anything: control characters would rewrite the reader's terminal. */
function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

/**
 * The table in pieces of a thousand rows, written as they are made: at 100,000s of rows the whole
 * text, its lines and their cells would be the largest things in memory. Colours only when asked.
 */
export const table: Render = function* ({ containers, summary }, { colour }) {
  // SOURCE only for manifests: a cluster's workloads have no place to show.
  const located = containers.some((c) => c.location !== null);
  const header = ['KIND', 'NAMESPACE', 'NAME', 'CONTAINER', 'IMAGE', 'STATUS', ...(located ? ['SOURCE'] : []), 'REASON'];
  const cellsOf = (c: CheckedContainer) =>
    [
      c.kind,
      c.namespace || '-',
      c.name,
      c.volume ? `volume ${c.container}` : c.init ? `${c.container} (init)` : c.container,
      c.image || '""',
      c.status,
      ...(located ? [locationText(c.location) || '-'] : []),
      c.status === 'present' ? '' : (c.reason ?? ''),
    ].map(printable);
  // A loop, not Math.max(...column): spreading 150,000 cells as arguments overflows the stack.
  const widths = header.map((h) => h.length);
  for (const c of containers) cellsOf(c).forEach((cell, i) => (widths[i] = Math.max(widths[i] as number, cell.length)));
  const line = (row: readonly string[], outcome?: Outcome) =>
    row
      .map((cell, i) => {
        const padded = i === row.length - 1 ? cell : cell.padEnd(widths[i] as number);
        return colour && outcome && i === 5 ? `${COLOURS[outcome]}${padded}${RESET}` : padded;
      })
      .join('  ')
      .trimEnd();
  let piece = `${line(header)}\n`;
  for (let from = 0; from < containers.length; from += ITEMS_PER_PIECE) {
    const lines: string[] = [];
    for (const c of containers.slice(from, from + ITEMS_PER_PIECE)) lines.push(line(cellsOf(c), outcomeOf(c.status)));
    yield `${piece}${lines.join('\n')}\n`;
    piece = '';
  }
  yield `${piece}\n${summaryLine(summary)}\n`;
};
