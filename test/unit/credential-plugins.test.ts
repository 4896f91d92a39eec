/**
 * The kubelet's CredentialProviderConfig as the exporter reads it: every apiVersion, YAML and JSON,
 * errors that name the field and the provider, matchImages with the kubelet's URL matching, and the
 * loader's checks of the plugin bin dir.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import {
  imageMatches,
  mergePluginConfigs,
  parsePluginConfig,
  PluginConfigError,
  type PluginConfig,
} from '../../src/credentials/providers/plugin-config.js';
import { loadPluginProviders, pluginImageOf } from '../../src/credentials/providers/plugin.js';
import { parseImageReference } from '../../src/image/reference.js';
import { createLogger } from '../../src/utils/log.js';
import { makeTempDir } from '../support/tmp.js';

const ref = (image: string) => parseImageReference(image);

const YAML_CONFIG = (configVersion: string, pluginVersion: string) => `
apiVersion: kubelet.config.k8s.io/${configVersion}
kind: CredentialProviderConfig
providers:
  - name: ecr-credential-provider
    matchImages:
      - "*.dkr.ecr.*.amazonaws.com"
      - "*.dkr.ecr.*.amazonaws.com.cn"
    defaultCacheDuration: "12h"
    apiVersion: credentialprovider.kubelet.k8s.io/${pluginVersion}
    args:
      - get-credentials
    env:
      - name: AWS_PROFILE
        value: temp
  - name: acr-credential-provider
    matchImages: ["*.azurecr.io"]
    defaultCacheDuration: 1m30s
    apiVersion: credentialprovider.kubelet.k8s.io/${pluginVersion}
`;

function jsonConfig(providers: unknown[], extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ apiVersion: 'kubelet.config.k8s.io/v1', kind: 'CredentialProviderConfig', providers, ...extra });
}

const provider = (fields: Record<string, unknown> = {}) => ({
  name: 'my-plugin',
  matchImages: ['registry.example.com'],
  defaultCacheDuration: '10m',
  apiVersion: 'credentialprovider.kubelet.k8s.io/v1',
  ...fields,
});

function parseError(text: string): PluginConfigError {
  try {
    parsePluginConfig(text, 'config.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(PluginConfigError);
    return error as PluginConfigError;
  }
  throw new Error('the config was accepted');
}

describe('CredentialProviderConfig parsing', () => {
  test.each([
    ['v1', 'v1'],
    ['v1beta1', 'v1beta1'],
    ['v1alpha1', 'v1alpha1'],
    ['v1', 'v1alpha1'],
  ])('YAML, config %s with plugins speaking %s', (configVersion, pluginVersion) => {
    const { providers, ignoredFields } = parsePluginConfig(YAML_CONFIG(configVersion, pluginVersion));
    expect(ignoredFields).toEqual([]);
    expect(providers).toHaveLength(2);
    const [ecr, acr] = providers as [PluginConfig, PluginConfig];
    expect(ecr).toMatchObject({
      name: 'ecr-credential-provider',
      matchImages: ['*.dkr.ecr.*.amazonaws.com', '*.dkr.ecr.*.amazonaws.com.cn'],
      defaultCacheDurationMs: 12 * 3_600_000,
      apiVersion: `credentialprovider.kubelet.k8s.io/${pluginVersion}`,
      args: ['get-credentials'],
      env: [{ name: 'AWS_PROFILE', value: 'temp' }],
      serviceAccountTokens: false,
    });
    expect(acr).toMatchObject({ name: 'acr-credential-provider', defaultCacheDurationMs: 90_000, args: [], env: [] });
  });

  test('JSON, as the kubelet also reads it', () => {
    const { providers } = parsePluginConfig(jsonConfig([provider({ args: ['a', 'b'], env: [{ name: 'X', value: '1' }] })]));
    expect(providers).toEqual([
      expect.objectContaining({ name: 'my-plugin', matchImages: ['registry.example.com'], defaultCacheDurationMs: 600_000, args: ['a', 'b'], env: [{ name: 'X', value: '1' }] }),
    ]);
  });

  test('"0s" is a valid defaultCacheDuration (never cached)', () => {
    expect(parsePluginConfig(jsonConfig([provider({ defaultCacheDuration: '0s' })])).providers[0]?.defaultCacheDurationMs).toBe(0);
  });

  test('unknown fields are ignored and reported (the kubelet would reject them)', () => {
    const { providers, ignoredFields } = parsePluginConfig(jsonConfig([provider({ futureField: true, env: [{ name: 'A', value: 'b', extra: 1 }] })], { metadata: {} }));
    expect(providers).toHaveLength(1);
    expect(ignoredFields).toEqual(['metadata', 'providers[0].futureField', 'providers[0].env[0].extra']);
  });

  test('tokenAttributes marks a service-account-token plugin', () => {
    const config = jsonConfig([provider({ tokenAttributes: { serviceAccountTokenAudience: 'aud', requireServiceAccount: true, cacheType: 'Token' } })]);
    expect(parsePluginConfig(config).providers[0]?.serviceAccountTokens).toBe(true);
  });

  test.each([
    ['name missing', [provider({ name: undefined })], 'providers[0].name', undefined, /is required/],
    ['name with a slash', [provider({ name: '../bin/sh' })], 'providers[0].name', '../bin/sh', /cannot contain '\/'/],
    ['name with a space', [provider({ name: 'my plugin' })], 'providers[0].name', 'my plugin', /spaces/],
    ['name ..', [provider({ name: '..' })], 'providers[0].name', '..', /cannot be/],
    ['duplicate names', [provider(), provider()], 'providers[1].name', 'my-plugin', /duplicate provider name "my-plugin"/],
    ['matchImages missing', [provider({ matchImages: undefined })], 'providers[0].matchImages', 'my-plugin', /at least one item is required/],
    ['matchImages empty', [provider({ matchImages: [] })], 'providers[0].matchImages', 'my-plugin', /at least one item is required/],
    ['matchImages not a list', [provider({ matchImages: 'gcr.io' })], 'providers[0].matchImages', 'my-plugin', /list/],
    ['matchImages item invalid', [provider({ matchImages: ['gcr.io', 'not a host!'] })], 'providers[0].matchImages[1]', 'my-plugin', /not a valid image match/],
    ['defaultCacheDuration missing', [provider({ defaultCacheDuration: undefined })], 'providers[0].defaultCacheDuration', 'my-plugin', /is required/],
    ['defaultCacheDuration junk', [provider({ defaultCacheDuration: 'twelve hours' })], 'providers[0].defaultCacheDuration', 'my-plugin', /invalid duration/],
    ['defaultCacheDuration a number', [provider({ defaultCacheDuration: 60 })], 'providers[0].defaultCacheDuration', 'my-plugin', /duration string/],
    ['defaultCacheDuration negative', [provider({ defaultCacheDuration: '-1m' })], 'providers[0].defaultCacheDuration', 'my-plugin', /greater than or equal to 0/],
    ['apiVersion missing', [provider({ apiVersion: undefined })], 'providers[0].apiVersion', 'my-plugin', /is required/],
    ['apiVersion unknown', [provider({ apiVersion: 'credentialprovider.kubelet.k8s.io/v2' })], 'providers[0].apiVersion', 'my-plugin', /unsupported value/],
    ['apiVersion of the config, not of a plugin', [provider({ apiVersion: 'kubelet.config.k8s.io/v1' })], 'providers[0].apiVersion', 'my-plugin', /unsupported value/],
    ['args not strings', [provider({ args: ['ok', 3] })], 'providers[0].args[1]', 'my-plugin', /string/],
    ['env without name', [provider({ env: [{ value: 'x' }] })], 'providers[0].env[0].name', 'my-plugin', /is required/],
    ['env value not a string', [provider({ env: [{ name: 'A', value: 1 }] })], 'providers[0].env[0].value', 'my-plugin', /string/],
  ])('%s: the error names the field and the provider', (_, providers, field, name, message) => {
    const error = parseError(jsonConfig(providers));
    expect(error.field).toBe(field);
    expect(error.provider).toBe(name);
    expect(error.message).toContain('config.yaml');
    expect(error.message).toContain(field);
    if (name !== undefined) expect(error.message).toContain(`provider ${JSON.stringify(name)}`);
    expect(error.message).toMatch(message);
  });

  test('the second provider at fault is named, not the first', () => {
    const error = parseError(jsonConfig([provider({ name: 'first' }), provider({ name: 'second', defaultCacheDuration: undefined })]));
    expect(error.message).toBe('config.yaml: providers[1].defaultCacheDuration (provider "second"): is required');
  });

  test.each([
    ['the config apiVersion', jsonConfig([provider()], { apiVersion: 'kubelet.config.k8s.io/v2' }), 'apiVersion'],
    ['the config apiVersion missing', JSON.stringify({ kind: 'CredentialProviderConfig', providers: [provider()] }), 'apiVersion'],
    ['the kind', jsonConfig([provider()], { kind: 'KubeletConfiguration' }), 'kind'],
    ['no providers', jsonConfig([]), 'providers'],
    ['providers missing', JSON.stringify({ apiVersion: 'kubelet.config.k8s.io/v1', kind: 'CredentialProviderConfig' }), 'providers'],
    ['a provider that is not an object', jsonConfig(['gcr.io']), 'providers[0]'],
  ])('%s is checked', (_, text, field) => {
    const error = parseError(text);
    expect(error.field).toBe(field);
    expect(error.message).toContain(field);
  });

  test('text that is neither YAML nor JSON, or not an object', () => {
    expect(parseError('providers: [unclosed').message).toMatch(/^config\.yaml: not valid YAML or JSON/);
    expect(parseError('just a string').message).toMatch(/not a CredentialProviderConfig/);
    expect(parseError('').message).toMatch(/not a CredentialProviderConfig/);
  });

  test('duplicate names across the files of a config directory', () => {
    const a = { source: 'a.yaml', config: parsePluginConfig(jsonConfig([provider({ name: 'x' })])) };
    const b = { source: 'b.yaml', config: parsePluginConfig(jsonConfig([provider({ name: 'y' }), provider({ name: 'x' })])) };
    expect(() => mergePluginConfigs([a, b])).toThrow(/b\.yaml: name \(provider "x"\): duplicate provider name, also in a\.yaml/);
    expect(mergePluginConfigs([a, { source: 'c.yaml', config: parsePluginConfig(jsonConfig([provider({ name: 'z' })])) }]).providers.map((p) => p.name)).toEqual(['x', 'z']);
  });
});

describe('matchImages, as the kubelet matches them (URLsMatch)', () => {
  const patterns = (...matchImages: string[]) => (parsePluginConfig(jsonConfig([provider({ matchImages })])).providers[0] as PluginConfig).matchPatterns;

  // The examples of the kubelet's documentation (kubelet-credential-provider), each with a near miss.
  test.each([
    ['123456789.dkr.ecr.us-east-1.amazonaws.com', '123456789.dkr.ecr.us-east-1.amazonaws.com/app:1', true],
    ['123456789.dkr.ecr.us-east-1.amazonaws.com', '123456789.dkr.ecr.us-west-2.amazonaws.com/app:1', false],
    ['*.azurecr.io', 'example.azurecr.io/team/app@sha256:' + 'a'.repeat(64), true],
    ['*.azurecr.io', 'a.b.azurecr.io/app', false], // one label too many
    ['*.azurecr.io', 'azurecr.io/app', false], // one label too few
    ['gcr.io', 'gcr.io/project/app:v1', true],
    ['gcr.io', 'us.gcr.io/project/app', false],
    ['*.*.registry.io', 'abc.def.registry.io/app', true],
    ['*.*.registry.io', 'abc.registry.io/app', false],
    ['registry.io:8080/path', 'registry.io:8080/path', true],
    ['registry.io:8080/path', 'registry.io:8080/path/app:1', true],
    ['registry.io:8080/path', 'registry.io:8081/path', false], // another port
    ['registry.io:8080/path', 'registry.io:8080/other', false], // not a prefix
    ['registry.io:8080/path', 'registry.io/path', false], // no port where the pattern has one
    ['registry.io', 'registry.io:8080/path', false], // a port where the pattern has none
    ['*.dkr.ecr.*.amazonaws.com', '123456789.dkr.ecr.eu-west-1.amazonaws.com/app', true],
    ['*.dkr.ecr.*.amazonaws.com', '123456789.dkr.ecr.eu-west-1.amazonaws.com.cn/app', false],
    ['docker.io', 'nginx', true], // the image as the kubelet names it: docker.io/library/nginx
  ])('%s against %s: %s', (pattern, image, expected) => {
    expect(imageMatches(patterns(pattern), ref(image))).toBe(expected);
  });

  test('any one of several patterns is enough', () => {
    const list = patterns('*.azurecr.io', 'gcr.io');
    expect(imageMatches(list, ref('gcr.io/p/app'))).toBe(true);
    expect(imageMatches(list, ref('x.azurecr.io/app'))).toBe(true);
    expect(imageMatches(list, ref('quay.io/app'))).toBe(false);
  });

  test('the image a plugin is asked about is registry/repository, as the kubelet names it', () => {
    expect(pluginImageOf(ref('gcr.io/p/app:v1'))).toBe('gcr.io/p/app');
    expect(pluginImageOf(ref('nginx@sha256:' + 'b'.repeat(64)))).toBe('docker.io/library/nginx');
    expect(pluginImageOf(ref('registry.io:8080/path/app'))).toBe('registry.io:8080/path/app');
  });
});

describe('loadPluginProviders checks the config and the bin dir', () => {
  async function setup(config: string, executables: Record<string, number> = {}) {
    const dir = await makeTempDir('plugins');
    const bin = join(dir, 'bin');
    await mkdir(bin);
    for (const [name, mode] of Object.entries(executables)) {
      await writeFile(join(bin, name), '#!/bin/sh\nexit 1\n');
      await chmod(join(bin, name), mode);
    }
    const file = join(dir, 'config.yaml');
    await writeFile(file, config);
    const logs: string[] = [];
    return { dir, bin, file, logs, logger: createLogger('debug', (line) => logs.push(line)) };
  }

  test('one provider per plugin, known by its name, in the config order', async () => {
    const { file, bin, logger } = await setup(jsonConfig([provider({ name: 'b' }), provider({ name: 'a', matchImages: ['gcr.io'] })]), { a: 0o755, b: 0o700 });
    const providers = await loadPluginProviders(file, bin, { logger });
    expect(providers.map((p) => p.name)).toEqual(['b', 'a']);
    expect(providers[1]?.matches(ref('gcr.io/x/y'))).toBe(true);
    expect(providers[1]?.matches(ref('registry.example.com/x/y'))).toBe(false);
  });

  test('a missing executable', async () => {
    const { file, bin, logger } = await setup(jsonConfig([provider({ name: 'absent-plugin' })]));
    const error = await loadPluginProviders(file, bin, { logger }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PluginConfigError);
    expect((error as Error).message).toBe(`credential provider "absent-plugin": plugin executable ${join(bin, 'absent-plugin')} does not exist`);
  });

  test('a file that is not executable', async () => {
    const { file, bin, logger } = await setup(jsonConfig([provider()]), { 'my-plugin': 0o644 });
    await expect(loadPluginProviders(file, bin, { logger })).rejects.toThrow(/my-plugin is not executable/);
  });

  test('a missing bin dir or config', async () => {
    const { file, dir, logger } = await setup(jsonConfig([provider()]));
    await expect(loadPluginProviders(file, join(dir, 'nope'), { logger })).rejects.toThrow(PluginConfigError);
    await expect(loadPluginProviders(join(dir, 'nope.yaml'), dir, { logger })).rejects.toThrow(/cannot read credential provider config .*nope\.yaml: ENOENT/);
  });

  test('an invalid config names the file, the field and the provider', async () => {
    const { file, bin, logger } = await setup(jsonConfig([provider({ matchImages: [] })]), { 'my-plugin': 0o755 });
    await expect(loadPluginProviders(file, bin, { logger })).rejects.toThrow(`${file}: providers[0].matchImages (provider "my-plugin"): at least one item is required`);
  });

  test('a service-account-token plugin is skipped with a warning; unknown fields are logged', async () => {
    const config = jsonConfig([
      provider({ name: 'sa-plugin', tokenAttributes: { serviceAccountTokenAudience: 'aud', requireServiceAccount: true, cacheType: 'Token' } }),
      provider({ name: 'plain', newField: 1 }),
    ]);
    const { file, bin, logger, logs } = await setup(config, { plain: 0o755 });
    const providers = await loadPluginProviders(file, bin, { logger });
    expect(providers.map((p) => p.name)).toEqual(['plain']);
    const warnings = logs.map((line) => JSON.parse(line) as Record<string, unknown>).filter((l) => l['level'] === 'warn');
    expect(warnings).toEqual([
      expect.objectContaining({ fields: 'providers[1].newField' }),
      expect.objectContaining({ provider: 'sa-plugin', msg: expect.stringMatching(/tokenAttributes.*not supported/) }),
    ]);
  });

  test('a config directory: its *.yaml, *.yml and *.json files in order, names unique across them', async () => {
    const { dir, bin, logger } = await setup('', { one: 0o755, two: 0o755, three: 0o755 });
    const configs = join(dir, 'configs');
    await mkdir(configs);
    await writeFile(join(configs, 'b.json'), jsonConfig([provider({ name: 'two' })]));
    await writeFile(join(configs, 'a.yaml'), jsonConfig([provider({ name: 'one' })]));
    await writeFile(join(configs, 'c.yml'), jsonConfig([provider({ name: 'three' })]));
    await writeFile(join(configs, 'README.md'), 'not a config');
    expect((await loadPluginProviders(configs, bin, { logger })).map((p) => p.name)).toEqual(['one', 'two', 'three']);
    await writeFile(join(configs, 'd.yaml'), jsonConfig([provider({ name: 'one' })]));
    await expect(loadPluginProviders(configs, bin, { logger })).rejects.toThrow(/d\.yaml: name \(provider "one"\): duplicate provider name/);
  });
});
