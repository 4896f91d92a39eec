/**
 * Temp dirs for test servers. Vitest ends workers with SIGTERM, so no exit hook can clean up;
 * instead each dir carries its creator's pid and later runs sweep dirs whose creator is gone.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PREFIX = 'k8s-iee-test';
const OWNED = new RegExp(`^${PREFIX}-[a-z]+-(\\d+)-`);
let swept: Promise<void> | undefined;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function sweepOrphans(): Promise<void> {
  const entries = await readdir(tmpdir()).catch(() => [] as string[]);
  await Promise.all(
    entries.map(async (name) => {
      const pid = Number(OWNED.exec(name)?.[1]);
      if (pid > 0 && !isAlive(pid)) await rm(join(tmpdir(), name), { recursive: true, force: true }).catch(() => {});
    }),
  );
}

/** mkdtemp under the OS temp dir, e.g. k8s-iee-test-registry-<pid>-XXXXXX. */
export async function makeTempDir(kind: string): Promise<string> {
  swept ??= sweepOrphans();
  await swept;
  return mkdtemp(join(tmpdir(), `${PREFIX}-${kind}-${process.pid}-`));
}
