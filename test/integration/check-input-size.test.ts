/**
 * What reading manifests costs `check` in memory (issue 20, item 12): documents are read one at a
 * time and JSON as JSON, so memory grows by what is kept of each workload (a few hundred bytes), not
 * by the input's syntax (~90 bytes per input byte when every document's tree was held at once), and
 * nothing kept holds on to the input's text. Counted in a process of its own
 * (test/support/manifest-memory.ts, started with --expose-gc): the heap kept after a full GC and the
 * rise of peak RSS while reading, at two sizes within one run; no absolute figure, no clock. One
 * small run of the CLI shows the documents of a stream reported each at its own place.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { makeTempDir } from '../support/tmp.js';
import { ended } from '../support/process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Heap kept per workload read, beyond a fixed amount (measured: 100–200 bytes for a small YAML document, ~400–520 for an API-server-shaped Deployment; ~900 and ~10,000 when each kept a slice of its text). */
const MAX_KEPT_PER_WORKLOAD = 800;
/** Peak memory reading may add per byte of input (holding every document's tree took ~90). */
const MAX_PEAK_PER_INPUT_BYTE = 25;
/** Refused at once (connection refused): the run is the reading, not the checks. */
const IMAGE = '127.0.0.1:1/shop/web:1.0';

interface Reading {
  readonly format: string;
  readonly bytes: number;
  readonly workloads: number;
  readonly kept: number;
  readonly peakRise: number;
}

/** Runs `node` with `args` in the checkout, to its end. */
async function run(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const { code, stdout, stderr } = await ended(child, { stderrChars: 2000 });
  return { code, stdout, stderr };
}

/** Both formats at two sizes each, read one after the other in one process (one start of tsx). */
const SIZES = { yaml: [2_000, 8_000], json: [125, 500] } as const;
let measured: Promise<Reading[]> | undefined;

/** What reading the inputs of a format kept and cost, the smaller first. */
async function readings(format: keyof typeof SIZES): Promise<[Reading, Reading]> {
  measured ??= (async () => {
    const inputs = Object.entries(SIZES).flatMap(([f, sizes]) => sizes.map((n) => `${f}:${n}`));
    const { code, stdout, stderr } = await run(['--expose-gc', '--import', 'tsx', 'test/support/manifest-memory.ts', ...inputs]);
    expect(code, stderr).toBe(0);
    return stdout.trim().split('\n').map((line) => JSON.parse(line) as Reading);
  })();
  const [small, large] = (await measured).filter((r) => r.format === format);
  expect([small?.workloads, large?.workloads]).toEqual(SIZES[format]);
  return [small as Reading, large as Reading];
}

function expectBounded([small, large]: [Reading, Reading]): void {
  const keptPerWorkload = (large.kept - small.kept) / (large.workloads - small.workloads);
  expect(keptPerWorkload, `${keptPerWorkload.toFixed(0)} bytes kept per workload`).toBeLessThan(MAX_KEPT_PER_WORKLOAD);
  const peakPerByte = large.peakRise / large.bytes;
  expect(peakPerByte, `${peakPerByte.toFixed(1)} bytes of peak RSS per input byte`).toBeLessThan(MAX_PEAK_PER_INPUT_BYTE);
}

test('many small YAML documents: memory grows with what is kept of each workload, not with the whole stream', async () => {
  expectBounded(await readings('yaml'));
}, 60_000);

test('a JSON List of API-server-shaped Deployments (kubectl get -o json) is read as JSON', async () => {
  expectBounded(await readings('json'));
}, 60_000);

test('the CLI reads a stream of documents one at a time, each reported at its own line', async () => {
  const dir = await makeTempDir('check-input-size');
  const doc = (i: number) => `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-${i}\n  namespace: shop\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: ${IMAGE}\n`;
  const path = join(dir, 'documents.yaml');
  await writeFile(path, Array.from({ length: 2_000 }, (_, i) => doc(i)).join('---\n'));
  // No docker config of the machine's: HOME and DOCKER_CONFIG name nothing.
  const env = { ...process.env, HOME: dir, DOCKER_CONFIG: join(dir, 'none') };
  const { code, stdout, stderr } = await run(['--import', 'tsx', 'src/main.ts', 'check', '--output', 'json', '--allow-plain-http=127.0.0.1:1', path], env);
  // 3: the registry could not be reached, so every workload was read and reported, none absent.
  expect(code, stderr).toBe(3);
  const { containers } = JSON.parse(stdout) as { containers: { name: string; source: string }[] };
  expect(containers).toHaveLength(2_000);
  // Each document is 11 lines and a marker: the n-th starts at line 12n + 1.
  expect(containers.map((c) => c.source)).toEqual(Array.from({ length: 2_000 }, (_, i) => `${path}:${12 * i + 1}`));
  expect(containers.at(-1)?.name).toBe('app-1999');
}, 60_000);
