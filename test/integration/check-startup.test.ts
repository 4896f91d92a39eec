/**
 * `check` of manifests loads only what it uses (issue 22: it runs on every push). Not the Kubernetes
 * client, not a cloud SDK while no image needs that cloud, not the exporter's web server, metrics or
 * web configuration: together they were most of its start-up time and memory (bench/check-startup.ts
 * measures those). Counted, not timed: a preloaded hook (test/support/check-hooks/loaded-modules.mjs)
 * records every module the process loads. The same hook sees the packages the check does use, and
 * the Kubernetes client once `check --cluster` needs it: an absence is not the hook's blindness.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { stringify } from 'yaml';
import { deployment } from '../support/objects.js';
import { pushImage } from '../support/push.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { makeTempDir } from '../support/tmp.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const HOOK = fileURLToPath(new URL('../support/check-hooks/loaded-modules.mjs', import.meta.url));

/** What a check of manifests has no use for, and the exporter or `check --cluster` loads. */
const NOT_FOR_MANIFESTS = ['@kubernetes/client-node', '@aws-sdk/client-ecr', '@azure/identity', 'koa', '@koa/router', 'prom-client', 'zod', 'bcryptjs'];

let registry: RunningRegistry;
let dir: string;
let manifest: string;

beforeAll(async () => {
  registry = await startRegistry();
  await pushImage(registry, 'shop/web', '1.0', 'docker');
  dir = await makeTempDir('check-startup');
  manifest = join(dir, 'app.yaml');
  const object = { apiVersion: 'apps/v1', kind: 'Deployment', ...deployment('shop', 'web', { containers: [{ name: 'app', image: `${registry.host}/shop/web:1.0` }] }) };
  await writeFile(manifest, stringify(object));
}, 60_000);

afterAll(async () => {
  await registry?.stop();
});

/** Runs the command (node, tsx, the hook) and counts the modules it loaded, by package. */
async function loadedBy(name: string, args: readonly string[]): Promise<{ code: number | null; stderr: string; modules: Map<string, number> }> {
  const file = join(dir, `${name}.modules`);
  await writeFile(file, '');
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', HOOK, 'src/main.ts', ...args], {
    cwd: ROOT,
    // No HOME credentials, no cloud identity from this machine's environment.
    env: { ...process.env, HOME: dir, DOCKER_CONFIG: join(dir, 'none'), LOADED_MODULES_FILE: file },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const [code] = (await once(child, 'exit')) as [number | null];
  const modules = new Map<string, number>();
  for (const url of (await readFile(file, 'utf8')).split('\n')) {
    // The package a module belongs to: what follows the last node_modules/ of its path.
    const pkg = /.*\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1];
    if (pkg) modules.set(pkg, (modules.get(pkg) ?? 0) + 1);
  }
  return { code, stderr, modules };
}

// Two processes at once: their start-up (tsx transpiling the sources) is what takes time on a busy machine.
test('check of manifests loads neither the Kubernetes client nor the cloud SDKs nor the exporter; check --cluster loads the client', async () => {
  const [manifests, cluster] = await Promise.all([
    // Every cloud provider enabled, none used: no image is in ECR, Artifact Registry or ACR.
    loadedBy('manifests', ['check', `--allow-plain-http=${registry.host}`, '--cloud-credentials=ecr,gcp,acr', manifest]),
    // Fails at once (exit 2) for want of a configuration, once the cluster side is loaded.
    loadedBy('cluster', ['check', '--cluster', `--kubeconfig=${join(dir, 'no-kubeconfig')}`]),
  ]);

  expect(manifests.code, manifests.stderr).toBe(0);
  for (const pkg of NOT_FOR_MANIFESTS) expect(manifests.modules.get(pkg) ?? 0, `modules of ${pkg} loaded by check of manifests`).toBe(0);
  // The hook saw what the check did use: the YAML reader (CommonJS) and the HTTP client (CommonJS), js-yaml (an ES module).
  for (const pkg of ['yaml', 'undici', 'js-yaml']) expect(manifests.modules.get(pkg) ?? 0, `modules of ${pkg}`).toBeGreaterThan(0);

  expect(cluster.code, cluster.stderr).toBe(2);
  expect(cluster.stderr).toContain('check --cluster:');
  expect(cluster.modules.get('@kubernetes/client-node') ?? 0, 'modules of @kubernetes/client-node loaded by check --cluster').toBeGreaterThan(0);
}, 120_000);
