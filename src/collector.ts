/**
 * One scrape's worth of work: list the workloads, check each unique image once, and return a
 * snapshot of what is known when the deadline arrives. Checks still running then go on and land in
 * the cache for the next scrape.
 */
import { beforeDeadline, TIMED_OUT } from './deadline.js';
import type { KindListing, Listings } from './listings.js';
import type { CheckLocation, CheckRequest, ImageChecker } from './checker.js';
import type { PullSource } from './image/mirror.js';
import { ignoreMatcher, type IgnoreMatcher } from './image/ignore.js';
import { BadReferenceError, parseImageReference, type ImageReference } from './image/reference.js';
import { describeApiError } from './kubernetes/api.js';
import { OWNER_KINDS, type OwnerKind, type Workload } from './kubernetes/workloads.js';
import type { Logger } from './log.js';
import { RecheckRounds } from './rechecks.js';
import type { RegistryCredential } from './registry/credentials.js';
import { isProven, type CheckResult, type CheckStatus } from './registry/status.js';

/** Finds the credentials a workload's pods would pull an image with (most specific first). */
export interface CredentialSource {
  /** Prepares for one scrape (e.g. reads pull secrets once); returns the lookup for that scrape. */
  prepare(workloads: readonly Workload[]): Promise<CredentialLookup>;
}
export type CredentialLookup = (workload: Workload, ref: ImageReference) => FoundCredentials;
export interface FoundCredentials {
  readonly credentials: readonly RegistryCredential[];
  /** A pull secret the workload names could not be read: only "present" then proves anything. */
  readonly problem?: string;
}

/** One container of one workload, with what is known about its image. */
export interface ContainerRow {
  readonly kind: OwnerKind;
  readonly namespace: string;
  readonly owner: string;
  readonly container: string;
  readonly image: string;
  /** Latest known status (undefined: never checked yet). */
  readonly status: CheckStatus | undefined;
  /** 1/0 only when the registry proved it (now or recently); otherwise undefined. */
  readonly exists: 0 | 1 | undefined;
}

export interface Snapshot {
  readonly rows: readonly ContainerRow[];
  readonly listUp: ReadonlyMap<OwnerKind, boolean>;
  /** Seconds since the listing reported for each kind completed (absent: no listing yet). */
  readonly listAge: ReadonlyMap<OwnerKind, number>;
  readonly pending: number;
  readonly collectionSeconds: number;
}

export interface CollectorOptions {
  readonly listings: Pick<Listings, 'get'>;
  readonly checker: ImageChecker;
  readonly ignoredImages: readonly string[];
  readonly credentials?: CredentialSource;
  /** Mirrors and default registry: where a node pulls an image from, in order. */
  readonly resolveLocations?: (ref: ImageReference) => readonly PullSource[];
  readonly logger: Logger;
  readonly onRecheckRound: () => void;
  readonly now?: () => number;
}

export class Collector {
  private readonly ignore: IgnoreMatcher;
  private readonly now: () => number;
  private readonly rounds: RecheckRounds;

  constructor(private readonly options: CollectorOptions) {
    this.now = options.now ?? Date.now;
    this.ignore = ignoreMatcher(options.ignoredImages);
    this.rounds = new RecheckRounds(() => options.checker.states.latestSeq);
  }

