/**
 * Where the CI outputs point for a container: a file (relative to the working directory when it is
 * inside it, as CI systems want paths relative to the checkout) and a line, and in words whatever
 * the file and line cannot say. Pure: the working directory is given.
 */
import { isAbsolute, relative, resolve, sep } from 'node:path';
import type { SourceLocation } from '../report.js';

export interface Place {
  /** The file to point at: the template a helm stream names, else the manifest; none for stdin or a cluster. */
  readonly file: string | undefined;
  /** Its 1-based line, when it is known (a template's line is not: only the stream's is). */
  readonly line: number | undefined;
  /** Where the object was read, in words, when `file` and `line` do not say it. */
  readonly note: string | undefined;
}

const NOWHERE: Place = { file: undefined, line: undefined, note: undefined };

export function placeOf(location: SourceLocation | null, cwd: string): Place {
  if (location === null) return NOWHERE;
  const read = location.file === '-' ? `standard input, line ${location.line}` : `${shownPath(location.file, cwd)}:${location.line}`;
  if (location.template !== undefined) return { file: shownPath(location.template, cwd), line: undefined, note: read };
  if (location.file === '-') return { file: undefined, line: undefined, note: read };
  return { file: shownPath(location.file, cwd), line: location.line, note: undefined };
}

/** `file` relative to `cwd` with `/` separators when it is inside it; else its absolute path. */
export function shownPath(file: string, cwd: string): string {
  const absolute = resolve(cwd, file);
  const fromCwd = relative(cwd, absolute);
  if (fromCwd === '' || fromCwd === '..' || fromCwd.startsWith(`..${sep}`) || isAbsolute(fromCwd)) return absolute;
  return fromCwd.split(sep).join('/');
}
