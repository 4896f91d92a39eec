/**
 * The status page's model: what the last collection knows about every container whose image is not
 * simply present, grouped by status, then by image and what its check found, with what to do about
 * each. Pure: indexed from a Snapshot that a scrape already made; never asks a registry or the
 * Kubernetes API. The index holds references to the snapshot's rows, no copies; the JSON
 * (status-json.ts) and the HTML (status-html.ts) are written from it.
 *
 * The JSON answer of `/status?format=json` is an interface; its fields:
 *
 * - `generatedAt` (string, ISO 8601): when this answer was sent.
 * - `lastCollection` (object, or null before the first collection):
 *   - `finishedAt` (ISO 8601), `ageSeconds` (number, as of `generatedAt`): when the collection the
 *     page reads finished;
 *   - `collectionSeconds` (number): how long it took;
 *   - `pendingChecks` (number): image checks still running when it finished;
 *   - `listsDown` (array of `{ kind, namespace, ageSeconds }`): workload lists whose latest list
 *     failed (or none finished yet); `namespace` is null unless the exporter is scoped to
 *     namespaces; `ageSeconds` is the age of the listing still in use, null when there is none.
 * - `totals`: `containers` (all containers the collection saw), `present` (status present),
 *   `notPresent` (every other status, never checked included), `platformMissing` (present images
 *   that lack a platform of the nodes the workload may run on), `skipped` (not checked on purpose:
 *   --ignored-images or the workload's opt-out annotation; neither present nor not present).
 * - `groups` (array, always every group, in this order: absent, bad_reference, auth_failure,
 *   access_denied, rate_limited, registry_unavailable, unknown_error, never_checked,
 *   platform_missing, skipped), each:
 *   - `id` (one of those), `title` (words), `advice` (what to do), `count` (containers),
 *   - `images` (array, all of them, sorted by image then reason): one per image and what its check
 *     found, so that what many containers share is written once:
 *     `image` (as written in the spec), `registry` (its host, `-` for a bad reference), `reason`
 *     (in words), `checkedAt` (ISO 8601, null when never checked), `ageSeconds` (of that check
 *     when the collection finished, null when never checked), `lastProven` (`present`/`absent`: what
 *     the registry last proved while the current check fails to tell, null when nothing is proven),
 *     `missingPlatforms` (array of `os/arch[/variant]`, only in the platform_missing group, else
 *     null), `count` (containers), and
 *   - `containers` (array, all of them, sorted by namespace, kind, name, container), each:
 *     `namespace`, `kind`, `name` (the workload), `container`, `init` (boolean: an init container), `volume` (boolean: an image volume, `container` being its name).
 */
import { skipReasonText, type ContainerRow, type Snapshot } from '../../engine/collector.js';
import { IGNORE_ANNOTATION } from '../../kubernetes/ignore-annotation.js';
import { parseImageReference } from '../../image/reference.js';
import { CHECK_STATUSES, statusRank, type CheckStatus } from '../../registry/status.js';
import { yieldToEventLoop } from '../../utils/yield.js';

/**
 * Every status but `present`, problems first (statusRank, CHECK_STATUSES' order within a rank); then
 * the two groups that are not check statuses: never checked (ranked with could not tell, after
 * them), the present images that lack a platform, and the containers skipped on purpose.
 */
export const GROUP_IDS = [
  ...(CHECK_STATUSES.filter((status) => status !== 'present').sort((a, b) => statusRank(a) - statusRank(b)) as Exclude<CheckStatus, 'present'>[]),
  'never_checked',
  'platform_missing',
  'skipped',
] as const;

export type GroupId = (typeof GROUP_IDS)[number];

