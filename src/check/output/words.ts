/**
 * What the CI outputs (SARIF, JUnit, GitHub annotations) say about a container, in plain words and
 * the same in each: which workload and container, which image, what happened, and how grave it is
 * for the run. Pure. Manifest text is not escaped here: each output escapes for its own syntax.
 */
import type { FailOn } from '../../flags/config.js';
import { NOT_CHECKED, outcomeOf, SKIPPED, type CheckedContainer } from '../report.js';

/** Every status but present: each is a rule of SARIF, a kind of failure elsewhere. */
export type ProblemStatus = Exclude<CheckedContainer['status'], 'present'>;

interface StatusWords {
  /** A short title (SARIF shortDescription, annotation title). */
  readonly title: string;
  /** An identifier in words (SARIF rule name). */
  readonly name: string;
  /** What it means and what to do (SARIF help). */
  readonly help: string;
}

const UNKNOWN = 'Whether the image exists is not known; this fails the run (exit 3) unless --fail-on absent.';

/** In the order of the report (problems first). */
export const STATUS_WORDS: Readonly<Record<ProblemStatus, StatusWords>> = {
  absent: {
    title: 'Image absent',
    name: 'ImageAbsent',
    help:
      'The registry says the tag, digest or repository does not exist: a pod using it cannot start on a node that has not cached it. ' +
      'Push the image again (or restore it), or point the workload at an image that exists. Fails the run (exit 1).',
  },
  bad_reference: {
    title: 'Invalid image reference',
    name: 'InvalidImageReference',
    help: 'The image string is not a valid reference (or there is none): the kubelet cannot pull it either. Fix the image in the manifest. Fails the run (exit 1).',
  },
  blocked: {
    title: 'Registry blocked',
    name: 'RegistryBlocked',
    help:
      "The nodes' configuration refuses the image's registry (registries.conf `blocked`, or a hosts.toml in which no host may pull it) and no mirror served it: the pod cannot start. " +
      'Use an image from an allowed registry, or change the configuration. Not a statement about the image. Fails the run (exit 1).',
  },
  auth_failure: {
    title: 'Credentials missing or rejected',
    name: 'RegistryAuthFailure',
    help:
      'The registry wants credentials and none was accepted: no pull secret of the manifests matches it, a pull secret the workload names is not in the manifests, ' +
      `or the CI job's docker config (docker login) has none for it. ${UNKNOWN}`,
  },
  access_denied: {
    title: 'Access denied',
    name: 'RegistryAccessDenied',
    help: `The registry refused access (HTTP 403): the credentials lack pull rights on the repository. ${UNKNOWN}`,
  },
  rate_limited: {
    title: 'Rate limited',
    name: 'RegistryRateLimited',
    help: `The registry answered 429: run again later, with credentials (Docker Hub allows more to authenticated pulls), or with a lower --max-concurrent-per-registry. ${UNKNOWN}`,
  },
  registry_unavailable: {
    title: 'Registry unavailable',
    name: 'RegistryUnavailable',
    help:
      'The registry could not be asked: DNS, connection refused, timeout, TLS (a private CA: --registry-ca-file), 5xx, or a server that is not a registry; ' +
      `a registry that speaks plain HTTP must be listed in --allow-plain-http. ${UNKNOWN}`,
  },
  unknown_error: {
    title: 'Check failed',
    name: 'ImageCheckFailed',
    help: `Something else went wrong (junk from a token service, another digest served than the one pinned…): the reason says what. ${UNKNOWN}`,
  },
  [NOT_CHECKED]: {
    title: 'Not checked',
    name: 'ImageNotChecked',
    help: `The check of the image did not finish. ${UNKNOWN}`,
  },
  [SKIPPED]: {
    title: 'Skipped',
    name: 'ImageCheckSkipped',
    help:
      "Not checked, on purpose: --ignored-images names the image, or the workload's k8s-image-existence-exporter/ignore annotation names the container. " +
      'Said so that an opt-out is never silent; never fails the run.',
  },
};

export const PROBLEM_STATUSES = Object.keys(STATUS_WORDS) as ProblemStatus[];

/**
 * How grave a container's status is for the run: `error` fails it (absent, bad reference);
 * `warning` could not be checked and fails it (exit 3, the default --fail-on unknown); `note` could
 * not be checked and does not (--fail-on absent): still said, never as a failure. None: present.
 */
export type Gravity = 'error' | 'warning' | 'note';

export function gravityOf(status: CheckedContainer['status'], failOn: FailOn): Gravity | undefined {
  const outcome = outcomeOf(status);
  if (outcome === 'present') return undefined;
  if (outcome === 'skipped') return 'note';
  if (outcome === 'failed') return 'error';
  return failOn === 'unknown' ? 'warning' : 'note';
}

/** A kind that could not be listed (--cluster), in words. */
export function unlistedWords(kind: string): string {
  return `${kind} could not be listed: none of its workloads was checked`;
}

/** Kinds not listed (--cluster) are as grave as images that could not be checked. */
export function unlistedGravity(failOn: FailOn): Gravity {
  return failOn === 'unknown' ? 'warning' : 'note';
}

const named = (text: string) => (text === '' ? '(no name)' : text);

/** `Deployment shop/web` (`Deployment web` without a namespace). */
export function workloadWords(c: CheckedContainer): string {
  return `${c.kind} ${c.namespace === '' ? '' : `${c.namespace}/`}${named(c.name)}`;
}

/** `container app`, `init container migrate`, `image volume models`. */
export function containerWords(c: CheckedContainer): string {
  return `${c.volume ? 'image volume' : c.init ? 'init container' : 'container'} ${named(c.container)}`;
}

/** The image quoted as written (JSON quotes: a newline in it stays visible as `\n`), or `no image`. */
export function imageWords(image: string): string {
  return image === '' ? 'no image' : JSON.stringify(image);
}

/** What happened to the image: `image "x:1" does not exist (registry says MANIFEST_UNKNOWN)`. */
export function problemWords(c: CheckedContainer): string {
  const because = c.reason === null ? '' : ` (${c.reason})`;
  switch (c.status) {
    case 'present':
      return `image ${imageWords(c.image)} exists`;
    case 'absent':
      return `image ${imageWords(c.image)} does not exist${because}`;
    case 'bad_reference':
      // The reason names the image and what is wrong with it ("invalid image reference …", "no image: …").
      return c.reason ?? `image ${imageWords(c.image)} is not a valid reference`;
    case 'blocked':
      return `image ${imageWords(c.image)} is from a blocked registry${because}`;
    case NOT_CHECKED:
      return `image ${imageWords(c.image)} was not checked${because}`;
    case SKIPPED:
      // The reason says who opted it out ("skipped: opted out by the annotation …").
      return `image ${imageWords(c.image)} ${c.reason ?? 'skipped'}`;
    default:
      return `image ${imageWords(c.image)} could not be checked (${c.status}${c.reason === null ? '' : `: ${c.reason}`})`;
  }
}

/** The whole message: who, what happened, and where it was read when the output's location cannot say it. */
export function messageWords(c: CheckedContainer, note: string | undefined): string {
  return `${workloadWords(c)}, ${containerWords(c)}: ${problemWords(c)}${note === undefined ? '' : ` (read at ${note})`}`;
}
