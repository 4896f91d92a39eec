/** Wires the parts of one exporter instance together; main.ts and the tests both start it here. */
import { once } from 'node:events';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KubeConfig } from '@kubernetes/client-node';
import type { ImageChecker } from '../engine/image-check.js';
import type { Collector } from '../engine/collector.js';
import type { CredentialSource } from '../credentials/source.js';
import type { Config } from '../flags/config.js';
import type { CredentialProviders } from '../credentials/providers/providers.js';
import { createEngine, type EngineDeps } from '../engine/engine.js';
import { ListReader } from '../kubernetes/list-reader.js';
import { clusterCredentials, clusterWorkloads, LIST_PAGE_SIZE } from '../engine/cluster.js';
import { ExporterMetrics } from './metrics.js';
import { Nodes } from '../engine/nodes.js';
import { createApp, scrapeTimeoutFromHeader } from './server.js';
import { createWebServer } from './web/web-server.js';
import { capConnections, MAX_OPEN_CONNECTIONS } from './connection-cap.js';
import { admissionHandler } from './admission/admission.js';
import { readClientCas } from './admission/client-cert.js';
import { RecentWarnings } from './admission/recent-warnings.js';
import type { X509Certificate } from 'node:crypto';

export interface ExporterDeps extends EngineDeps {
  readonly kubeConfig: KubeConfig;
  /** Defaults to the workloads' pull secrets plus --docker-config. */
  readonly credentials?: CredentialSource;
  /** Credential providers (plugins, clouds) started at start-up (engine.ts startUp). */
  readonly providers?: CredentialProviders;
}

export interface Exporter {
  readonly metrics: ExporterMetrics;
  readonly checker: ImageChecker;
  readonly collector: Collector;
  /** Starts listening; resolves with the bound port. */
  listen(): Promise<number>;
  /** Scrapes being answered now, and ms until the last request in flight reaches its scrape timeout. */
  inFlight(): { readonly scrapes: number; readonly remainingMs: number };
  /**
   * Stops accepting connections and closes idle ones at once, lets the requests in flight answer
   * (with `Connection: close`; whatever outlives its scrape timeout is cut), then abandons the
   * registry checks still running.
   */
  close(): Promise<DrainSummary>;
}

export interface DrainSummary {
  /** Scrapes in flight when close() began (or arriving on open connections after) that got their answer. */
  readonly scrapesAnswered: number;
}

/** Idle keep-alive connections are kept this long (Prometheus reuses them from one scrape to the next). */
const KEEP_ALIVE_MS = 65_000;

/** How long close() waits past the last scrape timeout before cutting the connections left. */
const DRAIN_MARGIN_MS = 1000;

/** The webhook's path (server.ts), with or without a query (the API server adds `?timeout=10s`). */
const ADMISSION_PATH = /^\/admission\/?(?:\?.*)?$/s;


