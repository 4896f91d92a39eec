/**
 * Issue 20, item 7: a kubelet credential plugin that prints its answer and exits, but leaves a child
 * behind holding its stdout. Its answer counts from the moment it exits (as for the kubelet), the
 * child is killed with the plugin's process group, and `check` with such a plugin exits.
 * Real executables (test/fixtures/credential-plugins/stray-child-plugin.sh), a real registry with
 * htpasswd auth, the real engine and the real CLI.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { stringify } from 'yaml';
import type { CheckRequest } from '../../src/engine/image-check.js';
import { parseFlags } from '../../src/flags/config.js';
import { loadPluginProviders } from '../../src/credentials/providers/plugin.js';
import { CredentialProviders } from '../../src/credentials/providers/providers.js';
import { createEngine, type Engine } from '../../src/engine/engine.js';
import { parseImageReference } from '../../src/image/reference.js';
import { createLogger } from '../../src/utils/log.js';
import { deployment } from '../support/objects.js';
import { pushImage } from '../support/push.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { makeTempDir } from '../support/tmp.js';
import { ended } from '../support/process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../fixtures/credential-plugins/stray-child-plugin.sh', import.meta.url));
const PASSWORD = 'pw-Str4y-Ch1ld-5e1f';
/** The plugin timeout: the answer must come long before it. */
const TIMEOUT_MS = 20_000;

let reg: RunningRegistry; // htpasswd: alice / PASSWORD, plain HTTP
let engine: Engine;
const logs: string[] = [];
/** Children the plugin runs left: killed by pid at the end if still there (they are ours). */
const escaped: number[] = [];

interface Plugin {
  readonly config: string;
  readonly bin: string;
  /** Pids of the children the runs left behind. */
  children(): Promise<number[]>;
}

async function plugin(env: Record<string, string> = {}): Promise<Plugin> {
  const dir = await makeTempDir('stray-plugin');
  const bin = join(dir, 'bin');
  await mkdir(bin);
  await copyFile(FIXTURE, join(bin, 'stray'));
  await chmod(join(bin, 'stray'), 0o755);
  const record = join(dir, 'children');
  await writeFile(record, '');
  const config = join(dir, 'config.json');
  const vars = { PLUGIN_RECORD: record, PLUGIN_AUTH_KEY: reg.host, PLUGIN_USERNAME: 'alice', PLUGIN_PASSWORD: PASSWORD, ...env };
  await writeFile(
    config,
    JSON.stringify({
      apiVersion: 'kubelet.config.k8s.io/v1',
      kind: 'CredentialProviderConfig',
      providers: [
        {
          name: 'stray',
          matchImages: [reg.host],
          defaultCacheDuration: '10m',
          apiVersion: 'credentialprovider.kubelet.k8s.io/v1',
          env: Object.entries(vars).map(([name, value]) => ({ name, value })),
        },
      ],
    }),
  );
  return {
    config,
    bin,
    children: async () => (await readFile(record, 'utf8')).split('\n').filter((l) => l !== '').map(Number),
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie still answers signal 0: ask /proc for its state.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

beforeAll(async () => {
  reg = await startRegistry({ auth: { kind: 'htpasswd', users: { alice: PASSWORD } } });
  await pushImage(reg, 'team/app', '1', 'docker');
  const outcome = parseFlags([`--allow-plain-http=${reg.host}`]);
  if (outcome.action !== 'run') throw new Error('flags did not produce a config');
  engine = createEngine(outcome.config, { checkIntervalMs: 60_000, checkPlatforms: false }, { logger: createLogger('debug', (line) => logs.push(line)) });
}, 120_000);

afterAll(async () => {
  for (const pid of escaped) {
    try {
      // Only the fixture's own `sleep 600`: a pid gone long ago may be someone else's now.
      if (alive(pid) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('sleep')) process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  await engine?.transport.destroy();
  await reg?.stop();
});

async function checkWith(p: Plugin) {
  const loaded = await loadPluginProviders(p.config, p.bin, { logger: createLogger('debug', (line) => logs.push(line)), timeoutMs: TIMEOUT_MS });
  const providers = new CredentialProviders(loaded);
  const ref = parseImageReference(`${reg.host}/team/app:1`);
  const credentials = providers.for(ref);
  const request: CheckRequest = { key: `${ref.canonical}\n${Math.random()}`, image: ref.original, locations: [{ ref, authoritative: true, credentials }] };
  const started = performance.now();
  const result = await engine.checker.check(request);
  return { result, ms: performance.now() - started };
}

describe('a plugin that exits leaving a child that holds its stdout', () => {
  test('its answer is used as soon as it exits, and the child is killed with its group', async () => {
    const p = await plugin();
    const { result, ms } = await checkWith(p);
    escaped.push(...(await p.children()));
    expect(result).toMatchObject({ status: 'present' });
    // Long before the plugin timeout: the answer did not wait for the child's pipe.
    expect(ms).toBeLessThan(TIMEOUT_MS / 2);
    const [child] = await p.children();
    expect(child).toBeGreaterThan(0);
    // Gone (ESRCH), or a zombie waiting for init to reap it: either way it no longer runs.
    await expect.poll(() => alive(child as number), { timeout: 5000 }).toBe(false);
  }, 40_000);

  test('a child that left the group (setsid) still holds the pipe: the answer is read after a short grace', async () => {
    const p = await plugin({ STRAY_SETSID: '1' });
    const run = checkWith(p);
    const { result, ms } = await run;
    escaped.push(...(await p.children()));
    expect(result).toMatchObject({ status: 'present' });
    expect(ms).toBeLessThan(TIMEOUT_MS / 2);
  }, 40_000);

  test('`check` with such a plugin answers present and exits', async () => {
    const p = await plugin();
    const dir = await makeTempDir('stray-check');
    const manifests = join(dir, 'app.yaml');
    await writeFile(manifests, stringify({ apiVersion: 'apps/v1', kind: 'Deployment', ...deployment('shop', 'app', { containers: [{ name: 'app', image: `${reg.host}/team/app:1` }] }) }));
    const home = join(dir, 'home');
    await mkdir(join(home, '.docker'), { recursive: true });
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/main.ts',
        'check',
        `--allow-plain-http=${reg.host}`,
        `--image-credential-provider-config=${p.config}`,
        `--image-credential-provider-bin-dir=${p.bin}`,
        manifests,
      ],
      { cwd: ROOT, env: { ...process.env, HOME: home, DOCKER_CONFIG: join(home, '.docker'), NO_COLOR: '' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    // Far less than the plugin's default 30 s timeout: on 05a8720 `check` does not exit at all.
    const { code, signal, stdout, stderr } = await ended(child, { killAfterMs: 25_000 });
    escaped.push(...(await p.children()));
    expect({ code, signal, stderr }).toMatchObject({ code: 0, signal: null });
    expect(stdout).toContain('1 present');
    const [left] = await p.children();
    await expect.poll(() => alive(left as number), { timeout: 5000 }).toBe(false);
    expect(stdout + stderr).not.toContain(PASSWORD);
  }, 40_000);
});