  async collect(deadline: number): Promise<Snapshot> {
    const started = this.now();
    const listings = await Promise.all(OWNER_KINDS.map((kind) => this.options.listings.get(kind, deadline)));
    const listUp = new Map<OwnerKind, boolean>();
    const listAge = new Map<OwnerKind, number>();
    const workloads: Workload[] = [];
    OWNER_KINDS.forEach((kind, i) => {
      const listing = listings[i] as KindListing;
      listUp.set(kind, listing.up);
      if (listing.ageSeconds !== undefined) listAge.set(kind, listing.ageSeconds);
      for (const workload of listing.workloads) workloads.push(workload); // no spread: lists can be huge
    });

    // Reading pull secrets may use half of what is left; the checks need the rest.
    const lookup = await this.credentialLookup(workloads, this.now() + (deadline - this.now()) / 2);
    const requests = new Map<string, CheckRequest>();
    const places = new Map<string, Places>();
    const planned: Array<{ workload: Workload; container: string; image: string; key: string }> = [];
    for (const workload of workloads) {
      for (const { name, image } of workload.containers) {
        const request = this.plan(workload, image, lookup, places);
        if (!request) continue;
        if (!requests.has(request.key)) requests.set(request.key, request);
        planned.push({ workload, container: name, image, key: request.key });
      }
    }

    // Stale-while-revalidate: a known result past its interval is served while its recheck runs; only
    // images never checked are waited for, up to the deadline.
    const { checker } = this.options;
    const { states } = checker;
    const firstChecks: Promise<CheckResult>[] = [];
    for (const request of requests.values()) {
      const check = checker.check(request);
      if (states.latest(request.key) === undefined) {
        firstChecks.push(check); // its result lands in `states` (p-memoize's cache) when it finishes
      } else {
        check.catch((error: unknown) => this.options.logger.error('image recheck failed unexpectedly', { image: request.image, reason: String(error) }));
      }
    }
    await beforeDeadline(Promise.all(firstChecks), deadline, this.now);

    const rows: ContainerRow[] = planned.map(({ workload, container, image, key }) => {
      const result = states.latest(key);
      const proven = result && isProven(result.status) ? result : states.lastProven(key);
      return {
        kind: workload.kind,
        namespace: workload.namespace,
        owner: workload.name,
        container,
        image,
        status: result?.status,
        exists: proven ? (proven.status === 'present' ? 1 : 0) : undefined,
      };
    });

    const keys = new Set(requests.keys());
    if (this.rounds.observe(keys, (key) => states.finishedSeq(key))) this.options.onRecheckRound();
    checker.prune(keys);
    return { rows, listUp, listAge, pending: checker.pending, collectionSeconds: (this.now() - started) / 1000 };
  }

  /**
   * The scrape's credential lookup. If pull secrets cannot be read by the deadline (or at all), every
   * image is checked anonymously with a credential problem attached, so only "present" counts.
   */
  private async credentialLookup(workloads: readonly Workload[], deadline: number): Promise<CredentialLookup | undefined> {
    if (!this.options.credentials) return undefined;
    const failed = (problem: string): CredentialLookup => () => ({ credentials: [], problem });
    try {
      const lookup = await beforeDeadline(this.options.credentials.prepare(workloads), deadline, this.now);
      if (lookup !== TIMED_OUT) return lookup;
      this.options.logger.warn('pull secrets were not read before the scrape deadline');
      return failed('pull secrets not read in time');
    } catch (error) {
      this.options.logger.error('cannot resolve pull secrets', { reason: describeApiError(error) });
      return failed('cannot resolve pull secrets');
    }
  }

  /** What to check for one container's image; undefined when the image is ignored. */
  private plan(workload: Workload, image: string, lookup: CredentialLookup | undefined, places: Map<string, Places>): CheckRequest | undefined {
    let where = places.get(image);
    if (!where) {
      where = this.placesOf(image);
      places.set(image, where);
    }
    if (where === IGNORED) return undefined;
    if ('badReference' in where) return where;
    const problems = new Set<string>();
    const locations: CheckLocation[] = where.map((source) => {
      const { credentials, problem } = lookup ? lookup(workload, source.ref) : { credentials: [] };
      if (problem) problems.add(problem);
      return { ...source, credentials };
    });
    // The key names the locations and the credentials used (never their content): results obtained
    // with one namespace's secret are never served to a workload that lacks it.
    const parts = locations.map((l) => [l.authoritative ? l.ref.canonical : `mirror ${l.ref.canonical}`, ...l.credentials.map((c) => c.id)].join('\n'));
    const credentialProblem = problems.size > 0 ? [...problems].join('; ') : undefined;
    if (credentialProblem) parts.push(`!${credentialProblem}`);
    return { key: parts.join('\n'), image, locations, credentialProblem };
  }

  /** Where a node pulls an image string from (the same for every workload): parsed once per scrape. */
  private placesOf(image: string): Places {
    let ref: ImageReference;
    try {
      ref = parseImageReference(image);
    } catch (error) {
      if (this.ignore(image)) return IGNORED;
      const reason = error instanceof BadReferenceError ? error.message : String(error);
      return { key: `bad\n${image}`, image, locations: [], badReference: reason };
    }
    if (this.ignore(image, ref)) return IGNORED;
    return this.options.resolveLocations?.(ref) ?? [{ ref, authoritative: true }];
  }
}

const IGNORED = Symbol('ignored');
/** An image's pull sources, the request of a bad reference, or IGNORED. */
type Places = readonly PullSource[] | (CheckRequest & { badReference: string }) | typeof IGNORED;
