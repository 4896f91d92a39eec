/**
 * Kubelet credential-provider plugins, for real: executables from test/fixtures/credential-plugins
 * run as the kubelet runs them, handing out credentials for a real registry with htpasswd auth, and
 * the real check engine asking with them. Caching per cacheKeyType, one run for many concurrent
 * checks, and every way a plugin fails — none of which may say `absent`, leak a secret or hurt the
 * process.
 */
import { readFileSync } from 'node:fs';
import { copyFile, chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import pLimit from 'p-limit';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { CheckRequest } from '../../src/engine/image-check.js';
import { parseFlags } from '../../src/flags/config.js';
import { CredentialProviders } from '../../src/credentials/providers/providers.js';
import { loadPluginProviders } from '../../src/credentials/providers/plugin.js';
import { createEngine, type Engine } from '../../src/engine/engine.js';
import { parseImageReference } from '../../src/image/reference.js';
import { createLogger } from '../../src/utils/log.js';
import type { CheckResult } from '../../src/registry/status.js';
import { pushImage } from '../support/push.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { makeTempDir } from '../support/tmp.js';

// Distinctive so that a leak anywhere is found by a plain substring search.
const PASSWORD = 'pw-Plug1n-S3cr3t-9d4e7b';
const FIXTURES = fileURLToPath(new URL('../fixtures/credential-plugins/', import.meta.url));
const V1 = 'credentialprovider.kubelet.k8s.io/v1';
const MANY = 50;

let reg: RunningRegistry; // htpasswd: alice / PASSWORD, plain HTTP
let open: RunningRegistry; // anonymous, plain HTTP
let engine: Engine;
const logs: string[] = [];
const logger = createLogger('debug', (line) => logs.push(line));
/** Every detail of every check and every message of every error these tests saw: scanned for leaks. */
const seen: string[] = [];
let clock = Date.now();
const now = () => clock;

interface PluginSpec {
  readonly name: string;
  /** A file of test/fixtures/credential-plugins. */
  readonly fixture: string;
  readonly apiVersion?: string;
  readonly matchImages?: readonly string[];
  readonly defaultCacheDuration?: string;
  readonly args?: readonly string[];
  readonly env?: Record<string, string>;
}

interface Plugins {
  readonly providers: CredentialProviders;
  /** The plugin bin dir. */
  readonly bin: string;
  /** The runs recorded so far (one JSON line, or one text line, per run). */
  runs(): Promise<string[]>;
}

/** A bin dir holding copies of the fixtures under the plugins' names, a config naming them, and a record file. */
async function plugins(specs: readonly PluginSpec[], options: { timeoutMs?: number; format?: 'yaml' | 'json' } = {}): Promise<Plugins> {
  const dir = await makeTempDir('plugins');
  const bin = join(dir, 'bin');
  await mkdir(bin);
  const record = join(dir, 'runs.log');
  await writeFile(record, '');
  for (const spec of specs) {
    await copyFile(join(FIXTURES, spec.fixture), join(bin, spec.name));
    await chmod(join(bin, spec.name), 0o755);
  }
  const providers = specs.map((spec) => ({
    name: spec.name,
    matchImages: spec.matchImages ?? [reg.host],
    defaultCacheDuration: spec.defaultCacheDuration ?? '10m',
    apiVersion: spec.apiVersion ?? V1,
    args: spec.args ?? [],
    env: Object.entries({ PLUGIN_RECORD: record, PLUGIN_USERNAME: 'alice', PLUGIN_PASSWORD: PASSWORD, ...spec.env }).map(([name, value]) => ({ name, value })),
  }));
  const config = { apiVersion: 'kubelet.config.k8s.io/v1', kind: 'CredentialProviderConfig', providers };
  const file = join(dir, options.format === 'json' ? 'config.json' : 'config.yaml');
  await writeFile(file, options.format === 'json' ? JSON.stringify(config) : yamlOf(config));
  const loaded = await loadPluginProviders(file, bin, { logger, now, timeoutMs: options.timeoutMs });
  return {
    providers: new CredentialProviders(loaded),
    bin,
    runs: async () => (await readFile(record, 'utf8')).split('\n').filter((line) => line !== ''),
  };
}

/** Enough YAML for the config: JSON values in block structure (JSON strings are YAML strings). */
function yamlOf(config: { apiVersion: string; kind: string; providers: ReadonlyArray<Record<string, unknown>> }): string {
  const lines = [`apiVersion: ${config.apiVersion}`, `kind: ${config.kind}`, 'providers:'];
  for (const provider of config.providers) {
    let first = true;
    for (const [key, value] of Object.entries(provider)) {
      lines.push(`${first ? '  - ' : '    '}${key}: ${JSON.stringify(value)}`);
      first = false;
    }
  }
  return `${lines.join('\n')}\n`;
}

let nonce = 0;
/** One check through the real engine, with the credentials the providers give for the image (never memoized). */
async function check(providers: CredentialProviders, image: string): Promise<CheckResult> {
  const ref = parseImageReference(image);
  const credentials = providers.for(ref);
  const request: CheckRequest = {
    key: [ref.canonical, ...credentials.map((c) => c.id), `#${++nonce}`].join('\n'),
    image,
    locations: [{ ref, authoritative: true, credentials }],
  };
  const result = await engine.checker.check(request);
  seen.push(result.detail);
  return result;
}

const image = (registry: RunningRegistry, path: string) => `${registry.host}/${path}`;

beforeAll(async () => {
  reg = await startRegistry({ auth: { kind: 'htpasswd', users: { alice: PASSWORD } } });
  open = await startRegistry();
  await pushImage(reg, 'team/app', '1', 'docker');
  await pushImage(reg, 'team/app', '2', 'oci');
  await pushImage(reg, 'team/other', '1', 'docker');
  await pushImage(open, 'open/app', '1', 'docker');
  const limit = pLimit(8);
  await Promise.all(Array.from({ length: MANY }, (_, i) => limit(() => pushImage(reg, `many/app-${i}`, '1', 'docker'))));
  const outcome = parseFlags([`--allow-plain-http=${reg.host},${open.host}`, '--max-concurrent-per-registry=64', '--max-concurrent-checks=128']);
  if (outcome.action !== 'run') throw new Error('flags did not produce a config');
  engine = createEngine(outcome.config, { checkIntervalMs: 60_000, checkPlatforms: false }, { logger });
}, 120_000);

afterAll(async () => {
  await engine?.transport.destroy();
  await reg?.stop();
  await open?.stop();
});

describe('credentials from a plugin', () => {
  test('make a private image present; without the plugin it is auth_failure', async () => {
    const { providers, runs } = await plugins([{ name: 'fake', fixture: 'fake-plugin.cjs', args: ['get-credentials', '--verbose'], env: { PLUGIN_MARKER: 'from-config-env' } }]);
    expect(await check(CredentialProviders.NONE, image(reg, 'team/app:1'))).toMatchObject({ status: 'auth_failure' });
    expect(await check(providers, image(reg, 'team/app:1'))).toMatchObject({ status: 'present' });
    // What the plugin was handed, exactly as the kubelet hands it.
    const [run] = (await runs()).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(run).toMatchObject({
      request: { apiVersion: V1, kind: 'CredentialProviderRequest', image: `${reg.host}/team/app` },
      argv: ['get-credentials', '--verbose'],
      marker: 'from-config-env',
    });
    // An image that does not exist is absent: the plugin's credentials were accepted and the registry said so.
    expect(await check(providers, image(reg, 'team/missing:1'))).toMatchObject({ status: 'absent' });
  });

  test.each(['v1beta1', 'v1alpha1'])('a plugin speaking %s, configured in JSON', async (version) => {
    const { providers, runs } = await plugins([{ name: `fake-${version}`, fixture: 'fake-plugin.cjs', apiVersion: `credentialprovider.kubelet.k8s.io/${version}` }], { format: 'json' });
    expect(await check(providers, image(reg, 'team/app:1'))).toMatchObject({ status: 'present' });
    expect(JSON.parse((await runs())[0] as string)).toMatchObject({ request: { apiVersion: `credentialprovider.kubelet.k8s.io/${version}` } });
  });

  test('images its matchImages do not cover never run it', async () => {
    const { providers, runs } = await plugins([{ name: 'fake', fixture: 'fake-plugin.cjs', matchImages: ['*.example.com'] }]);
    expect(providers.for(parseImageReference(image(reg, 'team/app:1')))).toEqual([]);
    expect(await check(providers, image(reg, 'team/app:1'))).toMatchObject({ status: 'auth_failure' });
    expect(await runs()).toEqual([]);
  });

  test('the most specific auth key wins; no matching key is a clear failure', async () => {
    const keys = [`${reg.host}`, `${reg.host}/team/app`].join(',');
    const specific = await plugins([{ name: 'fake', fixture: 'fake-plugin.cjs', env: { PLUGIN_AUTH_KEYS: keys } }]);
    const [provider] = specific.providers.providers;
    expect(await provider?.credentialFor(parseImageReference(image(reg, 'team/app:1')))).toEqual({ username: 'alice', password: PASSWORD });

    const elsewhere = await plugins([{ name: 'elsewhere', fixture: 'fake-plugin.cjs', env: { PLUGIN_AUTH_KEYS: 'other.example.com,*.example.com' } }]);
    const result = await check(elsewhere.providers, image(reg, 'team/app:1'));
    expect(result).toMatchObject({ status: 'auth_failure', detail: 'credential provider elsewhere returned no credentials for this image' });
  });
});

describe('caching by cacheKeyType and cacheDuration', () => {
  test('Image: one run per repository (tags share it), until cacheDuration passes', async () => {
    const { providers, runs } = await plugins([{ name: 'fake', fixture: 'fake-plugin.cjs', env: { PLUGIN_CACHE_KEY_TYPE: 'Image', PLUGIN_CACHE_DURATION: '1m' } }]);
    for (const path of ['team/app:1', 'team/app:2', 'team/app:1', 'team/other:1', 'team/other:1']) {
      expect(await check(providers, image(reg, path))).toMatchObject({ status: 'present' });
    }
    expect((await runs()).map((line) => (JSON.parse(line) as { request: { image: string } }).request.image)).toEqual([`${reg.host}/team/app`, `${reg.host}/team/other`]);
    clock += 59_000;
    await check(providers, image(reg, 'team/app:2'));
    expect(await runs()).toHaveLength(2);
    clock += 2_000;
    await check(providers, image(reg, 'team/app:2'));
    await check(providers, image(reg, 'team/app:1'));
    expect(await runs()).toHaveLength(3);
  });

  test('Registry: one run per registry host, until cacheDuration passes', async () => {
    const { providers, runs } = await plugins([
      { name: 'fake', fixture: 'fake-plugin.cjs', matchImages: [reg.host, open.host], env: { PLUGIN_CACHE_KEY_TYPE: 'Registry', PLUGIN_CACHE_DURATION: '5m' } },
    ]);
    for (const path of ['team/app:1', 'team/other:1', 'team/app:2', 'many/app-1:1']) {
      expect(await check(providers, image(reg, path))).toMatchObject({ status: 'present' });
    }
    expect(await runs()).toHaveLength(1);
    expect(await check(providers, image(open, 'open/app:1'))).toMatchObject({ status: 'present' });
    expect(await runs()).toHaveLength(2);
    clock += 5 * 60_000 + 1;
    await check(providers, image(reg, 'team/other:1'));
    await check(providers, image(reg, 'team/app:1'));
    expect(await runs()).toHaveLength(3);
  });

  test('Global: one run for every registry, until cacheDuration passes', async () => {
    const { providers, runs } = await plugins([
      {
        name: 'fake',
        fixture: 'fake-plugin.cjs',
        matchImages: [reg.host, open.host],
        env: { PLUGIN_CACHE_KEY_TYPE: 'Global', PLUGIN_CACHE_DURATION: '30s', PLUGIN_AUTH_KEYS: `${reg.host},${open.host}` },
      },
    ]);
    for (const target of [image(reg, 'team/app:1'), image(open, 'open/app:1'), image(reg, 'team/other:1')]) {
      expect(await check(providers, target)).toMatchObject({ status: 'present' });
    }
    expect(await runs()).toHaveLength(1);
    clock += 31_000;
    await check(providers, image(open, 'open/app:1'));
    await check(providers, image(reg, 'team/app:1'));
    expect(await runs()).toHaveLength(2);
  });

  test('cacheDuration "0s": a run per use', async () => {
    const { providers, runs } = await plugins([{ name: 'fake', fixture: 'fake-plugin.cjs', env: { PLUGIN_CACHE_KEY_TYPE: 'Registry', PLUGIN_CACHE_DURATION: '0s' } }]);
    for (let i = 0; i < 3; i++) expect(await check(providers, image(reg, 'team/app:1'))).toMatchObject({ status: 'present' });
    expect(await runs()).toHaveLength(3);
  });

  test('no cacheDuration in the response: defaultCacheDuration applies', async () => {
    const { providers, runs } = await plugins([{ name: 'fake', fixture: 'fake-plugin.cjs', defaultCacheDuration: '2m', env: { PLUGIN_CACHE_KEY_TYPE: 'Registry' } }]);
    await check(providers, image(reg, 'team/app:1'));
    clock += 119_000;
    await check(providers, image(reg, 'team/other:1'));
    expect(await runs()).toHaveLength(1);
    clock += 2_000;
    expect(await check(providers, image(reg, 'team/other:1'))).toMatchObject({ status: 'present' });
    expect(await runs()).toHaveLength(2);
  });

  test('no cacheDuration in the response and defaultCacheDuration "0s": never cached', async () => {
    const { providers, runs } = await plugins([{ name: 'fake', fixture: 'fake-plugin.cjs', defaultCacheDuration: '0s', env: { PLUGIN_CACHE_KEY_TYPE: 'Global' } }]);
    await check(providers, image(reg, 'team/app:1'));
    await check(providers, image(reg, 'team/app:1'));
    expect(await runs()).toHaveLength(2);
  });
});

describe('concurrent checks share runs', () => {
  test(`${MANY} images of one registry checked at once: one plugin run (Registry)`, async () => {
    const { providers, runs } = await plugins([{ name: 'fake', fixture: 'fake-plugin.cjs', env: { PLUGIN_CACHE_KEY_TYPE: 'Registry', PLUGIN_DELAY_MS: '300' } }]);
    const results = await Promise.all(Array.from({ length: MANY }, (_, i) => check(providers, image(reg, `many/app-${i}:1`))));
    expect(results.map((r) => r.status)).toEqual(Array.from({ length: MANY }, () => 'present'));
    expect(await runs()).toHaveLength(1);
  });

  test(`${MANY} images at once with cacheDuration "0s": still one run for them (they share it while it runs)`, async () => {
    const { providers, runs } = await plugins([{ name: 'fake', fixture: 'fake-plugin.cjs', env: { PLUGIN_CACHE_KEY_TYPE: 'Registry', PLUGIN_CACHE_DURATION: '0s', PLUGIN_DELAY_MS: '300' } }]);
    const results = await Promise.all(Array.from({ length: MANY }, (_, i) => check(providers, image(reg, `many/app-${i}:1`))));
    expect(results.every((r) => r.status === 'present')).toBe(true);
    expect(await runs()).toHaveLength(1);
  });

  test('Image-keyed plugin: one run per repository, concurrent checks of one repository share it', async () => {
    const { providers, runs } = await plugins([{ name: 'fake', fixture: 'fake-plugin.cjs', env: { PLUGIN_CACHE_KEY_TYPE: 'Image', PLUGIN_DELAY_MS: '400' } }]);
    // The first answer teaches it is keyed by image; then repositories run side by side.
    await check(providers, image(reg, 'team/app:1'));
    const targets = [...Array.from({ length: 10 }, (_, i) => `many/app-${i}:1`), ...Array.from({ length: 10 }, (_, i) => `many/app-${i}:1`)];
    const started = performance.now();
    const results = await Promise.all(targets.map((path) => check(providers, image(reg, path))));
    expect(results.every((r) => r.status === 'present')).toBe(true);
    expect(await runs()).toHaveLength(11);
    // Side by side, not one after the other (10 × 400 ms).
    expect(performance.now() - started).toBeLessThan(3000);
  });

  test('a hanging plugin asked for many images at once runs once and fails them all', async () => {
    const { providers, runs } = await plugins([{ name: 'hang', fixture: 'hanging-plugin.sh' }], { timeoutMs: 500 });
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => check(providers, image(reg, `many/app-${i}:1`))));
    expect(results.map((r) => r.status)).toEqual(Array.from({ length: 10 }, () => 'auth_failure'));
    expect(await runs()).toHaveLength(1);
  });
});

