/**
 * Benchmark: what reading big inputs costs `check` (issue 20, item 12). Generates two inputs into a
 * temp dir — a compact JSON List of API-server-shaped Deployments (what `kubectl get deploy -A -o
 * json` gives) and a stream of many small YAML documents — and runs the built CLI on each as its own
 * process (`node dist/main.js check FILE`) against a real registry on loopback that holds the one
 * image they name (one request: the time is the reading's). Prints wall time and peak RSS (VmHWM,
 * read from /proc while it runs). Asserts nothing. Build first: `npm run build`.
 *
 *   BENCH_ROOT          the checkout whose dist/ is run (default: this one), e.g. /tmp/base for "before"
 *   BENCH_DEPLOYMENTS   Deployments in the JSON List (default 3000)
 *   BENCH_DOCUMENTS     YAML documents in the stream (default 100000)
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { realisticDeployment } from '../test/support/objects.js';
import { pushImage } from '../test/support/push.js';
import { startRegistry } from '../test/support/registry.js';
import { makeTempDir } from '../test/support/tmp.js';

const ROOT = process.env.BENCH_ROOT ?? fileURLToPath(new URL('..', import.meta.url));
const DEPLOYMENTS = Number(process.env.BENCH_DEPLOYMENTS ?? 3000);
const DOCUMENTS = Number(process.env.BENCH_DOCUMENTS ?? 100_000);

interface Run {
  readonly code: number | null;
  readonly seconds: number;
  readonly peakRssMb: number;
  /** CPU time, as last seen before it exited (on a busy machine wall time says little). */
  readonly cpuSeconds: number;
  readonly stdoutBytes: number;
  readonly stderr: string;
}

/** Peak RSS of a live process, in kB (VmHWM); 0 once it is gone. */
function peakKb(pid: number): number {
  try {
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/** CPU time (user + system) of a live process so far, in seconds; 0 once it is gone. */
function cpuSeconds(pid: number): number {
  try {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

async function runCheck(args: readonly string[]): Promise<Run> {
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'main.js'), 'check', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdoutBytes = 0;
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdoutBytes += d.length));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-2000)));
  let peak = 0;
  let cpu = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, peakKb(child.pid!));
    cpu = Math.max(cpu, cpuSeconds(child.pid!));
  }, 20);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => {
    // VmHWM only grows: the last reading before exit is the peak (a zombie's status has none).
    resolve(c);
  }));
  clearInterval(sampler);
  return { code, seconds: Number(process.hrtime.bigint() - started) / 1e9, peakRssMb: peak / 1024, cpuSeconds: cpu, stdoutBytes, stderr };
}

async function main(): Promise<void> {
  const dir = await makeTempDir('bench-check');
  const registry = await startRegistry();
  try {
    await pushImage(registry, 'shop/web', '1.0', 'docker');
    const image = `${registry.host}/shop/web:1.0`;

    const list = join(dir, 'deployments.json');
    const items = Array.from({ length: DEPLOYMENTS }, (_, i) =>
      // As kubectl writes a List: each item says its apiVersion and kind.
      ({ apiVersion: 'apps/v1', kind: 'Deployment', ...realisticDeployment(`ns-${i % 50}`, `app-${i}`, { containers: [{ name: 'app', image }] }, i) }),
    );
    await writeFile(list, JSON.stringify({ apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: '' }, items }));

    const stream = join(dir, 'documents.yaml');
    const doc = (i: number) =>
      `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-${i}\n  namespace: shop\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: ${image}\n`;
    await writeFile(stream, Array.from({ length: DOCUMENTS }, (_, i) => doc(i)).join('---\n'));

    console.log(`check input benchmark: ${ROOT}/dist/main.js, node ${process.version}`);
    for (const [label, file] of [
      [`JSON List of ${DEPLOYMENTS} API-server-shaped Deployments`, list],
      [`${DOCUMENTS} small YAML documents`, stream],
    ] as const) {
      const size = (await stat(file)).size / 1e6;
      const run = await runCheck([`--allow-plain-http=${registry.host}`, file]);
      console.log(
        `${label} (${size.toFixed(1)} MB): exit ${run.code}, ${run.seconds.toFixed(1)} s wall, ${run.cpuSeconds.toFixed(1)} s CPU, peak RSS ${run.peakRssMb.toFixed(0)} MB, ` +
          `${(size / run.seconds).toFixed(2)} MB/s, ${(run.stdoutBytes / 1e6).toFixed(1)} MB of output`,
      );
      if (run.code !== 0) console.log(`  stderr: ${run.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    }
  } finally {
    await registry.stop();
  }
}

await main();
