/**
 * Maps what a registry did to a check status. Pure. This is the false-alert firewall: only an
 * answer in which the registry itself says the manifest or repository does not exist becomes
 * `absent`; everything else is some kind of "could not tell".
 */
import { networkReason } from './network-reason.js';
import { boundedText, MAX_REASON_CHARS } from '../utils/untrusted.js';

export const CHECK_STATUSES = [
  'present',
  'absent',
  'bad_reference',
  'blocked',
  'auth_failure',
  'access_denied',
  'rate_limited',
  'registry_unavailable',
  'unknown_error',
] as const;

export type CheckStatus = (typeof CHECK_STATUSES)[number];

/**
 * Problems first: absent (0), then what no node can pull either (1: an invalid reference, a
 * registry the node's configuration blocks), then could not tell (2; `undefined`, a check that
 * never finished, too), then present (3). `check`'s rows and summary and the status page's groups
 * are in this order.
 */
export function statusRank(status: CheckStatus | undefined): 0 | 1 | 2 | 3 {
  if (status === 'absent') return 0;
  if (status === 'bad_reference' || status === 'blocked') return 1;
  return status === 'present' ? 3 : 2;
}

/**
 * A node will not get this image: the registry says it does not exist, the reference is invalid,
 * or the node's configuration blocks its registry. (Only `absent` is about the registry's content.)
 */
export function failsPull(status: CheckStatus): boolean {
  return statusRank(status) <= 1;
}

/** The outcome of one image check. */
export interface CheckResult {
  readonly status: CheckStatus;
  /** Human-readable reason, safe to log (never contains credentials). */
  readonly detail: string;
  /** When the check finished (ms since epoch). */
  readonly checkedAt: number;
  /** How long to wait before asking this registry again, when it said so (429 Retry-After). */
  readonly retryAfterMs?: number;
  /** Of a present image: the digest of the manifest a node would pull, when the registry said it. */
  readonly digest?: string;
}

/** A result proves something about the image only when the registry said so. */
export function isProven(status: CheckStatus): status is 'present' | 'absent' {
  return status === 'present' || status === 'absent';
}

/** Error codes of the distribution spec that mean "this does not exist". */
const ABSENCE_CODES = new Set(['MANIFEST_UNKNOWN', 'NAME_UNKNOWN', 'TAG_INVALID_UNKNOWN']);

/** What we know about a registry's final answer to a manifest request. */
export interface ManifestAnswer {
  readonly httpStatus: number;
  /** `errors[].code` from a JSON error body (when one could be read). */
  readonly errorCodes: readonly string[];
  /** The response carried `Docker-Distribution-API-Version: registry/2.0`. */
  readonly speaksDistribution: boolean;
  /** `error=` of a Bearer challenge on a 401 (e.g. `insufficient_scope`). */
  readonly bearerError: string | undefined;
  /** A token was obtained for this very request and the registry still said 401. */
  readonly afterToken: boolean;
  /** Docker Hub answers 401 insufficient_scope, not 404, for a repository that does not exist. */
  readonly isDockerHub: boolean;
  /** Digest the reference pins, and the one the registry reported (if any). */
  readonly expectedDigest: string | undefined;
  readonly servedDigest: string | undefined;
  /** The request went over plain HTTP (--allow-plain-http). */
  readonly plainHttp?: boolean;
  /** The error body was longer than the exporter reads: what it said past that is unknown. */
  readonly bodyTruncated?: boolean;
}

export interface Classification {
  readonly status: CheckStatus;
  readonly detail: string;
}

