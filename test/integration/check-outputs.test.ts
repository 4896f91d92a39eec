/**
 * `check --output sarif|junit|github` as a CI job runs it: the CLI as its own process, in a checkout
 * (its working directory), reading manifests by a relative path, checking against a real registry;
 * each output read back by a real reader (test/support/check-output-readers.ts).
 */
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { stringify } from 'yaml';
import { VERSION } from '../../src/utils/version.js';
import { githubAnnotations, parsedJunit, validSarif, verdictOf } from '../support/check-output-readers.js';
import { deployment } from '../support/objects.js';
import { pushImage } from '../support/push.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { makeTempDir } from '../support/tmp.js';
import { ended } from '../support/process.js';

// Each run is a process started through tsx: seconds of CPU, many more on a loaded machine.
vi.setConfig({ testTimeout: 120_000 });

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MISSING_DIGEST = `sha256:${'0'.repeat(64)}`;

let registry: RunningRegistry;
let checkout: string;
let home: string;
/** The line of each object's document in deploy/shop.yaml, by name. */
const lineOf: Record<string, number> = {};

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `check` in the checkout, as `k8s-image-existence-exporter check …` in a CI step. */
async function check(args: readonly string[]): Promise<Run> {
  const child = spawn(process.execPath, ['--import', pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href, join(ROOT, 'src/main.ts'), 'check', ...args], {
    cwd: checkout,
    env: { ...process.env, HOME: home, DOCKER_CONFIG: join(home, '.docker'), NO_COLOR: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const { code, stdout, stderr } = await ended(child, { killAfterMs: 100_000 });
  return { code, stdout, stderr };
}

const args = () => [`--allow-plain-http=${registry.host},127.0.0.1:1`, '--registry-timeout=3s', 'deploy/'];

beforeAll(async () => {
  const dir = await makeTempDir('check-outputs');
  checkout = join(dir, 'checkout');
  home = join(dir, 'home');
  await mkdir(join(home, '.docker'), { recursive: true });
  await mkdir(join(checkout, 'deploy'), { recursive: true });
  registry = await startRegistry();
  await pushImage(registry, 'shop/web', '1.0', 'docker');
  const app = (name: string, image: string) => ({ apiVersion: 'apps/v1', kind: 'Deployment', ...deployment('shop', name, { containers: [{ name: 'app', image }] }) });
  const objects = [
    app('web', `${registry.host}/shop/web:1.0`),
    app('gone', `${registry.host}/shop/web:0.9`),
    // The tag exists; the digest pinned to it does not.
    app('pinned', `${registry.host}/shop/web:1.0@${MISSING_DIGEST}`),
    // A Job named by the prefix `kubectl create` completes, whose container has no image.
    { apiVersion: 'batch/v1', kind: 'Job', metadata: { generateName: 'build-', namespace: 'shop' }, spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'main' }] } } } },
    app('away', '127.0.0.1:1/shop/web:1.0'),
  ];
  const text = objects.map((o) => stringify(o)).join('---\n');
  const starts = text.split('\n').flatMap((line, i) => (line.startsWith('apiVersion:') ? [i + 1] : []));
  ['web', 'gone', 'pinned', 'build-', 'away'].forEach((name, i) => (lineOf[name] = starts[i] as number));
  await writeFile(join(checkout, 'deploy', 'shop.yaml'), text);
});

afterAll(async () => {
  await registry?.stop();
});

describe('check --output, end to end', () => {
  test('sarif: valid SARIF 2.1.0 whose results point at the manifest lines, relative to the checkout', async () => {
    const run = await check(['--output=sarif', ...args()]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(1);
    const document = validSarif(run.stdout);
    const [sarifRun] = document.runs;
    expect(sarifRun.tool.driver).toMatchObject({ name: 'k8s-image-existence-exporter', version: VERSION });
    expect(sarifRun.invocations[0]).toMatchObject({ executionSuccessful: true, exitCode: 1 });
    const results = sarifRun.results as Array<Record<string, any>>;
    expect(results.map((r) => [r.ruleId, r.level, r.properties.name, r.locations[0].physicalLocation])).toEqual(
      (
        [
          ['absent', 'error', 'gone'],
          ['absent', 'error', 'pinned'],
          ['bad_reference', 'error', 'build-'],
          ['registry_unavailable', 'warning', 'away'],
        ] as const
      ).map(([rule, level, name]) => [rule, level, name, { artifactLocation: { uri: 'deploy/shop.yaml', uriBaseId: '%SRCROOT%' }, region: { startLine: lineOf[name] } }]),
    );
    expect(results[0]?.message.text).toMatch(/^Deployment shop\/gone, container app: image ".*\/shop\/web:0\.9" does not exist \(registry says MANIFEST_UNKNOWN\)$/);
    // The digest is what is missing, not the tag; a Job named by generateName; a container without an image.
    expect(results[1]?.message.text).toContain(`the registry has no manifest with the pinned digest ${MISSING_DIGEST}`);
    expect(results[2]?.message.text).toBe('Job shop/build-, container main: no image: the container names none (its image field is missing or empty)');
    expect(sarifRun.originalUriBaseIds['%SRCROOT%'].uri).toBe(`${pathToFileURL(checkout).href}/`);
  });

  test('junit: a test case per container, failures and an error, the counts right', async () => {
    const run = await check(['--output=junit', ...args()]);
    expect(run.code).toBe(1);
    const { cases } = parsedJunit(run.stdout);
    expect(cases.map((c) => [c.classname, verdictOf(c)])).toEqual([
      ['deploy/shop.yaml', 'failure'],
      ['deploy/shop.yaml', 'failure'],
      ['deploy/shop.yaml', 'failure'],
      ['deploy/shop.yaml', 'error'],
      ['deploy/shop.yaml', 'passed'],
    ]);
    expect(cases[0]?.failure['#text']).toContain(`at: deploy/shop.yaml:${lineOf.gone}`);
    expect(cases[4]?.name).toBe(`Deployment shop/web, container app: ${registry.host}/shop/web:1.0`);
  });

  test('github: an annotation per problem at its file and line, then the summary', async () => {
    const run = await check(['--output=github', ...args()]);
    expect(run.code).toBe(1);
    const { annotations, summary } = githubAnnotations(run.stdout);
    expect(annotations.map((a) => [a.command, a.properties])).toEqual([
      ['error', { file: 'deploy/shop.yaml', line: String(lineOf.gone), title: 'Image absent' }],
      ['error', { file: 'deploy/shop.yaml', line: String(lineOf.pinned), title: 'Image absent' }],
      ['error', { file: 'deploy/shop.yaml', line: String(lineOf['build-']), title: 'Invalid image reference' }],
      ['warning', { file: 'deploy/shop.yaml', line: String(lineOf.away), title: 'Registry unavailable' }],
    ]);
    expect(annotations[3]?.message).toContain('could not be checked (registry_unavailable: 127.0.0.1:1: connection refused');
    expect(summary).toBe('5 containers, 5 images: 2 absent, 1 bad_reference, 1 registry_unavailable, 1 present');
  });
});
