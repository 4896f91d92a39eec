/**
 * The checking engine, built once from the settings the exporter and `check` share: the registry
 * transport and client, the memoized checker with its limits, and where each image is pulled from.
 * Both commands check images with exactly this; they differ only in where workloads come from and
 * how the answer is reported.
 */
import { ImageChecker } from './checker.js';
import { Collector, type CollectorOptions } from './collector.js';
import type { EngineSettings } from './config.js';
import { ignoreMatcher } from './image/ignore.js';
import { resolveLocations } from './image/mirror.js';
import type { Logger } from './log.js';
import { RegistryClient } from './registry/client.js';
import type { CheckResult } from './registry/status.js';
import { Transport } from './registry/transport.js';

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
  const plainHttp = ignoreMatcher(settings.allowPlainHttp);
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
