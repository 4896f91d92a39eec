/**
 * .pre-commit-hooks.yaml run by the real pre-commit (Debian's package, test/install-deps.sh): a git
 * repository with a .pre-commit-config.yaml naming this repository's hooks, `pre-commit install`, and
 * `git commit`s of manifests whose images are in a real registry on loopback.
 *
 * The `language: system` hook runs on every test run: pre-commit installs nothing for it, and the
 * `k8s-image-existence-exporter` on PATH is this checkout's (a wrapper running src/main.ts). The
 * `language: node` hook makes pre-commit build an environment of its own — `npm install` of the
 * repository with its dev dependencies, two builds, `npm pack`, `npm install -g` — minutes of work
 * (over three here), too long for every test run: it runs with TEST_PRE_COMMIT_NODE_HOOK=1.
 */
import { execFile } from 'node:child_process';
import { chmod, cp, mkdir, readdir, readFile, realpath, symlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { parse } from 'yaml';
import { pushImage } from '../support/push.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { makeTempDir } from '../support/tmp.js';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const execFileP = promisify(execFile);

interface Hook {
  readonly id: string;
  readonly entry: string;
  readonly language: string;
  readonly files: string;
  readonly exclude?: string;
  readonly pass_filenames?: boolean;
  readonly require_serial?: boolean;
}
const hooks = parse(await readFile(join(ROOT, '.pre-commit-hooks.yaml'), 'utf8')) as Hook[];

let registry: RunningRegistry;
let dir: string;
/** A git repository holding this checkout's package: what a `repo:` of a .pre-commit-config.yaml names. */
let hookRepo: string;
let hookRev: string;
let env: NodeJS.ProcessEnv;
let plainHttp: string;
let away: string;

interface Run {
  readonly code: number;
  readonly output: string;
}

async function sh(cwd: string, command: string, args: readonly string[]): Promise<Run> {
  try {
    const { stdout, stderr } = await execFileP(command, args, { cwd, env, maxBuffer: 16 * 1024 * 1024, timeout: 600_000 });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number | string; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw error;
    return { code: e.code, output: (e.stdout ?? '') + (e.stderr ?? '') };
  }
}

async function git(cwd: string, ...args: string[]): Promise<string> {
  const run = await sh(cwd, 'git', args);
  if (run.code !== 0) throw new Error(`git ${args.join(' ')}: ${run.output}`);
  return run.output.trim();
}

function deploymentYaml(name: string, image: string): string {
  return `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: ${name}, namespace: shop}\nspec:\n  template:\n    spec:\n      containers: [{name: app, image: "${image}"}]\n`;
}

/** A repository with .pre-commit-config.yaml naming `hookId` with `args`, committed, and the hook installed. */
async function workRepo(name: string, hookId: string, args: readonly string[]): Promise<string> {
  const path = join(dir, name);
  await mkdir(path);
  await git(path, 'init', '-q');
  await writeConfig(path, hookId, args);
  await git(path, 'add', '.pre-commit-config.yaml');
  await git(path, 'commit', '-q', '--no-verify', '-m', 'pre-commit');
  const install = await sh(path, 'pre-commit', ['install']);
  expect(install.code, install.output).toBe(0);
  return path;
}

async function writeConfig(path: string, hookId: string, args: readonly string[]): Promise<void> {
  const config = { repos: [{ repo: hookRepo, rev: hookRev, hooks: [{ id: hookId, args, verbose: true }] }] };
  await writeFile(join(path, '.pre-commit-config.yaml'), JSON.stringify(config, null, 2));
}

/** Stages `files` and commits them; the hook decides. */
async function commit(repo: string, files: Record<string, string>): Promise<Run & { committed: boolean }> {
  const before = await sh(repo, 'git', ['rev-parse', '-q', '--verify', 'HEAD']);
  for (const [file, text] of Object.entries(files)) {
    await mkdir(dirname(join(repo, file)), { recursive: true });
    await writeFile(join(repo, file), text);
  }
  await git(repo, 'add', '--', ...Object.keys(files));
  const run = await sh(repo, 'git', ['commit', '-q', '-m', 'change']);
  const after = await sh(repo, 'git', ['rev-parse', '-q', '--verify', 'HEAD']);
  if (run.code !== 0) {
    // Refused: back to the last commit, index and tree, for the next test.
    await git(repo, 'reset', '-q', '--hard', 'HEAD');
    await git(repo, 'clean', '-q', '-f', '-d');
  }
  return { ...run, committed: after.output !== before.output };
}


beforeAll(async () => {
  const which = await execFileP('sh', ['-c', 'command -v pre-commit']).catch(() => undefined);
  if (which === undefined) throw new Error('pre-commit is not installed: run test/install-deps.sh');

  dir = await makeTempDir('precommit');
  const home = join(dir, 'home');
  const bin = join(dir, 'bin');
  await mkdir(home);
  await mkdir(bin);
  // What `npm install -g` of this package puts on PATH, for the system hook: the command by its bin name.
  const tsx = pathToFileURL(join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
  await writeFile(
    join(bin, 'k8s-image-existence-exporter'),
    `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} --import ${JSON.stringify(tsx)} ${JSON.stringify(join(ROOT, 'src', 'main.ts'))} "$@"\n`,
  );
  await chmod(join(bin, 'k8s-image-existence-exporter'), 0o755);
  await symlink(process.execPath, join(bin, 'node'));
  env = {
    PATH: `${bin}${delimiter}${process.env['PATH'] ?? ''}`,
    HOME: home,
    PRE_COMMIT_HOME: join(dir, 'pre-commit-cache'),
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_AUTHOR_NAME: 'Test',
    GIT_AUTHOR_EMAIL: 'test@example.com',
    GIT_COMMITTER_NAME: 'Test',
    GIT_COMMITTER_EMAIL: 'test@example.com',
    // For the node hook: the packages npm ci put in the cache serve its installs (the registry
    // is asked only for what is missing), and no notices.
    npm_config_cache: process.env['npm_config_cache'] ?? join(homedir(), '.npm'),
    npm_config_prefer_offline: 'true',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
    LANG: 'C.UTF-8',
  };

  // The hook repository: this checkout's files as they are now (committed or not), as one commit.
  hookRepo = join(dir, 'hooks');
  await mkdir(hookRepo);
  for (const file of ['.pre-commit-hooks.yaml', 'package.json', 'package-lock.json', '.npmrc', 'tsconfig.json', 'tsconfig.build.json', 'README.md']) {
    await cp(join(ROOT, file), join(hookRepo, file));
  }
  await cp(join(ROOT, 'src'), join(hookRepo, 'src'), { recursive: true });
  await git(hookRepo, 'init', '-q');
  await git(hookRepo, 'add', '-A');
  await git(hookRepo, 'commit', '-q', '-m', 'hooks');
  hookRev = await git(hookRepo, 'rev-parse', 'HEAD');

  registry = await startRegistry();
  await pushImage(registry, 'shop/web', '1.0', 'docker');
  // Nothing listens on port 1: connection refused, a registry that cannot be reached.
  away = '127.0.0.1:1';
  plainHttp = `--allow-plain-http=${registry.host},${away}`;
}, 180_000);

afterAll(async () => {
  await registry?.stop();
});

describe('.pre-commit-hooks.yaml', () => {
  test('the node hook and the system hook run the same command on the staged YAML and JSON files, in one process', () => {
    expect(hooks.map((h) => [h.id, h.language])).toEqual([
      ['k8s-image-existence-check', 'node'],
      ['k8s-image-existence-check-system', 'system'],
    ]);
    for (const hook of hooks) {
      expect(hook.entry).toBe('k8s-image-existence-exporter check --skip-non-manifests');
      expect(hook.pass_filenames ?? true).toBe(true);
      expect(hook.require_serial).toBe(true);
      const files = new RegExp(hook.files);
      const exclude = new RegExp(hook.exclude ?? '(?!)');
      const taken = (path: string) => files.test(path) && !exclude.test(path);
      expect(['deploy/a.yaml', 'b.yml', 'list.json'].every(taken)).toBe(true);
      expect(['.pre-commit-config.yaml', 'sub/.pre-commit-config.yaml', 'README.md', 'deploy/a.yaml.orig'].some(taken)).toBe(false);
    }
  });

  test('the command the hooks name is the package bin that prepare builds', async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string>; scripts: Record<string, string>; files: string[] };
    expect(pkg.bin['k8s-image-existence-exporter']).toBe('dist/main.js');
    expect(pkg.scripts['prepare']).toBe('npm run build');
    expect(pkg.files).toContain('dist');
    // npm pack runs prepare in the foreground by default and prints its banner where pre-commit reads the packed file's name.
    expect(await readFile(join(ROOT, '.npmrc'), 'utf8')).toMatch(/^foreground-scripts=false$/m);
  });
});

