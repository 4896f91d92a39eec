/**
 * The composition root of what the exporter and `check` share, built from the same settings: the
 * files the flags name and the credential providers (startUp), the cluster's side (loadCluster:
 * its configuration, workloads and credentials), and the checking engine (createEngine: the registry transport and client,
 * the memoized checker with its limits, where each image is pulled from). Both commands check
 * images with exactly this; each adds only where its workloads come from and how it answers.
 */
import { ImageChecker } from './image-check.js';
import { Collector, type CollectorOptions } from './collector.js';
import type { EngineSettings } from '../flags/config.js';
import type { CredentialProviders } from '../credentials/providers/providers.js';
import type { ProviderDeps } from '../credentials/providers/index.js';
import type { DockerConfigFile } from '../credentials/secret-keyrings.js';
import { patternsMatcher } from '../utils/glob.js';
import { flagPlaces, withDefaultRegistry } from '../image/mirror.js';
import type { PullPlaces } from '../image/pull-plan.js';
import { NodePullConfig } from './node-pull-config.js';
import { loadNodePullConfig } from '../node-config/load.js';
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
  /** --containerd-hosts-dir or --registries-conf as read (and read again when changed); undefined without. */
  readonly nodePullConfig: NodePullConfig | undefined;
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
  const nodePullConfig = await startNodePullConfig(settings.nodePullConfig, deps.logger);
  const owned = (await own?.({ registryCaPems, dockerConfig, nodePullConfig })) as Own;
  const providers = await startCredentialProviders(settings, { ...deps, registryCaPems });
  return { registryCaPems, dockerConfig, nodePullConfig, providers, own: owned };
}

/** The nodes' pull configuration file a flag names, read (a problem is a FlagError naming the flag). */
function startNodePullConfig(given: EngineSettings['nodePullConfig'], logger: Logger): Promise<NodePullConfig | undefined> {
  if (!given) return Promise.resolve(undefined);
  return NodePullConfig.start(given.flag, given.path, () => loadNodePullConfig(given), logger);
}

/** The engine's cluster side (cluster.ts), as loadCluster gives it. */
export type Cluster = typeof import('./cluster.js');

/**
 * The parts that read a cluster — its Kubernetes configuration, workloads and pull secrets — are
 * the only ones that load @kubernetes/client-node, which alone costs about a second and 60 MB of a
 * start-up. Only a run that reads a cluster (the exporter, `check --cluster`) imports them, and
 * through here; `check` of manifests never does.
 */
export function loadCluster(): Promise<Cluster> {
  return import('./cluster.js');
}

export interface EngineDeps {
  readonly logger: Logger;
  /** PEM contents of --registry-ca-file, read by the caller at start-up. */
  readonly registryCaPems?: readonly string[];
  /** API host serving docker.io (tests point it at a local registry). */
  readonly dockerHubHost?: string;
  /** The nodes' own pull configuration (--containerd-hosts-dir, --registries-conf), read at start-up. */
  readonly nodePullConfig?: NodePullConfig;
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
  const pullPlaces = wherePulled(settings, deps.nodePullConfig);
  return {
    transport,
    checker,
    collector: (parts) =>
      new Collector({
        ...parts,
        checker,
        ignoredImages: settings.ignoredImages,
        pullPlaces,
        logger,
        now: deps.now,
      }),
  };
}

/**
 * Where nodes pull each image from: --default-registry first, then the nodes' configuration file or
 * the mirror flags (one or the other: config.ts). Undefined when nothing moves an image from its
 * own registry. A configuration read again is a new PullPlaces object (the collector then plans anew).
 */
function wherePulled(settings: EngineSettings, nodeConfig: NodePullConfig | undefined): (() => Promise<PullPlaces>) | undefined {
  const { defaultRegistry, imageMirrors } = settings;
  if (!nodeConfig && imageMirrors.length === 0 && !defaultRegistry) return undefined;
  if (nodeConfig) {
    let seen: PullPlaces | undefined;
    let composed: PullPlaces | undefined;
    return async () => {
      const places = await nodeConfig.current();
      if (places !== seen) [seen, composed] = [places, withDefaultRegistry(places, defaultRegistry)];
      return composed as PullPlaces;
    };
  }
  const fixed = withDefaultRegistry(flagPlaces(imageMirrors), defaultRegistry);
  return () => Promise.resolve(fixed);
}
