import { describe, expect, test } from 'vitest';
import { ignoreMatcher } from '../../src/image/ignore.js';
import { parseImageReference } from '../../src/image/reference.js';
import { RecheckRounds } from '../../src/engine/rechecks.js';
import { CheckStates, FAILURE_RETRY_MS, PROVEN_FRESH_INTERVALS, timeToLive } from '../../src/engine/check-states.js';
import { MAX_BACKOFF_MS } from '../../src/registry/host-gate.js';
import { ExpiringMap } from '../../src/utils/expiring-map.js';
import { tokenCacheKey, tokenLifetimeMs } from '../../src/registry/tokens.js';
import type { CheckResult } from '../../src/registry/status.js';

describe('ignoreMatcher', () => {
  const ignore = ignoreMatcher(['nginx', 'registry.example.com/team/*', 'docker.io/library/redis:7', 'not a ref']);
  test.each([
    ['nginx', true],
    ['docker.io/library/nginx:latest', true],
    ['nginx:1.25', false],
    ['registry.example.com/team/app:1', true],
    ['registry.example.com/team/sub/app', true],
    ['registry.example.com/other/app', false],
    ['redis:7', true],
    ['redis:6', false],
    ['not a ref', true],
  ])('%s → %s', (image, expected) => {
    let ref;
    try {
      ref = parseImageReference(image);
    } catch {
      ref = undefined;
    }
    expect(ignore(image, ref)).toBe(expected);
  });

  test('no patterns ignore nothing', () => {
    expect(ignoreMatcher([])('anything')).toBe(false);
  });

  test('"*" matches any run of characters, line breaks included (a RegExp\'s "." stopped at them)', () => {
    expect(ignoreMatcher(['bad*ref'])('bad\nref')).toBe(true);
    expect(ignoreMatcher(['*.example.com/*'])('x.example.com/\u2028app')).toBe(true);
  });

  test('a pattern with several "*" costs linear time on a long image it does not match', () => {
    const started = performance.now();
    expect(ignoreMatcher(['*a*b*c'])(`${'a'.repeat(100_000)}c`)).toBe(false);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

const result = (status: CheckResult['status'], extra: Partial<CheckResult> = {}): CheckResult => ({
  status,
  detail: '',
  checkedAt: 1_000_000,
  ...extra,
});

describe('timeToLive', () => {
  const policy = { checkIntervalMs: 300_000, jitter: 0.1, random: () => 0.5 };
  test('proven results live the interval minus jitter', () => {
    expect(timeToLive(result('present'), policy)).toBe(285_000);
    expect(timeToLive(result('absent'), { ...policy, random: () => 0 })).toBe(300_000);
    expect(timeToLive(result('absent'), { ...policy, random: () => 0.999 })).toBeGreaterThan(270_000);
  });
  test('failures are retried sooner', () => {
    expect(timeToLive(result('registry_unavailable'), policy)).toBe(FAILURE_RETRY_MS);
    expect(timeToLive(result('auth_failure'), { ...policy, checkIntervalMs: 5000 })).toBe(5000);
  });
  test('Retry-After is honoured but bounded', () => {
    expect(timeToLive(result('rate_limited', { retryAfterMs: 120_000 }), policy)).toBe(120_000);
    expect(timeToLive(result('rate_limited', { retryAfterMs: 1 }), policy)).toBe(FAILURE_RETRY_MS);
    expect(timeToLive(result('rate_limited', { retryAfterMs: 1e9 }), policy)).toBe(MAX_BACKOFF_MS);
  });
});

describe('CheckStates: one record per image check', () => {
  test('fresh for the interval, then p-memoize runs the check again', () => {
    let now = 1_000_000;
    const states = new CheckStates({ checkIntervalMs: 1000, jitter: 0, random: () => 0 }, () => now);
    states.set('a', result('present', { checkedAt: now }));
    expect(states.has('a')).toBe(true);
    now += 999;
    expect(states.has('a')).toBe(true);
    now += 1;
    expect(states.has('a')).toBe(false);
    // Stale, but still known: served while the recheck runs.
    expect(states.latest('a')?.status).toBe('present');
  });

  test('the last proven answer stands in for failures for two intervals, no longer', () => {
    let now = 1_000_000;
    const states = new CheckStates({ checkIntervalMs: 1000, jitter: 0, random: () => 0 }, () => now);
    states.set('a', result('absent', { checkedAt: now }));
    now += 1000;
    states.set('a', result('registry_unavailable', { checkedAt: now }));
    expect(states.latest('a')?.status).toBe('registry_unavailable');
    expect(states.lastProven('a')?.status).toBe('absent');
    now = 1_000_000 + PROVEN_FRESH_INTERVALS * 1000 + 1;
    expect(states.lastProven('a')).toBeUndefined();
  });

  test('completion order, and pruning of what no scrape references', () => {
    let now = 1_000_000;
    const states = new CheckStates({ checkIntervalMs: 1000, jitter: 0, random: () => 0 }, () => now);
    states.set('a', result('present', { checkedAt: now }));
    states.set('b', result('present', { checkedAt: now }));
    expect([states.finishedSeq('a'), states.finishedSeq('b'), states.latestSeq]).toEqual([1, 2, 2]);
    now += PROVEN_FRESH_INTERVALS * 1000 + 1;
    states.prune(new Set(['a']));
    expect(states.latest('a')).toBeDefined();
    expect(states.latest('b')).toBeUndefined();
    expect(states.size).toBe(1);
  });
});

test('ExpiringMap: entries live their TTL (fixed, per value, or per set), prune drops the dead', () => {
  let now = 0;
  const map = new ExpiringMap<string, number>({ ttlMs: (v) => v, now: () => now });
  map.set('short', 10).set('long', 100).set('explicit', 1, 50);
  now = 10;
  expect(map.get('short')).toBeUndefined();
  expect(map.has('long')).toBe(true);
  // The explicit TTL (50), not the value's (1).
  now = 49;
  expect(map.get('explicit')).toBe(1);
  now = 60;
  expect(map.size).toBe(2);
  map.prune();
  expect(map.size).toBe(1);
  expect(map.get('long')).toBe(100);
});

test("ExpiringMap: 'touch' drops the least recently read first; 'extend' keeps an entry while it is read", () => {
  let now = 0;
  const touched = new ExpiringMap<string, number>({ ttlMs: Infinity, onRead: 'touch', maxEntries: 2 });
  touched.set('a', 1).set('b', 2);
  expect(touched.get('a')).toBe(1);
  touched.set('c', 3);
  expect([...touched.live()].map(([k]) => k)).toEqual(['a', 'c']);
  const kept = new ExpiringMap<string, number>({ ttlMs: Infinity, maxEntries: 2 });
  kept.set('a', 1).set('b', 2);
  kept.get('a');
  kept.set('c', 3); // 'keep': set first, gone first
  expect([...kept.live()].map(([k]) => k)).toEqual(['b', 'c']);
  const sliding = new ExpiringMap<string, number>({ ttlMs: 100, onRead: 'extend', now: () => now });
  sliding.set('used', 1).set('idle', 2);
  for (now = 90; now < 500; now += 90) expect(sliding.get('used')).toBe(1);
  expect(sliding.peek('idle')).toBeUndefined();
  expect(sliding.peek('used')).toBe(1);
  now += 100; // peek is not a use
  expect(sliding.get('used')).toBeUndefined();
});

test('RecheckRounds completes when every referenced image was checked since the round began', () => {
  let latest = 0;
  const finished = new Map<string, number>();
  const finish = (key: string) => finished.set(key, ++latest);
  const rounds = new RecheckRounds(() => latest);
  const at = (k: string) => finished.get(k);
  expect(rounds.observe([], at)).toBe(false);
  finish('a');
  expect(rounds.observe(['a', 'b'], at)).toBe(false);
  finish('b');
  expect(rounds.observe(['a', 'b'], at)).toBe(true);
  expect(rounds.count).toBe(1);
  // A concurrent scrape ending right after (same millisecond, same results) is not another round.
  expect(rounds.observe(['a', 'b'], at)).toBe(false);
  finish('a');
  expect(rounds.observe(['a', 'b'], at)).toBe(false);
  finish('b');
  expect(rounds.observe(['a', 'b'], at)).toBe(true);
  expect(rounds.count).toBe(2);
});

test('token cache: tokens live a little less than expires_in; keys name the credential, never its secret', () => {
  const secret = 'pa55-w0rd';
  const credential = { id: 'secret:ns/s#r.example.com', username: 'robot', password: secret };
  const anon = tokenCacheKey('r.example.com', 'repository:a:pull', undefined);
  const cred = tokenCacheKey('r.example.com', 'repository:a:pull', credential);
  expect(anon).not.toBe(cred);
  expect(cred).toContain(credential.id);
  expect(cred).not.toContain(secret);
  expect(cred).not.toContain(Buffer.from(`robot:${secret}`).toString('base64'));
  expect(tokenLifetimeMs(60)).toBe(54_000);
  expect(tokenLifetimeMs(3600)).toBe(3_590_000);
  let now = 0;
  const tokens = new ExpiringMap<string, string>({ ttlMs: 60_000, now: () => now });
  tokens.set(anon, 'T', tokenLifetimeMs(60));
  now = 53_999;
  expect(tokens.get(anon)).toBe('T');
  expect(tokens.get(cred)).toBeUndefined();
  now = 54_000;
  expect(tokens.get(anon)).toBeUndefined();
});

describe('Refreshing: stale-while-revalidate', () => {
  test('serves the newest value; reloads once when too old; waits only for the first load; keeps the last good value on failure', async () => {
    const { Refreshing } = await import('../../src/utils/refreshing.js');
    let now = 0;
    let loads = 0;
    let fail = false;
    let release: (() => void) | undefined;
    const errors: unknown[] = [];
    const refreshing = new Refreshing(
      async (key: string) => {
        loads++;
        await new Promise<void>((resolve) => (release = resolve));
        if (fail) throw new Error('down');
        return `${key}@${now}`;
      },
      { freshMs: 1000, now: () => now, onError: (_key, error) => errors.push(error) },
    );
    // First load: waited for.
    const first = refreshing.get('a');
    await Promise.resolve();
    release?.();
    expect((await first)?.value).toBe('a@0');
    // Fresh: no load.
    now = 999;
    expect((await refreshing.get('a'))?.value).toBe('a@0');
    expect(loads).toBe(1);
    // Stale: served at once, one reload for any number of callers.
    now = 1000;
    const [x, y] = await Promise.all([refreshing.get('a'), refreshing.get('a')]);
    expect([x?.value, y?.value]).toEqual(['a@0', 'a@0']);
    expect(loads).toBe(2);
    expect(refreshing.isLoading('a')).toBe(true);
    release?.();
    await new Promise((r) => setImmediate(r));
    expect((await refreshing.get('a'))?.value).toBe('a@1000');
    // A failed reload keeps the last good value, marked failed.
    now = 2500;
    fail = true;
    await refreshing.get('a');
    release?.();
    await new Promise((r) => setImmediate(r));
    expect(await refreshing.get('a')).toMatchObject({ value: 'a@1000', failed: true });
    expect(errors).toHaveLength(1);
    // Never loaded and past the deadline: undefined, the load goes on.
    expect(await refreshing.get('b', now)).toBeUndefined();
    expect(refreshing.isLoading('b')).toBe(true);
  });

  test('prune forgets keys nobody asked for in idleMs', async () => {
    const { Refreshing } = await import('../../src/utils/refreshing.js');
    let now = 0;
    const loaded: string[] = [];
    const refreshing = new Refreshing(async (key: string) => (loaded.push(key), key), { freshMs: 100_000, idleMs: 5000, now: () => now });
    await refreshing.get('old');
    now = 10_000;
    await refreshing.get('recent');
    now = 12_000;
    refreshing.prune();
    // 'recent' is still held (fresh, no load); 'old' was forgotten and is loaded again.
    await refreshing.get('recent');
    await refreshing.get('old');
    expect(loaded).toEqual(['old', 'recent', 'old']);
  });

  test('bounded: past maxEntries or maxWeight the least recently asked for go, however fresh', async () => {
    const { Refreshing } = await import('../../src/utils/refreshing.js');
    const loaded: string[] = [];
    const refreshing = new Refreshing(async (key: string) => (loaded.push(key), key.repeat(2)), {
      freshMs: Infinity,
      maxEntries: 3,
      maxWeight: 10,
      weigh: (_key, value) => value.length,
    });
    for (const key of ['a', 'b', 'c']) await refreshing.get(key);
    expect(refreshing.held('a')?.value).toBe('aa'); // asked for: now the most recent
    await refreshing.get('d'); // a fourth key: 'b' goes
    expect(refreshing.kept()).toEqual({ keys: 3, weight: 6 });
    expect(refreshing.held('b')).toBeUndefined();
    await refreshing.get('eeee'); // weighs 8: 'c' and 'a' go (10 is the bound), however recent
    expect(refreshing.kept()).toEqual({ keys: 2, weight: 10 });
    expect(refreshing.held('a')).toBeUndefined();
    expect(refreshing.held('d')?.value).toBe('dd');
    expect(loaded).toEqual(['a', 'b', 'c', 'd', 'eeee']);
  });

  test("'wait': callers wait for a due value's reload, fall back on it while usable when the reload fails, and a failure is held", async () => {
    const { Refreshing } = await import('../../src/utils/refreshing.js');
    let now = 0;
    let fail = false;
    let loads = 0;
    const refreshing = new Refreshing(
      async (key: string) => {
        loads++;
        if (fail) throw new Error('down');
        return `${key}@${now}`;
      },
      { whenDue: 'wait', freshMs: 100, usableMs: () => 400, holdFailureMs: 50, now: () => now },
    );
    expect((await refreshing.get('a'))?.value).toBe('a@0');
    now = 100;
    expect((await refreshing.get('a'))?.value).toBe('a@100'); // waited for: the new value, not the due one
    fail = true;
    now = 200;
    expect(await refreshing.get('a')).toMatchObject({ value: 'a@100', failed: true });
    now = 249;
    expect(await refreshing.get('a')).toMatchObject({ value: 'a@100', failed: true });
    expect(loads).toBe(3); // held: no load in the 50 ms after a failure
    now = 500; // past usable: the failure is all there is
    expect(await refreshing.get('a')).toBeUndefined();
    expect(refreshing.failure('a')).toMatchObject({ message: 'down' });
    expect(loads).toBe(4);
  });
});
