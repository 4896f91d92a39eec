/**
 * How deep and how many objects and arrays a JSON text holds, counted before JSON.parse builds
 * them. Parsing is bounded by the text's size, but not its cost: 8 MiB of `[[[[…` or of `{},{},…`
 * becomes millions of JS objects (measured: past a 192 MB heap, the exporter dies of it, and the
 * parse holds the event loop for seconds). A linear scan of the text, strings skipped; pure.
 */

export interface JsonShapeBounds {
  /** Objects and arrays inside each other. */
  readonly maxDepth: number;
  /** Objects and arrays in all. */
  readonly maxCollections: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;

/**
 * What of the bounds the text exceeds ('depth' first, as met), or undefined. Malformed JSON is
 * scanned all the same: JSON.parse says what is wrong with it.
 */
export function jsonShapeExceeds(text: string, bounds: JsonShapeBounds): 'depth' | 'collections' | undefined {
  let depth = 0;
  let collections = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++; // the escaped character, a quote included
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > bounds.maxDepth) return 'depth';
      if (++collections > bounds.maxCollections) return 'collections';
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
    }
  }
  return undefined;
}
