/**
 * One scrape's worth of work: list the workloads, check each unique image once, and return a
 * snapshot of what is known when the deadline arrives. Checks still running then go on and land in
 * the cache for the next scrape.
 */
import { beforeDeadline, TIMED_OUT } from '../utils/deadline.js';
import type { KindListing, ListState } from './listings.js';
import type { CheckLocation, CheckRequest, ImageChecker } from './image-check.js';
import { endpointKey, type PullPlan, type PullPlaces } from '../image/pull-plan.js';
import { ignoreMatcher, type IgnoreMatcher } from '../image/ignore.js';
import { BadReferenceError, parseImageReference, type ImageReference } from '../image/reference.js';
import { describeApiError } from '../kubernetes/api.js';
import { IGNORE_ANNOTATION } from '../kubernetes/ignore-annotation.js';
import { OWNER_KINDS, type ContainerImage, type SourceId, type Workload } from '../kubernetes/workloads.js';
import type { Logger } from '../utils/log.js';
import type { Nodes } from './nodes.js';
import { MissingPlatforms } from '../platform/missing.js';
import type { NodeFacts } from '../platform/placement.js';
import type { ProvidedPlatforms } from '../platform/platform.js';
import { RecheckRounds } from './rechecks.js';
import type { CredentialLookup, CredentialSource, PullCredentials } from '../credentials/source.js';
import { isProven, type CheckResult, type CheckStatus } from '../registry/status.js';
import { asForeground, forEachSlice, mapSliced } from '../utils/yield.js';

/** Why a container is not checked, on purpose: its image matches --ignored-images, or its workload opts it out. */
export type SkipReason = 'ignored-images' | 'annotation';

/** A skip in words, naming what to change to have it checked (the reports' reason). */
export function skipReasonText(reason: SkipReason): string {
  return reason === 'annotation' ? `skipped: opted out by the annotation ${IGNORE_ANNOTATION}` : 'skipped: the image matches --ignored-images';
}

/** One container of one workload, with what is known about its image. */
export interface ContainerRow {
  readonly workload: Workload;
  /** One of the workload's containers: the same object while the workload is unchanged. */
  readonly container: ContainerImage;
  /** Latest known status (undefined: never checked yet). */
  readonly status: CheckStatus | undefined;
  /** Why, in words, of that status. */
  readonly detail: string | undefined;
  /** When that status was found (ms since epoch). */
  readonly checkedAt: number | undefined;
  /** 1/0 only when the registry proved it (now or recently); otherwise undefined. */
  readonly exists: 0 | 1 | undefined;
  /**
   * Platforms of the nodes the workload may run on that the present image does not provide ([]:
   * none; an image volume lacks them only when an index lists none: platform/missing.ts); undefined
   * when that is not known (not present, platforms or nodes unread, checks off).
   */
  readonly missingPlatforms: readonly string[] | undefined;
  /** Not checked on purpose (every field above is then undefined); undefined for a container that is checked. */
  readonly skipped?: SkipReason;
}

export interface Snapshot {
  readonly rows: readonly ContainerRow[];
  /** How each list (of a kind, in a namespace when scoped) went. */
  readonly lists: readonly ListState[];
  readonly pending: number;
  readonly collectionSeconds: number;
}

/** The workloads of each kind, as a scrape sees them (Listings, or manifests read once). */
export interface WorkloadSource {
  get(source: SourceId, deadline: number): Promise<KindListing>;
}

export interface CollectorOptions {
  readonly listings: WorkloadSource;
  /** What is asked of `listings`: built-in kinds and custom resources (default: OWNER_KINDS). */
  readonly kinds?: readonly SourceId[];
  /** Leave out workloads that run no pods now (--skip-inactive-workloads): no series, no check. */
  readonly skipInactive?: boolean;
  /** The cluster's nodes, for platform checks; none: no platform checks. */
  readonly nodes?: Pick<Nodes, 'get'>;
  readonly checker: ImageChecker;
  readonly ignoredImages: readonly string[];
  readonly credentials?: CredentialSource;
  /**
   * Where a node pulls an image from, in order (mirrors, default registry, the node's configuration
   * files), as configured now: a new object after the configuration changed. Default: the image's
   * own registry.
   */
  readonly pullPlaces?: () => Promise<PullPlaces>;
  readonly logger: Logger;
  readonly onRecheckRound: () => void;
  readonly now?: () => number;
}

export class Collector {
  private readonly ignore: IgnoreMatcher;
  private readonly now: () => number;
  private readonly rounds: RecheckRounds;
  private readonly missingPlatforms = new MissingPlatforms();
  /** Workloads whose opt-out annotation was not honoured and that were logged (unchanged workloads stay the same object). */
  private readonly warned = new WeakSet<Workload>();
  /** The last scrape's plans (see Plans), and the pull places they were made with. */
  private plans: ReadonlyMap<PullCredentials | undefined, PlansByImage> = new Map();
  private plannedWith: PullPlaces | undefined;

