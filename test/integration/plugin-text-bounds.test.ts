/**
 * Issue 20, item 1, for credential plugins: what a plugin prints is kept bounded. Its stderr is
 * logged (when it fails) cut to MAX_REASON_CHARS; credentials longer than any registry token are
 * refused rather than cached. Real executables run as the kubelet runs them.
 */
import { chmod, copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { loadPluginProviders } from '../../src/credentials/providers/plugin.js';
import { parseImageReference } from '../../src/image/reference.js';
import { createLogger } from '../../src/utils/log.js';
import { makeTempDir } from '../support/tmp.js';

const FAKE = fileURLToPath(new URL('../fixtures/credential-plugins/fake-plugin.cjs', import.meta.url));
const REGISTRY = 'registry.example:5000';
/** The bounds README states (MAX_REASON_CHARS, MAX_SECRET_CHARS in src/utils/untrusted.ts). */
const MAX_REASON_CHARS = 1000;
const MAX_SECRET_CHARS = 16 * 1024;

async function provider(script: { file: string } | { text: string }, env: Record<string, string> = {}) {
  const dir = await makeTempDir('plugin-bounds');
  const bin = join(dir, 'bin');
  await mkdir(bin);
  if ('file' in script) await copyFile(script.file, join(bin, 'p'));
  else await writeFile(join(bin, 'p'), script.text);
  await chmod(join(bin, 'p'), 0o755);
  const config = join(dir, 'config.json');
  await writeFile(
    config,
    JSON.stringify({
      apiVersion: 'kubelet.config.k8s.io/v1',
      kind: 'CredentialProviderConfig',
      providers: [
        {
          name: 'p',
          matchImages: [REGISTRY],
          defaultCacheDuration: '1m',
          apiVersion: 'credentialprovider.kubelet.k8s.io/v1',
          env: Object.entries(env).map(([name, value]) => ({ name, value })),
        },
      ],
    }),
  );
  const logs: string[] = [];
  const [loaded] = await loadPluginProviders(config, bin, { logger: createLogger('debug', (line) => logs.push(line)), timeoutMs: 20_000 });
  return { plugin: loaded as NonNullable<typeof loaded>, logs };
}

const ref = parseImageReference(`${REGISTRY}/team/app:1`);

describe('what a credential plugin prints is bounded', () => {
  test('a failed run’s stderr is logged cut to the reason bound', async () => {
    const { plugin, logs } = await provider({ text: `#!/bin/sh\ncat > /dev/null\nhead -c 100000 /dev/zero | tr '\\0' 'e' >&2\nexit 1\n` });
    await expect(plugin.credentialFor(ref)).rejects.toThrow('credential provider p exited with status 1');
    const warning = logs.map((l) => JSON.parse(l) as { msg: string; stderr?: string }).find((l) => l.msg === 'credential provider plugin failed');
    expect(warning?.stderr?.startsWith('eeee')).toBe(true);
    expect(warning?.stderr?.length).toBeLessThanOrEqual(MAX_REASON_CHARS);
  });

  test('a password longer than any registry token is refused, not cached; a token-sized one is used', async () => {
    const big = await provider({ file: FAKE }, { PLUGIN_USERNAME: 'u', PLUGIN_PASSWORD: 'p'.repeat(MAX_SECRET_CHARS + 1) });
    await expect(big.plugin.credentialFor(ref)).rejects.toThrow(/answered with an auth entry too long/);
    const fine = await provider({ file: FAKE }, { PLUGIN_USERNAME: 'u', PLUGIN_PASSWORD: 'p'.repeat(4096) });
    expect(await fine.plugin.credentialFor(ref)).toEqual({ username: 'u', password: 'p'.repeat(4096) });
  });

  test('an auth key longer than any image pattern is refused', async () => {
    const { plugin } = await provider({ file: FAKE }, { PLUGIN_USERNAME: 'u', PLUGIN_PASSWORD: 'p', PLUGIN_AUTH_KEYS: `${REGISTRY},${REGISTRY}/${'k'.repeat(2000)}` });
    await expect(plugin.credentialFor(ref)).rejects.toThrow(/answered with an auth entry too long/);
  });
});
