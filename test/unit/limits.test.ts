/** FairLimiter (fair shares of the concurrency bound) and HostGate (429 back-off, circuit breaker). */
import { describe, expect, test } from 'vitest';
import { FairLimiter } from '../../src/utils/fair-limiter.js';
import { BASE_COOLDOWN_MS, FAILURES_TO_OPEN, HostGate, MAX_COOLDOWN_MS } from '../../src/registry/host-gate.js';

/** A task that runs until released, recording how many of its key run at once. */
function controlled() {
  const running = new Map<string, number>();
  const peak = new Map<string, number>();
  const releases: Array<() => void> = [];
  const task = (key: string) => () =>
    new Promise<void>((resolve) => {
      running.set(key, (running.get(key) ?? 0) + 1);
      peak.set(key, Math.max(peak.get(key) ?? 0, running.get(key) as number));
      releases.push(() => {
        running.set(key, (running.get(key) as number) - 1);
        resolve();
      });
    });
  return { running, peak, releases, task };
}

describe('FairLimiter', () => {
  test('hosts that hold their slots cannot take the slots of hosts that come later', async () => {
    const limiter = new FairLimiter(32, 16);
    const { running, task, releases } = controlled();
    const all: Promise<void>[] = [];
    // Two hosts that never finish arrive first with far more work than the total bound.
    for (let i = 0; i < 100; i++) all.push(limiter.run('silent-a', task('silent-a')), limiter.run('silent-b', task('silent-b')));
    for (let i = 0; i < 50; i++) all.push(limiter.run('healthy', task('healthy')));
    await Promise.resolve();
    expect((running.get('silent-a') ?? 0) + (running.get('silent-b') ?? 0) + (running.get('healthy') ?? 0)).toBeLessThanOrEqual(32);
    expect(running.get('healthy')).toBeGreaterThan(0);
    // Finish everything: all tasks run, and no state is left behind.
    while (releases.length > 0) {
      releases.shift()?.();
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(all);
    expect(limiter.pending).toBe(0);
  });

  test('one host alone gets the per-host bound; the total bound always holds', async () => {
    const limiter = new FairLimiter(32, 16);
    const { peak, task, releases } = controlled();
    const all = Array.from({ length: 40 }, () => limiter.run('only', task('only')));
    await Promise.resolve();
    expect(peak.get('only')).toBe(16);
    while (releases.length > 0) {
      releases.shift()?.();
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(all);
    expect(peak.get('only')).toBe(16);
  });

  test('a task that throws, even synchronously, releases its slot', async () => {
    const limiter = new FairLimiter(1, 1);
    await expect(
      limiter.run('h', () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    await expect(limiter.run('h', async () => 'ok')).resolves.toBe('ok');
    expect(limiter.pending).toBe(0);
  });
});

describe('HostGate', () => {
  const silent = { status: 'registry_unavailable' as const, detail: 'h: registry request timed out', silent: true };
  const fine = { status: 'absent' as const, detail: 'ok', silent: false };

  test('a 429 closes the host for Retry-After, 60 s without one, 10 minutes at most', () => {
    let now = 0;
    const gate = new HostGate(() => now);
    gate.record('h', { status: 'rate_limited', detail: '429', retryAfterMs: 5000, silent: false });
    expect(gate.admit('h')).toMatchObject({ status: 'rate_limited', retryAfterMs: 5000 });
    now = 5000;
    expect(gate.admit('h')).toBeUndefined();
    gate.record('h', { status: 'rate_limited', detail: '429', silent: false });
    expect(gate.admit('h')?.retryAfterMs).toBe(60_000);
    gate.record('h', { status: 'rate_limited', detail: '429', retryAfterMs: 1e9, silent: false });
    expect(gate.admit('h')?.retryAfterMs).toBe(10 * 60_000);
  });

  test('timeouts in a row open the circuit; one probe after the cool-down; its failure doubles it, success closes it', () => {
    let now = 0;
    const gate = new HostGate(() => now);
    for (let i = 1; i < FAILURES_TO_OPEN; i++) {
      gate.record('h', silent);
      expect(gate.admit('h')).toBeUndefined();
    }
    gate.record('h', silent);
    expect(gate.admit('h')).toMatchObject({ status: 'registry_unavailable', detail: expect.stringContaining('not asked') });
    // Answers of requests sent before it opened do not extend it.
    gate.record('h', silent);
    now = BASE_COOLDOWN_MS;
    expect(gate.admit('h')).toBeUndefined(); // the probe
    expect(gate.admit('h')?.status).toBe('registry_unavailable'); // others wait for its answer
    gate.record('h', silent);
    expect(gate.admit('h')?.retryAfterMs).toBe(2 * BASE_COOLDOWN_MS);
    // Doubling stops at the maximum.
    for (let i = 0; i < 10; i++) {
      now += MAX_COOLDOWN_MS;
      expect(gate.admit('h')).toBeUndefined();
      gate.record('h', silent);
    }
    expect(gate.admit('h')?.retryAfterMs).toBe(MAX_COOLDOWN_MS);
    now += MAX_COOLDOWN_MS;
    expect(gate.admit('h')).toBeUndefined();
    gate.record('h', fine);
    expect(gate.admit('h')).toBeUndefined();
    expect(gate.admit('h')).toBeUndefined();
  });

  test('answers that are not silence (a refused connection, a 500) never open it', () => {
    const gate = new HostGate(() => 0);
    for (let i = 0; i < 10; i++) gate.record('h', { status: 'registry_unavailable', detail: 'ECONNREFUSED', silent: false });
    expect(gate.admit('h')).toBeUndefined();
  });
});
