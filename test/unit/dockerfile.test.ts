/**
 * What `docker run IMAGE check /manifests` runs, read from the Dockerfile (no Docker engine here): the
 * runtime stage's ENTRYPOINT with the run's arguments appended, in the directory the run chose.
 */
import { readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { describe, expect, test } from 'vitest';

interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

/** Instructions of the last stage (the image that is shipped), continuation lines joined, comments dropped. */
function runtimeStage(dockerfile: string): Instruction[] {
  const lines = dockerfile.replace(/\\\n/g, ' ').split('\n');
  const instructions = lines
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const [keyword = '', ...rest] = line.split(/\s+/);
      return { keyword: keyword.toUpperCase(), args: rest.join(' ') };
    });
  const lastFrom = instructions.map((i) => i.keyword).lastIndexOf('FROM');
  return instructions.slice(lastFrom);
}

/**
 * The process `docker run [-w WORKDIR] IMAGE ...args` starts, as Docker composes it: an exec-form
 * ENTRYPOINT followed by the run's arguments (which replace CMD), relative paths resolved against the
 * working directory.
 */
function processOf(stage: Instruction[], args: string[], workdirOverride?: string) {
  const last = (keyword: string) => stage.filter((i) => i.keyword === keyword).at(-1);
  const entrypoint = last('ENTRYPOINT');
  if (entrypoint === undefined) throw new Error('no ENTRYPOINT');
  const argv = JSON.parse(entrypoint.args) as string[]; // exec form only: shell form drops the run's arguments
  const cmd = last('CMD');
  const workdir = workdirOverride ?? last('WORKDIR')?.args ?? '/';
  return { argv: [...argv, ...(args.length > 0 || cmd === undefined ? args : (JSON.parse(cmd.args) as string[]))], workdir };
}

describe('the container image', () => {
  test('`docker run IMAGE check /manifests` runs the check command on /manifests, whatever the working directory', async () => {
    const stage = runtimeStage(await readFile(new URL('../../Dockerfile', import.meta.url), 'utf8'));
    // The program the image ships: copied from the build stage into WORKDIR/dist.
    const workdir = stage.filter((i) => i.keyword === 'WORKDIR').at(-1)?.args;
    expect(stage.some((i) => i.keyword === 'COPY' && i.args === `--from=build /app/dist ./dist`)).toBe(true);
    const program = posix.join(workdir ?? '/', 'dist/main.js');

    for (const override of [undefined, '/src']) {
      const { argv, workdir: cwd } = processOf(stage, ['check', '/manifests'], override);
      expect(argv[0]).toBe('node');
      expect(posix.resolve(cwd, argv[1]!)).toBe(program);
      expect(argv.slice(2)).toEqual(['check', '/manifests']);
    }
    // No CMD: without arguments the image is the exporter, with no argument added.
    expect(processOf(stage, []).argv.slice(2)).toEqual([]);
  });
});