  constructor(private readonly options: CollectorOptions) {
    this.now = options.now ?? Date.now;
    this.ignore = ignoreMatcher(options.ignoredImages);
    this.rounds = new RecheckRounds(() => options.checker.states.latestSeq);
  }

  async collect(deadline: number): Promise<Snapshot> {
    const started = this.now();
    const kinds = this.options.kinds ?? OWNER_KINDS;
    const [listings, nodes] = await Promise.all([
      Promise.all(kinds.map((kind) => this.options.listings.get(kind, deadline))),
      this.options.nodes?.get(deadline),
    ]);
    const lists: ListState[] = [];
    const workloads: Workload[] = [];
    const skipInactive = this.options.skipInactive === true;
    for (const listing of listings) {
      for (const state of listing.states) lists.push(state);
      // No spread: lists can be huge.
      await forEachSlice(listing.workloads, (from, to) => {
        for (let i = from; i < to; i++) {
          const workload = listing.workloads[i] as Workload;
          if (workload.active || !skipInactive) workloads.push(workload);
        }
      });
    }

    // Reading pull secrets may use half of what is left; the checks need the rest. Workloads whose
    // every container is opted out need none.
    const checked = workloads.filter((workload) => workload.containers.some((container) => !container.optedOut));
    const lookup = await this.credentialLookup(checked, this.now() + (deadline - this.now()) / 2);
    const requests = new Map<string, CheckRequest>();
    const planned: Array<{ workload: Workload; container: ContainerImage; key: string } | { workload: Workload; container: ContainerImage; skipped: SkipReason }> = [];
    // The places a node pulls from, as configured for this whole scrape; plans made with others are not kept.
    const places = await this.options.pullPlaces?.();
    if (places !== this.plannedWith) this.plans = new Map();
    this.plannedWith = places;
    const placesOf = memoized((image: string) => this.placesOf(image, places)); // each image string parsed once a scrape, if at all
    const plans = new Plans(this.plans, (image, credentials) => this.plan(placesOf(image), image, credentials));
    // In slices (src/utils/yield.ts), as every loop over the workloads or their rows: at 10,000s of
    // workloads one pass would hold the event loop for long, more so on a loaded machine.
    await forEachSlice(workloads, (from, to) => {
      for (let i = from; i < to; i++) {
        const workload = workloads[i] as Workload;
        if (workload.annotationProblem !== undefined) this.warnOnce(workload);
        let byImage: ((image: string) => Plan) | undefined;
        for (const container of workload.containers) {
          if (container.optedOut) {
            planned.push({ workload, container, skipped: 'annotation' });
            continue;
          }
          byImage ??= plans.of(lookup?.(workload));
          const request = byImage(container.image);
          if (request === IGNORED) {
            planned.push({ workload, container, skipped: 'ignored-images' });
            continue;
          }
          if (!requests.has(request.key)) requests.set(request.key, request);
          planned.push({ workload, container, key: request.key });
        }
      }
    });
    this.plans = plans.used;

    // Stale-while-revalidate: a known result past its interval is served while its recheck runs; only
    // images never checked are waited for, up to the deadline.
    const { checker } = this.options;
    const { states } = checker;
    const firstChecks: Promise<CheckResult>[] = [];
    const unique = [...requests.values()];
    await forEachSlice(unique, (from, to) => {
      for (let i = from; i < to; i++) {
        const request = unique[i] as CheckRequest;
        const check = checker.check(request);
        if (states.latest(request.key) === undefined) {
          firstChecks.push(check); // its result lands in `states` (p-memoize's cache) when it finishes
        } else {
          check.catch((error: unknown) => this.options.logger.error('image recheck failed unexpectedly', { image: request.image, reason: String(error) }));
        }
      }
    });
    await beforeDeadline(Promise.all(firstChecks), deadline, this.now);
    // From here on the answer is being finished: it comes before background listings (src/utils/yield.ts).
    return asForeground(async () => {
      // Platforms by digest for this scrape: many containers share an image.
      const platformsOf = memoized((digest: string) => checker.platformsOf(digest));
      const rows: ContainerRow[] = await mapSliced(planned, (plan) => {
        const { workload, container } = plan;
        if ('skipped' in plan) {
          return { workload, container, status: undefined, detail: undefined, checkedAt: undefined, exists: undefined, missingPlatforms: undefined, skipped: plan.skipped };
        }
        const result = states.latest(plan.key);
        const proven = result && isProven(result.status) ? result : states.lastProven(plan.key);
        // From the result that proves the image present (the current one, or the last proven one
        // that `exists` also reports while the registry cannot be asked).
        const missing = nodes && proven?.status === 'present' && proven.digest ? this.missingOn(workload, container.volume === true, platformsOf(proven.digest), nodes) : undefined;
        return rowOf(workload, container, result, proven, missing);
      });

      const keys = new Set(requests.keys());
      if (this.rounds.observe(keys, (key) => states.finishedSeq(key))) this.options.onRecheckRound();
      checker.prune(keys);
      return { rows, lists, pending: checker.pending, collectionSeconds: (this.now() - started) / 1000 };
    });
  }

