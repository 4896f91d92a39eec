/**
 * Benchmark (issue 20, item 2): what the platform facts of --check-platforms keep, in entries and
 * in heap, when registries serve hostile or merely many images. In-process (the PlatformFacts the
 * exporter uses, fed documents as the registry client returns them, parsed from JSON); the heap is
 * measured after a full GC, before and after. Prints figures; asserts nothing.
 *
 *   NODE_OPTIONS=--max-old-space-size=192 npx tsx bench/platform-facts.ts   (the deployed heap limit)
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { PlatformFacts } from '../src/registry/platforms.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const digest = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;
const CHILD = digest(0);

/**
 * An index as the registry client hands it over: parsed from its JSON bytes, fresh per image.
 * Without digests, entries are as small as a registry that is not distribution can serve them.
 */
function index(platforms: ReadonlyArray<Record<string, string>>, digests = true): { bytes: number; parse: () => unknown } {
  const manifests = platforms.map((platform) => (digests ? { digest: CHILD, platform } : { platform }));
  const text = JSON.stringify({ schemaVersion: 2, manifests });
  return { bytes: Buffer.byteLength(text), parse: () => JSON.parse(text) as unknown };
}

function heapMiB(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 1024 / 1024;
}

async function scenario(name: string, images: number, documentOf: (n: number) => { bytes: number; parse: () => unknown }): Promise<void> {
  const facts = new PlatformFacts();
  const before = heapMiB();
  const started = performance.now();
  let bytes = 0;
  for (let n = 1; n <= images; n++) {
    const document = documentOf(n);
    bytes += document.bytes;
    await facts.learn(digest(n), async () => document.parse());
  }
  const ms = performance.now() - started;
  // (kept() is new with the bounds; absent when this runs against an older tree.)
  const kept = facts.kept?.() ?? { digests: Number.NaN, platforms: Number.NaN };
  const retained = heapMiB() - before;
  console.log(
    `${name}: ${images} images, ${(bytes / images / 1024).toFixed(0)} KiB index each; kept ${kept.digests} digests, ` +
      `${kept.platforms} platforms; heap retained ${retained.toFixed(1)} MiB; ${(ms / images).toFixed(2)} ms per image`,
  );
  // Kept alive until measured.
  facts.of(digest(1));
}

const many = (count: number, name: (i: number) => string) => Array.from({ length: count }, (_, i) => ({ os: 'linux', architecture: name(i) }));
const hostile = index(many(20_000, (i) => `a${i}`), false);
const wide = index(many(8_000, (i) => `${i}`.padStart(32, 'x')));
const atTheBound = (n: number) => index(many(64, (i) => `${n}-${i}`.padStart(32, 'x')));
const single = index([{ os: 'linux', architecture: 'amd64' }]);
const dual = index([
  { os: 'linux', architecture: 'amd64' },
  { os: 'linux', architecture: 'arm64' },
]);

await scenario('the issue: 20,000 distinct platforms per index (under 1 MiB)', 500, () => hostile);
await scenario('8,000 platforms with 32-character names per index', 500, () => wide);
await scenario('64 distinct platforms (the bound), 32-character names, all different', 1000, atTheBound);
await scenario('realistic: one or two platforms per image', 20_000, (n) => (n % 2 ? single : dual));