describe('the system hook, in git commit', () => {
  let repo: string;
  beforeAll(async () => {
    repo = await workRepo('system', 'k8s-image-existence-check-system', [plainHttp]);
  });

  test('present images: the commit is made (the config staged with it is not handed to check)', async () => {
    const config = `${await readFile(join(repo, '.pre-commit-config.yaml'), 'utf8')}\n# changed with the manifests\n`;
    const run = await commit(repo, { '.pre-commit-config.yaml': config, 'deploy/web.yaml': deploymentYaml('web', `${registry.host}/shop/web:1.0`) });
    expect(run.code, run.output).toBe(0);
    expect(run.committed).toBe(true);
    expect(run.output).toMatch(/Kubernetes images exist\.+Passed/);
    expect(run.output).toMatch(/^Deployment\s+shop\s+web\s+app\s+\S+\s+present/m);
  });

  test('an absent image: the commit is refused, and the report says which', async () => {
    const run = await commit(repo, { 'deploy/gone.yaml': deploymentYaml('gone', `${registry.host}/shop/web:9.9`) });
    expect(run.code).not.toBe(0);
    expect(run.committed).toBe(false);
    expect(run.output).toMatch(/Kubernetes images exist\.+Failed/);
    expect(run.output).toContain('- exit code: 1');
    expect(run.output).toMatch(/^Deployment\s+shop\s+gone\s+app\s+\S+shop\/web:9\.9\s+absent/m);
  });

  test('staged YAML that is no manifest (a CI config, Helm values) is skipped with a warning: alone it passes, beside a manifest that one decides', async () => {
    const alone = await commit(repo, { '.gitlab-ci.yml': 'stages: [test]\n', 'chart/values.yaml': 'replicas: 2\n' });
    expect(alone.committed, alone.output).toBe(true);
    expect(alone.output).toContain('.gitlab-ci.yml: no Kubernetes objects (apiVersion and kind) in it, skipped');
    expect(alone.output).toContain('nothing to check');
    const beside = await commit(repo, { 'chart/values.yaml': 'replicas: 3\n', 'deploy/gone2.yaml': deploymentYaml('gone2', `${registry.host}/shop/web:9.8`) });
    expect(beside.committed, beside.output).toBe(false);
    expect(beside.output).toContain('- exit code: 1');
  });

  test('an unreachable registry is reported and refuses the commit; with --fail-on=absent in args it is reported and passes', async () => {
    const unreachable = { 'deploy/away.yaml': deploymentYaml('away', `${away}/shop/web:1.0`) };
    const refused = await commit(repo, unreachable);
    expect(refused.committed, refused.output).toBe(false);
    expect(refused.output).toContain('- exit code: 3');
    expect(refused.output).toMatch(/^Deployment\s+shop\s+away\s+app\s+\S+\s+registry_unavailable/m);

    await writeConfig(repo, 'k8s-image-existence-check-system', [plainHttp, '--fail-on=absent']);
    const config = await commit(repo, { '.pre-commit-config.yaml': await readFile(join(repo, '.pre-commit-config.yaml'), 'utf8') });
    expect(config.committed, config.output).toBe(true);
    expect(config.output).toMatch(/Kubernetes images exist\.+\(no files to check\)Skipped/);

    const accepted = await commit(repo, unreachable);
    expect(accepted.committed, accepted.output).toBe(true);
    expect(accepted.output).toMatch(/Kubernetes images exist\.+Passed/);
    expect(accepted.output).toMatch(/^Deployment\s+shop\s+away\s+app\s+\S+\s+registry_unavailable/m);
  });
});

