/**
 * action.yml, the composite GitHub Action, run here as a runner runs it: each `run:` step is written to
 * a file and started with `bash --noprofile --norc -eo pipefail FILE` (what `shell: bash` means), in the
 * workspace, with the variables a runner sets (GITHUB_ACTION_PATH, GITHUB_WORKSPACE, GITHUB_OUTPUT, …)
 * and the step's `env:` mapping, whose `${{ inputs.NAME }}` the runner replaces with the input's value.
 * The manifests' images are in a real registry on loopback.
 *
 * `uses:` steps are not run: actions/setup-node would install Node, which is here already (this
 * process's node is put first on PATH).
 */
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { chmod, cp, mkdir, readdir, readFile, realpath, symlink, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { parse } from 'yaml';
import { pushImage } from '../support/push.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { makeTempDir } from '../support/tmp.js';
import { ended } from '../support/process.js';

// The build (tsc over src/) takes tens of seconds of CPU on a loaded machine.
vi.setConfig({ testTimeout: 120_000, hookTimeout: 240_000 });

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface Step {
  readonly name?: string;
  readonly id?: string;
  readonly uses?: string;
  readonly with?: Record<string, unknown>;
  readonly shell?: string;
  readonly run?: string;
  readonly env?: Record<string, unknown>;
  readonly 'working-directory'?: string;
}
interface Action {
  readonly name: string;
  readonly description: string;
  readonly inputs: Record<string, { description: string; required?: boolean; default?: string }>;
  readonly outputs: Record<string, { description: string; value: string }>;
  readonly runs: { using: string; steps: Step[] };
}

const action = parse(await readFile(join(ROOT, 'action.yml'), 'utf8')) as Action;
const steps = action.runs.steps;
const checkIndex = steps.findIndex((s) => s.id === 'check');

/**
 * A step's `env:` as the runner hands it to the process. Only `${{ inputs.NAME }}` of a declared input
 * is an expression here; anything else would be a new way for input to reach the shell, and fails.
 */
function stepEnv(step: Step, inputs: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, raw] of Object.entries(step.env ?? {})) {
    const value = String(raw);
    const input = /^\$\{\{\s*inputs\.([A-Za-z0-9_-]+)\s*\}\}$/.exec(value)?.[1];
    if (input !== undefined) {
      const declared = action.inputs[input];
      if (declared === undefined) throw new Error(`env ${key} names an undeclared input ${input}`);
      env[key] = inputs[input] ?? declared.default ?? '';
    } else if (value.includes('${{')) {
      throw new Error(`env ${key}: an expression this runner does not evaluate: ${value}`);
    } else {
      env[key] = value;
    }
  }
  return env;
}

interface StepRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** What the steps appended to GITHUB_OUTPUT. */
  readonly githubOutput: string;
}

let registry: RunningRegistry;
let dir: string;
/** The action's checkout, as the runner downloads it: GITHUB_ACTION_PATH. */
let actionPath: string;
let workspace: string;
let home: string;
/** node (this process's) and the npm wrapper below, first on PATH. */
let binDir: string;
let npmCalls: string;
let runs = 0;