  /**
   * Checks some containers of one workload now (an admission review's), with the credentials its
   * pods would pull with, as a scrape checks them, and answers with what is known at `deadline`:
   * a result already known is served at once (and rechecked in the background when stale), the
   * others are waited for; one still running then has no status. Checks of one image share one
   * registry request with scrapes and other reviews (p-memoize). Never prunes or counts recheck
   * rounds: those follow the scrapes. At most `limit` images not known yet are checked; the rest are left out (counted).
   */
  async checkContainers(workload: Workload, containers: readonly ContainerImage[], deadline: number, limit = Infinity): Promise<{ rows: ContainerRow[]; leftOut: number }> {
    const wanted = containers.filter((container) => !container.optedOut);
    const lookup = wanted.length === 0 ? undefined : await this.credentialLookup([workload], this.now() + (deadline - this.now()) / 2, { aside: true });
    // Where a node pulls from, as a scrape plans it now.
    const places = await this.options.pullPlaces?.();
    const byImage = memoized((image: string) => this.plan(this.placesOf(image, places), image, lookup?.(workload)));
    const { checker } = this.options;
    const waits = new Map<string, Promise<unknown>>();
    const planned: Array<{ container: ContainerImage; key?: string; skipped?: SkipReason }> = [];
    let leftOut = 0;
    let started = 0;
    // In slices, as a scrape's loops: an object of 70,000 containers (an admission review of 7 MiB)
    // planned in one stretch held the event loop over a second.
    await forEachSlice(containers, (from, to) => {
      for (let i = from; i < to; i++) {
        const container = containers[i] as ContainerImage;
        if (container.optedOut) {
          planned.push({ container, skipped: 'annotation' });
          continue;
        }
        const request = byImage(container.image);
        if (request === IGNORED) {
          planned.push({ container, skipped: 'ignored-images' });
          continue;
        }
        if (!waits.has(request.key)) {
          const known = checker.states.latest(request.key) !== undefined;
          if (!known && started >= limit) {
            leftOut++;
            continue;
          }
          const check = checker.check(request).catch((error: unknown) => this.options.logger.error('image check failed unexpectedly', { image: request.image, reason: String(error) }));
          // A result already known is the answer (its recheck, if one started, lands in the cache).
          waits.set(request.key, known ? Promise.resolve() : check);
          if (!known) started++;
        }
        planned.push({ container, key: request.key });
      }
    });
    await beforeDeadline(Promise.all(waits.values()), deadline, this.now);
    const rows = await mapSliced(planned, ({ container, key, skipped }): ContainerRow => {
      const result = key === undefined ? undefined : checker.states.latest(key);
      const row = rowOf(workload, container, result, result && isProven(result.status) ? result : undefined, undefined);
      return skipped ? { ...row, skipped } : row;
    });
    return { rows, leftOut };
  }

  /** One warning per workload object (per change of it) whose annotation was not honoured: its containers are checked. */
  private warnOnce(workload: Workload): void {
    if (this.warned.has(workload)) return;
    this.warned.add(workload);
    const { kind, namespace, name, annotationProblem } = workload;
    this.options.logger.warn('workload annotation not honoured', { kind, namespace, name, problem: annotationProblem });
  }

  private missingOn(workload: Workload, volume: boolean, provided: ProvidedPlatforms | undefined, nodes: readonly NodeFacts[]): readonly string[] | undefined {
    return provided && this.missingPlatforms.ofPulled(workload, volume, provided, nodes);
  }

  /**
   * The scrape's credential lookup. If pull secrets cannot be read by the deadline (or at all), every
   * image is checked anonymously with a credential problem attached, so only "present" counts.
   */
  private async credentialLookup(workloads: readonly Workload[], deadline: number, options?: { aside: true }): Promise<CredentialLookup | undefined> {
    if (!this.options.credentials) return undefined;
    const failed = (problem: string): CredentialLookup => {
      const none: PullCredentials = { lookup: () => ({ credentials: [], problem }) };
      return () => none;
    };
    try {
      const lookup = await beforeDeadline(this.options.credentials.prepare(workloads, options), deadline, this.now);
      if (lookup !== TIMED_OUT) return lookup;
      this.options.logger.warn('pull secrets were not read before the scrape deadline');
      return failed('pull secrets not read in time');
    } catch (error) {
      this.options.logger.error('cannot resolve pull secrets', { reason: describeApiError(error) });
      return failed('cannot resolve pull secrets');
    }
  }

