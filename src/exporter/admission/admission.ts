/**
 * The validating admission webhook (--admission-webhook), POST /admission: reads an AdmissionReview
 * within bounds, checks the images the object introduces with the scrapes' engine and credentials
 * (Collector.checkContainers) before a budget well inside the API server's timeout, and answers
 * allowed with warnings — refused only for an image the registry says is absent, and only with
 * --admission-deny-absent. Whatever goes wrong on the exporter's side is an error status, which the
 * API server reads by the webhook's failurePolicy (Ignore in deploy/admission/): never a refusal.
 *
 * Bounds: one body at most MAX_BODY_BYTES; the bodies of the reviews being answered at most
 * MAX_BODIES_BYTES together, counted as they arrive (each at least MIN_CHARGE_BYTES, so that also
 * bounds how many are answered at once); past that, 429 at once rather than a queue. At most MAX_IMAGES_PER_REVIEW
 * images checked per review.
 */
import type { X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type Koa from 'koa';
import type { Collector } from '../../engine/collector.js';
import type { AdmissionSettings } from '../../flags/config.js';
import { sourceOfResource, workloadOf } from '../../kubernetes/workload-lister.js';
import type { CustomResource } from '../../kubernetes/workloads.js';
import { beforeDeadline, TIMED_OUT } from '../../utils/deadline.js';
import { parseGoDuration } from '../../utils/duration.js';
import type { Logger } from '../../utils/log.js';
import { clientCertRefusal } from './client-cert.js';
import type { RecentWarnings } from './recent-warnings.js';
import { introduced, parseReview, ReviewError, reviewResponse, withRequestNames, type AdmissionRequest, type ReviewAnswer } from './review.js';
import { denialMessage, findingOf, warningLines, type Finding, type FindingStatus } from './warnings.js';

/**
 * The API server takes request bodies up to 3 MiB (--max-request-body-bytes); an UPDATE's review
 * carries the object and the old one, as JSON: 8 MiB holds both with room for the review around them.
 */
export const MAX_BODY_BYTES = 8 * 1024 * 1024;
/** Two reviews of the largest size at once: with their parsed objects, well inside the deployed heap (192 MB). */
export const MAX_BODIES_BYTES = 2 * MAX_BODY_BYTES;
/** What a review of any size counts for: at most MAX_BODIES_BYTES / MIN_CHARGE_BYTES (512) answered at once. */
export const MIN_CHARGE_BYTES = 32 * 1024;
/** Real workloads have a few containers; an object naming more images than this gets the rest counted, not checked. */
export const MAX_IMAGES_PER_REVIEW = 256;
/**
 * Checks go on after the review that started them is answered (their results serve the next review
 * and scrape); while this many are waiting or running, a review starts none of its own, so reviews
 * of ever new images cannot pile up work without end.
 */
export const MAX_PENDING_CHECKS = 1024;
/** The API server's default timeoutSeconds (and the most it allows is 30 s). */
const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_TIMEOUT_MS = 30_000;

/**
 * How long a review may take: the API server's timeout (its `?timeout=` query, from the webhook's
 * timeoutSeconds) less 30 % and at least a second for the answer to travel back (10 s: 7 s), but
 * never less than half of it.
 */
export function reviewBudgetMs(timeoutQuery: string | undefined): number {
  let timeoutMs = DEFAULT_TIMEOUT_MS;
  if (timeoutQuery) {
    try {
      timeoutMs = Math.min(MAX_TIMEOUT_MS, parseGoDuration(timeoutQuery));
    } catch {
      // a malformed timeout is the default one
    }
  }
  return Math.max(timeoutMs / 2, timeoutMs - Math.max(1000, timeoutMs * 0.3));
}

/** Counts bytes of bodies held; no queue: a review that does not fit is refused at once. */
export class BodyBudget {
  private held = 0;

  constructor(private readonly maxBytes: number) {}

  tryTake(bytes: number): boolean {
    if (this.held + bytes > this.maxBytes) return false;
    this.held += bytes;
    return true;
  }

  give(bytes: number): void {
    this.held -= bytes;
  }
}

const TOO_LARGE = Symbol('too large');
const NO_ROOM = Symbol('no room');

/**
 * The request's body as text, TOO_LARGE as soon as more than `maxBytes` arrived, or NO_ROOM as soon
 * as `hold(size)` refuses the bytes arrived so far (what follows is then not read). Not utils'
 * readBounded: that destroys the stream, and a request's is its socket, which the answer still needs.
 */
function readBody(req: IncomingMessage, maxBytes: number, hold: (size: number) => boolean): Promise<string | typeof TOO_LARGE | typeof NO_ROOM> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      const refusal = size > maxBytes ? TOO_LARGE : hold(size) ? undefined : NO_ROOM;
      if (refusal) {
        req.off('data', onData);
        req.pause();
        resolve(refusal);
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks, size).toString('utf8')));
    req.once('error', reject);
    req.once('aborted', () => reject(new Error('request aborted')));
  });
}