describe.runIf(process.env['TEST_PRE_COMMIT_NODE_HOOK'] === '1')('the node hook, installed by pre-commit (TEST_PRE_COMMIT_NODE_HOOK=1)', () => {
  test('pre-commit builds its environment from the repository; absent refused, present committed', async () => {
    const repo = await workRepo('node', 'k8s-image-existence-check', [plainHttp]);
    // The first commit installs the environment: minutes.
    const present = await commit(repo, { 'deploy/web.yaml': deploymentYaml('web', `${registry.host}/shop/web:1.0`) });
    expect(present.committed, present.output).toBe(true);
    expect(present.output).toMatch(/^Deployment\s+shop\s+web\s+app\s+\S+\s+present/m);
    const absent = await commit(repo, { 'deploy/gone.yaml': deploymentYaml('gone', `${registry.host}/shop/web:9.9`) });
    expect(absent.committed).toBe(false);
    expect(absent.output).toContain('- exit code: 1');
    // The command that ran is the one installed in pre-commit's environment, not the wrapper on PATH.
    const installed = await realpath(join(env['PRE_COMMIT_HOME']!, await onlyRepoDir(), 'node_env-system', 'bin', 'k8s-image-existence-exporter'));
    expect(installed).toMatch(/node_env-system\/lib\/node_modules\/k8s-image-existence-exporter\/dist\/main\.js$/);
  }, 900_000);
});

async function onlyRepoDir(): Promise<string> {
  const entries = (await readdir(env['PRE_COMMIT_HOME']!)).filter((e) => e.startsWith('repo'));
  if (entries.length !== 1) throw new Error(`expected one repository in PRE_COMMIT_HOME, found ${entries.join(', ')}`);
  return entries[0]!;
}