  /** What to check for an image pulled with these credentials; IGNORED when the image is ignored. */
  private plan(where: Places, image: string, pullCredentials: PullCredentials | undefined): Plan {
    if (where === IGNORED) return IGNORED;
    if ('locations' in where) return where;
    const problems = new Set<string>();
    const locations: CheckLocation[] = where.sources.map((source) => {
      const { credentials, problem } = pullCredentials ? pullCredentials.lookup(source.ref) : { credentials: [] };
      if (problem) problems.add(problem);
      return { ...source, credentials };
    });
    // The key names the locations and the credentials used (never their content): results obtained
    // with one namespace's secret are never served to a workload that lacks it.
    const parts = locations.map((l) =>
      [l.authoritative ? l.ref.canonical : `mirror ${l.ref.canonical}`, ...(l.endpoint ? [endpointKey(l.endpoint)] : []), ...l.credentials.map((c) => c.id)].join('\n'),
    );
    const credentialProblem = problems.size > 0 ? [...problems].join('; ') : undefined;
    if (credentialProblem) parts.push(`!${credentialProblem}`);
    const { blocked } = where;
    if (blocked !== undefined) parts.push(`blocked ${blocked}`);
    return { key: parts.join('\n'), image, locations, credentialProblem, ...(blocked !== undefined ? { blocked } : {}) };
  }

  /** Where a node pulls an image string from (the same for every workload). */
  private placesOf(image: string, places: PullPlaces | undefined): Places {
    let ref: ImageReference;
    try {
      ref = parseImageReference(image);
    } catch (error) {
      if (this.ignore(image)) return IGNORED;
      const reason = error instanceof BadReferenceError ? error.message : String(error);
      return { key: `bad\n${image}`, image, locations: [], badReference: reason };
    }
    if (this.ignore(image, ref)) return IGNORED;
    return places ? places.plan(ref) : { sources: [{ ref, authoritative: true }] };
  }
}

/** A checked container's row: its latest result, and the last one that proved presence or absence. */
function rowOf(workload: Workload, container: ContainerImage, result: CheckResult | undefined, proven: CheckResult | undefined, missingPlatforms: readonly string[] | undefined): ContainerRow {
  return {
    workload,
    container,
    status: result?.status,
    detail: result?.detail,
    checkedAt: result?.checkedAt,
    exists: proven ? (proven.status === 'present' ? 1 : 0) : undefined,
    missingPlatforms,
  };
}

const IGNORED = Symbol('ignored');
/** What to check for one image pulled with some credentials, or IGNORED. */
type Plan = CheckRequest | typeof IGNORED;
type PlansByImage = Map<string, Plan>;

/**
 * Plans by the credentials they are made with and the image string, kept from one scrape to the
 * next while both are: a workload that did not change costs a map lookup per container, not a
 * credential match and a key. Each scrape keeps only what it used, so nothing outlives its use.
 */
class Plans {
  readonly used = new Map<PullCredentials | undefined, PlansByImage>();

  constructor(
    private readonly kept: ReadonlyMap<PullCredentials | undefined, PlansByImage>,
    private readonly make: (image: string, credentials: PullCredentials | undefined) => Plan,
  ) {}

  /** The planner of images pulled with these credentials. */
  of(credentials: PullCredentials | undefined): (image: string) => Plan {
    let used = this.used.get(credentials);
    if (!used) this.used.set(credentials, (used = new Map()));
    const mine = used;
    const before = this.kept.get(credentials);
    return (image) => {
      let plan = mine.get(image);
      if (plan === undefined) {
        plan = before?.get(image) ?? this.make(image, credentials);
        mine.set(image, plan);
      }
      return plan;
    };
  }
}
/** Where an image is pulled from, the request of a bad reference, or IGNORED. */
type Places = PullPlan | CheckRequest | typeof IGNORED;

/** `fn` with its answers kept per argument: made per scrape, so they last one scrape. */
function memoized<A, R>(fn: (arg: A) => R): (arg: A) => R {
  const answers = new Map<A, R>();
  return (arg) => {
    if (answers.has(arg)) return answers.get(arg) as R;
    const answer = fn(arg);
    answers.set(arg, answer);
    return answer;
  };
}
