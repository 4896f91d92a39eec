/**
 * Decides whether a registry host may be asked now, from what it answered before:
 * - a 429 closes it for its Retry-After (60 s without one, at most 10 minutes);
 * - a host that keeps timing out is a circuit breaker: after a few failures
 *   in a row it is not asked for a cool-down (30 s, doubling up to 5 minutes while it stays down),
 *   then one probe goes through; its answer closes or reopens the circuit.
 * Checks of a closed host fail fast instead of holding concurrency slots for a whole timeout.
 */
import { ExpiringMap } from '../utils/expiring-map.js';
import type { Classification } from './status.js';

/** A 429 without Retry-After backs the host off this long. */
export const DEFAULT_BACKOFF_MS = 60_000;
/** Never wait longer than this for a registry that asked us to back off. */
export const MAX_BACKOFF_MS = 10 * 60_000;
/** Failures in a row that open the circuit. */
export const FAILURES_TO_OPEN = 3;
export const BASE_COOLDOWN_MS = 30_000;
export const MAX_COOLDOWN_MS = 5 * 60_000;

export interface Refusal extends Classification {
  readonly retryAfterMs: number;
}

/** What the host answered, as far as the gate cares. */
export interface HostOutcome {
  readonly status: Classification['status'];
  readonly detail: string;
  readonly retryAfterMs?: number;
  readonly silent: boolean;
}

interface HostState {
  readonly kind: 'rate_limited' | 'silent';
  /** Failures in a row (silent only). */
  readonly failures: number;
  readonly lastReason: string;
  /** Not asked before this time (0: closed, still counting failures). */
  readonly closedUntil: number;
  readonly cooldownMs: number;
  /** A probe is out after a cool-down; other checks wait for its answer. */
  readonly probing: boolean;
}

export class HostGate {
  private readonly hosts: ExpiringMap<string, HostState>;
  private readonly now: () => number;

  constructor(now: () => number = Date.now) {
    this.now = now;
    // A host quiet for this long starts afresh.
    this.hosts = new ExpiringMap({ ttlMs: 2 * MAX_BACKOFF_MS, now });
  }

  /** Undefined when the host may be asked now; otherwise why not, to report instead of asking. */
  admit(host: string): Refusal | undefined {
    const state = this.hosts.get(host);
    if (!state) return undefined;
    const now = this.now();
    const until = new Date(state.closedUntil).toISOString();
    if (state.kind === 'rate_limited') {
      if (state.closedUntil <= now) return undefined;
      return { status: 'rate_limited', detail: `${host}: backing off after HTTP 429 until ${until}`, retryAfterMs: state.closedUntil - now };
    }
    if (state.failures < FAILURES_TO_OPEN) return undefined;
    if (state.closedUntil <= now && !state.probing) {
      this.hosts.set(host, { ...state, probing: true });
      return undefined;
    }
    return {
      status: 'registry_unavailable',
      detail: `${host}: not asked: ${state.failures} requests in a row failed (last: ${state.lastReason}); next try after ${until}`,
      retryAfterMs: Math.max(0, state.closedUntil - now),
    };
  }

  record(host: string, outcome: HostOutcome): void {
    const now = this.now();
    if (outcome.status === 'rate_limited') {
      const backoff = Math.min(outcome.retryAfterMs ?? DEFAULT_BACKOFF_MS, MAX_BACKOFF_MS);
      this.hosts.set(host, { kind: 'rate_limited', failures: 0, lastReason: outcome.detail, closedUntil: now + backoff, cooldownMs: 0, probing: false });
      return;
    }
    if (!outcome.silent) {
      this.hosts.delete(host);
      return;
    }
    const previous = this.hosts.get(host);
    const state = previous?.kind === 'silent' ? previous : undefined;
    const failures = (state?.failures ?? 0) + 1;
    const open = state !== undefined && state.closedUntil > now;
    if (open || failures < FAILURES_TO_OPEN) {
      // Answers of requests sent before the circuit opened do not extend it.
      this.hosts.set(host, { kind: 'silent', failures, lastReason: outcome.detail, closedUntil: state?.closedUntil ?? 0, cooldownMs: state?.cooldownMs ?? 0, probing: state?.probing ?? false });
      return;
    }
    const cooldownMs = state?.probing ? Math.min(state.cooldownMs * 2, MAX_COOLDOWN_MS) : BASE_COOLDOWN_MS;
    this.hosts.set(host, { kind: 'silent', failures, lastReason: outcome.detail, closedUntil: now + cooldownMs, cooldownMs, probing: false });
  }

  /** Forgets hosts quiet for long enough. */
  prune(): void {
    this.hosts.prune();
  }
}
