/**
 * A YAML stream cut into its documents without parsing it: YAML reserves `---` and `...` at the
 * start of a line (followed by a space or the line's end) for document markers, inside any scalar
 * too, so the cut is where a parser would end a document. Each document can then be read on its own
 * (by the fast reader, or the careful one) and dropped before the next.
 */

export interface YamlDocumentText {
  readonly text: string;
  /** 1-based line of the text's first line in the stream. */
  readonly line: number;
}

/** The next document marker (`---` or `...` starting a line) at or after `from`, as [offset, marker]. */
function nextMarker(text: string, from: number): [number, '---' | '...'] | undefined {
  // A loop, not a regular expression: V8 keeps a regular expression's last subject (here the whole
  // input) alive after the match.
  for (let at = from; at < text.length; ) {
    const marker = text.startsWith('---', at) ? '---' : text.startsWith('...', at) ? '...' : undefined;
    const after = text.charCodeAt(at + 3);
    if (marker && (Number.isNaN(after) || after === 0x20 || after === 0x09 || after === 0x0d || after === 0x0a)) return [at, marker];
    const end = text.indexOf('\n', at);
    if (end === -1) return undefined;
    at = end + 1;
  }
  return undefined;
}

/** The documents of a stream, in order; directives (`%YAML`) stay with the document they precede. */
export function* yamlDocuments(text: string): Generator<YamlDocumentText> {
  let start = 0;
  let line = 1;
  const cut = function* (end: number): Generator<YamlDocumentText> {
    if (end > start) yield { text: text.slice(start, end), line };
    line += newlines(text, start, end);
    start = end;
  };
  let from = 0;
  for (let found = nextMarker(text, from); found !== undefined; found = nextMarker(text, from)) {
    const [at, marker] = found;
    from = at + 3;
    if (marker === '---') {
      // Directives and comments alone are not a document: they belong to the one this marker starts.
      if (at > start && firstContentLine(text.slice(start, at)) === undefined && hasDirective(text, start, at)) continue;
      yield* cut(at);
    } else {
      // `...` ends its document: the line goes with it.
      const next = text.indexOf('\n', at);
      yield* cut(next === -1 ? text.length : next + 1);
      from = start;
    }
  }
  yield* cut(text.length);
}

/**
 * The 0-based index of a document text's first line holding content (not blank, a comment, a
 * directive, or a marker with nothing after it but a comment); undefined when it holds none.
 */
export function firstContentLine(text: string): number | undefined {
  let index = 0;
  for (let at = 0; at < text.length; index++) {
    const end = text.indexOf('\n', at);
    const lineText = text.slice(at, end === -1 ? text.length : end);
    if (!isEmptyLine(lineText)) return index;
    if (end === -1) break;
    at = end + 1;
  }
  return undefined;
}

/** The form `helm template` writes before each document: `# Source: <chart>/templates/<file>`. */
const SOURCE_COMMENT = '# Source: ';
/** Longer paths are not what helm writes (and would bloat every report line). */
export const MAX_TEMPLATE_LENGTH = 1024;

/**
 * The template a `helm template` stream names for a document: the path of the last
 * `# Source: <path>` line among the lines before its content (`first`, from firstContentLine).
 * Only that form, at the start of a line; a path longer than MAX_TEMPLATE_LENGTH or holding control
 * characters is not one helm wrote: none then (not an earlier one, which may be another's).
 */
export function helmTemplate(text: string, first: number): string | undefined {
  let template: string | undefined;
  let at = 0;
  for (let index = 0; index < first && at < text.length; index++) {
    const next = text.indexOf('\n', at);
    const end = next === -1 ? text.length : next;
    if (text.startsWith(SOURCE_COMMENT, at)) {
      let start = at + SOURCE_COMMENT.length;
      let stop = end;
      while (start < stop && isBlank(text.charCodeAt(start))) start++;
      while (stop > start && isBlank(text.charCodeAt(stop - 1))) stop--;
      const helmLike = stop > start && stop - start <= MAX_TEMPLATE_LENGTH && !hasControl(text, start, stop);
      template = helmLike ? text.slice(start, stop) : undefined;
    }
    at = end + 1;
  }
  return template;
}

function isBlank(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0d;
}

/** A loop, not a regular expression: V8 would keep the text (the whole input) as its last subject. */
function hasControl(text: string, from: number, to: number): boolean {
  for (let at = from; at < to; at++) {
    const code = text.charCodeAt(at);
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return true;
  }
  return false;
}

function isEmptyLine(line: string): boolean {
  const rest = /^(?:---|\.\.\.)(?=[ \t\r]|$)/.test(line) ? line.slice(3) : line.startsWith('%') ? '' : line;
  const trimmed = rest.trim();
  return trimmed === '' || trimmed.startsWith('#');
}

function hasDirective(text: string, from: number, to: number): boolean {
  const part = text.slice(from, to);
  return part.startsWith('%') || part.includes('\n%');
}

function newlines(text: string, from: number, to: number): number {
  let count = 0;
  for (let at = text.indexOf('\n', from); at !== -1 && at < to; at = text.indexOf('\n', at + 1)) count++;
  return count;
}