/** Runs steps[from..to) of the action as the runner does, stopping at the first that fails. */
async function runSteps(from: number, to: number, inputs: Record<string, string>): Promise<StepRun> {
  const temp = join(dir, `runner-temp-${++runs}`);
  await mkdir(temp);
  const githubOutput = join(temp, 'github_output');
  await writeFile(githubOutput, '');
  let last: StepRun = { code: 0, stdout: '', stderr: '', githubOutput: '' };
  for (const step of steps.slice(from, to)) {
    if (step.run === undefined) continue; // `uses:`: see the comment at the top
    const script = join(temp, `step-${steps.indexOf(step)}.sh`);
    await writeFile(script, step.run);
    const child = spawn('bash', ['--noprofile', '--norc', '-eo', 'pipefail', script], {
      cwd: workspace,
      env: {
        PATH: `${binDir}${delimiter}${process.env['PATH'] ?? ''}`,
        HOME: home,
        CI: 'true',
        GITHUB_ACTIONS: 'true',
        GITHUB_ACTION_PATH: actionPath,
        GITHUB_WORKSPACE: workspace,
        GITHUB_OUTPUT: githubOutput,
        GITHUB_ENV: join(temp, 'github_env'),
        GITHUB_PATH: join(temp, 'github_path'),
        GITHUB_STEP_SUMMARY: join(temp, 'step_summary'),
        RUNNER_TEMP: temp,
        NPM_CALLS: npmCalls,
        ...stepEnv(step, inputs),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const { code, stdout, stderr } = await ended(child);
    last = { code, stdout, stderr, githubOutput: await readFile(githubOutput, 'utf8') };
    if (code !== 0) break;
  }
  return last;
}

/** The check step alone: the build before it ran once, in beforeAll, and its dist/ is what every run uses. */
const runCheckStep = (inputs: Record<string, string>) => runSteps(checkIndex, steps.length, inputs);

function deploymentYaml(name: string, image: string): string {
  return [
    'apiVersion: apps/v1',
    'kind: Deployment',
    `metadata: {name: ${name}, namespace: shop}`,
    'spec:',
    '  template:',
    '    spec:',
    `      containers: [{name: app, image: "${image}"}]`,
    '',
  ].join('\n');
}


let plainHttp: string;

beforeAll(async () => {
  dir = await makeTempDir('action');
  home = join(dir, 'home');
  workspace = join(dir, 'workspace');
  actionPath = join(dir, 'action');
  binDir = join(dir, 'bin');
  npmCalls = join(dir, 'npm-calls');
  await Promise.all([mkdir(home), mkdir(workspace), mkdir(actionPath), mkdir(binDir)]);

  registry = await startRegistry();
  await pushImage(registry, 'shop/web', '1.0', 'docker');
  // Nothing listens on port 1: connection refused, a registry that cannot be reached.
  const away = '127.0.0.1:1';
  plainHttp = `--allow-plain-http=${registry.host},${away}`;
  await mkdir(join(workspace, 'deploy'));
  await mkdir(join(workspace, 'more'));
  await writeFile(join(workspace, 'deploy', 'web.yaml'), deploymentYaml('web', `${registry.host}/shop/web:1.0`));
  await writeFile(join(workspace, 'more', 'api.yaml'), deploymentYaml('api', `${registry.host}/shop/web:1.0`));
  await writeFile(join(workspace, 'gone.yaml'), deploymentYaml('gone', `${registry.host}/shop/web:9.9`));
  await writeFile(join(workspace, 'away.yaml'), deploymentYaml('away', `${away}/shop/web:1.0`));

  // The action's directory holds what the build reads, as in a checkout of the repository. Its
  // node_modules is a link to this repository's, installed from the same package-lock.json: `npm ci`
  // would put the same packages there and takes minutes, so the `npm` first on PATH records an
  // `npm ci` (where and how it was called; asserted below) and leaves node_modules as it is. Every
  // other npm command, `npm run build` among them, is the real npm: the build is real.
  for (const file of ['action.yml', 'package.json', 'package-lock.json', '.npmrc', 'tsconfig.json', 'tsconfig.build.json']) {
    await cp(join(ROOT, file), join(actionPath, file));
  }
  await cp(join(ROOT, 'src'), join(actionPath, 'src'), { recursive: true });
  await symlink(await realpath(join(ROOT, 'node_modules')), join(actionPath, 'node_modules'));
  const realNpm = findOnPath('npm');
  await symlink(process.execPath, join(binDir, 'node'));
  await writeFile(
    join(binDir, 'npm'),
    `#!/usr/bin/env bash\nif [ "$1" = ci ]; then printf '%s|%s\\n' "$PWD" "$*" >> "$NPM_CALLS"; exit 0; fi\nexec ${JSON.stringify(realNpm)} "$@"\n`,
  );
  await chmod(join(binDir, 'npm'), 0o755);

  // Every step before `check`, as the runner runs them on the first use of the action in a job.
  const build = await runSteps(0, checkIndex, {});
  expect(build.code, build.stdout + build.stderr).toBe(0);
  expect(await readFile(npmCalls, 'utf8')).toBe(`${actionPath}|ci --include=dev --ignore-scripts --no-audit --no-fund\n`);
  expect((await readdir(join(actionPath, 'dist'))).includes('main.js')).toBe(true);
});

afterAll(async () => {
  await registry?.stop();
});

function findOnPath(command: string): string {
  for (const entry of (process.env['PATH'] ?? '').split(delimiter)) {
    const candidate = join(entry, command);
    try {
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  throw new Error(`${command} is not on PATH`);
}

describe('action.yml', () => {
  test('a composite action: inputs paths, args, output, output-file, fail-on; output exit-code from the check step', () => {
    expect(action.runs.using).toBe('composite');
    expect(Object.keys(action.inputs).sort()).toEqual(['args', 'fail-on', 'output', 'output-file', 'paths']);
    expect(action.inputs['paths']?.default).toBe('.');
    expect(action.inputs['output']?.default).toBe('github');
    expect(action.inputs['fail-on']?.default).toBe('unknown');
    for (const input of Object.values(action.inputs)) expect(input.required ?? false).toBe(false);
    expect(action.outputs['exit-code']?.value).toBe('${{ steps.check.outputs.exit-code }}');
    expect(checkIndex).toBe(steps.length - 1);
  });

  test('sets up the Node major the container image ships', async () => {
    const setupNode = steps.find((s) => s.uses?.startsWith('actions/setup-node@'));
    expect(setupNode?.uses).toMatch(/^actions\/setup-node@v\d+$/);
    const dockerfile = await readFile(join(ROOT, 'Dockerfile'), 'utf8');
    const majors = [...dockerfile.matchAll(/^FROM node:(\d+)-/gm)].map((m) => m[1]);
    expect(majors.length).toBeGreaterThan(0);
    expect(new Set(majors)).toEqual(new Set([String(setupNode?.with?.['node-version'])]));
    expect(steps.indexOf(setupNode!)).toBe(0);
  });

  test('no input is spliced into shell code: run steps hold no expression, inputs arrive as environment variables', () => {
    const used = new Set<string>();
    for (const step of steps) {
      if (step.run === undefined) continue;
      expect(step.shell).toBe('bash');
      expect(step.run).not.toContain('${{');
      expect(step['working-directory']).toBeUndefined();
      for (const value of Object.values(step.env ?? {})) {
        const input = /^\$\{\{\s*inputs\.([A-Za-z0-9_-]+)\s*\}\}$/.exec(String(value))?.[1];
        if (input !== undefined) used.add(input);
      }
      stepEnv(step, {}); // throws on any other expression
    }
    // Every input is passed on (none declared and silently ignored).
    expect([...used].sort()).toEqual(Object.keys(action.inputs).sort());
  });
});

describe('the action run as a runner runs it, against a real registry', () => {
  test('present images: exit 0, exit-code=0 in GITHUB_OUTPUT; several paths, separated by a newline and by spaces', async () => {
    const run = await runCheckStep({ paths: 'deploy\n  more/api.yaml ', args: plainHttp, output: 'table' });
    expect(run.code, run.stderr).toBe(0);
    expect(run.githubOutput).toBe('exit-code=0\n');
    expect(run.stdout).toMatch(/^Deployment\s+shop\s+web\s+app\s+\S+\s+present/m);
    expect(run.stdout).toMatch(/^Deployment\s+shop\s+api\s+app\s+\S+\s+present/m);
  });

  test('an absent image: exit 1, exit-code=1; the default path `.` finds every manifest; output-file receives the report', async () => {
    const run = await runCheckStep({ args: plainHttp, output: 'json', 'output-file': 'report.json', 'fail-on': 'absent' });
    expect(run.code, run.stderr).toBe(1);
    expect(run.githubOutput).toBe('exit-code=1\n');
    expect(run.stdout).toBe('');
    const report = JSON.parse(await readFile(join(workspace, 'report.json'), 'utf8')) as {
      exitCode: number;
      containers: { name: string; status: string }[];
    };
    expect(report.exitCode).toBe(1);
    expect(Object.fromEntries(report.containers.map((c) => [c.name, c.status]))).toEqual({
      web: 'present',
      api: 'present',
      gone: 'absent',
      away: 'registry_unavailable',
    });
  });

  test('the default output: GitHub annotations at the manifest lines, then the summary line; sarif into output-file for upload', async () => {
    const run = await runCheckStep({ args: plainHttp, 'fail-on': 'absent' });
    expect(run.code, run.stderr).toBe(1);
    const annotations = run.stdout.split('\n').filter((line) => line.startsWith('::'));
    expect(annotations.some((line) => /^::error file=[^,]*\.ya?ml,line=\d+,title=[^:]+::.*gone/.test(line))).toBe(true);
    expect(annotations.some((line) => line.startsWith('::notice ') && line.includes('away'))).toBe(true);
    expect(run.stdout.trimEnd().split('\n').at(-1)).toMatch(/^4 containers/);
    const sarif = await runCheckStep({ args: plainHttp, output: 'sarif', 'output-file': 'images.sarif' });
    expect(sarif.code, sarif.stderr).toBe(1);
    const log = JSON.parse(await readFile(join(workspace, 'images.sarif'), 'utf8')) as { version: string; runs: { results: { ruleId: string }[] }[] };
    expect(log.version).toBe('2.1.0');
    expect(log.runs[0]?.results.map((r) => r.ruleId).sort()).toContain('absent');
  });

  test('a registry that cannot be reached: exit 3 by default; fail-on absent lets the step pass', async () => {
    const unknown = await runCheckStep({ paths: 'away.yaml deploy', args: plainHttp, output: 'table' });
    expect(unknown.code, unknown.stderr).toBe(3);
    expect(unknown.githubOutput).toBe('exit-code=3\n');
    expect(unknown.stdout).toMatch(/^Deployment\s+shop\s+away\s+app\s+\S+\s+registry_unavailable/m);
    const accepted = await runCheckStep({ paths: 'away.yaml deploy', args: plainHttp, output: 'table', 'fail-on': 'absent' });
    expect(accepted.code, accepted.stderr).toBe(0);
    expect(accepted.githubOutput).toBe('exit-code=0\n');
  });

  test('hostile inputs stay strings: no command substitution, no glob, no flag from a path', async () => {
    const before = (await readdir(workspace)).sort();
    const paths = await runCheckStep({ paths: 'deploy $(touch pwned-a) `touch pwned-b` ;touch pwned-c *', args: plainHttp, output: 'table' });
    expect(paths.code).toBe(2);
    expect(paths.githubOutput).toBe('exit-code=2\n');
    expect(paths.stderr).toContain('cannot read $(touch');
    // A path that looks like a flag is still a path (after `--`).
    const flagLike = await runCheckStep({ paths: '--cluster', args: plainHttp, output: 'table' });
    expect(flagLike.code).toBe(2);
    expect(flagLike.stderr).toContain('cannot read --cluster');
    const output = await runCheckStep({ paths: 'deploy', args: plainHttp, output: 'table"; touch pwned-d; echo "', 'fail-on': '$(touch pwned-e)' });
    expect(output.code).toBe(2);
    expect(output.stderr).toContain('invalid flag --output');
    expect(output.stderr).toContain('touch pwned-d');
    expect((await readdir(workspace)).sort()).toEqual(before);
  });
});