export function classifyManifestAnswer(answer: ManifestAnswer): Classification {
  const { httpStatus: code } = answer;
  if (code >= 200 && code < 300) {
    if (answer.expectedDigest && answer.servedDigest && answer.servedDigest !== answer.expectedDigest) {
      return { status: 'unknown_error', detail: `registry answered digest ${answer.servedDigest} for ${answer.expectedDigest}` };
    }
    return { status: 'present', detail: `manifest found (HTTP ${code})` };
  }
  if (code === 404) {
    const known = answer.errorCodes.find((c) => ABSENCE_CODES.has(c));
    // A pinned digest is what was asked (and what nodes pull): "MANIFEST_UNKNOWN" alone reads as a missing tag.
    const pinned = answer.expectedDigest;
    if (known === 'MANIFEST_UNKNOWN' && pinned) {
      return { status: 'absent', detail: `the registry has no manifest with the pinned digest ${pinned}; nodes pull by digest, whatever the tag (${known})` };
    }
    if (known) return { status: 'absent', detail: `registry says ${known}` };
    // Codes unread are not "no codes": the error may say anything.
    if (answer.bodyTruncated) return { status: 'registry_unavailable', detail: 'registry answered 404 with an error document too large to read' };
    if (answer.speaksDistribution && answer.errorCodes.length === 0) {
      return { status: 'absent', detail: pinned ? `registry answered 404 for the pinned digest ${pinned}` : 'registry answered 404 for the manifest' };
    }
    return {
      status: 'registry_unavailable',
      detail:
        answer.errorCodes.length > 0
          ? `registry answered 404 with unexpected error codes ${boundedText(answer.errorCodes.join(','), MAX_REASON_CHARS)}`
          : 'HTTP 404 from a server that does not identify as a container registry',
    };
  }
  if (code === 401) {
    if (answer.isDockerHub && answer.afterToken && answer.bearerError === 'insufficient_scope') {
      return { status: 'absent', detail: 'Docker Hub denies the repository scope (repository does not exist or is private)' };
    }
    return { status: 'auth_failure', detail: `registry rejected the credentials (HTTP 401${answer.bearerError ? `, ${answer.bearerError}` : ''})` };
  }
  if (code === 403) return { status: 'access_denied', detail: 'registry denied access (HTTP 403)' };
  if (code === 429) return { status: 'rate_limited', detail: 'registry rate limit (HTTP 429)' };
  if (code >= 500) return { status: 'registry_unavailable', detail: `registry error (HTTP ${code})` };
  // What a TLS server (Go's, nginx) says to a request in plain HTTP; no registry says it.
  if (code === 400 && answer.plainHttp && !answer.speaksDistribution) {
    return { status: 'unknown_error', detail: 'HTTP 400 to a plain-HTTP request: a TLS port spoken to over plain HTTP? then remove it from --allow-plain-http' };
  }
  return { status: 'unknown_error', detail: `unexpected HTTP ${code} from registry` };
}

/** Node/undici error codes that mean the registry could not be reached at all. */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
  'UND_ERR_HEADERS_OVERFLOW',
  // TLS verification failures (OpenSSL's names, as Node reports them)
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * Codes of a host that did not answer in time. Only these hold a concurrency slot for long (a
 * refused connection fails at once), so only these count toward the host's circuit breaker.
 */
const SILENT = new Set([
  'EHOSTUNREACH',
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

export interface TransportFailure extends Classification {
  /** The host did not answer in time: its circuit breaker counts these. */
  readonly silent: boolean;
}

/** Classifies a transport failure (timeout, DNS, TCP, TLS), with the reason in plain words. Never `absent`. */
export function classifyTransportError(error: unknown): TransportFailure {
  const err = error as { name?: string; code?: string; message?: string; cause?: unknown };
  const code = err?.code ?? (err?.cause as { code?: string } | undefined)?.code;
  const failure = { name: err?.name, code: typeof code === 'string' ? code : undefined, message: String(err?.message ?? error) };
  const detail = networkReason(failure);
  if (err?.name === 'TimeoutError' || err?.name === 'AbortError') return { status: 'registry_unavailable', detail, silent: true };
  const silent = failure.code !== undefined && SILENT.has(failure.code);
  // undici's parser error (a truncated answer, or a port that does not speak HTTP) carries no code.
  if (err?.name === 'HTTPParserError') return { status: 'registry_unavailable', detail, silent };
  // HPE_*: the HTTP parser gave up on a broken or truncated response.
  if (failure.code && (UNREACHABLE.has(failure.code) || /^(ERR_TLS|ERR_SSL|HPE_)/.test(failure.code))) return { status: 'registry_unavailable', detail, silent };
  if (/certificate|ssl|tls|wrong version number/i.test(failure.message)) return { status: 'registry_unavailable', detail, silent };
  return { status: 'unknown_error', detail, silent };
}

/** `Retry-After` as milliseconds (delta-seconds or HTTP date); undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}
