/**
 * The status page's model: what the last collection knows about every image that is not simply
 * present, grouped by status, with what to do about each. Pure: built from a Snapshot that a scrape
 * already made; never asks a registry or the Kubernetes API.
 *
 * It is also the JSON answer of `/status?format=json`, so its field names are an interface:
 *
 * - `generatedAt` (string, ISO 8601): when this model was made.
 * - `lastCollection` (object, or null before the first collection):
 *   - `finishedAt` (ISO 8601), `ageSeconds` (number): when the collection the page reads finished;
 *   - `collectionSeconds` (number): how long it took;
 *   - `pendingChecks` (number): image checks still running when it finished;
 *   - `listsDown` (array of `{ kind, namespace, ageSeconds }`): workload lists whose latest list
 *     failed (or none finished yet); `namespace` is null unless the exporter is scoped to
 *     namespaces; `ageSeconds` is the age of the listing still in use, null when there is none.
 * - `totals`: `containers` (all containers the collection saw), `present` (status present),
 *   `notPresent` (every other status, never checked included), `platformMissing` (present images
 *   that lack a platform of the nodes the workload may run on).
 * - `groups` (array, always every group, in this order: absent, bad_reference, auth_failure,
 *   access_denied, rate_limited, registry_unavailable, unknown_error, never_checked,
 *   platform_missing), each:
 *   - `id` (one of those), `title` (words), `advice` (what to do), `count` (entries),
 *   - `entries` (array, all of them, sorted by namespace, kind, name, container), each:
 *     `kind`, `namespace`, `name` (the workload), `container`, `init` (boolean: an init container),
 *     `image` (as written in the spec), `registry` (its host, `-` for a bad reference), `reason`
 *     (in words), `checkedAt` (ISO 8601, null when never checked), `ageSeconds` (since that check,
 *     null when never checked), `lastProven` (`present`/`absent`: what the registry last proved while
 *     the current check fails to tell, null when nothing is proven), `missingPlatforms` (array of
 *     `os/arch[/variant]`, only in the platform_missing group, else null).
 */
import type { ContainerRow, Snapshot } from '../collector.js';
import { parseImageReference } from '../image/reference.js';
import { CHECK_STATUSES, type CheckStatus } from '../registry/status.js';

/** Every status but `present`, then the two groups that are not check statuses. */
export const GROUP_IDS = [
  ...(CHECK_STATUSES.filter((status) => status !== 'present') as Exclude<CheckStatus, 'present'>[]),
  'never_checked',
  'platform_missing',
] as const;

export type GroupId = (typeof GROUP_IDS)[number];

/** Heading words of each group. */
export const GROUP_TITLES: Readonly<Record<GroupId, string>> = {
  absent: 'Absent',
  bad_reference: 'Bad reference',
  auth_failure: 'Authentication failure',
  access_denied: 'Access denied',
  rate_limited: 'Rate limited',
  registry_unavailable: 'Registry unavailable',
  unknown_error: 'Unknown error',
  never_checked: 'Never checked',
  platform_missing: 'Platform missing',
};

/** What to do, per group (kept consistent with README.md's "Troubleshooting"). */
export const GROUP_ADVICE: Readonly<Record<GroupId, string>> = {
  absent:
    'The registry says the tag, digest or repository does not exist: the image or tag is gone from its registry. ' +
    'Push it again (or restore it, or stop the retention policy from deleting tags in use), or point the workload at an image that exists. ' +
    'If it is deliberately gone, add it to --ignored-images.',
  bad_reference:
    'The image string in the spec is not a valid reference (empty, spaces, upper case in the repository, a malformed digest); ' +
    'the kubelet cannot pull it either. Fix the image string in the workload.',
  auth_failure:
    'The registry wants credentials and none worked: no pull secret matches the registry, the password is wrong or expired, ' +
    'or a named pull secret is missing or unreadable (the exporter log says which). Check the workload’s imagePullSecrets ' +
    '(or its ServiceAccount’s), or give the exporter the nodes’ credentials with --docker-config. ' +
    'Also seen when credentials would have to cross plain HTTP to a host not in --allow-plain-http.',
  access_denied:
    'The registry knows the credentials and refuses (HTTP 403): they lack pull permission on that repository. ' +
    'Grant pull access, or use credentials that have it.',
  rate_limited:
    'The registry limits requests (HTTP 429); the exporter backs off and retries. Lower --max-concurrent-per-registry, ' +
    'raise --check-interval, or authenticate (Docker Hub allows more pulls to authenticated users).',
  registry_unavailable:
    'The registry cannot be reached or does not answer like a registry: network, DNS, connection refused, timeout, 5xx, ' +
    'or TLS (an unknown CA: --registry-ca-file). A registry that only speaks HTTP must be listed in --allow-plain-http. ' +
    'From inside the cluster, egress rules or a proxy (HTTPS_PROXY/NO_PROXY) may be in the way.',
  unknown_error: 'Something else went wrong (e.g. the token service answered junk, or the registry served another digest than the one pinned): see the reason and the exporter log.',
  never_checked:
    'The image has not been checked yet: its first check was still running when the last collection finished. ' +
    'It shows up in its own group after a later scrape.',
  platform_missing:
    'The image exists but provides nothing for these platforms, and the workload’s pods may be scheduled on nodes of them: ' +
    'a pod landing there fails with “no matching manifest”. Publish the image for those platforms too (a multi-platform build), ' +
    'or keep the workload off those nodes (a nodeSelector or required node affinity on kubernetes.io/arch).',
};

