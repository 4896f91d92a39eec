/**
 * Reads the manifests `check` is given: files, directories of them, or `-` for stdin. The only I/O
 * of reading manifests; what they say is read by manifests.ts.
 */
import type { Dirent } from 'node:fs';
import { readFile, readdir, realpath, stat } from 'node:fs/promises';
import { sep } from 'node:path';
import { decodeManifest, EncodingError } from './decode.js';
import type { ManifestSource } from './manifests.js';

export class InputError extends Error {
  override readonly name = 'InputError';
}

const STDIN = '-';
/** What a manifest file in a directory is named like; a file given by name is read whatever its name. */
const MANIFEST_NAME = /\.(ya?ml|json)$/i;

/**
 * Reads each argument: a file, a directory (recursively: *.yaml, *.yml, *.json; files sorted by
 * path; hidden entries starting with '.' skipped), or '-' for stdin (read once, whole).
 */
export async function readInputs(args: readonly string[], stdin: NodeJS.ReadableStream): Promise<ManifestSource[]> {
  if (args.filter((arg) => arg === STDIN).length > 1) throw new InputError(`'${STDIN}' (standard input) given more than once`);
  const sources: ManifestSource[] = [];
  for (const arg of args) {
    if (arg === STDIN) sources.push({ name: STDIN, input: STDIN, text: decoded(STDIN, await readStdin(stdin)) });
    else if ((await attempt(arg, () => stat(arg))).isDirectory()) for (const source of await readDirectory(arg)) sources.push(source);
    else sources.push(await readSource(arg, arg));
  }
  return sources;
}

async function readStdin(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
  } catch (error) {
    throw new InputError(`cannot read standard input: ${reason(error)}`);
  }
  return Buffer.concat(chunks);
}

/** The text of an input's bytes, or an InputError naming it. */
function decoded(name: string, bytes: Buffer): string {
  try {
    return decodeManifest(bytes);
  } catch (error) {
    if (error instanceof EncodingError) throw new InputError(`${name === STDIN ? 'standard input' : name} ${error.message}, not read`);
    throw error;
  }
}

/** The manifests under a directory, sorted by their path in it. */
async function readDirectory(dir: string): Promise<ManifestSource[]> {
  const files = await manifestFiles(dir, '', new Set<string>());
  // Checking nothing would pass: a path mistyped in CI, or a chart not rendered.
  if (files.length === 0) throw new InputError(`${dir}: no manifest files (*.yaml, *.yml, *.json) in it, nothing to check`);
  // Sorted as a whole, not per directory: `app.yaml` before `app/x.yaml`, whatever the walk's order.
  files.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const base = dir.endsWith(sep) ? dir : dir + sep;
  const sources: ManifestSource[] = [];
  for (const file of files) sources.push(await readSource(base + file, dir));
  return sources;
}

/**
 * The manifest files under `dir`/`relative`, as paths relative to `dir`. Symlinked directories are
 * followed once: `visited` holds the real paths already walked, so a link to an ancestor ends.
 */
async function manifestFiles(dir: string, relative: string, visited: Set<string>): Promise<string[]> {
  const path = relative === '' ? dir : dir + sep + relative;
  const real = await attempt(path, () => realpath(path));
  if (visited.has(real)) return [];
  visited.add(real);
  const entries = await attempt(path, () => readdir(path, { withFileTypes: true }));
  const files: string[] = [];
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const child = relative === '' ? entry.name : relative + sep + entry.name;
    const kind = await entryKind(entry, dir + sep + child);
    if (kind === 'directory') for (const file of await manifestFiles(dir, child, visited)) files.push(file);
    else if (kind === 'file' && MANIFEST_NAME.test(entry.name)) files.push(child);
  }
  return files;
}

/** What an entry is, symlinks followed; a dangling link counts only if it is named like a manifest. */
async function entryKind(entry: Dirent, path: string): Promise<'directory' | 'file' | 'other'> {
  if (entry.isDirectory()) return 'directory';
  if (entry.isFile()) return 'file';
  if (!entry.isSymbolicLink()) return 'other'; // sockets, FIFOs: reading them could block
  try {
    const target = await stat(path);
    return target.isDirectory() ? 'directory' : target.isFile() ? 'file' : 'other';
  } catch (error) {
    if (MANIFEST_NAME.test(entry.name)) throw new InputError(`cannot read ${path}: ${reason(error)}`);
    return 'other';
  }
}

async function readSource(path: string, input: string): Promise<ManifestSource> {
  return { name: path, input, text: decoded(path, await attempt(path, () => readFile(path))) };
}

/** The operation's result, or an InputError naming the path. */
async function attempt<T>(path: string, operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw new InputError(`cannot read ${path}: ${reason(error)}`);
  }
}

/** The errno code (ENOENT, EACCES…) when there is one: the message repeats the path. */
function reason(error: unknown): string {
  if (error instanceof Error) return (error as NodeJS.ErrnoException).code ?? error.message;
  return String(error);
}