export function createExporter(config: Config, deps: ExporterDeps): Exporter {
  const { logger } = deps;
  const metrics = new ExporterMetrics();
  const { transport, checker, collector: collectorOf } = createEngine(
    config,
    { checkIntervalMs: config.checkIntervalMs, checkPlatforms: config.checkPlatforms, onFailedCheck: () => metrics.genericErrors.inc() },
    deps,
  );
  const reader = new ListReader(deps.kubeConfig, { pageSize: LIST_PAGE_SIZE, requestTimeoutMs: config.listTimeoutMs });
  const collector = collectorOf({
    ...clusterWorkloads(config, deps.kubeConfig, { logger, now: deps.now, maxAgeMs: config.listMaxAgeMs }),
    nodes: config.checkPlatforms ? new Nodes({ reader, logger, now: deps.now }) : undefined,
    credentials:
      deps.credentials ?? clusterCredentials(config, deps.kubeConfig, { logger, providers: deps.providers, dockerConfigPath: config.dockerConfig, now: deps.now }),
    onRecheckRound: () => metrics.completedRechecks.inc(),
  });
  // --admission-webhook: the same collector checks a review's images (its engine, credentials, cache).
  let admissionCas: readonly X509Certificate[] | undefined;
  const recent = new RecentWarnings();
  const admission = config.admission && {
    recent,
    handle: admissionHandler({
      settings: config.admission,
      collector,
      customResources: config.customResources,
      kinds: config.workloadKinds,
      clientCas: () => admissionCas,
      observer: metrics.admissionObserver(),
      pendingChecks: () => checker.pending,
      recent,
      logger,
      now: deps.now,
    }),
  };
  const app = createApp({
    metrics,
    admission: admission || undefined,
    collect: (deadline) => collector.collect(deadline),
    defaultScrapeTimeoutMs: config.scrapeTimeoutMs,
    logger,
    now: deps.now,
  });

  let server: Server | undefined;
  let closing = false;
  let scrapesAnswered = 0;
  /** Requests being answered, with when (Date.now(): real timers wait for it) their client gives up. */
  const inFlight = new Map<ServerResponse, { readonly scrape: boolean; readonly deadline: number }>();
  const track = (req: IncomingMessage, res: ServerResponse) => {
    const header = req.headers['x-prometheus-scrape-timeout-seconds'];
    const deadline = Date.now() + scrapeTimeoutFromHeader(typeof header === 'string' ? header : undefined, config.scrapeTimeoutMs);
    const scrape = /^\/metrics\/?(?:\?|$)/.test(req.url ?? '');
    inFlight.set(res, { scrape, deadline });
    res.once('close', () => inFlight.delete(res));
    if (closing) drain(res, scrape);
  };
  /** Answers this request as the connection's last one, and counts it once it is answered. */
  const drain = (res: ServerResponse, scrape: boolean) => {
    if (!res.headersSent) res.setHeader('connection', 'close');
    if (scrape) res.once('finish', () => scrapesAnswered++);
  };
  const remainingMs = () => Math.max(0, ...[...inFlight.values()].map((r) => r.deadline - Date.now()));
  return {
    metrics,
    checker,
    collector,
    async listen() {
      if (config.admission?.clientCaFile !== undefined) admissionCas = await readClientCas(config.admission.clientCaFile);
      if (config.webConfigFile === undefined) {
        server = app.listen({ host: config.bindHost, port: config.bindPort });
        server.on('request', track);
      } else {
        // --web-config-file: HTTPS and/or basic auth in front of the app, re-read when the file changes.
        server = await createWebServer(config.webConfigFile, app.callback(), {
          logger,
          onRequest: track,
          withoutBasicAuth: config.admission ? ADMISSION_PATH : undefined,
          requestClientCert: config.admission?.clientCaFile !== undefined,
        });
        server.listen({ host: config.bindHost, port: config.bindPort });
      }
      // Longer than scrapers keep idle connections (Node's 5 s default is shorter): the scraper closes
      // first, so it never sends a scrape on a connection the exporter is closing at that moment.
      server.keepAliveTimeout = KEEP_ALIVE_MS;
      server.headersTimeout = KEEP_ALIVE_MS + 1000;
      capConnections(server, MAX_OPEN_CONNECTIONS, () => logger.debug('oldest idle connection closed: too many open'));
      await once(server, 'listening');
      return (server.address() as AddressInfo).port;
    },
    inFlight() {
      return { scrapes: [...inFlight.values()].filter((r) => r.scrape).length, remainingMs: remainingMs() };
    },
    async close() {
      closing = true;
      for (const [res, { scrape }] of inFlight) drain(res, scrape);
      if (server) {
        const closed = once(server, 'close').catch(() => undefined);
        server.close(); // no new connections; Node also closes the idle keep-alive ones
        server.closeIdleConnections();
        const open = server;
        const cut = setTimeout(() => open.closeAllConnections(), remainingMs() + DRAIN_MARGIN_MS);
        cut.unref();
        await closed;
        clearTimeout(cut);
      }
      // Checks still running have no scrape left to answer: abandon them rather than wait.
      await transport.destroy().catch(() => undefined);
      return { scrapesAnswered };
    },
  };
}
