/**
 * What a review says about the images it checked, in plain words for `kubectl apply`'s
 * `Warning: …` lines: which container, which image, what the registry said, what to do. Pure.
 *
 * Bounded for the API server: it passes webhook warnings on as Warning headers, dropping any that
 * is not printable, and past 4 KiB of warnings in one answer it cuts each to 256 characters, then
 * drops the rest (k8s.io/apiserver, endpoints/filters/warning.go). So each line here is at most
 * MAX_WARNING_CHARS of printable text, and at most MAX_WARNINGS of them are given, with a last
 * line counting the others: together well under 4 KiB.
 */
import type { ContainerRow } from '../../engine/collector.js';
import type { CheckStatus } from '../../registry/status.js';

export const MAX_WARNING_CHARS = 256;
export const MAX_WARNINGS = 10;
/** An image string is shown up to this long; a registry's reason up to this. */
const MAX_IMAGE_CHARS = 100;
const MAX_DETAIL_CHARS = 90;
/** The refusal's message, shown by kubectl after "denied the request: ". */
const MAX_MESSAGE_CHARS = 1024;

/** How a checked container stands: a check status, or not checked by the review's deadline or bound. */
export type FindingStatus = CheckStatus | 'not_checked_in_time' | 'not_checked_too_many';

export interface Finding {
  readonly status: FindingStatus;
  readonly text: string;
}

/**
 * Printable text, one line, as Go's unicode.IsPrint has it (letters, marks, numbers, punctuation,
 * symbols, the space): a control character makes the API server drop the warning, and format
 * characters (a bidi override, a zero-width space) would let a tenant's text look like another on
 * a kubectl user's terminal.
 */
function printable(text: string, max: number): string {
  const clean = text.replace(/[^\p{L}\p{M}\p{N}\p{P}\p{S} ]+/gu, ' ');
  if (clean.length <= max) return clean;
  let keep = max - 1;
  // Never half a surrogate pair.
  const last = clean.charCodeAt(keep - 1);
  if (last >= 0xd800 && last <= 0xdbff) keep--;
  return `${clean.slice(0, keep)}…`;
}

/** The API server keeps an answer's warnings whole while their headers take at most this many bytes. */
const MAX_WARNING_BYTES = 4096;

/** The bytes of the header a line becomes: `299 - "…"`, Go-quoted (`"` and `\` escaped). */
function headerBytes(line: string): number {
  let escaped = 0;
  for (const c of line) if (c === '"' || c === '\\') escaped++;
  return '299 - ""'.length + Buffer.byteLength(line) + escaped;
}

function what(row: Pick<ContainerRow, 'container'>): string {
  const { container } = row;
  const kind = container.volume ? 'image volume' : container.init ? 'init container' : 'container';
  return `${kind} ${JSON.stringify(printable(container.name, 63))}`;
}

/** One container's finding, or undefined when there is nothing to say (present, or skipped on purpose). */
export function findingOf(row: ContainerRow): Finding | undefined {
  if (row.skipped !== undefined || row.status === 'present') return undefined;
  const image = printable(row.container.image, MAX_IMAGE_CHARS);
  const detail = row.detail === undefined ? '' : ` (${printable(row.detail, MAX_DETAIL_CHARS)})`;
  const who = what(row);
  let text: string;
  switch (row.status) {
    case undefined:
      text = `${who}: image ${image} not checked in time (the registry is slow); the exporter keeps checking it and alerts if it is absent`;
      return { status: 'not_checked_in_time', text: printable(text, MAX_WARNING_CHARS) };
    case 'absent':
      text = `${who}: image ${image} does not exist${detail}: pods cannot start with it; push it or fix the tag`;
      break;
    case 'blocked':
      text = `${who}: image ${image} cannot be pulled: the nodes' registry configuration blocks it${detail}`;
      break;
    case 'bad_reference':
      text = `${who}: ${JSON.stringify(image)} is not a valid image reference${detail}; fix the image`;
      break;
    default:
      text = `${who}: image ${image} could not be checked${detail}; whether it exists is not known (not refused)`;
  }
  return { status: row.status, text: printable(text, MAX_WARNING_CHARS) };
}

/**
 * The review's warnings: the findings' texts, at most MAX_WARNINGS and MAX_WARNING_BYTES (lines of
 * multi-byte characters fill the bytes first), then one counting the findings not shown, and last
 * the images left out, always said (among the "more", 70,000 images not checked read as one).
 */
export function warningLines(findings: readonly Finding[], leftOut: number): string[] {
  const lines = findings.map((f) => f.text);
  const tail = leftOut > 0 ? [`${leftOut} more image${leftOut === 1 ? '' : 's'} not checked: too many at once (the exporter checks them when a scrape sees them)`] : [];
  const more = (count: number) => `… and ${count} more; see the exporter's status page`;
  const bytesOf = (all: readonly string[]) => all.reduce((sum, line) => sum + headerBytes(line), 0);
  if (lines.length + tail.length <= MAX_WARNINGS && bytesOf(lines) + bytesOf(tail) <= MAX_WARNING_BYTES) return [...lines, ...tail];
  const shown: string[] = [];
  let bytes = headerBytes(more(lines.length)) + bytesOf(tail); // room for the last lines, at their longest
  for (const line of lines) {
    if (shown.length === MAX_WARNINGS - 1 - tail.length || bytes + headerBytes(line) > MAX_WARNING_BYTES) break;
    shown.push(line);
    bytes += headerBytes(line);
  }
  return [...shown, more(lines.length - shown.length), ...tail];
}

/** Why a review is refused under --admission-deny-absent: the absent images, bounded. */
export function denialMessage(findings: readonly Finding[]): string {
  const absent = findings.filter((f) => f.status === 'absent').map((f) => f.text);
  const text = `${absent.length === 1 ? 'an image does' : `${absent.length} images do`} not exist (--admission-deny-absent): ${absent.join('; ')}`;
  return printable(text, MAX_MESSAGE_CHARS);
}
