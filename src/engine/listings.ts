/**
 * The newest complete listing of each workload kind, in every namespace in scope, refreshed by
 * scrapes and never waited for when there is one: a scrape answers from the listing it has and,
 * when that is older than the maximum age, starts a fresh list (one at a time per kind and
 * namespace, and no more than LISTS_IN_FLIGHT against the API server: see api-connections.ts) that
 * later scrapes use. Only before the first listing does a scrape wait, up to its deadline.
 */
import { describeApiError } from '../kubernetes/api.js';
import { ALL_NAMESPACES, type Namespaces } from '../kubernetes/namespaces.js';
import type { WorkloadLister } from '../kubernetes/workload-lister.js';
import { keepUnchanged, type SourceId, type Workload } from '../kubernetes/workloads.js';
import type { Logger } from '../utils/log.js';
import { Refreshing } from '../utils/refreshing.js';

export interface ListingsOptions {
  readonly lister: Pick<WorkloadLister, 'list' | 'kindOf'>;
  /** The namespaces in scope; none: all, with cluster-wide lists. */
  readonly namespaces?: Pick<Namespaces, 'get'>;
  /** A listing older than this is refreshed (in the background of the scrape that notices). */
  readonly maxAgeMs: number;
  readonly logger: Logger;
  readonly now?: () => number;
}

/** How the list of one kind (in one namespace, when scoped) went. */
export interface ListState {
  /** The kind's label. */
  readonly kind: string;
  /** Set when the exporter is scoped to namespaces: one state per kind and namespace. */
  readonly namespace?: string;
  /** The latest list succeeded (false: it failed, or none finished yet). */
  readonly up: boolean;
  /** Seconds since the listing in use completed; undefined when there is none. */
  readonly ageSeconds: number | undefined;
}

/** What a scrape reports for one kind. */
export interface KindListing {
  readonly workloads: readonly Workload[];
  readonly states: readonly ListState[];
}

export class Listings {
  private readonly now: () => number;
  /** By `source\nnamespace` ('' namespace: cluster-wide). */
  private readonly lists: Refreshing<string, readonly Workload[]>;

  constructor(private readonly options: ListingsOptions) {
    this.now = options.now ?? Date.now;
    this.lists = new Refreshing(
      async (key, previous) => {
        const [source, namespace] = key.split('\n') as [SourceId, string];
        return keepUnchanged(previous ?? [], await options.lister.list(source, namespace === '' ? undefined : namespace));
      },
      {
        freshMs: options.maxAgeMs,
        now: options.now,
        onError: (key, error) => {
          const [source, namespace] = String(key).split('\n') as [SourceId, string];
          options.logger.error('cannot list workloads', { kind: options.lister.kindOf(source), namespace: namespace || undefined, reason: describeApiError(error) });
        },
      },
    );
  }

  async get(source: SourceId, deadline: number): Promise<KindListing> {
    const scope = this.options.namespaces ? await this.options.namespaces.get(deadline) : ALL_NAMESPACES;
    if (scope.all) {
      const { workloads, state } = await this.one(source, undefined, deadline);
      return { workloads, states: [state] };
    }
    // A namespace that left the scope (its label changed) takes its workloads along.
    const inScope = new Set(scope.names.map((namespace) => `${source}\n${namespace}`));
    this.lists.forget((key) => key.startsWith(`${source}\n`) && !inScope.has(key));
    const parts = await Promise.all(scope.names.map((namespace) => this.one(source, namespace, deadline)));
    const workloads: Workload[] = [];
    for (const part of parts) for (const workload of part.workloads) workloads.push(workload); // no spread: lists can be huge
    const states = parts.map((p) => p.state);
    // No namespace known (the selector's list failed from the start): the kind as a whole is down.
    if (!scope.up && states.length === 0) states.push({ kind: this.options.lister.kindOf(source), up: false, ageSeconds: undefined });
    return { workloads, states };
  }

  private async one(source: SourceId, namespace: string | undefined, deadline: number): Promise<{ workloads: readonly Workload[]; state: ListState }> {
    const key = `${source}\n${namespace ?? ''}`;
    const listing = await this.lists.get(key, deadline);
    const kind = this.options.lister.kindOf(source);
    const where = namespace === undefined ? {} : { namespace };
    if (!listing) {
      if (this.lists.isLoading(key)) this.options.logger.warn('listing workloads did not finish before the scrape deadline', { kind, ...where });
      return { workloads: [], state: { kind, ...where, up: false, ageSeconds: undefined } };
    }
    return { workloads: listing.value, state: { kind, ...where, up: !listing.failed, ageSeconds: (this.now() - listing.at) / 1000 } };
  }
}
