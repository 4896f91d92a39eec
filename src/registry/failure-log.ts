/**
 * Logs failing checks per registry host and kind of failure, when that starts and when it ends,
 * instead of a line per image: a registry that is down for 10,000 images is one warning ("registry
 * X unreachable: first error …"), a summary at most once a minute while the number of images
 * affected grows, and one line when it answers again. Each image's failure is a debug line.
 */
import type { Logger } from '../utils/log.js';
import { isProven, type CheckResult, type CheckStatus } from './status.js';

/** What the lines are about: a registry, or (host '') the image references that name none. */
const subject = (host: string) => (host === '' ? 'image references' : `registry ${host}`);

/** A summary of a failure that still spreads is logged this often at most. */
export const SUMMARY_EVERY_MS = 60_000;

/** How a failure reads in a log line about a whole registry. */
const WORDS: Partial<Record<CheckStatus, string>> = {
  registry_unavailable: 'unreachable',
  rate_limited: 'rate limiting the checks',
  auth_failure: 'rejecting the credentials',
  access_denied: 'denying access',
  unknown_error: 'answering errors',
  bad_reference: 'invalid',
  blocked: 'blocked by the node configuration',
};

interface Failure {
  /** The check keys failing this way now. */
  readonly keys: Set<string>;
  readonly since: number;
  readonly firstError: string;
  /** Images affected in all, since it started. */
  affected: number;
  /** When the last line about it was written, and how many images it counted. */
  loggedAt: number;
  loggedCount: number;
}

export class FailureLog {
  /** By host, then by status. */
  private readonly failures = new Map<string, Map<CheckStatus, Failure>>();

  constructor(
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** One finished check of `key` (an image as some workloads pull it), asked of `host` ('' for a bad reference). */
  record(host: string, key: string, image: string, result: CheckResult): void {
    const byStatus = this.failures.get(host);
    // The image is no longer failing in any other way.
    if (byStatus) for (const [status, failure] of byStatus) if (status !== result.status) this.forget(host, byStatus, status, failure, key);
    if (isProven(result.status)) return;
    this.logger.debug('image check failed', { image, registry: host || undefined, status: result.status, reason: result.detail });

    let statuses = this.failures.get(host);
    if (!statuses) this.failures.set(host, (statuses = new Map()));
    let failure = statuses.get(result.status);
    const now = this.now();
    if (!failure) {
      failure = { keys: new Set([key]), since: now, firstError: result.detail, affected: 1, loggedAt: now, loggedCount: 1 };
      statuses.set(result.status, failure);
      this.logger.warn(`${subject(host)} ${WORDS[result.status] ?? result.status}`, { registry: host || undefined, status: result.status, images: 1, firstError: result.detail });
      return;
    }
    if (!failure.keys.has(key)) {
      failure.keys.add(key);
      failure.affected++;
    }
    if (failure.keys.size > failure.loggedCount && now - failure.loggedAt >= SUMMARY_EVERY_MS) {
      failure.loggedAt = now;
      failure.loggedCount = failure.keys.size;
      this.logger.warn(`${subject(host)} still ${WORDS[result.status] ?? result.status}`, {
        registry: host || undefined,
        status: result.status,
        images: failure.keys.size,
        sinceSeconds: Math.round((now - failure.since) / 1000),
        firstError: failure.firstError,
      });
    }
  }

  /** Forgets images no scrape references any more (they neither fail nor recover). */
  prune(referenced: ReadonlySet<string>): void {
    for (const [host, byStatus] of this.failures) {
      for (const [status, failure] of byStatus) for (const key of failure.keys) if (!referenced.has(key)) this.forget(host, byStatus, status, failure, key);
    }
  }

  /** `key` fails this way no more; the last one to stop ends the failure, with a line saying so. */
  private forget(host: string, byStatus: Map<CheckStatus, Failure>, status: CheckStatus, failure: Failure, key: string): void {
    if (!failure.keys.delete(key) || failure.keys.size > 0) return;
    byStatus.delete(status);
    if (byStatus.size === 0) this.failures.delete(host);
    this.logger.info(`${subject(host)} no longer ${WORDS[status] ?? status}`, {
      registry: host || undefined,
      status,
      imagesAffected: failure.affected,
      seconds: Math.round((this.now() - failure.since) / 1000),
    });
  }
}