/** Heading words of each group. */
export const GROUP_TITLES: Readonly<Record<GroupId, string>> = {
  absent: 'Absent',
  bad_reference: 'Bad reference',
  blocked: 'Blocked registry',
  auth_failure: 'Authentication failure',
  access_denied: 'Access denied',
  rate_limited: 'Rate limited',
  registry_unavailable: 'Registry unavailable',
  unknown_error: 'Unknown error',
  never_checked: 'Never checked',
  platform_missing: 'Platform missing',
  skipped: 'Skipped',
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
  blocked:
    'The nodes’ configuration refuses the image’s registry: registries.conf (--registries-conf) marks it `blocked = true`, ' +
    'or in the hosts directory (--containerd-hosts-dir) no host may pull it (capabilities), and no mirror served it. The pod cannot start. ' +
    'Point the workload at an allowed registry, or change the nodes’ configuration. Not a statement about the image.',
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
  skipped:
    'Not checked, on purpose: the image matches --ignored-images, or the workload (or its pod template) opts the container out ' +
    `with the annotation ${IGNORE_ANNOTATION} ("true", or a comma-separated list of container names). ` +
    'Remove the entry or the annotation to have it checked again.',
};

const NEVER_CHECKED_REASON = 'not checked yet: its first check had not finished when the last collection did';

// ---- the JSON's shape (what a consumer parses; status-json.ts writes it) -----------------------

export interface StatusContainer {
  readonly namespace: string;
  readonly kind: string;
  readonly name: string;
  readonly container: string;
  readonly init: boolean;
  readonly volume: boolean;
}

export interface StatusImage {
  readonly image: string;
  readonly registry: string;
  readonly reason: string;
  readonly checkedAt: string | null;
  readonly ageSeconds: number | null;
  readonly lastProven: 'present' | 'absent' | null;
  readonly missingPlatforms: readonly string[] | null;
  readonly count: number;
  readonly containers: readonly StatusContainer[];
}

export interface StatusGroup {
  readonly id: GroupId;
  readonly title: string;
  readonly advice: string;
  readonly count: number;
  readonly images: readonly StatusImage[];
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
  readonly skipped: number;
}

export interface StatusModel {
  readonly generatedAt: string;
  readonly lastCollection: LastCollection | null;
  readonly totals: StatusTotals;
  readonly groups: readonly StatusGroup[];
}

// ---- the index both answers are written from ----------------------------------------------------

/** The last collection: its snapshot and when it finished (ms since epoch). */
export interface CollectedSnapshot {
  readonly snapshot: Snapshot;
  readonly at: number;
}

/** An image and what its check found, with the containers (rows of the snapshot) that use it. */
export interface IndexedImage {
  readonly image: string;
  readonly registry: string;
  readonly reason: string;
  /** ms since epoch; undefined when never checked. */
  readonly checkedAt: number | undefined;
  readonly lastProven: 'present' | 'absent' | null;
  readonly missingPlatforms: readonly string[] | null;
  /** Sorted by namespace, kind, name, container. */
  readonly rows: ContainerRow[];
}

export interface IndexedGroup {
  readonly id: GroupId;
  readonly title: string;
  readonly advice: string;
  /** Containers. */
  readonly count: number;
  /** Sorted by image, then reason. */
  readonly images: readonly IndexedImage[];
}

/** What one collection knows, grouped for the status page: made once per snapshot. */
export interface StatusIndex {
  /** When the collection finished (ms since epoch); undefined before the first. */
  readonly at: number | undefined;
  readonly collectionSeconds: number;
  readonly pendingChecks: number;
  readonly listsDown: readonly ListDown[];
  readonly totals: StatusTotals;
  readonly groups: readonly IndexedGroup[];
}

