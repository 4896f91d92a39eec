/** HTTP surface: /metrics, /healthz and the status page (/ and /status), on koa + @koa/router. */
import { Readable } from 'node:stream';
import Router from '@koa/router';
import Koa from 'koa';
import type { Snapshot } from './collector.js';
import type { Logger } from './log.js';
import type { ExporterMetrics } from './metrics.js';
import { SharedAnswer } from './shared-answer.js';
import { renderStatusHtml, STATUS_PAGE_CSP } from './status/status-html.js';
import { buildStatusModel } from './status/status-model.js';

export interface ServerDeps {
  readonly metrics: ExporterMetrics;
  /** Collects one scrape's snapshot, to be answered by `deadline` (ms since epoch). */
  readonly collect: (deadline: number) => Promise<Snapshot>;
  /** Used when Prometheus sends no X-Prometheus-Scrape-Timeout-Seconds. */
  readonly defaultScrapeTimeoutMs: number;
  readonly logger: Logger;
  readonly now?: () => number;
}

/**
 * How long a scrape may spend collecting: the scrape timeout minus a margin for rendering and the
 * network (10 %, at least 500 ms: many scrapes answered at once render one after another on one
 * thread), but never less than half the timeout.
 */
export function collectionBudgetMs(scrapeTimeoutMs: number): number {
  const margin = Math.max(500, scrapeTimeoutMs * 0.1);
  return Math.max(scrapeTimeoutMs / 2, scrapeTimeoutMs - margin);
}

/** Reads Prometheus' scrape timeout header (seconds, may be fractional). */
export function scrapeTimeoutFromHeader(value: string | undefined, fallbackMs: number): number {
  const seconds = Number(value);
  if (!value || !Number.isFinite(seconds) || seconds <= 0) return fallbackMs;
  return Math.min(seconds * 1000, 24 * 3_600_000);
}

export function createApp(deps: ServerDeps): Koa {
  const now = deps.now ?? Date.now;
  const router = new Router();

  // What the last collection found, for the status page (which never starts a collection itself).
  let lastSnapshot: Snapshot | undefined;
  let lastSnapshotAt = 0;
  const answers = new SharedAnswer(async (deadline) => {
    const snapshot = await deps.collect(deadline);
    lastSnapshot = snapshot;
    lastSnapshotAt = now();
    const rendering = now();
    const body = await deps.metrics.render(snapshot);
    return { body, busyMs: now() - rendering };
  }, now);

  router.get('/metrics', async (ctx) => {
    const timeoutMs = scrapeTimeoutFromHeader(ctx.get('x-prometheus-scrape-timeout-seconds'), deps.defaultScrapeTimeoutMs);
    // The same Buffers for every scraper waiting on this answer: written to each socket, never copied.
    const chunks = await answers.get(now() + collectionBudgetMs(timeoutMs));
    ctx.body = Readable.from(chunks, { objectMode: false });
    ctx.length = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    ctx.type = deps.metrics.contentType;
  });

  router.get('/healthz', (ctx) => {
    ctx.body = 'ok\n';
  });

  // The status page: HTML, or the same model as JSON with ?format=json (fields: src/status/status-model.ts).
  router.get(['/', '/status'], (ctx) => {
    const format = ctx.query.format ?? 'html';
    if (format !== 'html' && format !== 'json') {
      ctx.status = 400;
      ctx.type = 'text/plain';
      ctx.body = 'format must be html or json\n';
      return;
    }
    const model = buildStatusModel(lastSnapshot && { snapshot: lastSnapshot, at: lastSnapshotAt }, now());
    ctx.set('cache-control', 'no-store');
    ctx.set('x-content-type-options', 'nosniff');
    if (format === 'json') {
      ctx.type = 'application/json';
      ctx.body = JSON.stringify(model);
    } else {
      ctx.set('content-security-policy', STATUS_PAGE_CSP);
      ctx.type = 'text/html';
      ctx.body = renderStatusHtml(model);
    }
  });

  const app = new Koa();
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      deps.logger.error('request failed', { path: ctx.path, reason: (error as Error)?.message ?? String(error) });
      ctx.status = 500;
      ctx.type = 'text/plain';
      ctx.body = 'internal error while collecting metrics; see the exporter log\n';
    }
  });
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
