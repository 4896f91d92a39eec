/**
 * Pull-secret key matching under hostile keys: `*` globs without backtracking, keys parsed once into
 * a keyring, the kubelet's documented examples and today's order of credentials.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { CredentialChain, MAX_CREDENTIALS_PER_IMAGE } from '../../src/credentials/credential-chain.js';
import { compileGlob, globMatches } from '../../src/utils/glob.js';
import { Keyring, matchInOrder } from '../../src/credentials/keyring.js';
import { bySpecificity, keyMatches, MAX_KEY_LENGTH, parseKey, targetOf } from '../../src/credentials/matching.js';
import { parseImageReference } from '../../src/image/reference.js';

const ref = (image: string) => parseImageReference(image);
const run = promisify(execFile);
const module = (path: string) => JSON.stringify(fileURLToPath(new URL(`../../src/${path}`, import.meta.url)));

/**
 * Runs `body` in a child process that must print its answer within `ms`. A synchronous spin cannot
 * be interrupted by vitest's timeout, so a regression here fails the test instead of hanging it.
 */
async function answerWithin(ms: number, body: string): Promise<string> {
  const source = [
    `import { keyMatches, parseKey } from ${module('credentials/matching.ts')};`,
    `import { parseImageReference } from ${module('image/reference.ts')};`,
    body,
  ].join('\n');
  try {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', source], {
      timeout: ms,
      killSignal: 'SIGKILL',
    });
    return stdout.trim();
  } catch (error) {
    const { killed, stderr } = error as { killed?: boolean; stderr?: string };
    throw new Error(killed ? `no answer within ${ms} ms` : `child failed: ${stderr}`);
  }
}

/** Obviously right and slow: does `pattern` (`*` = any run) match all of `text`? Dynamic programming. */
function referenceGlob(pattern: string, text: string): boolean {
  // can[j]: pattern[0..i) matches text[0..j)
  let can = Array.from({ length: text.length + 1 }, (_, j) => j === 0);
  for (const c of pattern) {
    const next = new Array<boolean>(text.length + 1).fill(false);
    for (let j = 0; j <= text.length; j++) {
      if (c === '*') next[j] = (can[j] as boolean) || (j > 0 && (next[j - 1] as boolean));
      else next[j] = j > 0 && (can[j - 1] as boolean) && text[j - 1] === c;
    }
    can = next;
  }
  return can[text.length] as boolean;
}

describe('wildcards cannot make matching spin', () => {
  // The old matcher built /^[^.]*a[^.]*a…b$/ and backtracked through every way of placing the
  // `a`s: with 40 of them against 60 characters it never returned.
  test.each([40, 60])('a label of %i "*a" pieces then "b" against a long label of "a"s answers false at once', async (pieces) => {
    const key = `${'*a'.repeat(pieces)}b.example.com`;
    const image = `${'a'.repeat(100)}.example.com/team/app:1`; // the parser takes labels longer than DNS does
    const answer = await answerWithin(
      10_000,
      `console.log(keyMatches(parseKey(${JSON.stringify(key)}), parseImageReference(${JSON.stringify(image)})));`,
    );
    expect(answer).toBe('false');
    // And in this process, a thousand times over: backtracking would take far past the test timeout.
    const pattern = parseKey(key)!;
    for (let i = 0; i < 1000; i++) expect(keyMatches(pattern, ref(image))).toBe(false);
  }, 20_000);

  test('a key of a million trailing slashes is refused at once', async () => {
    // /\/+$/ retried from every slash: quadratic, minutes for a key the size of a Secret.
    const answer = await answerWithin(10_000, `console.log(parseKey('h' + '/'.repeat(1_000_000) + 'x') === undefined);`);
    expect(answer).toBe('true');
  }, 20_000);

  test('the glob agrees with a reference implementation', () => {
    const pattern = fc.string({ unit: fc.constantFrom('a', 'b', '*'), maxLength: 10 });
    const text = fc.string({ unit: fc.constantFrom('a', 'b'), maxLength: 12 });
    fc.assert(
      fc.property(pattern, text, (p, t) => {
        expect(globMatches(compileGlob(p), t)).toBe(referenceGlob(p, t));
      }),
      { numRuns: 5000 },
    );
  });

  test('host labels match like the reference glob, label by label', () => {
    const label = fc.string({ unit: fc.constantFrom('a', 'b', '*'), minLength: 1, maxLength: 8 });
    const text = fc.string({ unit: fc.constantFrom('a', 'b'), minLength: 1, maxLength: 10 });
    fc.assert(
      fc.property(label, text, label, text, (p1, t1, p2, t2) => {
        const pattern = parseKey(`${p1}.${p2}.example`)!;
        expect(keyMatches(pattern, ref(`${t1}.${t2}.example/app`))).toBe(referenceGlob(p1, t1) && referenceGlob(p2, t2));
      }),
      { numRuns: 3000 },
    );
  });
});

