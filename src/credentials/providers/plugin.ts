/**
 * The kubelet's exec credential-provider plugins (KEP-2133), run the way the kubelet runs them
 * (pkg/credentialprovider/plugin/plugin.go): for an image its matchImages cover, the plugin is
 * started with the configured args and env, reads a CredentialProviderRequest on stdin and prints a
 * CredentialProviderResponse on stdout; the response's credentials are cached by its cacheKeyType
 * (Image, Registry or Global) for its cacheDuration.
 *
 * As the kubelet, the request names the image as `registry/repository` (no tag, no digest: the
 * kubelet asks its keyring with the repository it pulls), and its cache is looked up by image, then
 * registry, then globally. Unlike the kubelet, which runs a plugin once per image at a time only,
 * a run also stands for the other images of its registry (of all registries, once the plugin has
 * answered Global) while it lasts: until a plugin has answered Image, concurrent requests for its
 * registry wait for the run in flight and take its answer (or its failure) when that answer covers
 * them. Fifty images of one registry checked at once thus cost one run.
 *
 * Secrets: the plugin's stdout is never logged nor quoted, its stderr is logged (bounded) only when
 * the run failed, and no error message holds anything the plugin printed.
 */
import { constants as fsConstants } from 'node:fs';
import { access, readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { ImageReference } from '../../image/reference.js';
import type { Logger } from '../../utils/log.js';
import { CredentialProviderError } from '../../registry/credentials.js';
import type { Keyring } from '../keyring.js';
import { ExpiringMap } from '../../utils/expiring-map.js';
import type { CredentialProvider } from './providers.js';
import { imageMatches, MAX_CONFIG_BYTES, mergePluginConfigs, parsePluginConfig, PluginConfigError, type ParsedPluginConfig, type PluginConfig } from './plugin-config.js';
import { codeOf, RunFailure, runPlugin } from './plugin-process.js';
import { parseResponse, responseSchema, type AuthEntry, type CacheKeyType, type ParsedResponse, type ResponseSchema } from './plugin-response.js';

export { PluginConfigError } from './plugin-config.js';

export interface PluginOptions {
  readonly logger: Logger;
  /** Longest a plugin may run before it is killed; default 30 s. */
  readonly timeoutMs?: number;
  readonly now?: () => number;
}

export const DEFAULT_PLUGIN_TIMEOUT_MS = 30_000;
/**
 * Characters of cached answers kept in all (keys, usernames, passwords; each answer counts at least
 * ANSWER_BASE_CHARS): Image-keyed answers are one per repository, each up to MAX_RESPONSE_BYTES,
 * for as long as the plugin says. Past it the least recently used answers are dropped (the plugin
 * is run again when they are next needed).
 */
export const MAX_CACHED_CHARS = 8 * 1024 * 1024;
/** Expired cache entries nobody asked for again are dropped this often (the kubelet's interval). */
const CACHE_PURGE_INTERVAL_MS = 15 * 60_000;
const REQUEST_KIND = 'CredentialProviderRequest';

/** A plugin's valid response. */
interface Answer {
  readonly keyType: CacheKeyType;
  /** What it weighs in the cache (see MAX_CACHED_CHARS). */
  readonly chars: number;
  /** The registry host of the image it was asked for. */
  readonly host: string;
  readonly auth: Keyring<AuthEntry>;
}

interface Run {
  readonly host: string;
  readonly answer: Promise<Answer>;
}

/** The string the kubelet hands a plugin (and caches Image answers by): registry/repository. */
export function pluginImageOf(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}`;
}

/** One configured plugin as a credential provider. */
export class PluginProvider implements CredentialProvider {
  readonly name: string;
  private readonly now: () => number;
  private readonly timeoutMs: number;
  /** Answers by `image <image>`, `registry <host>` or `global`, for the duration each says; least recently used go first. */
  private readonly cache: ExpiringMap<string, Answer>;
  private lastPurge: number;
  /** Runs in flight, by the image they were started for. */
  private readonly runsByImage = new Map<string, Run>();
  /** The latest run in flight per registry host. */
  private readonly runsByHost = new Map<string, Run>();
  /** The latest run in flight of any registry. */
  private latestRun: Run | undefined;
  /** The cacheKeyType of the plugin's last answer; undefined before its first. */
  private keyType: CacheKeyType | undefined;
  private readonly responseSchema: ResponseSchema;

  constructor(
    private readonly config: PluginConfig,
    private readonly executable: string,
    private readonly options: PluginOptions,
  ) {
    this.name = config.name;
    this.now = options.now ?? Date.now;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_PLUGIN_TIMEOUT_MS;
    this.lastPurge = this.now();
    this.cache = new ExpiringMap({ ttlMs: 0, onRead: 'touch', maxWeight: MAX_CACHED_CHARS, weigh: (_key, answer) => answer.chars, now: this.now });
    this.responseSchema = responseSchema(config.apiVersion);
  }

  matches(ref: ImageReference): boolean {
    return imageMatches(this.config.matchPatterns, ref);
  }

  async credentialFor(ref: ImageReference): Promise<{ username: string; password: string }> {
    try {
      const answer = await this.answerFor(pluginImageOf(ref), ref.registry);
      // The most specific of its auth keys that applies, as the kubelet's keyring picks.
      const entry = answer.auth.match(ref)[0];
      if (!entry) throw new CredentialProviderError(`credential provider ${this.name} returned no credentials for this image`);
      return { username: entry.username, password: entry.password };
    } catch (error) {
      if (error instanceof CredentialProviderError) throw error;
      throw new CredentialProviderError(`credential provider ${this.name} failed unexpectedly`);
    }
  }

  /** The plugin's answer for the image: cached, the run in flight that covers it, or a new run. */
  private async answerFor(image: string, host: string): Promise<Answer> {
    for (;;) {
      const cached = this.cached(image, host);
      if (cached) return cached;
      const own = this.runsByImage.get(image);
      if (own) return own.answer;
      const other = this.keyType === 'Image' ? undefined : this.keyType === 'Global' ? this.latestRun : this.runsByHost.get(host);
      if (!other) return this.start(image, host).answer;
      // Its answer covers this image unless it is keyed by image (or, now, by another registry).
      let answer: Answer;
      try {
        answer = await other.answer;
      } catch (error) {
        // The run this request waited for failed: so does this request, rather than each waiter
        // running (and possibly hanging) the plugin in turn. The next check runs it again.
        if (other.host === host) throw error;
        continue;
      }
      if (answer.keyType === 'Global' || (answer.keyType === 'Registry' && answer.host === host)) return answer;
    }
  }

  private cached(image: string, host: string): Answer | undefined {
    const now = this.now();
    if (now - this.lastPurge > CACHE_PURGE_INTERVAL_MS) {
      this.lastPurge = now;
      this.cache.prune();
    }
    for (const key of [`image ${image}`, `registry ${host}`, 'global']) {
      const answer = this.cache.get(key);
      if (answer) return answer;
    }
    return undefined;
  }

  private start(image: string, host: string): Run {
    const answer = this.runFor(image, host);
    const run: Run = { host, answer };
    this.runsByImage.set(image, run);
    this.runsByHost.set(host, run);
    this.latestRun = run;
    const done = () => {
      if (this.runsByImage.get(image) === run) this.runsByImage.delete(image);
      if (this.runsByHost.get(host) === run) this.runsByHost.delete(host);
      if (this.latestRun === run) this.latestRun = undefined;
    };
    answer.then(done, done);
    return run;
  }

  private async runFor(image: string, host: string): Promise<Answer> {
    const { logger } = this.options;
    const started = this.now();
    let stdout: Buffer;
    try {
      const { config, executable, timeoutMs } = this;
      const request = `${JSON.stringify({ apiVersion: config.apiVersion, kind: REQUEST_KIND, image })}\n`;
      stdout = await runPlugin({ executable, args: config.args, env: config.env, request, timeoutMs });
    } catch (error) {
      const failure = error instanceof RunFailure ? error : new RunFailure('failed unexpectedly', '');
      const message = `credential provider ${this.name} ${failure.reason}`;
      logger.warn('credential provider plugin failed', {
        provider: this.name,
        image,
        reason: message,
        stderr: failure.stderr === '' ? undefined : failure.stderr,
      });
      throw new CredentialProviderError(message);
    }
    let parsed: ParsedResponse;
    try {
      parsed = parseResponse(stdout, this.responseSchema);
    } catch (error) {
      const reason = error instanceof RunFailure ? error.reason : 'printed an invalid response';
      const message = `credential provider ${this.name} ${reason}`;
      logger.warn('credential provider plugin failed', { provider: this.name, image, reason: message });
      throw new CredentialProviderError(message);
    }
    const answer: Answer = { keyType: parsed.keyType, chars: parsed.chars, host, auth: parsed.auth };
    this.keyType = parsed.keyType;
    const durationMs = parsed.cacheDurationMs ?? this.config.defaultCacheDurationMs;
    const key = parsed.keyType === 'Image' ? `image ${image}` : parsed.keyType === 'Registry' ? `registry ${host}` : 'global';
    if (durationMs > 0) this.cache.set(key, answer, durationMs);
    logger.debug('credential provider plugin answered', {
      provider: this.name,
      image,
      cacheKeyType: parsed.keyType,
      cacheDurationMs: durationMs,
      ms: this.now() - started,
    });
    return answer;
  }


}

async function readConfig(configPath: string): Promise<ParsedPluginConfig> {
  const cannot = (what: string, error: unknown) => new PluginConfigError(`cannot read credential provider config ${what}: ${codeOf(error)}`);
  let info;
  try {
    info = await stat(configPath);
  } catch (error) {
    throw cannot(configPath, error);
  }
  // As the kubelet: a directory's *.json, *.yaml and *.yml files, in lexicographic order, merged.
  let files = [configPath];
  if (info.isDirectory()) {
    let names: string[];
    try {
      names = (await readdir(configPath, { withFileTypes: true })).filter((e) => !e.isDirectory() && ['.json', '.yaml', '.yml'].includes(extname(e.name))).map((e) => e.name);
    } catch (error) {
      throw cannot(configPath, error);
    }
    names.sort();
    if (names.length === 0) throw new PluginConfigError(`no configuration files (*.json, *.yaml, *.yml) in credential provider config directory ${configPath}`);
    files = names.map((name) => join(configPath, name));
  }
  const configs: Array<{ source: string; config: ParsedPluginConfig }> = [];
  for (const file of files) {
    let text: string;
    try {
      if ((await stat(file)).size > MAX_CONFIG_BYTES) throw new PluginConfigError(`credential provider config ${file}: larger than ${MAX_CONFIG_BYTES} bytes`);
      text = await readFile(file, 'utf8');
    } catch (error) {
      if (error instanceof PluginConfigError) throw error;
      throw cannot(file, error);
    }
    configs.push({ source: file, config: parsePluginConfig(text, file) });
  }
  return configs.length === 1 ? (configs[0] as { config: ParsedPluginConfig }).config : mergePluginConfigs(configs);
}

/**
 * The plugins of the kubelet's credential provider config (a file, or a directory of them), in its
 * order, each checked to be an executable file in `binDir`. Providers with `tokenAttributes` are
 * skipped with a warning: they need a pod's service-account token, which the exporter has not.
 * Throws PluginConfigError.
 */
export async function loadPluginProviders(configPath: string, binDir: string, options: PluginOptions): Promise<CredentialProvider[]> {
  const { logger } = options;
  if (options.timeoutMs !== undefined && !(options.timeoutMs > 0)) throw new PluginConfigError('the credential provider timeout must be positive');
  const config = await readConfig(configPath);
  try {
    if (!(await stat(binDir)).isDirectory()) throw new PluginConfigError(`credential provider bin dir ${binDir} is not a directory`);
  } catch (error) {
    if (error instanceof PluginConfigError) throw error;
    throw new PluginConfigError(`credential provider bin dir ${binDir} cannot be read: ${codeOf(error)}`);
  }
  if (config.ignoredFields.length > 0) {
    logger.warn('credential provider config: unknown fields ignored', { config: configPath, fields: config.ignoredFields.join(', ') });
  }
  const providers: CredentialProvider[] = [];
  for (const plugin of config.providers) {
    if (plugin.serviceAccountTokens) {
      logger.warn('credential provider skipped: service-account-token plugins (tokenAttributes) are not supported', {
        provider: plugin.name,
        config: configPath,
      });
      continue;
    }
    const executable = join(binDir, plugin.name);
    const problem = await executableProblem(executable);
    if (problem) throw new PluginConfigError(`credential provider ${JSON.stringify(plugin.name)}: plugin executable ${executable} ${problem}`, 'name', plugin.name);
    providers.push(new PluginProvider(plugin, executable, options));
  }
  logger.info('credential provider plugins loaded', {
    config: configPath,
    binDir,
    providers: providers.map((p) => p.name).join(', '),
  });
  return providers;
}

async function executableProblem(path: string): Promise<string | undefined> {
  try {
    const info = await stat(path);
    if (!info.isFile()) return 'is not a file';
  } catch (error) {
    return codeOf(error) === 'ENOENT' ? 'does not exist' : `cannot be read (${codeOf(error)})`;
  }
  try {
    await access(path, fsConstants.X_OK);
  } catch {
    return 'is not executable';
  }
  return undefined;
}
