/**
 * The newest complete listing of each workload kind, refreshed by scrapes and never waited for when
 * there is one: a scrape answers from the listing it has and, when that is older than the maximum
 * age, starts a fresh list (one at a time per kind) that later scrapes use. Only before the first
 * listing does a scrape wait, up to its deadline.
 */
import { describeApiError } from './kubernetes/api.js';
import { keepUnchanged, type OwnerKind, type Workload, type WorkloadLister } from './kubernetes/workloads.js';
import type { Logger } from './log.js';
import { Refreshing } from './refreshing.js';

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

export class Listings {
  private readonly now: () => number;
  private readonly lists: Refreshing<OwnerKind, readonly Workload[]>;

  constructor(private readonly options: ListingsOptions) {
    this.now = options.now ?? Date.now;
    this.lists = new Refreshing(async (kind, previous) => keepUnchanged(previous ?? [], await options.lister.list(kind)), {
      maxAgeMs: options.maxAgeMs,
      now: options.now,
      onError: (kind, error) => options.logger.error('cannot list workloads', { kind: String(kind), reason: describeApiError(error) }),
    });
  }

  async get(kind: OwnerKind, deadline: number): Promise<KindListing> {
    const listing = await this.lists.get(kind, deadline);
    if (!listing) {
      if (this.lists.isLoading(kind)) this.options.logger.warn('listing workloads did not finish before the scrape deadline', { kind });
      return { workloads: [], up: false, ageSeconds: undefined };
    }
    return { workloads: listing.value, up: !listing.failed, ageSeconds: (this.now() - listing.at) / 1000 };
  }
}