describe('the kubelet documentation examples', () => {
  test.each([
    ['*.kubernetes.io', 'kubernetes.io/app', false],
    ['*.kubernetes.io', 'abc.kubernetes.io/app', true],
    ['*.kubernetes.io', 'abc.def.kubernetes.io/app', false],
    ['*.*.kubernetes.io', 'abc.kubernetes.io/app', false],
    ['*.*.kubernetes.io', 'abc.def.kubernetes.io/app', true],
    ['prefix.*.io', 'prefix.kubernetes.io/app', true],
    ['*-good.kubernetes.io', 'prefix-good.kubernetes.io/app', true],
    ['*-good.kubernetes.io', 'prefix-bad.kubernetes.io/app', false],
    ['my-registry.io/images', 'my-registry.io/images', true],
    ['my-registry.io/images', 'my-registry.io/images/my-image', true],
    ['my-registry.io/images', 'my-registry.io/images/another-image', true],
    ['*.my-registry.io/images', 'sub.my-registry.io/images/my-image', true],
    ['*.my-registry.io/images', 'a.sub.my-registry.io/images/my-image', false],
    ['*.my-registry.io/images', 'a.b.sub.my-registry.io/images/my-image', false],
    ['my-registry.io/images', 'my-registry.io/imagesx/app', false],
    ['my-registry.io:5000', 'my-registry.io:5000/app', true],
    ['my-registry.io:5000', 'my-registry.io:5001/app', false],
    ['my-registry.io:5000', 'my-registry.io/app', false],
    ['*.my-registry.io:5000/team', 'eu.my-registry.io:5000/team/app', true],
    ['*.my-registry.io:5000/team', 'eu.my-registry.io/team/app', false],
    ['https://*.my-registry.io/v2/', 'eu.my-registry.io/app', false], // only Docker Hub's /v1/, /v2/ mean the whole registry
    ['**.my-registry.io', 'eu.my-registry.io/app', true],
    ['e*u*.my-registry.io', 'europe.my-registry.io/app', true],
  ])('%s applies to %s: %s', (key, image, expected) => {
    expect(keyMatches(parseKey(key)!, ref(image))).toBe(expected);
  });

  test('both paths of one registry apply, the deeper first', () => {
    const keyring = Keyring.of([
      { key: 'my-registry.io/images', n: 1 },
      { key: 'my-registry.io/images/subpath', n: 2 },
    ]);
    expect(keyring.match(ref('my-registry.io/images/subpath/my-image')).map((e) => e.n)).toEqual([2, 1]);
  });
});

describe('keys refused when read', () => {
  test(`longer than ${MAX_KEY_LENGTH} characters`, () => {
    const path = 'a/'.repeat(MAX_KEY_LENGTH);
    expect(parseKey(`registry.example.com/${path.slice(0, MAX_KEY_LENGTH - 'registry.example.com/'.length)}`)).toBeDefined();
    expect(parseKey(`registry.example.com/${path.slice(0, MAX_KEY_LENGTH - 'registry.example.com/'.length + 1)}`)).toBeUndefined();
  });

  test('a label with more than 63 literal characters (no DNS label is longer); runs of * count once', () => {
    expect(parseKey(`${'a'.repeat(63)}.example.com`)).toBeDefined();
    expect(parseKey(`${'a'.repeat(64)}.example.com`)).toBeUndefined();
    expect(parseKey(`${'*a'.repeat(63)}.example.com`)).toBeDefined();
    expect(parseKey(`${'*a'.repeat(64)}.example.com`)).toBeUndefined();
    const stars = parseKey(`${'*'.repeat(1000)}.example.com`)!;
    expect(keyMatches(stars, ref('anything.example.com/app'))).toBe(true);
    expect(stars.hostPort).toBe('*.example.com');
  });

  test('a keyring counts the keys it refused and never matches them', () => {
    const keyring = Keyring.of([{ key: 'not a host' }, { key: `${'a'.repeat(64)}.example.com` }, { key: 'registry.example.com' }]);
    expect(keyring.rejected).toBe(2);
    expect(keyring.match(ref('registry.example.com/app'))).toEqual([{ key: 'registry.example.com' }]);
  });
});

/** The order the kubelet-style lookup has always produced: filter, then a stable sort by specificity. */
function referenceOrder<T extends { key: string }>(entries: readonly T[], image: string): T[] {
  const matched = entries.flatMap((entry) => {
    const pattern = parseKey(entry.key);
    return pattern && keyMatches(pattern, ref(image)) ? [{ entry, pattern }] : [];
  });
  return matched.sort((a, b) => bySpecificity(a.pattern, b.pattern)).map((m) => m.entry);
}

