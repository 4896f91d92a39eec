import { describe, expect, test } from 'vitest';
import { ignoreMatcher } from '../../src/image/ignore.js';
import { parseImageReference } from '../../src/image/reference.js';
import { RecheckRounds } from '../../src/rechecks.js';
import { FAILURE_RETRY_MS, MAX_RETRY_AFTER_MS, ResultCache, timeToLive } from '../../src/result-cache.js';
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
    expect(timeToLive(result('rate_limited', { retryAfterMs: 1e9 }), policy)).toBe(MAX_RETRY_AFTER_MS);
  });
});

test('ResultCache expires entries', () => {
  let now = 1_000_000;
  const cache = new ResultCache({ checkIntervalMs: 1000, jitter: 0, random: () => 0 }, () => now);
  cache.set('a', result('present'));
  expect(cache.has('a')).toBe(true);
  now += 999;
  expect(cache.has('a')).toBe(true);
  now += 1;
  expect(cache.has('a')).toBe(false);
  expect(cache.size).toBe(0);
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

test('TokenCache: tokens expire a little before expires_in, keyed by host, scope and credential', async () => {
  const { TokenCache } = await import('../../src/registry/tokens.js');
  let now = 0;
  const tokens = new TokenCache(() => now);
  const anon = TokenCache.key('r.example.com', 'repository:a:pull', undefined);
  const cred = TokenCache.key('r.example.com', 'repository:a:pull', { id: 'secret:ns/s#r', username: 'u', password: 'p' });
  expect(anon).not.toBe(cred);
  expect(cred).not.toContain('p\n');
  tokens.set(anon, 'T', 60);
  now = 53_999;
  expect(tokens.get(anon)).toBe('T');
  expect(tokens.get(cred)).toBeUndefined();
  now = 54_000;
  expect(tokens.get(anon)).toBeUndefined();
});
