/** Wires the parts of one exporter instance together; main.ts and the tests both start it here. */
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KubeConfig } from '@kubernetes/client-node';
import { ImageChecker } from './checker.js';
import { Collector, type CredentialSource } from './collector.js';
import type { Config } from './config.js';
import { PullSecretCredentials } from './credentials/pull-secrets.js';
import { ignoreMatcher } from './image/ignore.js';
import { resolveLocations } from './image/mirror.js';
import { WorkloadLister } from './kubernetes/workloads.js';
import type { Logger } from './log.js';
import { ExporterMetrics } from './metrics.js';
import { RegistryClient } from './registry/client.js';
import { Transport } from './registry/transport.js';
import { createApp } from './server.js';

export interface ExporterDeps {
  readonly kubeConfig: KubeConfig;
  readonly logger: Logger;
  /** PEM contents of --registry-ca-file, read by the caller at start-up. */
  readonly registryCaPems?: readonly string[];
  /** Defaults to the workloads' pull secrets plus --docker-config. */
  readonly credentials?: CredentialSource;
  /** API host serving docker.io (tests point it at a local registry). */
  readonly dockerHubHost?: string;
  readonly now?: () => number;
  readonly random?: () => number;
}

export interface Exporter {
  readonly metrics: ExporterMetrics;
  readonly checker: ImageChecker;
  readonly collector: Collector;
  /** Starts listening; resolves with the bound port. */
  listen(): Promise<number>;
  close(): Promise<void>;
}

/** Workload lists page size: big enough for few round trips, small enough for bounded responses. */
const LIST_PAGE_SIZE = 500;

export function createExporter(config: Config, deps: ExporterDeps): Exporter {
  const { logger } = deps;
  const metrics = new ExporterMetrics();
  const transport = new Transport({
    requestTimeoutMs: config.registryTimeoutMs,
    extraCaPems: deps.registryCaPems,
    skipCertVerification: config.skipRegistryCertVerification,
  });
  const plainHttp = ignoreMatcher(config.allowPlainHttp);
  const client = new RegistryClient({
    transport,
    isPlainHttpHost: (host) => plainHttp(host),
    dockerHubHost: deps.dockerHubHost,
    now: deps.now,
  });
  const checker = new ImageChecker({
    client,
    checkIntervalMs: config.checkIntervalMs,
    maxConcurrentChecks: config.maxConcurrentChecks,
    maxConcurrentPerHost: config.maxConcurrentPerRegistry,
    logger,
    now: deps.now,
    random: deps.random,
    onFailedCheck: () => metrics.genericErrors.inc(),
  });
  const collector = new Collector({
    lister: new WorkloadLister(deps.kubeConfig, { pageSize: LIST_PAGE_SIZE, requestTimeoutMs: config.scrapeTimeoutMs }),
    checker,
    ignoredImages: config.ignoredImages,
    credentials:
      deps.credentials ??
      new PullSecretCredentials({
        kubeConfig: deps.kubeConfig,
        requestTimeoutMs: config.scrapeTimeoutMs,
        logger,
        dockerConfigPath: config.dockerConfig,
        now: deps.now,
      }),
    resolveLocations:
      config.imageMirrors.length > 0 || config.defaultRegistry
        ? (ref) => resolveLocations(ref, config.imageMirrors, config.defaultRegistry)
        : undefined,
    logger,
    onRecheckRound: () => metrics.completedRechecks.inc(),
    now: deps.now,
  });
  const app = createApp({
    metrics,
    collect: (deadline) => collector.collect(deadline),
    defaultScrapeTimeoutMs: config.scrapeTimeoutMs,
    logger,
    now: deps.now,
  });

  let server: Server | undefined;
  return {
    metrics,
    checker,
    collector,
    async listen() {
      server = app.listen({ host: config.bindHost, port: config.bindPort });
      await once(server, 'listening');
      return (server.address() as AddressInfo).port;
    },
    async close() {
      if (server) {
        server.closeAllConnections();
        server.close();
        await once(server, 'close').catch(() => undefined);
      }
      await transport.close();
    },
  };
}
