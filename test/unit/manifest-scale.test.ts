/**
 * Reading manifests is linear (issue 20, item 11): YAML aliases cost one lookup each, not a walk of
 * the document. Proven by comparing two sizes within one run (CPU time of this process), never
 * against a wall-clock constant.
 */
import { expect, test } from 'vitest';
import { ManifestError, readManifests } from '../../src/check/manifests.js';

/** One document with `pairs` anchors, each aliased once. */
function anchorsAndAliases(pairs: number): string {
  const lines = ['apiVersion: v1', 'kind: ConfigMap', 'metadata: {name: c}', 'data:'];
  for (let i = 0; i < pairs; i++) lines.push(`  k${i}: &a${i} v${i}`, `  r${i}: *a${i}`);
  return `${lines.join('\n')}\n`;
}

/** CPU time (µs) of the fastest of five reads of `text`. */
function cpuOfRead(text: string): number {
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const started = process.cpuUsage();
    readManifests([{ name: 'a.yaml', text }]);
    const used = process.cpuUsage(started);
    best = Math.min(best, used.user + used.system);
  }
  return best;
}

test('8 times the anchor/alias pairs cost about 8 times as much, not 64', () => {
  // Sizes 8× apart, so that linear (8) and quadratic (64) are far apart: the process's CPU time also
  // counts the garbage collector's helper threads, which a busy machine makes noisy (4× apart, a
  // bound of 8 midway between 4 and 16 was once passed at 8.4 on Node 24 under load).
  const small = anchorsAndAliases(1_000);
  const large = anchorsAndAliases(8_000);
  // Read, as a Kubernetes object (no warning).
  expect(readManifests([{ name: 'a.yaml', text: large }]).warnings).toEqual([]);
  cpuOfRead(small); // warm-up
  const ratio = cpuOfRead(large) / cpuOfRead(small);
  // Midway (geometric) between linear and quadratic, as before: √(8 × 64) ≈ 23.
  expect(ratio).toBeLessThan(23);
}, 120_000);

test('past 10,000 copied values a document is refused with one line', () => {
  let error: unknown;
  try {
    readManifests([{ name: 'a.yaml', text: anchorsAndAliases(32_000) }]);
  } catch (caught) {
    error = caught;
  }
  expect(error).toBeInstanceOf(ManifestError);
  expect((error as Error).message).toBe('a.yaml:1: YAML aliases expand to more than 10000 copies of values, not read');
});

test('aliases share their anchor’s value; merge keys fill in what a mapping does not set', () => {
  const text = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      containers:
        - &app {name: app, image: "web:1"}
        - {<<: [*app, {image: "ignored:1", extra: x}], name: sidecar}
        - <<: *app
          image: "web:2"
`;
  const [workload] = readManifests([{ name: 'a.yaml', text }]).workloads;
  expect(workload?.containers.map((c) => `${c.name}=${c.image}`)).toEqual(['app=web:1', 'sidecar=web:1', 'app=web:2']);
});
