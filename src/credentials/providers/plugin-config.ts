/**
 * The kubelet's CredentialProviderConfig (--image-credential-provider-config): which exec plugins
 * hand out credentials for which images. Parsed as the kubelet validates it
 * (pkg/credentialprovider/plugin/config.go), from YAML or JSON. Pure: no I/O.
 *
 * Differences from the kubelet, on purpose:
 * - fields it does not know are ignored (and reported in `ignoredFields`) where the kubelet's strict
 *   decoding rejects them: the file is the node's, already accepted by its kubelet, and a newer
 *   kubelet may know fields this exporter does not;
 * - a provider with `tokenAttributes` (service-account-token plugins, which need a token of the
 *   pulling pod's service account) is parsed but marked, and the loader skips it.
 */
import { parse as parseYaml } from 'yaml';
import { parseGoDuration } from '../../duration.js';
import type { ImageReference } from '../../image/reference.js';
import { keyMatches, parseKey, type KeyPattern } from '../matching.js';
import { isRecord, quoted } from '../../untrusted.js';

export const CONFIG_KIND = 'CredentialProviderConfig';
/** apiVersions of the config file itself. */
export const CONFIG_API_VERSIONS = ['kubelet.config.k8s.io/v1', 'kubelet.config.k8s.io/v1beta1', 'kubelet.config.k8s.io/v1alpha1'] as const;
/** apiVersions of the CredentialProviderRequest/Response a plugin speaks. */
export const PLUGIN_API_VERSIONS = [
  'credentialprovider.kubelet.k8s.io/v1',
  'credentialprovider.kubelet.k8s.io/v1beta1',
  'credentialprovider.kubelet.k8s.io/v1alpha1',
] as const;
export type PluginApiVersion = (typeof PLUGIN_API_VERSIONS)[number];

export interface PluginEnvVar {
  readonly name: string;
  readonly value: string;
}

/** One configured plugin. */
export interface PluginConfig {
  /** The executable's file name in the plugin bin dir; unique. */
  readonly name: string;
  /** As written. */
  readonly matchImages: readonly string[];
  /** `matchImages`, parsed. */
  readonly matchPatterns: readonly KeyPattern[];
  readonly defaultCacheDurationMs: number;
  readonly apiVersion: PluginApiVersion;
  readonly args: readonly string[];
  readonly env: readonly PluginEnvVar[];
  /** The provider has `tokenAttributes`: it needs a pod's service-account token (not supported). */
  readonly serviceAccountTokens: boolean;
}

export interface ParsedPluginConfig {
  readonly providers: readonly PluginConfig[];
  /** Fields present but not known here (paths such as `providers[0].foo`): ignored. */
  readonly ignoredFields: readonly string[];
}

/** The config is unusable; the message names the file, the provider and the field. */
export class PluginConfigError extends Error {
  override readonly name = 'PluginConfigError';
  constructor(
    message: string,
    /** The field at fault, e.g. `providers[1].matchImages`. */
    readonly field?: string,
    /** The name of the provider at fault, when it has one. */
    readonly provider?: string,
  ) {
    super(message);
  }
}

const TOP_FIELDS = new Set(['apiVersion', 'kind', 'providers']);
const PROVIDER_FIELDS = new Set(['name', 'matchImages', 'defaultCacheDuration', 'apiVersion', 'args', 'env', 'tokenAttributes']);
const ENV_FIELDS = new Set(['name', 'value']);
/** Larger than any real config by far; bounds the parser's work. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/** A value for a message: short, and quoted. Config values hold no secrets (env values are never shown). */
function shown(value: unknown): string {
  return quoted(typeof value === 'string' ? value : JSON.stringify(value) ?? String(value), 80);
}

/**
 * Parses one config file's text (YAML or JSON). `source` names the file in messages. Throws
 * PluginConfigError for anything the kubelet would reject (except unknown fields).
 */
