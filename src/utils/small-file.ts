/**
 * Reads a configuration file named by an operator or found in a directory a node shares: a regular
 * file of bounded size, or an error saying why not. Opened without blocking first, so a FIFO or a
 * device put in its place cannot hold one of libuv's few file-system threads forever.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';

export class SmallFileError extends Error {}

export async function readSmallFile(path: string, maxBytes: number): Promise<string> {
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new SmallFileError(`cannot read ${path}: ${code ?? (error as Error).message}`);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new SmallFileError(`${path} is not a regular file`);
    if (info.size > maxBytes) throw new SmallFileError(`${path} is larger than ${maxBytes} bytes`);
    // Read to the end, whatever stat() said: a file that grows past the bound meanwhile is refused, not cut.
    const chunks: Buffer[] = [];
    let length = 0;
    for (;;) {
      const chunk = Buffer.alloc(Math.min(64 * 1024, maxBytes + 1 - length));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      length += bytesRead;
      if (length > maxBytes) throw new SmallFileError(`${path} is larger than ${maxBytes} bytes`);
    }
    return Buffer.concat(chunks, length).toString('utf8');
  } catch (error) {
    if (error instanceof SmallFileError) throw error;
    throw new SmallFileError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  } finally {
    await handle.close();
  }
}