describe('a failing plugin is an auth_failure with a clear reason, never absent', () => {
  const missing = () => image(reg, 'team/missing:1');

  function warnings(provider: string): Array<Record<string, unknown>> {
    return logs.map((line) => JSON.parse(line) as Record<string, unknown>).filter((l) => l['level'] === 'warn' && l['provider'] === provider);
  }

  test('exit status 1: the reason says so, its stderr is logged, its stdout is not', async () => {
    const { providers, runs } = await plugins([{ name: 'failing', fixture: 'failing-plugin.sh' }]);
    for (const target of [image(reg, 'team/app:1'), missing()]) {
      const result = await check(providers, target);
      expect(result).toMatchObject({ status: 'auth_failure', detail: 'credential provider failing exited with status 1' });
    }
    expect(await runs()).toHaveLength(2);
    expect(warnings('failing')).toContainEqual(expect.objectContaining({ stderr: 'failing-plugin: cannot reach the token service\n' }));
  });

  test('hanging: killed at the timeout, with its children', async () => {
    const { providers, runs } = await plugins([{ name: 'hang', fixture: 'hanging-plugin.sh' }], { timeoutMs: 700 });
    const started = performance.now();
    const result = await check(providers, missing());
    expect(performance.now() - started).toBeLessThan(5000);
    expect(result).toMatchObject({ status: 'auth_failure', detail: 'credential provider hang timed out after 0.7 s' });
    expect(warnings('hang')).toContainEqual(expect.objectContaining({ stderr: 'hanging-plugin: waiting forever\n' }));
    const pids = ((await runs())[0] as string).split(' ').map(Number);
    expect(pids).toHaveLength(2);
    for (const pid of pids) await expect.poll(() => alive(pid), { timeout: 3000 }).toBe(false);
  });

  test.each([
    ['junk on stdout', { fixture: 'junk-plugin.sh' }, 'credential provider junk printed no valid JSON response on stdout'],
    ['exits at once without reading the request', { fixture: 'silent-exit-plugin.sh' }, 'credential provider junk printed no valid JSON response on stdout'],
    [
      'a wrong apiVersion',
      { fixture: 'fake-plugin.cjs', env: { PLUGIN_API_VERSION: 'credentialprovider.kubelet.k8s.io/v1beta1' } },
      `credential provider junk answered with apiVersion "credentialprovider.kubelet.k8s.io/v1beta1", expected "${V1}"`,
    ],
    ['an unknown apiVersion (never quoted)', { fixture: 'fake-plugin.cjs', env: { PLUGIN_API_VERSION: PASSWORD } }, `credential provider junk answered with apiVersion an unknown one, expected "${V1}"`],
    ['a wrong kind', { fixture: 'fake-plugin.cjs', env: { PLUGIN_KIND: 'CredentialProviderRequest' } }, 'credential provider junk answered with a kind other than CredentialProviderResponse'],
    [
      'an invalid cacheKeyType',
      { fixture: 'fake-plugin.cjs', env: { PLUGIN_CACHE_KEY_TYPE: 'Forever' } },
      'credential provider junk answered with an invalid cacheKeyType (must be Image, Registry or Global)',
    ],
    ['an invalid cacheDuration', { fixture: 'fake-plugin.cjs', env: { PLUGIN_CACHE_DURATION: 'soon' } }, 'credential provider junk answered with an invalid cacheDuration (must be a duration such as "5m")'],
  ])('%s', async (_, spec, reason) => {
    const { providers } = await plugins([{ name: 'junk', ...spec }]);
    for (const target of [image(reg, 'team/app:1'), missing()]) {
      expect(await check(providers, target)).toMatchObject({ status: 'auth_failure', detail: reason });
    }
  });

  test('the next credential is still tried: a failing plugin, then a working one', async () => {
    const { providers } = await plugins([
      { name: 'failing', fixture: 'failing-plugin.sh' },
      { name: 'fake', fixture: 'fake-plugin.cjs' },
    ]);
    expect(await check(providers, image(reg, 'team/app:1'))).toMatchObject({ status: 'present' });
    expect(await check(providers, missing())).toMatchObject({ status: 'absent' });
  });

  test('anonymous is still tried: a failing plugin for a public registry', async () => {
    const { providers } = await plugins([
      { name: 'failing', fixture: 'failing-plugin.sh', matchImages: [open.host] },
      { name: 'hang', fixture: 'hanging-plugin.sh', matchImages: [open.host] },
    ], { timeoutMs: 300 });
    expect(await check(providers, image(open, 'open/app:1'))).toMatchObject({ status: 'present' });
    // And what anonymous cannot prove stays unproven.
    expect(await check(providers, image(open, 'open/missing:1'))).toMatchObject({ status: 'auth_failure' });
  });

  test('a plugin made unexecutable, then removed, after start-up: a clear reason, the process goes on', async () => {
    const { providers, bin } = await plugins([{ name: 'gone', fixture: 'fake-plugin.cjs' }]);
    await chmod(join(bin, 'gone'), 0o644);
    expect(await check(providers, image(reg, 'team/app:1'))).toMatchObject({ status: 'auth_failure', detail: 'credential provider gone could not be run (EACCES)' });
    await rm(join(bin, 'gone'));
    expect(await check(providers, image(reg, 'team/app:1'))).toMatchObject({ status: 'auth_failure', detail: 'credential provider gone could not be run (ENOENT)' });
  });

  test('credentialFor only ever rejects with CredentialProviderError', async () => {
    const { providers } = await plugins([{ name: 'junk', fixture: 'junk-plugin.sh' }]);
    const [provider] = providers.providers;
    const error = await provider?.credentialFor(parseImageReference(image(reg, 'team/app:1'))).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'CredentialProviderError' });
    seen.push((error as Error).message);
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie still answers signal 0: ask /proc for its state.
  return readProcState(pid) !== 'Z';
}

function readProcState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

describe('no secret leaks', () => {
  test('no log line, check detail or error holds the password', async () => {
    await sleep(50);
    expect(logs.length).toBeGreaterThan(10);
    expect(seen.length).toBeGreaterThan(10);
    for (const line of [...logs, ...seen]) expect(line).not.toContain(PASSWORD);
    // The stderr of failed runs is there; the stdout of none.
    expect(logs.some((line) => line.includes('cannot reach the token service'))).toBe(true);
    expect(logs.some((line) => line.includes('Welcome!') || line.includes('"leak"'))).toBe(false);
  });
});
