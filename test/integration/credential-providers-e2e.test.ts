/**
 * Credential providers through the exporter as operators run it: the kubelet's plugin flags make a
 * private image without a pull secret checkable, in the kubelet's order (pull secrets, providers,
 * --docker-config, anonymous); a broken plugin configuration stops start-up with exit 2; nothing
 * of the credentials reaches a log line or a scrape.
 */
import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startKubeApi, type KubeApi } from '../support/kube-api.js';
import { deployment, dockerConfigSecret } from '../support/objects.js';
import { PREFIX, startExporter } from '../support/exporter.js';
import { pushImage } from '../support/push.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { makeTempDir } from '../support/tmp.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const STATUS = `${PREFIX}_image_check_status`;
const PASSWORD = 'pw-Plug1n-5e8d2a';
const WRONG = 'pw-Wr0ngS3cret-77';

let registry: RunningRegistry;
let kube: KubeApi;
let dir: string;
let configPath: string;
let record: string;

beforeAll(async () => {
  registry = await startRegistry({ auth: { kind: 'htpasswd', users: { robot: PASSWORD } } });
  await pushImage(registry, 'private/app', '1', 'docker');
  kube = await startKubeApi();
  dir = await makeTempDir('providers-e2e');
  const bin = join(dir, 'bin');
  await mkdir(bin);
  await copyFile(join(ROOT, 'test/fixtures/credential-plugins/fake-plugin.cjs'), join(bin, 'registry-login'));
  await chmod(join(bin, 'registry-login'), 0o755);
  record = join(dir, 'runs.jsonl');
  configPath = join(dir, 'credential-provider-config.yaml');
  await writeFile(
    configPath,
    [
      'apiVersion: kubelet.config.k8s.io/v1',
      'kind: CredentialProviderConfig',
      'providers:',
      '- name: registry-login',
      `  matchImages: ["${registry.host}"]`,
      '  defaultCacheDuration: 10m',
      '  apiVersion: credentialprovider.kubelet.k8s.io/v1',
      '  env:',
      '  - {name: PLUGIN_USERNAME, value: robot}',
      `  - {name: PLUGIN_PASSWORD, value: ${PASSWORD}}`,
      `  - {name: PLUGIN_RECORD, value: ${record}}`,
      '',
    ].join('\n'),
  );
});

afterAll(async () => {
  await kube?.stop();
  await registry?.stop();
});

describe('the kubelet plugin flags', () => {
  test('a private image without a pull secret is present with the plugin, and only then; a rejected pull secret falls through to it', async () => {
    const image = `${registry.host}/private/app:1`;
    kube.set('Deployment', [
      deployment('ns', 'no-secret', { containers: [{ name: 'c', image }] }),
      deployment('ns', 'wrong-secret', { containers: [{ name: 'c', image }], imagePullSecrets: ['stale'] }),
      deployment('ns', 'gone', { containers: [{ name: 'c', image: `${registry.host}/private/app:404` }] }),
    ]);
    kube.set('Secret', [dockerConfigSecret('ns', 'stale', { [registry.host]: { username: 'robot', password: WRONG } })]);
    const flags = [`--allow-plain-http=${registry.host}`, '--check-platforms=false', '--cloud-credentials=none'];

    const without = await startExporter(kube.kubeconfigPath, flags);
    const before = await without.scrapeFresh();
    await without.stop();
    expect(before.find(STATUS, { owner_name: 'no-secret' }).map((s) => s.labels.status)).toEqual(['auth_failure']);

    const exporter = await startExporter(kube.kubeconfigPath, [...flags, `--image-credential-provider-config=${configPath}`, `--image-credential-provider-bin-dir=${join(dir, 'bin')}`]);
    try {
      const scrape = await exporter.scrapeFresh();
      expect(scrape.find(STATUS, { owner_name: 'no-secret' }).map((s) => s.labels.status)).toEqual(['present']);
      expect(scrape.find(STATUS, { owner_name: 'wrong-secret' }).map((s) => s.labels.status)).toEqual(['present']);
      expect(scrape.find(STATUS, { owner_name: 'gone' }).map((s) => s.labels.status)).toEqual(['absent']);
      // One run for the registry (cacheKeyType Registry), whatever the number of images.
      const runs = (await readFile(record, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { request: { image: string; kind: string } });
      expect(runs).toHaveLength(1);
      expect(runs[0]?.request).toMatchObject({ kind: 'CredentialProviderRequest', image: `${registry.host}/private/app` });
      expect(exporter.logs.some((l) => l.includes('"msg":"credential providers"') && l.includes('plugin registry-login'))).toBe(true);
      for (const text of [...exporter.logs, scrape.text]) {
        expect(text).not.toContain(PASSWORD);
        expect(text).not.toContain(WRONG);
      }
    } finally {
      await exporter.stop();
    }
  });

  test('a configuration that cannot be used stops start-up: exit 2, one line naming the flag', async () => {
    const broken = join(dir, 'broken.yaml');
    await writeFile(broken, 'apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders:\n- name: missing-binary\n  matchImages: ["x.example"]\n  defaultCacheDuration: 1m\n  apiVersion: credentialprovider.kubelet.k8s.io/v1\n');
    for (const args of [
      [`--image-credential-provider-config=${broken}`, `--image-credential-provider-bin-dir=${join(dir, 'bin')}`],
      [`--image-credential-provider-config=${configPath}`],
      ['--cloud-credentials=aws'],
    ]) {
      const outcome = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { cwd: ROOT, timeout: 90_000 }).then(
        () => ({ code: 0, stderr: '' }),
        (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
      );
      expect(outcome.code, args.join(' ')).toBe(2);
      const lines = outcome.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/invalid flag --(image-credential-provider-config|image-credential-provider-bin-dir|cloud-credentials)/);
    }
  });
});