const NEVER_CHECKED_REASON = 'not checked yet: its first check had not finished when the last collection did';

export interface StatusEntry {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly container: string;
  readonly init: boolean;
  readonly image: string;
  readonly registry: string;
  readonly reason: string;
  readonly checkedAt: string | null;
  readonly ageSeconds: number | null;
  readonly lastProven: 'present' | 'absent' | null;
  readonly missingPlatforms: readonly string[] | null;
}

export interface StatusGroup {
  readonly id: GroupId;
  readonly title: string;
  readonly advice: string;
  readonly count: number;
  readonly entries: readonly StatusEntry[];
}

export interface ListDown {
  readonly kind: string;
  readonly namespace: string | null;
  readonly ageSeconds: number | null;
}

export interface LastCollection {
  readonly finishedAt: string;
  readonly ageSeconds: number;
  readonly collectionSeconds: number;
  readonly pendingChecks: number;
  readonly listsDown: readonly ListDown[];
}

export interface StatusTotals {
  readonly containers: number;
  readonly present: number;
  readonly notPresent: number;
  readonly platformMissing: number;
}

export interface StatusModel {
  readonly generatedAt: string;
  readonly lastCollection: LastCollection | null;
  readonly totals: StatusTotals;
  readonly groups: readonly StatusGroup[];
}

/** The last collection: its snapshot and when it finished (ms since epoch). */
export interface CollectedSnapshot {
  readonly snapshot: Snapshot;
  readonly at: number;
}

function seconds(ms: number): number {
  return Math.max(0, Math.round(ms / 1000));
}

/** The registry host an image string names; '-' when it does not parse. */
function registryOf(image: string): string {
  try {
    return parseImageReference(image).registry;
  } catch {
    return '-';
  }
}

function compareEntries(a: StatusEntry, b: StatusEntry): number {
  return cmp(a.namespace, b.namespace) || cmp(a.kind, b.kind) || cmp(a.name, b.name) || cmp(a.container, b.container) || cmp(a.image, b.image);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Builds the model from the last collection (undefined: none yet) as of `now` (ms since epoch). */
export function buildStatusModel(last: CollectedSnapshot | undefined, now: number): StatusModel {
  const generatedAt = new Date(now).toISOString();
  const entries = new Map<GroupId, StatusEntry[]>(GROUP_IDS.map((id) => [id, []]));
  let present = 0;
  let notPresent = 0;
  let lastCollection: LastCollection | null = null;

  if (last) {
    const { snapshot, at } = last;
    // Many containers share an image: each string parsed once.
    const registries = new Map<string, string>();
    const registry = (image: string): string => {
      let host = registries.get(image);
      if (host === undefined) registries.set(image, (host = registryOf(image)));
      return host;
    };
    const entry = (row: ContainerRow, reason: string, missingPlatforms: readonly string[] | null): StatusEntry => ({
      kind: row.workload.kind,
      namespace: row.workload.namespace,
      name: row.workload.name,
      container: row.container.name,
      init: row.container.init,
      image: row.container.image,
      registry: row.status === 'bad_reference' ? '-' : registry(row.container.image),
      reason,
      checkedAt: row.checkedAt === undefined ? null : new Date(row.checkedAt).toISOString(),
      ageSeconds: row.checkedAt === undefined ? null : seconds(now - row.checkedAt),
      lastProven: row.exists === 1 ? 'present' : row.exists === 0 ? 'absent' : null,
      missingPlatforms,
    });
    for (const row of snapshot.rows) {
      if (row.status === 'present') {
        present++;
        const missing = row.missingPlatforms;
        if (missing && missing.length > 0) {
          (entries.get('platform_missing') as StatusEntry[]).push(entry(row, `no image for ${missing.join(', ')}`, [...missing]));
        }
        continue;
      }
      notPresent++;
      if (row.status === undefined) {
        (entries.get('never_checked') as StatusEntry[]).push(entry(row, NEVER_CHECKED_REASON, null));
      } else {
        (entries.get(row.status) as StatusEntry[]).push(entry(row, row.detail ?? row.status, null));
      }
    }
    const listsDown: ListDown[] = [];
    for (const list of snapshot.lists) {
      if (!list.up) listsDown.push({ kind: list.kind, namespace: list.namespace ?? null, ageSeconds: list.ageSeconds ?? null });
    }
    lastCollection = {
      finishedAt: new Date(at).toISOString(),
      ageSeconds: seconds(now - at),
      collectionSeconds: snapshot.collectionSeconds,
      pendingChecks: snapshot.pending,
      listsDown,
    };
  }

  const groups = GROUP_IDS.map((id): StatusGroup => {
    const list = (entries.get(id) as StatusEntry[]).sort(compareEntries);
    return { id, title: GROUP_TITLES[id], advice: GROUP_ADVICE[id], count: list.length, entries: list };
  });
  const platformMissing = groups[GROUP_IDS.indexOf('platform_missing')]?.count ?? 0;
  return {
    generatedAt,
    lastCollection,
    totals: { containers: present + notPresent, present, notPresent, platformMissing },
    groups,
  };
}