export function parsePluginConfig(text: string, source = 'credential provider config'): ParsedPluginConfig {
  const fail = (message: string, field?: string, provider?: string): never => {
    const where = field === undefined ? '' : provider === undefined ? `${field}: ` : `${field} (provider ${JSON.stringify(provider)}): `;
    throw new PluginConfigError(`${source}: ${where}${message}`, field, provider);
  };
  if (Buffer.byteLength(text) > MAX_CONFIG_BYTES) fail(`larger than ${MAX_CONFIG_BYTES} bytes`);
  let document: unknown;
  try {
    document = parseYaml(text, { maxAliasCount: 100 });
  } catch (error) {
    // The parser's message quotes the offending line: config, never secrets (env values aside, and
    // a file that does not parse has no meaning anyway).
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    fail(`not valid YAML or JSON: ${reason}`);
  }
  if (!isRecord(document)) return fail('not a CredentialProviderConfig object');

  const ignoredFields: string[] = [];
  for (const key of Object.keys(document)) if (!TOP_FIELDS.has(key)) ignoredFields.push(key);

  const { apiVersion, kind, providers } = document;
  if (apiVersion === undefined) fail('is required', 'apiVersion');
  if (typeof apiVersion !== 'string' || !(CONFIG_API_VERSIONS as readonly string[]).includes(apiVersion)) {
    fail(`unsupported value ${shown(apiVersion)}; expected one of ${CONFIG_API_VERSIONS.join(', ')}`, 'apiVersion');
  }
  if (kind !== CONFIG_KIND) fail(`must be ${CONFIG_KIND}, not ${shown(kind)}`, 'kind');
  if (providers === undefined || providers === null) fail('at least one provider is required', 'providers');
  if (!Array.isArray(providers)) return fail('must be a list', 'providers');
  if (providers.length === 0) fail('at least one provider is required', 'providers');

  const parsed: PluginConfig[] = [];
  const seen = new Set<string>();
  providers.forEach((raw: unknown, index) => {
    const at = `providers[${index}]`;
    if (!isRecord(raw)) fail('must be an object', at);
    const provider = raw as Record<string, unknown>;
    for (const key of Object.keys(provider)) if (!PROVIDER_FIELDS.has(key)) ignoredFields.push(`${at}.${key}`);

    const { name } = provider;
    if (name === undefined || name === null || name === '') fail('is required', `${at}.name`);
    if (typeof name !== 'string') return fail(`must be a string, not ${shown(name)}`, `${at}.name`);
    const bad = (field: string, message: string): never => fail(message, `${at}.${field}`, name);
    if (name.includes('/')) bad('name', `${shown(name)} cannot contain '/'`);
    if (/\s/.test(name)) bad('name', `${shown(name)} cannot contain spaces`);
    if (name === '.' || name === '..') bad('name', `cannot be ${shown(name)}`);
    if (name.includes('\0')) bad('name', 'cannot contain a NUL character');
    if (seen.has(name)) bad('name', `duplicate provider name ${shown(name)}`);
    seen.add(name);

    const version = provider['apiVersion'];
    if (version === undefined || version === null || version === '') bad('apiVersion', 'is required');
    if (typeof version !== 'string' || !(PLUGIN_API_VERSIONS as readonly string[]).includes(version)) {
      bad('apiVersion', `unsupported value ${shown(version)}; expected one of ${PLUGIN_API_VERSIONS.join(', ')}`);
    }

    const match = provider['matchImages'];
    if (match === undefined || match === null) bad('matchImages', 'at least one item is required');
    if (!Array.isArray(match)) return bad('matchImages', 'must be a list of strings');
    if (match.length === 0) bad('matchImages', 'at least one item is required');
    const matchPatterns = match.map((item: unknown, i) => {
      if (typeof item !== 'string') return bad(`matchImages[${i}]`, `must be a string, not ${shown(item)}`);
      const pattern = parseKey(item);
      if (!pattern) return bad(`matchImages[${i}]`, `${shown(item)} is not a valid image match (host[:port][/path], * per host label)`);
      return pattern;
    });

    const duration = provider['defaultCacheDuration'];
    if (duration === undefined || duration === null || duration === '') bad('defaultCacheDuration', 'is required');
    if (typeof duration !== 'string') return bad('defaultCacheDuration', `must be a duration string such as "12h", not ${shown(duration)}`);
    let defaultCacheDurationMs: number;
    try {
      defaultCacheDurationMs = parseGoDuration(duration);
    } catch (error) {
      return bad('defaultCacheDuration', error instanceof Error ? error.message : String(error));
    }
    if (defaultCacheDurationMs < 0) bad('defaultCacheDuration', 'must be greater than or equal to 0');

    const args = provider['args'] ?? [];
    if (!Array.isArray(args)) return bad('args', 'must be a list of strings');
    args.forEach((arg: unknown, i) => {
      if (typeof arg !== 'string') bad(`args[${i}]`, 'must be a string');
    });

    const envList = provider['env'] ?? [];
    if (!Array.isArray(envList)) return bad('env', 'must be a list of {name, value}');
    const env = envList.map((item: unknown, i): PluginEnvVar => {
      if (!isRecord(item)) return bad(`env[${i}]`, 'must be an object with name and value');
      for (const key of Object.keys(item)) if (!ENV_FIELDS.has(key)) ignoredFields.push(`${at}.env[${i}].${key}`);
      const envName = item['name'];
      if (typeof envName !== 'string' || envName === '') return bad(`env[${i}].name`, 'is required');
      if (envName.includes('=') || envName.includes('\0')) bad(`env[${i}].name`, `${shown(envName)} is not a valid variable name`);
      const value = item['value'] ?? '';
      // The value is never shown: env often carries keys and tokens.
      if (typeof value !== 'string') return bad(`env[${i}].value`, 'must be a string');
      if (value.includes('\0')) bad(`env[${i}].value`, 'cannot contain a NUL character');
      return { name: envName, value };
    });

    const tokenAttributes = provider['tokenAttributes'];
    parsed.push({
      name,
      matchImages: match as string[],
      matchPatterns,
      defaultCacheDurationMs,
      apiVersion: version as PluginApiVersion,
      args: args as string[],
      env,
      serviceAccountTokens: tokenAttributes !== undefined && tokenAttributes !== null,
    });
  });
  return { providers: parsed, ignoredFields };
}

/**
 * Several files of a config directory, in the order read, as one config (the kubelet's merge):
 * provider names must stay unique across them.
 */
export function mergePluginConfigs(configs: ReadonlyArray<{ source: string; config: ParsedPluginConfig }>): ParsedPluginConfig {
  const providers: PluginConfig[] = [];
  const ignoredFields: string[] = [];
  const from = new Map<string, string>();
  for (const { source, config } of configs) {
    for (const provider of config.providers) {
      const earlier = from.get(provider.name);
      if (earlier !== undefined) {
        throw new PluginConfigError(`${source}: name (provider ${JSON.stringify(provider.name)}): duplicate provider name, also in ${earlier}`, 'name', provider.name);
      }
      from.set(provider.name, source);
      providers.push(provider);
    }
    ignoredFields.push(...config.ignoredFields.map((field) => `${source}: ${field}`));
  }
  return { providers, ignoredFields };
}

/** Does any of a plugin's matchImages cover the image (its registry and repository)? */
export function imageMatches(patterns: readonly KeyPattern[], ref: ImageReference): boolean {
  return patterns.some((pattern) => keyMatches(pattern, ref));
}