/** What the webhook reports to metrics.ts. */
export interface AdmissionObserver {
  review(kind: string, outcome: ReviewOutcome, seconds: number): void;
  warning(kind: string, status: FindingStatus): void;
}

/** `skipped`: nothing to check (a kind not read, a subresource, no new image); `refused`: not answered as a review (bad request, too big, busy). */
export type ReviewOutcome = 'allowed' | 'warned' | 'denied' | 'skipped' | 'refused';

export interface AdmissionDeps {
  readonly settings: AdmissionSettings;
  readonly collector: Pick<Collector, 'checkContainers'>;
  readonly customResources: readonly CustomResource[];
  /** --workload-kinds: the built-in kinds the exporter reads. */
  readonly kinds: readonly string[];
  /** The CAs of --admission-client-ca-file, read at start-up (none yet: every review refused). */
  readonly clientCas?: () => readonly X509Certificate[] | undefined;
  readonly observer: AdmissionObserver;
  /** Checks waiting or running now (ImageChecker.pending). */
  readonly pendingChecks: () => number;
  readonly recent: RecentWarnings;
  readonly logger: Logger;
  readonly now?: () => number;
}

function plain(ctx: Koa.Context, status: number, text: string): void {
  ctx.status = status;
  ctx.type = 'text/plain';
  ctx.body = `${text}\n`;
}

