/**
 * `check` never passes having checked nothing (issue 20, item 10): inputs without a Kubernetes object
 * or without a pod template are usage errors (2), and text in another encoding is decoded or refused —
 * never read as no object at all. Run through runCheck with real streams, against a real registry.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { stringify } from 'yaml';
import { checkHere as runHere } from '../support/check-here.js';
import { deployment } from '../support/objects.js';
import { pushImage } from '../support/push.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { makeTempDir } from '../support/tmp.js';

let registry: RunningRegistry;
let dir: string;

beforeAll(async () => {
  dir = await makeTempDir('check-inputs');
  await mkdir(join(dir, 'home', '.docker'), { recursive: true });
  registry = await startRegistry();
  await pushImage(registry, 'shop/web', '1.0', 'docker');
});

afterAll(async () => {
  await registry?.stop();
});

async function check(args: readonly string[], stdin: string | Buffer = '') {
  const home = join(dir, 'home');
  return runHere([`--allow-plain-http=${registry.host}`, ...args], { stdin, env: { HOME: home, DOCKER_CONFIG: join(home, '.docker') } });
}

async function file(name: string, content: string | Buffer): Promise<string> {
  const path = join(dir, name);
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, content);
  return path;
}

const manifest = (image: string) => stringify({ apiVersion: 'apps/v1', kind: 'Deployment', ...deployment('shop', 'web', { containers: [{ name: 'app', image }] }) });

/** A usage error: exit 2, nothing on stdout, one line on stderr saying `says`. */
function expectRefused(run: { code: number; stdout: string; stderr: string }, says: RegExp): void {
  expect(run.code, run.stderr).toBe(2);
  expect(run.stdout).toBe('');
  const lines = run.stderr.split('\n').filter((line) => line !== '' && !line.startsWith('warning: '));
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(says);
}

describe('nothing to read is a usage error (2), never a pass', () => {
  test('empty stdin (`helm template … | check -` after helm failed), or only comments and separators', async () => {
    expectRefused(await check(['-'], ''), /^standard input: no Kubernetes objects .*nothing to check$/);
    expectRefused(await check(['-'], '# Source: chart/templates/x.yaml\n---\n---\n'), /^standard input: no Kubernetes objects/);
  });

  test('a directory without manifest files, and one whose files hold no Kubernetes object', async () => {
    const empty = join(dir, 'no-manifests');
    await file('no-manifests/README.md', '# not a manifest\n');
    expectRefused(await check([empty]), new RegExp(`^${empty}: no manifest files`));
    const values = await file('values-only/values.yaml', 'replicas: 2\nimage: {repository: web}\n');
    expectRefused(await check([join(dir, 'values-only')]), new RegExp(`^${join(dir, 'values-only')}: no Kubernetes objects`));
    // One input with nothing in it is enough to refuse the run, whatever the others hold.
    const good = await file('good.yaml', manifest(`${registry.host}/shop/web:1.0`));
    expectRefused(await check([good, values]), new RegExp(`^${values}: no Kubernetes objects`));
  });

  test('manifests without a single pod template', async () => {
    const config = await file('config.yaml', stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: 'b' } }));
    expectRefused(await check([config]), /^no pod templates with containers in the manifests, nothing to check$/);
    expectRefused(await check(['-'], JSON.stringify({ apiVersion: 'apps/v1', kind: 'DeploymentList', items: [] })), /^no pod templates/);
  });
});

describe('--skip-non-manifests: what a hook hands over that is no manifest is skipped, said, and not an error', () => {
  test('a values file beside a manifest is skipped with a warning; the manifest is checked and decides the exit code', async () => {
    const values = await file('hook/values.yaml', 'replicas: 2\nimage: {repository: web}\n');
    const gone = await file('hook/gone.yaml', manifest(`${registry.host}/shop/web:404`));
    const run = await check(['--skip-non-manifests', values, gone]);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toContain(`warning: ${values}: no Kubernetes objects (apiVersion and kind) in it, skipped (--skip-non-manifests)`);
    expect(run.stdout).toMatch(/Deployment\s+shop\s+web\s+app\s+\S+\/shop\/web:404\s+absent/);
  });

  test('only files without objects: nothing to check is said, exit 0, and an output that programs still read', async () => {
    const values = await file('hook-only/values.yaml', 'replicas: 2\n');
    const config = await file('hook-only/config.yaml', stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: 'b' } }));
    const run = await check(['--skip-non-manifests', '--output=json', values, config]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('nothing to check (--skip-non-manifests: not an error)');
    expect(JSON.parse(run.stdout)).toMatchObject({ exitCode: 0, containers: [], summary: { containers: 0 } });
    // Without the flag the same run is refused, as before.
    expectRefused(await check([values, config]), new RegExp(`^${values}: no Kubernetes objects`));
  });
});

describe('encodings: decoded and checked, or refused', () => {
  const utf16be = (text: string) => Buffer.from(text, 'utf16le').swap16();

  test('UTF-16 with a byte order mark (PowerShell `>`), little- and big-endian: decoded, and an absent image fails the run', async () => {
    const text = manifest(`${registry.host}/shop/web:404`);
    for (const bytes of [Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]), Buffer.concat([Buffer.from([0xfe, 0xff]), utf16be(text)])]) {
      const run = await check([await file('utf16.yaml', bytes)]);
      expect(run.code, run.stderr).toBe(1);
      expect(run.stdout).toMatch(/Deployment\s+shop\s+web\s+app\s+\S+\/shop\/web:404\s+absent/);
    }
    // From stdin too.
    expect((await check(['-'], Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]))).code).toBe(1);
  });

  test('UTF-8 with a byte order mark is read as UTF-8', async () => {
    const run = await check([await file('bom.yaml', `\ufeff${manifest(`${registry.host}/shop/web:1.0`)}`)]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('1 container, 1 image: 1 present');
  });

  test('NUL bytes without a byte order mark (UTF-16 without BOM, UTF-32, a binary) are refused', async () => {
    const text = manifest(`${registry.host}/shop/web:404`);
    const path = await file('nobom.yaml', Buffer.from(text, 'utf16le'));
    expectRefused(await check([path]), new RegExp(`^${path} holds NUL bytes`));
    const utf32 = await file('utf32.yaml', Buffer.concat([Buffer.from([0xff, 0xfe, 0, 0]), Buffer.from(text, 'utf16le')]));
    expectRefused(await check([utf32]), /NUL/);
    expectRefused(await check(['-'], Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 0, 0, 1])), /^standard input holds NUL bytes/);
  });
});
