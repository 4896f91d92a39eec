/**
 * The composition root of what the exporter and `check` share, built from the same settings: the
 * files the flags name and the credential providers (startUp), the cluster's credentials
 * (clusterCredentials), and the checking engine (createEngine: the registry transport and client,
 * the memoized checker with its limits, where each image is pulled from). Both commands check
 * images with exactly this; each adds only where its workloads come from and how it answers.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { ImageChecker } from './image-check.js';
import { Collector, type CollectorOptions } from './collector.js';
import type { EngineSettings } from '../flags/config.js';
import type { CredentialProviders } from '../credentials/providers/providers.js';
import type { ProviderDeps } from '../credentials/providers/index.js';
import { PullSecretCredentials, type DockerConfigFile } from '../credentials/pull-secrets.js';
import { patternsMatcher } from '../utils/glob.js';
import { resolveLocations } from '../image/mirror.js';
import type { Logger } from '../utils/log.js';
import { RegistryClient } from '../registry/client.js';
import type { CheckResult } from '../registry/status.js';
import { Transport } from '../registry/transport.js';
import { checkDockerConfig, readCaFiles, startCredentialProviders } from './startup-files.js';

/** The files the shared flags name, read at start-up. */
export interface StartupFiles {
  /** PEM contents of --registry-ca-file. */
  readonly registryCaPems: string[];
  /** --docker-config as read; undefined without the flag. */
  readonly dockerConfig: DockerConfigFile | undefined;
}

export interface Started extends StartupFiles {
  /** Plugins and clouds the flags ask for. */
  readonly providers: CredentialProviders;
}

/**
 * Reads the files the shared flags name and starts the credential providers; every problem is a
 * FlagError naming its flag. `own` is the command's own start-up work, run once the files are read
 * and before any provider starts (its answer is `own` of the result), so a bad flag of either kind
 * fails before a plugin or a cloud is asked anything, in the order the flags were always reported.
 */
export async function startUp<Own = undefined>(
  settings: EngineSettings,
  deps: Omit<ProviderDeps, 'registryCaPems'>,
  own?: (files: StartupFiles) => Promise<Own>,
): Promise<Started & { readonly own: Own }> {
  const registryCaPems = await readCaFiles(settings.registryCaFiles);
  const dockerConfig = await checkDockerConfig(settings.dockerConfig);
  const owned = (await own?.({ registryCaPems, dockerConfig })) as Own;
  const providers = await startCredentialProviders(settings, { ...deps, registryCaPems });
  return { registryCaPems, dockerConfig, providers, own: owned };
}

/**
 * The credentials of a cluster's workloads: their pull secrets, then the providers, then the docker
 * config at `dockerConfigPath` (re-read when it changes). The exporter's, and `check --cluster`'s.
 */
export function clusterCredentials(
  settings: EngineSettings,
  kubeConfig: KubeConfig,
  deps: { readonly logger: Logger; readonly providers?: CredentialProviders; readonly dockerConfigPath?: string; readonly now?: () => number },
): PullSecretCredentials {
  return new PullSecretCredentials({
    kubeConfig,
    // Reading a secret is one Kubernetes API request, like a page of the service-account list read
    // beside it: --list-timeout bounds both. Not --registry-timeout (registries only), and not
    // --scrape-timeout (the exporter's alone): the scrape's deadline, not this, bounds how long a
    // scrape waits for the secrets, and a read it outlives still serves the scrapes after it.
    apiTimeoutMs: settings.listTimeoutMs,
    logger: deps.logger,
    dockerConfigPath: deps.dockerConfigPath,
    namespaced: !('all' in settings.namespaceScope),
    providers: deps.providers,
    now: deps.now,
  });
}

export interface EngineDeps {
  readonly logger: Logger;
  /** PEM contents of --registry-ca-file, read by the caller at start-up. */
  readonly registryCaPems?: readonly string[];
  /** API host serving docker.io (tests point it at a local registry). */
  readonly dockerHubHost?: string;
  readonly now?: () => number;
  readonly random?: () => number;
}

export interface EngineOptions {
  /** How long a check result is reused. */
  readonly checkIntervalMs: number;
  /** Read the platforms of present images. */
  readonly checkPlatforms: boolean;
  readonly onFailedCheck?: (result: CheckResult) => void;
}

/** What the engine does not decide: where workloads, nodes and credentials come from. */
export type CollectorParts = Pick<CollectorOptions, 'listings' | 'kinds' | 'skipInactive' | 'nodes' | 'credentials' | 'onRecheckRound'>;

export interface Engine {
  readonly transport: Transport;
  readonly checker: ImageChecker;
  /** A collector of workloads from `parts`, checked by this engine. */
  collector(parts: CollectorParts): Collector;
}

export function createEngine(settings: EngineSettings, options: EngineOptions, deps: EngineDeps): Engine {
  const { logger } = deps;
  const transport = new Transport({
    requestTimeoutMs: settings.registryTimeoutMs,
    extraCaPems: deps.registryCaPems,
    skipCertVerification: settings.skipRegistryCertVerification,
  });
  const plainHttp = patternsMatcher(settings.allowPlainHttp);
  const client = new RegistryClient({
    transport,
    isPlainHttpHost: (host) => plainHttp(host),
    dockerHubHost: deps.dockerHubHost,
    now: deps.now,
  });
  const checker = new ImageChecker({
    client,
    checkIntervalMs: options.checkIntervalMs,
    maxConcurrentChecks: settings.maxConcurrentChecks,
    maxConcurrentPerHost: settings.maxConcurrentPerRegistry,
    logger,
    now: deps.now,
    random: deps.random,
    onFailedCheck: options.onFailedCheck,
    checkPlatforms: options.checkPlatforms,
  });
  const locations =
    settings.imageMirrors.length > 0 || settings.defaultRegistry
      ? (ref: Parameters<typeof resolveLocations>[0]) => resolveLocations(ref, settings.imageMirrors, settings.defaultRegistry)
      : undefined;
  return {
    transport,
    checker,
    collector: (parts) =>
      new Collector({
        ...parts,
        checker,
        ignoredImages: settings.ignoredImages,
        resolveLocations: locations,
        logger,
        now: deps.now,
      }),
  };
}