/** The koa handler of POST /admission. */
export function admissionHandler(deps: AdmissionDeps): (ctx: Koa.Context) => Promise<void> {
  const now = deps.now ?? Date.now;
  const budget = new BodyBudget(MAX_BODIES_BYTES);
  /** A custom resource's kind label: the first kind a review named for it (one per --workload-resource). */
  const customKinds = new Map<string, string>();

  const refuse = (ctx: Koa.Context, status: number, text: string, started: number) => {
    deps.logger.debug('admission request refused', { status, reason: text, remote: ctx.req.socket.remoteAddress });
    deps.observer.review('', 'refused', (now() - started) / 1000);
    plain(ctx, status, text);
  };

  return async (ctx) => {
    const started = now();
    const socket = ctx.req.socket as Partial<TLSSocket>;
    if (socket.encrypted !== true) return refuse(ctx, 403, 'the admission webhook answers over TLS only', started);
    if (deps.settings.clientCaFile !== undefined) {
      const refusal = clientCertRefusal(socket as TLSSocket, deps.clientCas?.() ?? [], now());
      if (refusal) return refuse(ctx, 403, refusal, started);
    }
    const deadline = started + reviewBudgetMs(typeof ctx.query['timeout'] === 'string' ? ctx.query['timeout'] : undefined);
    const declared = Number(ctx.get('content-length') || NaN);
    if (declared > MAX_BODY_BYTES) return refuse(ctx, 413, `request body larger than ${MAX_BODY_BYTES} bytes`, started);
    // The bytes held, not those declared: two connections declaring 8 MiB and sending nothing
    // would otherwise turn every review away for as long as their budget lasts.
    let charge = MIN_CHARGE_BYTES;
    if (!budget.tryTake(charge)) return refuse(ctx, 429, 'too many reviews at once', started);
    const hold = (size: number) => {
      if (size <= charge) return true;
      if (!budget.tryTake(size - charge)) return false;
      charge = size;
      return true;
    };
    try {
      const body = await beforeDeadline(readBody(ctx.req, MAX_BODY_BYTES, hold), deadline, now);
      if (body === TIMED_OUT || body === TOO_LARGE || body === NO_ROOM) {
        // The rest of the body is not read: this connection ends with the answer.
        ctx.set('connection', 'close');
        if (body === TIMED_OUT) return refuse(ctx, 408, 'request body not received in time', started);
        if (body === NO_ROOM) return refuse(ctx, 429, 'too many reviews at once', started);
        return refuse(ctx, 413, `request body larger than ${MAX_BODY_BYTES} bytes`, started);
      }
      let request: AdmissionRequest;
      try {
        request = parseReview(body);
      } catch (error) {
        if (error instanceof ReviewError) return refuse(ctx, 400, `not an AdmissionReview: ${error.message}`, started);
        throw error;
      }
      const { answer, kind, outcome } = await review(request, deadline);
      ctx.type = 'application/json';
      ctx.body = reviewResponse(request.uid, answer);
      deps.observer.review(kind, outcome, (now() - started) / 1000);
      if (answer.warnings.length > 0) {
        deps.recent.add({ at: now(), kind, namespace: request.namespace, name: request.name, operation: request.operation, denied: !answer.allowed, warnings: answer.warnings });
      }
    } finally {
      budget.give(charge);
    }
  };

  async function review(request: AdmissionRequest, deadline: number): Promise<{ answer: ReviewAnswer; kind: string; outcome: ReviewOutcome }> {
    const allow: ReviewAnswer = { allowed: true, warnings: [] };
    const source = sourceOfResource(request.resource, deps.customResources);
    if (!source || (source.builtin && !deps.kinds.includes(source.builtin))) return { answer: allow, kind: 'other', outcome: 'skipped' };
    let kind = source.builtin ?? customKinds.get(source.source);
    if (kind === undefined) customKinds.set(source.source, (kind = request.kind || source.source));
    const skipped = { answer: allow, kind, outcome: 'skipped' as const };
    if (request.subResource || (request.operation !== 'CREATE' && request.operation !== 'UPDATE') || !request.object) return skipped;
    let containers;
    let workload;
    try {
      workload = workloadOf(kind, source, withRequestNames(request.object, request), new Set());
      if (!workload) return skipped; // its controller's own review checked these images
      const old = request.operation === 'UPDATE' && request.oldObject ? workloadOf(kind, source, withRequestNames(request.oldObject, request), new Set()) : undefined;
      containers = introduced(workload, old);
    } catch (error) {
      // Not shaped like its kind (the API server validates objects before validating webhooks see them).
      deps.logger.debug('admission object not readable', { kind, reason: (error as Error).message });
      return skipped;
    }
    if (containers.length === 0) return skipped;
    const room = Math.max(0, Math.min(MAX_IMAGES_PER_REVIEW, MAX_PENDING_CHECKS - deps.pendingChecks()));
    const { rows, leftOut } = await deps.collector.checkContainers(workload, containers, deadline, room);
    const findings = rows.map(findingOf).filter((f): f is Finding => f !== undefined);
    for (const finding of findings) deps.observer.warning(kind, finding.status);
    if (leftOut > 0) deps.observer.warning(kind, 'not_checked_too_many');
    const warnings = warningLines(findings, leftOut);
    if (deps.settings.denyAbsent && findings.some((f) => f.status === 'absent')) {
      return { answer: { allowed: false, warnings, message: denialMessage(findings) }, kind, outcome: 'denied' };
    }
    return { answer: { allowed: true, warnings }, kind, outcome: warnings.length > 0 ? 'warned' : 'allowed' };
  }
}
