import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { InputError, readInputs } from '../../src/check/inputs.js';

/** A stdin that must not be read. */
const NO_STDIN = new Readable({
  read() {
    throw new Error('stdin read');
  },
});

let root: string;

/** Writes files (path relative to root -> text), creating their directories. */
async function write(files: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), text);
  }
}

/** The error readInputs rejects with (the test fails if it resolves). */
async function failure(args: string[], stdin: NodeJS.ReadableStream = NO_STDIN): Promise<Error> {
  return readInputs(args, stdin).then(
    () => {
      throw new Error('expected readInputs to fail');
    },
    (error: Error) => error,
  );
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'inputs-test-'));
  await write({
    'tree/b.yaml': 'b',
    'tree/a.yml': 'a',
    'tree/c.json': 'c',
    'tree/app.yaml': 'app',
    'tree/app/x.YAML': 'app/x',
    'tree/app/deep/z.yaml': 'app/deep/z',
    'tree/notes.txt': 'not a manifest',
    'tree/README.md': 'not a manifest',
    'tree/.hidden.yaml': 'hidden file',
    'tree/.git/config.yaml': 'hidden directory',
    'tree/app/.cache/y.yaml': 'hidden nested directory',
    'plain.txt': 'explicit text',
    'loop/one.yaml': 'one',
  });
  // A link back to its own directory: followed once, not forever.
  await symlink(join(root, 'loop'), join(root, 'loop', 'again'));
  await symlink(join(root, 'tree', 'app'), join(root, 'linked-app'));
  await mkdir(join(root, 'dangling'));
  await symlink(join(root, 'nowhere'), join(root, 'dangling', 'gone.yaml'));
  await symlink(join(root, 'nowhere'), join(root, 'dangling', 'gone.txt'));
  await mkdir(join(root, 'dangling-other'));
  await symlink(join(root, 'nowhere'), join(root, 'dangling-other', 'gone.txt'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('readInputs', () => {
  test('a directory: manifests at any depth, sorted by path, other and hidden files left out', async () => {
    const dir = join(root, 'tree');
    const sources = await readInputs([dir], NO_STDIN);
    expect(sources).toEqual([
      { name: `${dir}/a.yml`, input: dir, text: 'a' },
      { name: `${dir}/app.yaml`, input: dir, text: 'app' },
      { name: `${dir}/app/deep/z.yaml`, input: dir, text: 'app/deep/z' },
      { name: `${dir}/app/x.YAML`, input: dir, text: 'app/x' },
      { name: `${dir}/b.yaml`, input: dir, text: 'b' },
      { name: `${dir}/c.json`, input: dir, text: 'c' },
    ]);
  });

  test('names keep the path as written, a trailing slash included once', async () => {
    const sources = await readInputs([join(root, 'tree', 'app') + '/'], NO_STDIN);
    expect(sources.map((s) => s.name)).toEqual([join(root, 'tree', 'app', 'deep', 'z.yaml'), join(root, 'tree', 'app', 'x.YAML')]);
    const dotted = `./${relative(process.cwd(), join(root, 'tree', 'app'))}`;
    expect((await readInputs([dotted], NO_STDIN)).map((s) => s.name)).toEqual([`${dotted}/deep/z.yaml`, `${dotted}/x.YAML`]);
  });

  test('a file given by name is read whatever its extension, in the order of the arguments', async () => {
    const text = join(root, 'plain.txt');
    const yaml = join(root, 'tree', 'b.yaml');
    expect(await readInputs([yaml, text], NO_STDIN)).toEqual([
      { name: yaml, input: yaml, text: 'b' },
      { name: text, input: text, text: 'explicit text' },
    ]);
  });

  test('a symlinked directory is followed; a symlink loop ends', async () => {
    const linked = await readInputs([join(root, 'linked-app')], NO_STDIN);
    expect(linked.map((s) => s.text)).toEqual(['app/deep/z', 'app/x']);
    const loop = await readInputs([join(root, 'loop')], NO_STDIN);
    expect(loop).toEqual([{ name: join(root, 'loop', 'one.yaml'), input: join(root, 'loop'), text: 'one' }]);
  });

  test('a missing path is an InputError naming it', async () => {
    const missing = join(root, 'manifests', 'x.yaml');
    const error = await failure([join(root, 'tree'), missing]);
    expect(error).toBeInstanceOf(InputError);
    expect(error.message).toBe(`cannot read ${missing}: ENOENT`);
  });

  test('a dangling link in a directory is an error when named like a manifest, else ignored', async () => {
    const error = await failure([join(root, 'dangling')]);
    expect(error).toBeInstanceOf(InputError);
    expect(error.message).toBe(`cannot read ${join(root, 'dangling', 'gone.yaml')}: ENOENT`);
    // With the link ignored there is nothing to read: an error, not an empty run that would pass.
    expect((await failure([join(root, 'dangling-other')])).message).toBe(`${join(root, 'dangling-other')}: no manifest files (*.yaml, *.yml, *.json) in it, nothing to check`);
  });

  test('- reads stdin, whole, among files', async () => {
    const stdin = Readable.from([Buffer.from('apiVersion: v1\n'), 'kind: ', Buffer.from('Pod\n')]);
    const file = join(root, 'tree', 'a.yml');
    expect(await readInputs([file, '-'], stdin)).toEqual([
      { name: file, input: file, text: 'a' },
      { name: '-', input: '-', text: 'apiVersion: v1\nkind: Pod\n' },
    ]);
  });

  test('- given twice is an InputError, before anything is read', async () => {
    const error = await failure(['-', join(root, 'tree'), '-']);
    expect(error).toBeInstanceOf(InputError);
    expect(error.message).toContain("'-'");
  });

  test('a failing stdin is an InputError', async () => {
    const stdin = new Readable({
      read() {
        this.destroy(new Error('broken pipe'));
      },
    });
    const error = await failure(['-'], stdin);
    expect(error).toBeInstanceOf(InputError);
    expect(error.message).toBe('cannot read standard input: broken pipe');
  });

  test('no arguments read nothing', async () => {
    expect(await readInputs([], NO_STDIN)).toEqual([]);
  });
});
