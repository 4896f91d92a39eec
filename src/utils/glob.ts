/**
 * Globs where `*` matches any run of characters (possibly none) and every other character is
 * literal: the kubelet's per-label host matching (filepath.Match on one label, which holds no
 * separator), --ignored-images (image/ignore.ts) and --allow-plain-http (patternsMatcher). No RegExp: a backtracking
 * engine takes time exponential in the number of `*` on a failing match, and the patterns come from
 * any tenant's pull secrets (the images from any tenant's specs). Pure.
 */

/** A compiled glob: the pattern split on `*` (one piece means no wildcard). */
export interface Glob {
  readonly pieces: readonly string[];
}

export function compileGlob(pattern: string): Glob {
  return { pieces: pattern.split('*') };
}

export function hasWildcard(glob: Glob): boolean {
  return glob.pieces.length > 1;
}

/**
 * Does `text` match? The first piece must be a prefix and the last a suffix; the middle pieces are
 * placed greedily, each at its leftmost occurrence after the previous one. Leftmost is always safe
 * for `*`-only globs (it leaves the most room for what follows), so nothing is ever retried: at
 * most one indexOf per piece over the text.
 */
export function globMatches(glob: Glob, text: string): boolean {
  const { pieces } = glob;
  const first = pieces[0] as string;
  if (pieces.length === 1) return first === text;
  const last = pieces[pieces.length - 1] as string;
  const end = text.length - last.length;
  if (end < first.length || !text.startsWith(first) || !text.endsWith(last)) return false;
  let at = first.length;
  for (let i = 1; i < pieces.length - 1; i++) {
    const piece = pieces[i] as string;
    if (piece === '') continue;
    const found = text.indexOf(piece, at);
    if (found === -1 || found + piece.length > end) return false;
    at = found + piece.length;
  }
  return true;
}

/** Whether a text equals one of the patterns without `*`, or matches one with (--allow-plain-http's hosts). */
export function patternsMatcher(patterns: readonly string[]): (text: string) => boolean {
  const exact = new Set(patterns.filter((p) => !p.includes('*')));
  const globs = patterns.filter((p) => p.includes('*')).map(compileGlob);
  if (exact.size === 0 && globs.length === 0) return () => false;
  return (text) => exact.has(text) || globs.some((glob) => globMatches(glob, text));
}
