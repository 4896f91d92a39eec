/** HTTP surface: /metrics, /healthz and the status page (/ and /status), on koa + @koa/router. */
import { Readable } from 'node:stream';
import Router from '@koa/router';
import Koa from 'koa';
import type { Snapshot } from '../engine/collector.js';
import type { Logger } from '../utils/log.js';
import type { RecentWarnings } from './admission/recent-warnings.js';
import { FINISHING_SAFETY, FinishingTime } from './finishing-time.js';
import { asForeground } from '../utils/yield.js';
import { AnswersWriting } from './answers-writing.js';
import type { ExporterMetrics } from './metrics.js';
import { SharedAnswer, type AnswerBody } from './shared-answer.js';
import { STATUS_PAGE_CSP } from './status/status-html.js';
import type { CollectedSnapshot } from './status/status-model.js';
import { byteLength, StatusPages } from './status/status-pages.js';

export interface ServerDeps {
  readonly metrics: ExporterMetrics;
  /** Collects one scrape's snapshot, to be answered by `deadline` (ms since epoch). */
  readonly collect: (deadline: number) => Promise<Snapshot>;
  /** Used when Prometheus sends no X-Prometheus-Scrape-Timeout-Seconds. */
  readonly defaultScrapeTimeoutMs: number;
  readonly logger: Logger;
  readonly now?: () => number;
  /** How long one answer's bytes may take to be written (default ANSWER_WRITE_MAX_MS; tests shorten it). */
  readonly answerWriteMaxMs?: number;
  /** Bytes of answers being written at once (default ANSWERS_WRITING_MAX_BYTES; tests lower it). */
  readonly answersWritingMaxBytes?: number;
  /** --admission-webhook: the handler of POST /admission, and the recent warnings the status page lists. */
  readonly admission?: { readonly handle: (ctx: Koa.Context) => Promise<void>; readonly recent: RecentWarnings };
}

/**
 * How long writing one answer (/metrics, the status page) may take before the connection is cut:
 * a client that reads slowly or not at all holds the whole answer it was given (the memory all such
 * clients hold together is bounded in answers-writing.ts). Prometheus reads an answer in well under
 * a second and gives up at its scrape timeout (at most its interval); a person on a slow link gets
 * a minute.
 */
export const ANSWER_WRITE_MAX_MS = 60_000;

/**
 * How long a scrape may spend collecting: the scrape timeout minus a margin for rendering and the
 * network (10 %, at least 500 ms: many scrapes answered at once render one after another on one
 * thread; more when recent answers took longer to finish, as on a loaded machine: see
 * finishing-time.ts), but never less than half the timeout.
 */
export function collectionBudgetMs(scrapeTimeoutMs: number, finishingMs = 0): number {
  const margin = Math.max(500, scrapeTimeoutMs * 0.1, FINISHING_SAFETY * finishingMs);
  return Math.max(scrapeTimeoutMs / 2, scrapeTimeoutMs - margin);
}

/** Reads Prometheus' scrape timeout header (seconds, may be fractional). */
export function scrapeTimeoutFromHeader(value: string | undefined, fallbackMs: number): number {
  const seconds = Number(value);
  if (!value || !Number.isFinite(seconds) || seconds <= 0) return fallbackMs;
  return Math.min(seconds * 1000, 24 * 3_600_000);
}

/**
 * Answers with these Buffers, written one after another to the socket, never copied; cut if not
 * written within writeMaxMs, or when newer answers being written need the memory (answers-writing.ts).
 */
function send(ctx: Koa.Context, chunks: AnswerBody, writeMaxMs: number, writing: AnswersWriting): void {
  ctx.body = Readable.from(chunks, { objectMode: false });
  ctx.length = byteLength(chunks);
  const { res } = ctx;
  writing.add(res, chunks);
  const cut = setTimeout(() => res.destroy(), writeMaxMs);
  cut.unref();
  res.once('close', () => clearTimeout(cut));
}

export function createApp(deps: ServerDeps): Koa {
  const now = deps.now ?? Date.now;
  const writeMaxMs = deps.answerWriteMaxMs ?? ANSWER_WRITE_MAX_MS;
  const writing = new AnswersWriting(deps.answersWritingMaxBytes);
  const router = new Router();

  // What the last collection found, for the status page (which never starts a collection itself).
  let lastCollected: CollectedSnapshot | undefined;
  const statusPages = new StatusPages({ logger: deps.logger, now });
  const finishing = new FinishingTime();
  const answers = new SharedAnswer(async (deadline) => {
    const snapshot = await deps.collect(deadline);
    const collectedAt = now();
    lastCollected = { snapshot, at: collectedAt };
    statusPages.collected();
    const rendering = now();
    // Rendering finishes an answer: background listings give way to it (src/utils/yield.ts).
    const body = await asForeground(() => deps.metrics.render(snapshot));
    // From the deadline, or from the end of a collection that did not need all of its time.
    finishing.record(now() - Math.min(deadline, collectedAt));
    return { body, busyMs: now() - rendering };
  }, now);

  router.get('/metrics', async (ctx) => {
    const timeoutMs = scrapeTimeoutFromHeader(ctx.get('x-prometheus-scrape-timeout-seconds'), deps.defaultScrapeTimeoutMs);
    // The same Buffers for every scraper waiting on this answer: written to each socket, never copied.
    const chunks = await answers.get(now() + collectionBudgetMs(timeoutMs, finishing.ms));
    send(ctx, chunks, writeMaxMs, writing);
    ctx.type = deps.metrics.contentType;
  });

  router.get('/healthz', (ctx) => {
    ctx.body = 'ok\n';
  });

  // The status page: HTML, or the same as JSON with ?format=json (fields: src/exporter/status/status-model.ts).
  // Made once per collection and shared by every request until the next (src/exporter/status/status-pages.ts).
  router.get(['/', '/status'], async (ctx) => {
    const format = ctx.query.format ?? 'html';
    if (format !== 'html' && format !== 'json') {
      ctx.status = 400;
      ctx.type = 'text/plain';
      ctx.body = 'format must be html or json\n';
      return;
    }
    send(ctx, await statusPages.answer(lastCollected, format, deps.admission?.recent), writeMaxMs, writing);
    ctx.set('cache-control', 'no-store');
    ctx.set('x-content-type-options', 'nosniff');
    if (format === 'json') {
      ctx.type = 'application/json';
    } else {
      ctx.set('content-security-policy', STATUS_PAGE_CSP);
      ctx.type = 'text/html';
    }
  });

  // The validating admission webhook (src/exporter/admission/): over TLS only, outside basic auth.
  if (deps.admission) router.post('/admission', deps.admission.handle);

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
  // Errors after the answer began (a client that hung up or was cut mid-answer): one log line.
  // Koa's default prints the stack to stderr, in among the JSON log lines, once per such client.
  app.on('error', (error: unknown, ctx?: Koa.Context) => {
    const code = (error as { code?: unknown })?.code;
    const fields = { path: ctx?.path, reason: ((error as Error)?.message ?? String(error)).split('\n')[0] };
    if (code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNRESET' || code === 'EPIPE') deps.logger.debug('answer not written whole: the client went away or was cut', fields);
    else deps.logger.error('answer failed', fields);
  });
  return app;
}
