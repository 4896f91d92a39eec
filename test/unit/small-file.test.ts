/** Configuration files from a node's directories: regular, bounded, and never a FIFO that blocks. */
import { execFileSync } from 'node:child_process';
import { symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { readSmallFile, SmallFileError } from '../../src/utils/small-file.js';
import { makeTempDir } from '../support/tmp.js';

test('a regular file within the bound is read whole; over it, refused', async () => {
  const dir = await makeTempDir('small');
  await writeFile(join(dir, 'a'), 'x'.repeat(100_000));
  expect(await readSmallFile(join(dir, 'a'), 100_000)).toHaveLength(100_000);
  await expect(readSmallFile(join(dir, 'a'), 99_999)).rejects.toThrow(/larger than 99999 bytes/);
  // Through a symbolic link (a ConfigMap's ..data) as well.
  await symlink(join(dir, 'a'), join(dir, 'link'));
  expect(await readSmallFile(join(dir, 'link'), 100_000)).toHaveLength(100_000);
});

test('a FIFO, a directory, a device or a missing file: an error saying so, at once', async () => {
  const dir = await makeTempDir('small');
  execFileSync('mkfifo', [join(dir, 'fifo')]);
  await expect(readSmallFile(join(dir, 'fifo'), 1024)).rejects.toThrow(/fifo is not a regular file/);
  await expect(readSmallFile(dir, 1024)).rejects.toThrow(SmallFileError);
  await expect(readSmallFile('/dev/zero', 1024)).rejects.toThrow(/is not a regular file/);
  await expect(readSmallFile(join(dir, 'none'), 1024)).rejects.toThrow(/cannot read .*none: ENOENT/);
});
