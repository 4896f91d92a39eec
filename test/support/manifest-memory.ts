/**
 * Run as its own process (`node --expose-gc --import tsx test/support/manifest-memory.ts
 * yaml:2000 yaml:8000 json:125 …`) by tests that bound what reading manifests costs in memory: for
 * each input (a format and a number of objects, in order), makes it, reads it with readManifests and
 * prints one JSON line: the format, the input's bytes, the workloads read, the heap still used for
 * them once the input is dropped (after a full GC), and how much the process's peak RSS rose while
 * reading it. Test code only.
 */
import v8 from 'node:v8';
import { readManifests } from '../../src/check/manifests.js';
import { realisticDeployment } from './objects.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const IMAGE = '127.0.0.1:1/shop/web:1.0';

/** Many small documents (a Helm chart's output), or a List as `kubectl get deploy -o json` writes it. */
function input(format: string, n: number): string {
  if (format === 'json') {
    const items = Array.from({ length: n }, (_, i) => ({ apiVersion: 'apps/v1', kind: 'Deployment', ...realisticDeployment('shop', `app-${i}`, { containers: [{ name: 'app', image: IMAGE }] }, i) }));
    return JSON.stringify({ apiVersion: 'v1', kind: 'List', items });
  }
  const doc = (i: number) =>
    `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: application-number-${i}\n  namespace: shop\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: ${IMAGE}\n`;
  return Array.from({ length: n }, (_, i) => doc(i)).join('---\n');
}

function heapUsed(): number {
  gc!();
  return v8.getHeapStatistics().used_heap_size;
}

/** Reads an input; made and read in a frame of its own, so that nothing but the result keeps the text. */
function read(format: string, n: number) {
  const text = input(format, n);
  const peakBefore = process.resourceUsage().maxRSS * 1024;
  const contents = readManifests([{ name: `input.${format}`, text }]);
  return { bytes: Buffer.byteLength(text), contents, peakRise: process.resourceUsage().maxRSS * 1024 - peakBefore };
}

/** The figures of reading an input; what was read is dropped with this frame, before the next input. */
function measure(format: string, n: number) {
  const base = heapUsed();
  const { bytes, contents, peakRise } = read(format, n);
  // The least of three readings: on Node 24 the first full GC after reading sometimes still finds
  // the input's text alive (a value of the optimised frame that read it, gone at the next call);
  // whatever the result itself keeps survives every reading.
  const kept = Math.min(heapUsed(), heapUsed(), heapUsed()) - base;
  return { format, bytes, workloads: contents.workloads.length, kept, peakRise };
}

for (const arg of process.argv.slice(2)) {
  const [format = '', size] = arg.split(':');
  console.log(JSON.stringify(measure(format, Number(size))));
}
