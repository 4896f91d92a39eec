/**
 * What reading manifests costs `check` in memory (issue 20, item 12): documents are read one at a
 * time and JSON as JSON, so peak memory grows by a few bytes per input byte — what is kept of each
 * workload — not by the ~90 of holding every document's syntax tree at once. Measured as `check`
 * runs (its own process, peak RSS written at exit by test/support/check-hooks/peak-rss.mjs), by
 * comparing two sizes of one input within one run: no absolute figure, no clock.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, expect, test } from 'vitest';
import { realisticDeployment } from '../support/objects.js';
import { makeTempDir } from '../support/tmp.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const HOOK = fileURLToPath(new URL('../support/check-hooks/peak-rss.mjs', import.meta.url));
/** Peak memory `check` may add per byte of input (measured: ~9 for small YAML documents, ~2 for JSON). */
const MAX_BYTES_PER_INPUT_BYTE = 25;
/** Refused at once (connection refused): the run is the reading, not the checks. */
const IMAGE = '127.0.0.1:1/shop/web:1.0';

let dir: string;

beforeAll(async () => {
  dir = await makeTempDir('check-input-size');
});

/** Peak RSS (bytes) of `check FILE`, and its exit code. */
async function peakOf(path: string): Promise<{ peak: number; code: number | null; stderr: string }> {
  const peakFile = `${path}.peak`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', HOOK, 'src/main.ts', 'check', '--allow-plain-http=127.0.0.1:1', path], {
    cwd: ROOT,
    env: { ...process.env, HOME: dir, DOCKER_CONFIG: join(dir, 'none'), PEAK_RSS_FILE: peakFile },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-2000)));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { peak: Number(await readFile(peakFile, 'utf8')) * 1024, code, stderr };
}

/** Peak memory added per input byte between the two inputs. */
async function growthPerByte(small: string, large: string): Promise<number> {
  const [a, b] = [await peakOf(small), await peakOf(large)];
  // 3: the registry could not be reached, so every workload was read and reported.
  expect([a.code, b.code], a.stderr + b.stderr).toEqual([3, 3]);
  return (b.peak - a.peak) / ((await stat(large)).size - (await stat(small)).size);
}

test('many small YAML documents: memory grows with what is kept of each, not with the whole stream', async () => {
  const doc = (i: number) => `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-${i}\n  namespace: shop\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: ${IMAGE}\n`;
  const write = async (n: number) => {
    const path = join(dir, `documents-${n}.yaml`);
    await writeFile(path, Array.from({ length: n }, (_, i) => doc(i)).join('---\n'));
    return path;
  };
  expect(await growthPerByte(await write(2_000), await write(8_000))).toBeLessThan(MAX_BYTES_PER_INPUT_BYTE);
}, 240_000);

test('a JSON List of API-server-shaped Deployments (kubectl get -o json) is read as JSON', async () => {
  const write = async (n: number) => {
    const path = join(dir, `list-${n}.json`);
    const items = Array.from({ length: n }, (_, i) => ({ apiVersion: 'apps/v1', kind: 'Deployment', ...realisticDeployment('shop', `app-${i}`, { containers: [{ name: 'app', image: IMAGE }] }, i) }));
    await writeFile(path, JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
    return path;
  };
  expect(await growthPerByte(await write(125), await write(500))).toBeLessThan(MAX_BYTES_PER_INPUT_BYTE);
}, 240_000);
