/**
 * Issue 20, item 8: a scrape's long loops give the event loop turns. Proved by counting, not by
 * timing: a ticker that re-arms itself with setImmediate counts how many turns the event loop
 * got while 10,000 workloads are rendered or collected. One synchronous stretch gives it none; work
 * done in slices of at most ~1,000 rows gives it about one turn per slice, whatever the machine's
 * speed or load.
 */
import { describe, expect, test } from 'vitest';
import type { ContainerRow, Snapshot } from '../../src/engine/collector.js';
import { parseFlags } from '../../src/flags/config.js';
import { createEngine } from '../../src/engine/engine.js';
import { toWorkload, type Workload } from '../../src/kubernetes/workloads.js';
import { createLogger } from '../../src/utils/log.js';
import { ExporterMetrics } from '../../src/exporter/metrics.js';
import { deployment } from '../support/objects.js';

const WORKLOADS = 10_000;
/** Rows a slice may hold, at most, for these tests (the code uses 1,000: a factor 2 of slack). */
const ROWS_PER_TURN = 2_000;

/** Two containers per workload, as the benchmark's Deployments have. */
function workloads(image: (i: number) => string): Workload[] {
  return Array.from({ length: WORKLOADS }, (_, i) => {
    const object = deployment(`ns${i % 100}`, `app-${i}`, {
      containers: [
        { name: 'main', image: image(i) },
        { name: 'sidecar', image: image(i + 1) },
      ],
    });
    return toWorkload('Deployment', object, object.spec.template.spec);
  });
}

/** Runs `work` while counting the turns the event loop gets before it settles. */
async function turnsDuring<T>(work: () => Promise<T>): Promise<{ result: T; turns: number }> {
  let turns = 0;
  let done = false;
  const tick = () => {
    if (done) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  try {
    const result = await work();
    return { result, turns };
  } finally {
    done = true;
  }
}

function rowsOf(list: readonly Workload[], status: 'present' | 'absent'): ContainerRow[] {
  return list.flatMap((workload) =>
    workload.containers.map((container) => ({
      workload,
      container,
      status,
      detail: undefined,
      checkedAt: 0,
      exists: status === 'present' ? (1 as const) : (0 as const),
      missingPlatforms: [],
    })),
  );
}

const snapshotOf = (rows: ContainerRow[]): Snapshot => ({ rows, lists: [{ kind: 'Deployment', up: true, ageSeconds: 1 }], pending: 0, collectionSeconds: 0.1 });

describe('a scrape yields to the event loop (issue 20, item 8)', () => {
  test('rendering 20,000 container rows gives the event loop a turn at least every 2,000 rows', async () => {
    const rows = rowsOf(workloads((i) => `registry.example/app:${i % 500}`), 'present');
    const metrics = new ExporterMetrics();
    const { result, turns } = await turnsDuring(() => metrics.render(snapshotOf(rows)));
    // The status family alone writes one line per row; the exists family another.
    expect(turns).toBeGreaterThanOrEqual((2 * rows.length) / ROWS_PER_TURN);
    const text = Buffer.concat(result).toString('utf8');
    expect(text.match(/^k8s_image_existence_exporter_image_check_status\{/gm)?.length).toBe(rows.length);
    expect(text.match(/^k8s_image_existence_exporter_deployment_image_exists\{/gm)?.length).toBe(rows.length);

    // A changed answer is rendered anew, in slices again; an unchanged one reuses the text.
    const changed = rows.map((row, i) => (i === 0 ? { ...row, status: 'absent' as const, exists: 0 as const } : row));
    const again = await turnsDuring(() => metrics.render(snapshotOf(changed)));
    expect(again.turns).toBeGreaterThanOrEqual((2 * rows.length) / ROWS_PER_TURN);
    expect(Buffer.concat(again.result).toString('utf8')).toContain('status="absent"} 1');
  });

  test('collecting 10,000 workloads with every check known gives the event loop a turn at least every 2,000 containers', async () => {
    const outcome = parseFlags(['--allow-plain-http=127.0.0.1:1']);
    if (outcome.action !== 'run') throw new Error('flags not parsed');
    const engine = createEngine(outcome.config, { checkIntervalMs: 3_600_000, checkPlatforms: false }, { logger: createLogger('error', () => undefined) });
    // A port nothing listens on: each of the 500 images is checked once (connection refused, a real
    // answer of the network) and its result is then known for the next collection.
    const listed = workloads((i) => `127.0.0.1:1/app:${i % 500}`);
    const collector = engine.collector({
      listings: { get: async (kind) => ({ workloads: kind === 'Deployment' ? listed : [], states: [{ kind, up: true, ageSeconds: 0 }] }) },
      onRecheckRound: () => undefined,
    });
    try {
      const first = await collector.collect(Date.now() + 60_000);
      expect(first.rows.every((row) => row.status !== undefined)).toBe(true);
      // Nothing left to wait for: on one synchronous stretch, this collection would give no turn.
      const { result, turns } = await turnsDuring(() => collector.collect(Date.now() + 60_000));
      expect(result.rows).toHaveLength(2 * WORKLOADS);
      expect(turns).toBeGreaterThanOrEqual((2 * WORKLOADS) / ROWS_PER_TURN);
    } finally {
      await engine.transport.destroy();
    }
  });
});
