/**
 * Where the items of a JSON List start, found in one pass over the text without building anything:
 * JSON.parse says nothing about places, and `check` reports each workload at its line
 * (`kubectl get … -o json` writes one item per several lines; compact JSON has all on line 1).
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN = new Set([0x7b, 0x5b]); // { [
const CLOSE = new Set([0x7d, 0x5d]); // } ]
const SPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);

/**
 * The offsets at which the elements of the top-level object's `items` array start, in order; []
 * when the text is not such an object. The text must be valid JSON (JSON.parse read it).
 */
export function jsonItemOffsets(text: string): number[] {
  const offsets: number[] = [];
  let depth = 0;
  /** The last string read at depth 1 followed by a colon: the key whose value comes next. */
  let key: string | undefined;
  let lastString: string | undefined;
  let inItems = false;
  let expectItem = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (SPACE.has(c)) continue;
    if (inItems && depth === 2 && expectItem && c !== 0x5d) {
      offsets.push(i);
      expectItem = false;
    }
    if (c === QUOTE) {
      const start = i + 1;
      for (i = start; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === BACKSLASH) i++;
        else if (d === QUOTE) break;
      }
      // Only keys of the top level are worth keeping (and only short ones can be `items`).
      lastString = depth === 1 && i - start <= 5 ? text.slice(start, i) : undefined;
    } else if (c === COLON) {
      if (depth === 1) key = lastString;
    } else if (OPEN.has(c)) {
      depth++;
      if (depth === 2 && key === 'items' && c === 0x5b) {
        inItems = true;
        expectItem = true;
      }
    } else if (CLOSE.has(c)) {
      depth--;
      if (depth === 1 && inItems) inItems = false;
    } else if (c === COMMA) {
      if (inItems && depth === 2) expectItem = true;
      if (depth === 1) key = undefined;
    }
  }
  return offsets;
}

/** The 1-based line of each offset (ascending), counting newlines once over the text. */
export function linesOfOffsets(text: string, offsets: readonly number[]): number[] {
  const lines: number[] = [];
  let line = 1;
  let at = 0;
  for (const offset of offsets) {
    for (let next = text.indexOf('\n', at); next !== -1 && next < offset; next = text.indexOf('\n', next + 1)) {
      line++;
      at = next + 1;
    }
    lines.push(line);
  }
  return lines;
}
