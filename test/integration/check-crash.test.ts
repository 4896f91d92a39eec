/**
 * A `check` that crashes says so with its own exit code (4), never with a verdict a pipeline would
 * act on (0 present, 1 absent, 3 could not check) nor the usage code (2), and with one line on
 * stderr that quotes nothing of the error's message. The crash is forced by a preloaded hook
 * (test/support/check-hooks/crash.mjs) in the three ways a Node process can fail.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, expect, test } from 'vitest';
import { stringify } from 'yaml';
import { deployment } from '../support/objects.js';
import { makeTempDir } from '../support/tmp.js';
import { ended } from '../support/process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const HOOK = fileURLToPath(new URL('../support/check-hooks/crash.mjs', import.meta.url));
let manifest: string;
let home: string;

beforeAll(async () => {
  const dir = await makeTempDir('check-crash');
  home = dir;
  manifest = join(dir, 'app.yaml');
  // An unreachable registry (refused at once): the table is written, and the crash happens there.
  const object = { apiVersion: 'apps/v1', kind: 'Deployment', ...deployment('shop', 'crash-here', { containers: [{ name: 'app', image: '127.0.0.1:1/shop/web:1' }] }) };
  await writeFile(manifest, stringify(object));
});

async function crashedCheck(mode: string): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', HOOK, 'src/main.ts', 'check', '--allow-plain-http=127.0.0.1:1', manifest], {
    cwd: ROOT,
    env: { ...process.env, HOME: home, DOCKER_CONFIG: join(home, 'none'), CHECK_CRASH: mode },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const { code, stderr, stdout } = await ended(child);
  return { code, stderr, stdout };
}

// Three processes at once: their start-up, not their work, is what takes time on a busy machine.
test('a crash exits 4 with one line naming the error kind, whether thrown, uncaught or an unhandled rejection', async () => {
  const runs = await Promise.all(['throw', 'uncaught', 'rejection'].map(async (mode) => [mode, await crashedCheck(mode)] as const));
  for (const [mode, run] of runs) {
    expect(run.code, `${mode}: ${run.stderr}`).toBe(4);
    const lines = run.stderr.trim().split('\n');
    expect(lines.at(-1), mode).toMatch(/^check: internal error \(RangeError at \S+:\d+\), nothing was decided: please report it$/);
    // The message may quote a manifest: it is never printed.
    expect(run.stdout + run.stderr, mode).not.toContain('hunter2');
  }
}, 90_000);
