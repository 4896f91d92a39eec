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
import { parseGoDuration } from '../../utils/duration.js';
import type { ImageReference } from '../../image/reference.js';
import { keyMatches, parseKey, type KeyPattern } from '../matching.js';
import { z } from 'zod';
import { parseSchema } from '../../utils/schema.js';
import { arrayOf, isRecord, quoted } from '../../utils/untrusted.js';
import { PluginConfigError } from './plugin-config-error.js';

export { PluginConfigError };

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
  const read = parseSchema(configSchema, document, 'is not valid');
  if (!read.ok) {
    const { message, path } = read;
    const index = path[0] === 'providers' && path.length > 2 ? path[1] : undefined;
    const name = typeof index === 'number' && isRecord(document) ? arrayOf(document['providers'])[index] : undefined;
    const provider = isRecord(name) && typeof name['name'] === 'string' && name['name'] !== '' ? name['name'] : undefined;
    return fail(message, path.length === 0 ? undefined : fieldOf(path), provider);
  }
  const raw = document as Record<string, unknown>;
  const ignoredFields = unknownFields(raw, TOP_FIELDS, '');
  const seen = new Set<string>();
  const providers = read.value.providers.map((provider, index): PluginConfig => {
    const at = `providers[${index}]`;
    const { name } = provider;
    if (seen.has(name)) fail(`duplicate provider name ${shown(name)}`, `${at}.name`, name);
    seen.add(name);
    const rawProvider = arrayOf(raw['providers'])[index] as Record<string, unknown>;
    ignoredFields.push(...unknownFields(rawProvider, PROVIDER_FIELDS, `${at}.`));
    arrayOf(rawProvider['env']).forEach((item, i) => ignoredFields.push(...unknownFields(item as Record<string, unknown>, ENV_FIELDS, `${at}.env[${i}].`)));
    return {
      name,
      matchImages: provider.matchImages.map(({ text }) => text),
      matchPatterns: provider.matchImages.map(({ pattern }) => pattern),
      defaultCacheDurationMs: provider.defaultCacheDuration,
      apiVersion: provider.apiVersion,
      args: provider.args ?? [],
      env: (provider.env ?? []).map(({ name: envName, value }) => ({ name: envName, value: value ?? '' })),
      serviceAccountTokens: provider.tokenAttributes !== undefined && provider.tokenAttributes !== null,
    };
  });
  return { providers, ignoredFields };
}

function unknownFields(object: Record<string, unknown>, known: ReadonlySet<string>, prefix: string): string[] {
  return Object.keys(object)
    .filter((key) => !known.has(key))
    .map((key) => `${prefix}${key}`);
}

/** `providers[0].env[1].name` for the path ['providers', 0, 'env', 1, 'name']. */
function fieldOf(path: readonly PropertyKey[]): string {
  return path.map((key, i) => (typeof key === 'number' ? `[${key}]` : `${i === 0 ? '' : '.'}${String(key)}`)).join('');
}

const absent = (value: unknown) => value === undefined || value === null || value === '';

/** A string that passes the first of `rules` it breaks: [message if broken, test]. */
function checked(schema: z.ZodString, rules: ReadonlyArray<readonly [(value: string) => boolean, (value: string) => string]>) {
  return schema.superRefine((value, ctx) => {
    const broken = rules.find(([breaks]) => breaks(value));
    if (broken) ctx.addIssue({ code: 'custom', message: broken[1](value) });
  });
}

const providerSchema = z.object(
  {
    name: checked(z.string({ error: ({ input }) => (absent(input) ? 'is required' : `must be a string, not ${shown(input)}`) }), [
      [(name) => name === '', () => 'is required'],
      [(name) => name.includes('/'), (name) => `${shown(name)} cannot contain '/'`],
      [(name) => /\s/.test(name), (name) => `${shown(name)} cannot contain spaces`],
      [(name) => name === '.' || name === '..', (name) => `cannot be ${shown(name)}`],
      [(name) => name.includes('\0'), () => 'cannot contain a NUL character'],
    ]),
    apiVersion: z.enum(PLUGIN_API_VERSIONS, {
      error: ({ input }) => (absent(input) ? 'is required' : `unsupported value ${shown(input)}; expected one of ${PLUGIN_API_VERSIONS.join(', ')}`),
    }),
    matchImages: z
      .array(
        z.string({ error: ({ input }) => `must be a string, not ${shown(input)}` }).transform((text, ctx) => {
          const pattern = parseKey(text);
          if (!pattern) ctx.addIssue({ code: 'custom', message: `${shown(text)} is not a valid image match (host[:port][/path], * per host label)` });
          return { text, pattern: pattern as KeyPattern };
        }),
        { error: ({ input }) => (input === undefined || input === null ? 'at least one item is required' : 'must be a list of strings') },
      )
      .min(1, { error: 'at least one item is required' }),
    defaultCacheDuration: z
      .string({ error: ({ input }) => (absent(input) ? 'is required' : `must be a duration string such as "12h", not ${shown(input)}`) })
      .transform((text, ctx) => {
        let ms = 0;
        try {
          ms = text === '' ? Number.NaN : parseGoDuration(text);
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: error instanceof Error ? error.message : String(error) });
        }
        if (Number.isNaN(ms)) ctx.addIssue({ code: 'custom', message: 'is required' });
        else if (ms < 0) ctx.addIssue({ code: 'custom', message: 'must be greater than or equal to 0' });
        return ms;
      }),
    args: z.array(z.string({ error: 'must be a string' }), { error: 'must be a list of strings' }).nullish(),
    env: z
      .array(
        z.object(
          {
            name: checked(z.string({ error: 'is required' }), [
              [(name) => name === '', () => 'is required'],
              [(name) => name.includes('=') || name.includes('\0'), (name) => `${shown(name)} is not a valid variable name`],
            ]),
            // The value is never shown: env often carries keys and tokens.
            value: checked(z.string({ error: 'must be a string' }), [[(value) => value.includes('\0'), () => 'cannot contain a NUL character']]).nullish(),
          },
          { error: 'must be an object with name and value' },
        ),
        { error: 'must be a list of {name, value}' },
      )
      .nullish(),
    tokenAttributes: z.unknown().optional(),
  },
  { error: 'must be an object' },
);

const configSchema = z.object(
  {
    apiVersion: z.enum(CONFIG_API_VERSIONS, {
      error: ({ input }) => (input === undefined ? 'is required' : `unsupported value ${shown(input)}; expected one of ${CONFIG_API_VERSIONS.join(', ')}`),
    }),
    kind: z.literal(CONFIG_KIND, { error: ({ input }) => `must be ${CONFIG_KIND}, not ${shown(input)}` }),
    providers: z
      .array(providerSchema, { error: ({ input }) => (input === undefined || input === null ? 'at least one provider is required' : 'must be a list') })
      .min(1, { error: 'at least one provider is required' }),
  },
  { error: 'not a CredentialProviderConfig object' },
);

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
