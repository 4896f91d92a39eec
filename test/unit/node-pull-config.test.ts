/**
 * A node configuration file read again when it changes; a broken one keeps the last good
 * configuration with one log line; a blocked registry is its own status and asks nobody.
 * Real files in a temp dir; the loader is a small one that reads a registry name per line.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { NodePullConfig, type LoadedPullConfig } from '../../src/engine/node-pull-config.js';
import { ImageChecker } from '../../src/engine/image-check.js';
import { FlagError } from '../../src/flags/syntax.js';
import type { PullPlaces } from '../../src/image/pull-plan.js';
import { parseImageReference } from '../../src/image/reference.js';
import { RegistryClient } from '../../src/registry/client.js';
import { Transport } from '../../src/registry/transport.js';
import { createLogger } from '../../src/utils/log.js';
import { makeTempDir } from '../support/tmp.js';

/** Blocks the registries the file names, one per line; a line `!` is a syntax error. */
async function loadBlockList(path: string): Promise<LoadedPullConfig> {
  const text = await readFile(path, 'utf8');
  const names = text.split('\n').filter((line) => line !== '');
  if (names.includes('!')) throw new Error(`${path}:${names.indexOf('!') + 1}: not a registry name`);
  const places: PullPlaces = {
    plan: (ref) => (names.includes(ref.registry) ? { sources: [], blocked: `${ref.registry} is blocked in ${path}` } : { sources: [{ ref, authoritative: true }] }),
  };
  return { places, files: [path] };
}

function setUp() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger('debug', (line) => lines.push(JSON.parse(line)));
  let now = 1_000_000;
  return { lines, logger, clock: { now: () => now, pass: (ms: number) => (now += ms) } };
}

const blocked = (places: PullPlaces, image: string) => places.plan(parseImageReference(image)).blocked !== undefined;

describe('NodePullConfig', () => {
  test('a file that does not read at start-up is a flag error naming the flag', async () => {
    const dir = await makeTempDir('nodeconf');
    const { logger } = setUp();
    await expect(NodePullConfig.start('registries-conf', join(dir, 'none'), () => loadBlockList(join(dir, 'none')), logger)).rejects.toThrow(FlagError);
    await writeFile(join(dir, 'bad'), '!\n');
    await expect(NodePullConfig.start('registries-conf', join(dir, 'bad'), () => loadBlockList(join(dir, 'bad')), logger)).rejects.toThrow(/--registries-conf.*bad:1: not a registry name/);
  });

  test('read again after a change; a broken file keeps the last good one, said once; fixed, it is read', async () => {
    const dir = await makeTempDir('nodeconf');
    const path = join(dir, 'registries');
    await writeFile(path, 'quay.io\n');
    const { lines, logger, clock } = setUp();
    let loads = 0;
    const config = await NodePullConfig.start('registries-conf', path, () => (loads++, loadBlockList(path)), logger, clock.now);
    const first = await config.current();
    expect(blocked(first, 'quay.io/a/b:1')).toBe(true);

    // Unchanged files: no reading again, the same object (the collector keeps its plans).
    clock.pass(10_000);
    expect(await config.current()).toBe(first);
    expect(loads).toBe(1);

    // Changed the way a ConfigMap or an editor does it: a new file renamed over the old one.
    await writeFile(`${path}.new`, 'ghcr.io\n');
    await rename(`${path}.new`, path);
    clock.pass(10_000);
    const second = await config.current();
    expect(second).not.toBe(first);
    expect(blocked(second, 'quay.io/a/b:1')).toBe(false);
    expect(blocked(second, 'ghcr.io/a/b:1')).toBe(true);

    // Broken: the last good configuration stays, and one error line says so however often it is asked.
    await writeFile(path, 'ghcr.io\n!\n');
    for (let i = 0; i < 5; i++) {
      clock.pass(10_000);
      expect(await config.current()).toBe(second);
    }
    const errors = lines.filter((line) => line.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ flag: 'registries-conf', path, reason: `${path}:2: not a registry name` });
    expect(String(errors[0]?.msg)).toMatch(/keeping the last good one/);

    // Fixed: read again.
    await writeFile(path, 'docker.io\n');
    clock.pass(10_000);
    const third = await config.current();
    expect(blocked(third, 'nginx')).toBe(true);
    expect(blocked(third, 'ghcr.io/a/b:1')).toBe(false);
  });

  test('a reading that never ends does not hold the scrapes: they go on with the last good configuration', async () => {
    const dir = await makeTempDir('nodeconf');
    const path = join(dir, 'registries');
    await writeFile(path, 'quay.io\n');
    const { logger, clock } = setUp();
    let hang = false;
    const load = () => (hang ? new Promise<LoadedPullConfig>(() => undefined) : loadBlockList(path));
    const config = await NodePullConfig.start('registries-conf', path, load, logger, clock.now);
    const first = await config.current();
    hang = true; // a stuck network mount, say
    await writeFile(path, 'ghcr.io\n');
    clock.pass(10_000);
    const started = Date.now();
    expect(await config.current()).toBe(first);
    expect(await config.current()).toBe(first); // and the next scrape, while the reading still hangs
    expect(Date.now() - started).toBeLessThan(10_000); // two waits of LOOK_WAIT_MS (1 s), generously
  });

  test('a storm of scrapes looks at the files at most once per 2 s', async () => {
    const dir = await makeTempDir('nodeconf');
    const path = join(dir, 'registries');
    await writeFile(path, 'quay.io\n');
    const { logger, clock } = setUp();
    let loads = 0;
    const config = await NodePullConfig.start('registries-conf', path, () => (loads++, loadBlockList(path)), logger, clock.now);
    await writeFile(path, 'ghcr.io\n');
    // Within 2 s of the last look the change is not seen yet; then once, by all the concurrent askers.
    clock.pass(1_000);
    expect(blocked(await config.current(), 'quay.io/a:1')).toBe(true);
    clock.pass(1_500);
    const all = await Promise.all(Array.from({ length: 50 }, () => config.current()));
    expect(new Set(all).size).toBe(1);
    expect(loads).toBe(2);
  });
});

test('a blocked registry is the status `blocked`, and no registry is asked', async () => {
  const transport = new Transport({ requestTimeoutMs: 1_000 });
  const client = new RegistryClient({ transport, isPlainHttpHost: () => false });
  let asked = 0;
  const original = client.attempt.bind(client);
  client.attempt = (...args) => (asked++, original(...args));
  const checker = new ImageChecker({ client, checkIntervalMs: 60_000, maxConcurrentChecks: 4, maxConcurrentPerHost: 2, logger: createLogger('error', () => undefined) });
  const result = await checker.check({ key: 'blocked\nquay.io/a:1', image: 'quay.io/a:1', locations: [], blocked: 'quay.io is blocked in /etc/containers/registries.conf' });
  expect(result).toMatchObject({ status: 'blocked', detail: 'quay.io is blocked in /etc/containers/registries.conf' });
  expect(asked).toBe(0);
  await transport.destroy();
});
