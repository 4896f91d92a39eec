/**
 * The verdict on one image from every answer the check collected. Pure: the one place that decides
 * when "absent" may be said.
 *
 * A node pulls by trying each mirror, then the original registry (or the one mirror that replaces
 * it), and on each host every credential the kubelet found, most specific first. So:
 * - `present` as soon as any host answered present to anyone;
 * - `absent` only when the authoritative host (the original, or a replacing mirror) was asked by
 *   every credential the node would use, the answers that can be trusted all said "does not exist",
 *   and at least one such answer exists. A mirror's 404 is never proof (a pull-through cache
 *   answers 404 for what it has not cached while its upstream is down), nor is a 404 given to a
 *   request that went without the credentials it should have carried;
 * - anything else is the most telling failure;
 * - when the node's configuration refuses the registry (`blocked`), whatever its mirrors did not
 *   serve is `blocked`, never `absent`.
 */
import { type CheckStatus, type Classification } from './status.js';

/** The identity of an anonymous attempt. */
export const ANONYMOUS = 'anonymous';

/** One question to one host as one identity, and its answer. */
export interface Attempt {
  /** API host asked. */
  readonly host: string;
  /** This host has the last word on absence: the original registry, or a mirror that replaces it. */
  readonly authoritative: boolean;
  /** `anonymous`, or the (non-secret) id of the credential used. */
  readonly identity: string;
  readonly status: CheckStatus;
  readonly detail: string;
  /**
   * The answer is the one this identity's holder gets: its credentials were sent, or the registry
   * asked for none. False when the credentials could not be sent (its `/v2/` failed, say) and the
   * request went out without them.
   */
  readonly asIdentity: boolean;
  readonly retryAfterMs?: number;
}

export interface VerdictInput {
  readonly attempts: readonly Attempt[];
  /** A pull secret the workload names could not be read: then only `present` proves anything. */
  readonly credentialProblem?: string;
  /**
   * The node's configuration refuses the image's registry (and says why): the attempts are the
   * mirrors it may still try, if any. What none of them serves, the node cannot pull: `blocked`.
   */
  readonly blocked?: string;
}

export interface Verdict extends Classification {
  readonly retryAfterMs?: number;
}

/** Answers that say "this identity may not look", not "the image is not there". */
const REJECTIONS: ReadonlySet<CheckStatus> = new Set(['auth_failure', 'access_denied']);

function hostHasCredentials(attempts: readonly Attempt[], host: string): boolean {
  return attempts.some((a) => a.host === host && a.identity !== ANONYMOUS);
}

/** An answer of "does not exist" that a node pulling with this identity would get as well. */
function isTrustedAbsence(attempt: Attempt, attempts: readonly Attempt[]): boolean {
  if (attempt.status !== 'absent') return false;
  if (attempt.identity !== ANONYMOUS) return attempt.asIdentity;
  // Anonymous is what the node uses only when it has no credential for that host.
  return !hostHasCredentials(attempts, attempt.host);
}

/** Answers that say nothing either way and need not have: they do not stand in the way of absence. */
function isIrrelevant(attempt: Attempt, attempts: readonly Attempt[]): boolean {
  if (REJECTIONS.has(attempt.status)) return true;
  // The extra anonymous try after the node's credentials: the node itself would not make it.
  return attempt.identity === ANONYMOUS && hostHasCredentials(attempts, attempt.host);
}

/** An attempt that blocks absence, reported with a status that does not claim absence. */
function asFailure(attempt: Attempt): Verdict {
  if (attempt.status !== 'absent') return { status: attempt.status, detail: attempt.detail, retryAfterMs: attempt.retryAfterMs };
  return { status: 'registry_unavailable', detail: `${attempt.detail}, answered without the credentials (not proof of absence)` };
}

function describe(attempt: Attempt): string {
  return attempt.detail.startsWith(attempt.host) ? attempt.detail : `${attempt.host}: ${attempt.detail}`;
}

export function decideVerdict(input: VerdictInput): Verdict {
  const { blocked, attempts } = input;
  if (blocked === undefined) return judge(input);
  const present = attempts.find((a) => a.status === 'present');
  // Only mirrors were asked (none authoritative): what they said is told, but the registry is the reason.
  return present ? judge(input) : { status: 'blocked', detail: `${blocked}${mirrorNote(attempts)}` };
}

/** What the mirrors (the places without the last word) answered, for a verdict's detail. */
function mirrorNote(attempts: readonly Attempt[]): string {
  const mirrors = attempts.filter((a) => !a.authoritative);
  return mirrors.length > 0 ? `; mirrors: ${mirrors.map((a) => `${describe(a)} (${a.status})`).join(', ')}` : '';
}

/** The verdict on the places that may be asked. */
function judge({ attempts, credentialProblem }: VerdictInput): Verdict {
  const present = attempts.find((a) => a.status === 'present');
  if (present) return { status: 'present', detail: present.authoritative ? present.detail : `${present.detail} at mirror ${present.host}` };

  const mirrorsSaid = mirrorNote(attempts);
  const authoritative = attempts.filter((a) => a.authoritative);
  const first = authoritative[0] ?? attempts[0];
  if (!first) return { status: 'unknown_error', detail: 'no registry was asked' };

  if (credentialProblem) {
    // Without that secret's credentials a denial, or even a 404, may be about access, not existence.
    return { status: 'auth_failure', detail: `${credentialProblem}; registry: ${describe(first)}${mirrorsSaid}` };
  }

  const trusted = authoritative.filter((a) => isTrustedAbsence(a, attempts));
  const blocking = authoritative.filter((a) => !isTrustedAbsence(a, attempts) && !isIrrelevant(a, attempts));
  if (trusted.length > 0 && blocking.length === 0) {
    return { status: 'absent', detail: `${(trusted[0] as Attempt).detail}${mirrorsSaid}` };
  }
  // Nothing trusted said absent: report what stood in the way, else why the credentials failed.
  const telling = blocking[0] ?? authoritative.find((a) => REJECTIONS.has(a.status)) ?? first;
  const failure = asFailure(telling);
  return { ...failure, detail: `${failure.detail}${mirrorsSaid}` };
}
