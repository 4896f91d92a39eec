import { describe, expect, test } from 'vitest';
import { TokenCache, type Issued } from '../../src/credentials/providers/token-cache.js';
import { CredentialProviderError } from '../../src/registry/credentials.js';

function cache(fetch: (key: string) => Promise<Issued<string>>, clock: { now: number }, failures: string[] = []) {
  return new TokenCache<string, string>({
    fetch,
    retryFailedAfterMs: 1000,
    unexpected: (key) => `unexpected for ${key}`,
    onFailure: (key, error, { changed, kept }) => failures.push(`${key}:${error.message}:${changed}:${kept}`),
    now: () => clock.now,
  });
}

describe('the cloud providers\' token cache', () => {
  test('reused until due; concurrent callers share one fetch; keys apart', async () => {
    const clock = { now: 0 };
    let fetches = 0;
    const tokens = cache(async (key) => ({ value: `${key}-${++fetches}`, refreshAt: clock.now + 100 }), clock);
    expect(await Promise.all(Array.from({ length: 20 }, () => tokens.get('a')))).toEqual(Array(20).fill('a-1'));
    expect(await tokens.get('b')).toBe('b-2');
    clock.now = 99;
    expect(await tokens.get('a')).toBe('a-1');
    clock.now = 100;
    expect(await tokens.get('a')).toBe('a-3');
  });

  test('a failure is handed out until the retry time, then asked again; the same reason again is not "changed"', async () => {
    const clock = { now: 0 };
    const failures: string[] = [];
    let fetches = 0;
    const tokens = cache(async () => {
      fetches++;
      throw new CredentialProviderError('endpoint down');
    }, clock, failures);
    await expect(tokens.get('a')).rejects.toThrow('endpoint down');
    await expect(tokens.get('a')).rejects.toThrow('endpoint down');
    expect(fetches).toBe(1);
    clock.now = 1000;
    await expect(tokens.get('a')).rejects.toThrow('endpoint down');
    expect(fetches).toBe(2);
    expect(failures).toEqual(['a:endpoint down:true:false', 'a:endpoint down:false:false']);
  });

  test('a token due but not expired stays in use when renewing fails; other errors are reported as unexpected, with no detail', async () => {
    const clock = { now: 0 };
    const failures: string[] = [];
    let fail = false;
    const tokens = cache(async () => {
      if (fail) throw new Error('secret-ish internals');
      return { value: 'token', refreshAt: clock.now + 100, expiresAt: clock.now + 400 };
    }, clock, failures);
    expect(await tokens.get('a')).toBe('token');
    fail = true;
    clock.now = 150;
    expect(await tokens.get('a')).toBe('token');
    expect(failures).toEqual(['a:unexpected for a:true:true']);
    clock.now = 400;
    await expect(tokens.get('a')).rejects.toThrow('unexpected for a');
  });
});