export function seconds(ms: number): number {
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

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareRows(a: ContainerRow, b: ContainerRow): number {
  return (
    cmp(a.workload.namespace, b.workload.namespace) ||
    cmp(a.workload.kind, b.workload.kind) ||
    cmp(a.workload.name, b.workload.name) ||
    cmp(a.container.name, b.container.name)
  );
}

function compareImages(a: IndexedImage, b: IndexedImage): number {
  return cmp(a.image, b.image) || cmp(a.reason, b.reason) || (a.checkedAt ?? 0) - (b.checkedAt ?? 0) || cmp(a.lastProven ?? '', b.lastProven ?? '');
}

/** Rows handled between two turns of the event loop (a 100,000-row snapshot is no single stretch). */
const ROWS_PER_SLICE = 2000;

/**
 * Indexes the last collection (undefined: none yet): its rows that are not simply present, by
 * group, then by image and check result. Linear in the rows plus the sorts; yields to the event
 * loop between slices of rows.
 */
export async function indexStatus(last: CollectedSnapshot | undefined): Promise<StatusIndex> {
  const byGroup = new Map<GroupId, Map<string, IndexedImage>>(GROUP_IDS.map((id) => [id, new Map()]));
  const counts = new Map<GroupId, number>(GROUP_IDS.map((id) => [id, 0]));
  let present = 0;
  let notPresent = 0;
  let skipped = 0;
  const registries = new Map<string, string>();
  const registry = (image: string): string => {
    let host = registries.get(image);
    if (host === undefined) registries.set(image, (host = registryOf(image)));
    return host;
  };
  const add = (id: GroupId, row: ContainerRow, reason: string, missingPlatforms: readonly string[] | null) => {
    const lastProven = row.exists === 1 ? 'present' : row.exists === 0 ? 'absent' : null;
    // Containers share an image and its check: one entry per image and result, listing them.
    const key = `${row.container.image}\u0000${reason}\u0000${row.checkedAt ?? ''}\u0000${lastProven ?? ''}`;
    const images = byGroup.get(id) as Map<string, IndexedImage>;
    let entry = images.get(key);
    if (!entry) {
      const image = row.container.image;
      entry = { image, registry: id === 'bad_reference' ? '-' : registry(image), reason, checkedAt: row.checkedAt, lastProven, missingPlatforms, rows: [] };
      images.set(key, entry);
    }
    entry.rows.push(row);
    counts.set(id, (counts.get(id) as number) + 1);
  };

  const rows = last?.snapshot.rows ?? [];
  for (let from = 0; from < rows.length; from += ROWS_PER_SLICE) {
    if (from > 0) await yieldToEventLoop();
    for (let i = from; i < Math.min(rows.length, from + ROWS_PER_SLICE); i++) {
      const row = rows[i] as ContainerRow;
      if (row.skipped !== undefined) {
        skipped++;
        add('skipped', row, skipReasonText(row.skipped), null);
        continue;
      }
      if (row.status === 'present') {
        present++;
        const missing = row.missingPlatforms;
        if (missing && missing.length > 0) add('platform_missing', row, `no image for ${missing.join(', ')}`, [...missing]);
        continue;
      }
      notPresent++;
      if (row.status === undefined) add('never_checked', row, NEVER_CHECKED_REASON, null);
      else add(row.status, row, row.detail ?? row.status, null);
    }
  }

  const groups: IndexedGroup[] = [];
  for (const id of GROUP_IDS) {
    const images = [...(byGroup.get(id) as Map<string, IndexedImage>).values()].sort(compareImages);
    for (const image of images) {
      image.rows.sort(compareRows);
      if (image.rows.length > ROWS_PER_SLICE) await yieldToEventLoop();
    }
    groups.push({ id, title: GROUP_TITLES[id], advice: GROUP_ADVICE[id], count: counts.get(id) as number, images });
  }
  const listsDown: ListDown[] = [];
  for (const list of last?.snapshot.lists ?? []) {
    if (!list.up) listsDown.push({ kind: list.kind, namespace: list.namespace ?? null, ageSeconds: list.ageSeconds ?? null });
  }
  return {
    at: last?.at,
    collectionSeconds: last?.snapshot.collectionSeconds ?? 0,
    pendingChecks: last?.snapshot.pending ?? 0,
    listsDown,
    totals: { containers: present + notPresent + skipped, present, notPresent, platformMissing: counts.get('platform_missing') as number, skipped },
    groups,
  };
}
