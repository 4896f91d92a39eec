/**
 * How the nodes' configuration files are read, whichever runtime's they are: regular files of at
 * most 1 MiB each (utils/small-file.ts: a FIFO in a file's place is an error, not a hang), and at
 * most 4 MiB in all for one reading, since 1,000 files of 1 MiB would be a gigabyte parsed on the
 * event loop at every change. Problems are NodeConfigErrors naming the file.
 */
import { readSmallFile, SmallFileError } from '../utils/small-file.js';
import { NodeConfigError } from './node-config-error.js';

export const MAX_FILE_BYTES = 1024 * 1024;
export const MAX_TOTAL_BYTES = 4 * 1024 * 1024;

/** A regular file of at most MAX_FILE_BYTES; `source`: the file that named it, when another. */
export async function readConfigFile(path: string, source?: string): Promise<string> {
  try {
    return await readSmallFile(path, MAX_FILE_BYTES);
  } catch (error) {
    if (error instanceof SmallFileError) throw new NodeConfigError(source ? `${source}: ${error.message}` : error.message);
    throw error;
  }
}

/** What is left of MAX_TOTAL_BYTES for one reading; `tooMuch` says so, naming the file it happened at. */
export class ReadBudget {
  private left = MAX_TOTAL_BYTES;

  constructor(private readonly tooMuch: (at: string) => string) {}

  take(text: string, path: string): string {
    this.left -= text.length;
    if (this.left < 0) throw new NodeConfigError(this.tooMuch(path));
    return text;
  }
}