describe('order of credentials', () => {
  const hosts = ['registry.example.com', 'REGISTRY.example.com', '*.example.com', 'registry.*.com', '*.*.*', 'other.example.com'];
  const keyArb = fc
    .tuple(
      fc.constantFrom('', 'https://', 'http://'),
      fc.constantFrom(...hosts),
      fc.constantFrom('', ':5000'),
      fc.constantFrom('', '/team', '/team/app', '/team/', '/other', '/te'),
    )
    .map(([scheme, host, port, path]) => `${scheme}${host}${port}${path}`);
  const images = ['registry.example.com/team/app:1', 'registry.example.com:5000/team/app', 'x.example.com/team/y', 'registry.example.com/other'];

  test('a keyring answers what filtering every entry and sorting stably answers', () => {
    fc.assert(
      fc.property(fc.array(keyArb, { maxLength: 25 }), fc.constantFrom(...images), (keys, image) => {
        const entries = keys.map((key, n) => ({ key, n }));
        expect(Keyring.of(entries).match(ref(image))).toEqual(referenceOrder(entries, image));
      }),
      { numRuns: 2000 },
    );
  });

  test('several secrets answer like their entries concatenated', () => {
    fc.assert(
      fc.property(fc.array(fc.array(keyArb, { maxLength: 8 }), { maxLength: 4 }), fc.constantFrom(...images), (secrets, image) => {
        let n = 0;
        const rings = secrets.map((keys) => keys.map((key) => ({ key, n: n++ })));
        expect(matchInOrder(rings.map((r) => Keyring.of(r)), targetOf(ref(image)))).toEqual(referenceOrder(rings.flat(), image));
      }),
      { numRuns: 1000 },
    );
  });

  test('more path components first, then fewer wildcards, then order of appearance', () => {
    const entries = [
      { key: '*.example.com', n: 1 },
      { key: 'registry.example.com', n: 2 },
      { key: '*.example.com/team/app', n: 3 },
      { key: 'registry.example.com/team', n: 4 },
      { key: 'https://registry.example.com/', n: 5 },
      { key: 'registry.*.*/team', n: 6 },
      { key: 'registry.*.com/team', n: 7 },
    ];
    expect(Keyring.of(entries).match(ref('registry.example.com/team/app:1')).map((e) => e.n)).toEqual([3, 4, 7, 6, 2, 5, 1]);
  });

  test("a workload's secrets first, most specific first, then --docker-config's, most specific first", () => {
    const cred = (key: string, id: string) => ({ key, id, username: 'u', password: `p-${id}` });
    const first = Keyring.of([cred('*.example.com', 'a1'), cred('registry.example.com', 'a2')]);
    const second = Keyring.of([cred('registry.example.com/team', 'b1'), cred('registry.example.com', 'b2')]);
    const node = Keyring.of([cred('*.example.com', 'n1'), cred('registry.example.com/team', 'n2')]);
    const chain = new CredentialChain([first, second], node, 'pull secret ns/x not found');
    const found = chain.lookup(ref('registry.example.com/team/app:1'));
    expect(found.credentials.map((c) => c.id)).toEqual(['b1', 'a2', 'b2', 'a1', 'n2', 'n1']);
    expect(found.problem).toBe('pull secret ns/x not found');
    // Another tag of the same repository is the same question: answered from memory.
    expect(chain.lookup(ref('registry.example.com/team/app:2'))).toBe(found);
    expect(chain.lookup(ref('registry.example.com/other/app:1')).credentials.map((c) => c.id)).toEqual(['a2', 'b2', 'a1', 'n1']);
  });
});

describe('a secret with thousands of matching keys', () => {
  const refOf = ref('registry.example.com/team/app:1');
  test('identical username/password pairs are tried once (they get identical answers)', () => {
    const same = Keyring.of(Array.from({ length: 1000 }, (_, i) => ({ key: `scheme${i}://registry.example.com`, id: `k${i}`, username: 'u', password: 'p' })));
    const found = new CredentialChain([same], Keyring.empty()).lookup(refOf);
    expect(found.credentials.map((c) => c.id)).toEqual(['k0']);
    expect(found.problem).toBeUndefined();
  });

  test(`at most ${MAX_CREDENTIALS_PER_IMAGE} distinct credentials are tried; then absence cannot be proven`, () => {
    const many = Keyring.of(Array.from({ length: 1000 }, (_, i) => ({ key: `scheme${i}://registry.example.com`, id: `k${i}`, username: 'u', password: `p${i}` })));
    const found = new CredentialChain([many], Keyring.empty()).lookup(refOf);
    expect(found.credentials.map((c) => c.id)).toEqual(Array.from({ length: MAX_CREDENTIALS_PER_IMAGE }, (_, i) => `k${i}`));
    expect(found.problem).toContain('more credentials match registry.example.com than are tried');
  });
});

describe('cost of a lookup does not grow with the entries of a secret', () => {
  test('10,000 entries, 10,000 lookups of different images', () => {
    const entries = Array.from({ length: 10_000 }, (_, i) => ({
      key: i % 2 ? `registry-${i}.example.com` : `registry.example.com/team-${i}`,
      n: i,
    }));
    entries.push({ key: '*.example.org', n: -1 });
    const keyring = Keyring.of(entries);
    // Filtering every entry per lookup took about 8 ms each here: 80 s for this loop, past the test
    // timeout; an index answers it in milliseconds. No wall-clock bound: it fails on a busy machine.
    for (let i = 0; i < 10_000; i++) {
      const found = keyring.match(ref(`registry.example.com/team-${i}/app:1`));
      expect(found.map((e) => e.n)).toEqual(i % 2 ? [] : [i]);
    }
  }, 30_000);
});
