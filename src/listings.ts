/**
 * The newest complete listing of each workload kind, refreshed by scrapes, never waited for when
 * there is one: a scrape answers from the listing it has and, when that is older than the maximum
 * age, starts a fresh list (one at a time per kind) that later scrapes use. Only before the first
 * listing does a scrape wait, up to its deadline. Nothing runs unless a scrape asks.
 */
import { beforeDeadline, TIMED_OUT } from './deadline.js';
import { describeApiError } from './kubernetes/api.js';
import type { OwnerKind, Workload, WorkloadLister } from './kubernetes/workloads.js';
import type { Logger } from './log.js';

export interface ListingsOptions {
  readonly lister: Pick<WorkloadLister, 'list'>;
  /** A listing older than this is refreshed (in the background of the scrape that notices). */
  readonly maxAgeMs: number;
  readonly logger: Logger;
  readonly now?: () => number;
}

/** What a scrape reports for one kind. */
export interface KindListing {
  readonly workloads: readonly Workload[];
  /** The latest list of this kind succeeded (false: it failed, or none finished yet). */
  readonly up: boolean;
  /** Seconds since the listing in use completed; undefined when there is none. */
  readonly ageSeconds: number | undefined;
}

interface Complete {
  readonly workloads: readonly Workload[];
  readonly completedAt: number;
}

export class Listings {
  private readonly now: () => number;
  private readonly newest = new Map<OwnerKind, Complete>();
  private readonly lastFailed = new Set<OwnerKind>();
  private readonly refreshing = new Map<OwnerKind, Promise<void>>();

  constructor(private readonly options: ListingsOptions) {
    this.now = options.now ?? Date.now;
  }

  async get(kind: OwnerKind, deadline: number): Promise<KindListing> {
    let current = this.newest.get(kind);
    if (!current || this.now() - current.completedAt >= this.options.maxAgeMs) {
      const refresh = this.refresh(kind);
      if (!current && (await beforeDeadline(refresh, deadline, this.now)) === TIMED_OUT) {
        this.options.logger.warn('listing workloads did not finish before the scrape deadline', { kind });
        return { workloads: [], up: false, ageSeconds: undefined };
      }
      current = this.newest.get(kind);
    }
    return {
      workloads: current?.workloads ?? [],
      up: current !== undefined && !this.lastFailed.has(kind),
      ageSeconds: current ? (this.now() - current.completedAt) / 1000 : undefined,
    };
  }

  /** One list per kind at a time; never rejects (a failure keeps the previous listing). */
  private refresh(kind: OwnerKind): Promise<void> {
    const running = this.refreshing.get(kind);
    if (running) return running;
    const refresh = this.options.lister.list(kind).then(
      (workloads) => {
        this.newest.set(kind, { workloads, completedAt: this.now() });
        this.lastFailed.delete(kind);
      },
      (error: unknown) => {
        this.lastFailed.add(kind);
        this.options.logger.error('cannot list workloads', { kind, reason: describeApiError(error) });
      },
    );
    const done = refresh.finally(() => this.refreshing.delete(kind));
    this.refreshing.set(kind, done);
    return done;
  }
}
