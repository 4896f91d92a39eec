/**
 * Label selectors: the syntax and semantics of k8s.io/apimachinery/pkg/labels.Parse, including its
 * quirks, canonical text as apimachinery's String() prints it, and hostile input.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { type LabelSelector, parseLabelSelector, SelectorError } from '../../src/kubernetes/label-selector.js';

type Labels = Record<string, string>;

describe('matching', () => {
  test.each<[string, Labels, boolean]>([
    ['app=web', { app: 'web' }, true],
    ['app=web', { app: 'db' }, false],
    ['app=web', {}, false],
    ['app==web', { app: 'web' }, true],
    ['app==web', { app: 'webx' }, false],
    ['app=', { app: '' }, true],
    ['app=', {}, false],
    ['app!=web', { app: 'db' }, true],
    ['app!=web', {}, true],
    ['app!=web', { app: 'web' }, false],
    ['app in (web,db)', { app: 'db' }, true],
    ['app in (web,db)', { app: 'cache' }, false],
    ['app in (web,db)', {}, false],
    ['app notin (web,db)', { app: 'cache' }, true],
    ['app notin (web,db)', {}, true],
    ['app notin (web,db)', { app: 'web' }, false],
    ['app', { app: '' }, true],
    ['app', { other: 'x' }, false],
    ['!app', {}, true],
    ['!app', { app: 'x' }, false],
    ['tier>5', { tier: '6' }, true],
    ['tier>5', { tier: '5' }, false],
    ['tier>5', {}, false],
    ['tier>5', { tier: 'six' }, false],
    ['tier<5', { tier: '-3' }, true],
    ['tier<5', { tier: '+4' }, true],
    ['tier<5', { tier: '5' }, false],
    ['tier<5', { tier: '4.5' }, false],
    ['tier>0', { tier: '9223372036854775807' }, true],
    // Outside int64, so not an integer to Go's strconv.ParseInt: never matches.
    ['tier>0', { tier: '9223372036854775808' }, false],
    ['tier<0', { tier: '-9223372036854775808' }, true],
    ['tier<0', { tier: '-9223372036854775809' }, false],
    ['tier>007', { tier: '8' }, true],
    ['example.com/team=a', { 'example.com/team': 'a' }, true],
    ['in=notin', { in: 'notin' }, true],
  ])('%s on %j is %s', (selector, labels, expected) => {
    expect(parseLabelSelector(selector).matches(labels)).toBe(expected);
  });

  test('requirements are ANDed', () => {
    const s = parseLabelSelector('app=web,tier in (front,back),!legacy,env!=prod,zone');
    const ok = { app: 'web', tier: 'front', env: 'dev', zone: 'a' };
    expect(s.matches(ok)).toBe(true);
    expect(s.matches({ ...ok, legacy: 'true' })).toBe(false);
    expect(s.matches({ ...ok, env: 'prod' })).toBe(false);
    expect(s.matches({ ...ok, tier: 'middle' })).toBe(false);
    const { zone: _zone, ...withoutZone } = ok;
    expect(s.matches(withoutZone)).toBe(false);
  });

  test('whitespace around tokens is ignored: spaces, tabs, CR and LF', () => {
    const s = parseLabelSelector(' \tapp \n= web ,\r\n tier  notin(a , b)\t');
    expect(s.text).toBe('app=web,tier notin (a,b)');
    expect(s.matches({ app: 'web' })).toBe(true);
  });

  test.each(['', ' ', ' \t\r\n '])('%j selects everything', (text) => {
    const s = parseLabelSelector(text);
    expect(s.text).toBe('');
    expect(s.matches({})).toBe(true);
    expect(s.matches({ a: 'b' })).toBe(true);
  });

  test('only own properties count as labels', () => {
    expect(parseLabelSelector('constructor').matches({})).toBe(false);
    expect(parseLabelSelector('!constructor,!toString,!valueOf').matches({})).toBe(true);
    expect(parseLabelSelector('constructor notin (x)').matches({})).toBe(true);
    expect(parseLabelSelector('constructor!=x').matches({})).toBe(true);
    expect(parseLabelSelector('hasOwnProperty in (x)').matches({})).toBe(false);
    expect(parseLabelSelector('toString>0').matches({})).toBe(false);
    // JSON.parse makes `__proto__` an own property, as a label map decoded from the API would.
    const decoded = JSON.parse('{"__proto__":"x","constructor":"y"}') as Labels;
    expect(parseLabelSelector('constructor=y').matches(decoded)).toBe(true);
    expect(parseLabelSelector('constructor').matches(decoded)).toBe(true);
    // `__proto__` is not a valid key at all (a name starts alphanumeric), as in apimachinery.
    expect(() => parseLabelSelector('__proto__')).toThrow(SelectorError);
    expect(() => parseLabelSelector('!__proto__')).toThrow(SelectorError);
    const bare = Object.assign(Object.create(null) as Labels, { app: 'web' });
    expect(parseLabelSelector('app=web,!constructor').matches(bare)).toBe(true);
  });
});

describe('canonical text', () => {
  test.each([
    [' team in (b, a) , !legacy', '!legacy,team in (a,b)'],
    ['b=1,a=2', 'a=2,b=1'],
    ['a = x', 'a=x'],
    ['a == x', 'a==x'],
    ['a != x', 'a!=x'],
    ['a notin (z, y, y)', 'a notin (y,z)'],
    ['k > 5', 'k>5'],
    ['k<05', 'k<05'],
    ['a=', 'a='],
    ['a=,b', 'a=,b'],
    ['x in (foo,,baz),y,z notin ()', 'x in (,baz,foo),y,z notin ()'],
    ['example.com/app,B', 'B,example.com/app'],
    ['in in (notin, in)', 'in in (in,notin)'],
    ['a=1,a=2', 'a=1,a=2'],
  ])('%j prints as %j', (input, text) => {
    const s = parseLabelSelector(input);
    expect(s.text).toBe(text);
    expect(parseLabelSelector(s.text).text).toBe(text);
  });
});

describe('apimachinery quirks are kept', () => {
  test('an empty set means the set holding the empty value', () => {
    const s = parseLabelSelector('a in ()');
    expect(s.text).toBe('a in ()');
    expect(s.matches({ a: '' })).toBe(true);
    expect(s.matches({ a: 'x' })).toBe(false);
    expect(parseLabelSelector('a notin ()').matches({})).toBe(true);
  });

  test.each([
    ['a in (,x)', 'a in (,x)'],
    ['a in (x,)', 'a in (,x)'],
    ['a in (x,,y)', 'a in (,x,y)'],
    ['a in (x,,,)', 'a in (,x)'],
    ['a in (,)', 'a in ()'],
  ])('empty values between commas: %j', (input, text) => {
    expect(parseLabelSelector(input).text).toBe(text);
  });

  test('`in` and `notin` are words where keys and values stand', () => {
    const s = parseLabelSelector('notin notin (in),in');
    expect(s.matches({ notin: 'x', in: '' })).toBe(true);
    expect(s.matches({ notin: 'in', in: '' })).toBe(false);
  });
});

describe('errors', () => {
  test.each([
    ['a in (a,,)', 'found ")", expected a value or ","'],
    ['a in (,,)', 'found ")", expected a value or ","'],
    ['a in (b', 'found end of input, expected "," or ")" at position 7'],
    ['a in (', 'found end of input, expected a value, "," or ")"'],
    ['team in x', 'found "x", expected "(" after "in" at position 8'],
    ['a notin', 'expected "(" after "notin"'],
    ['a=)', 'found ")", expected a value after "=" at position 2'],
    ['a==(b)', 'expected a value after "=="'],
    ['a=b=c', 'found "=", expected "," or end of input at position 3'],
    ['a$b=c', 'invalid key "a$b" at position 0'],
    ['a=b,c:d', 'invalid key "c:d" at position 4'],
    ['Example.com/a', 'prefix must be a DNS subdomain'],
    ['a..b/c', 'prefix must be a DNS subdomain'],
    ['/a', 'prefix before "/" must not be empty'],
    [`${'a'.repeat(254)}/b`, 'prefix must be at most 253'],
    ['a/b/c', 'at most one "/"'],
    ['a/', 'name must not be empty'],
    ['-a', 'name must be alphanumerics'],
    ['a_', 'name must be alphanumerics'],
    ['x'.repeat(64), 'name must be at most 63 characters'],
    ['a\u00a0=b', 'invalid key'],
    ['a=b c', 'found "c", expected "," or end of input'],
    ['a in (b c)', 'found "c", expected "," or ")"'],
    [`a=${'v'.repeat(64)}`, 'must be at most 63 characters'],
    ['a=-v', 'invalid value "-v" for key "a"'],
    ['a in (ok,bad_)', 'invalid value "bad_"'],
    ['a>x', 'invalid value "x" for key "a" after ">" at position 1: must be a 64-bit integer'],
    ['a<1.5', 'must be a 64-bit integer'],
    ['a>', 'must be a 64-bit integer'],
    ['a>99999999999999999999', 'must be a 64-bit integer'],
    ['a>-1', 'invalid value "-1"'],
    ['a,', 'found end of input, expected a key or "!" after "," at position 2'],
    ['a,,b', 'expected a key or "!" after ","'],
    [',a', 'found ",", expected a key or "!" at position 0'],
    ['a b', 'found "b", expected an operator'],
    ['a!b', 'found "!", expected an operator'],
    ['!a=b', 'found "=", expected "," or end of input'],
    ['!', 'expected a key after "!"'],
    ['!!a', 'expected a key after "!"'],
    ['(a)', 'found "("'],
    ['a=b\0', 'NUL character at position 3'],
  ])('%j', (input, message) => {
    expect(() => parseLabelSelector(input)).toThrow(SelectorError);
    expect(() => parseLabelSelector(input)).toThrow(message);
  });

  test('messages quote a bounded part of the input', () => {
    for (const input of [`!${'x'.repeat(100_000)}`, `a=${'v'.repeat(100_000)}`, `a b${'c'.repeat(100_000)}`]) {
      const message = errorOf(() => parseLabelSelector(input)).message;
      expect(message.length).toBeLessThan(300);
    }
  });

  test('hostile inputs are answered in one pass', () => {
    // 200,000 characters: a quadratic path would take ~10^10 steps (minutes) and run into the test
    // timeout; a linear one takes milliseconds. No wall-clock bound here: it fails on a busy machine.
    const size = 200_000;
    const inputs = [
      '('.repeat(size),
      ','.repeat(size),
      'a in ('.repeat(size / 6),
      'a'.repeat(size),
      '!'.repeat(size),
      '='.repeat(size),
      ' '.repeat(size),
      `${'a.'.repeat(size / 2)}/b`,
      `a=${'v'.repeat(size)}`,
      `a>${'9'.repeat(size)}`,
      `a in (b${',b'.repeat(size / 2)}`,
    ];
    for (const input of inputs) {
      let outcome: unknown;
      try {
        outcome = parseLabelSelector(input).matches({ a: '1'.repeat(size) });
      } catch (error) {
        outcome = error;
      }
      expect(typeof outcome === 'boolean' || outcome instanceof SelectorError).toBe(true);
    }
  }, 30_000);

  test('large valid selectors parse in one pass', () => {
    // Tens of thousands of requirements or values: linear work (a few ms warm), so no timing bound
    // here; anything quadratic would run into the test timeout.
    const many = parseLabelSelector('a,'.repeat(49_999) + 'a');
    expect(many.text).toBe(Array.from({ length: 50_000 }, () => 'a').join(','));
    expect(many.matches({ a: '' })).toBe(true);
    expect(parseLabelSelector(`a in (${'b,'.repeat(50_000)})`).text).toBe('a in (,b)');
    // An odd run of commas is accepted, an even one is not (apimachinery's quirk, above).
    expect(parseLabelSelector(`a notin (${','.repeat(99_999)})`).text).toBe('a notin ()');
    expect(() => parseLabelSelector(`a notin (${','.repeat(100_000)})`)).toThrow(SelectorError);
    // Label values are not limited to 63 characters here; leading zeros do not make an int64 overflow.
    const greater = parseLabelSelector(`a>${'0'.repeat(62)}1`);
    expect(greater.matches({ a: `+${'0'.repeat(100_000)}2` })).toBe(true);
    expect(greater.matches({ a: `${'9'.repeat(100_000)}` })).toBe(false);
  }, 30_000);
});

// ---------------------------------------------------------------------------------------------
// Properties

/** Pieces selectors are made of, so random strings often get past the lexer. */
const soup = fc
  .array(
    fc.oneof(
      fc.constantFrom('a', 'b', 'in', 'notin', 'x.y/z', '=', '==', '!=', '!', '>', '<', '(', ')', ',', ' ', '\t', '5', '-', '_', '/', '\0', '\u00a0', ''),
      fc.string({ maxLength: 4 }),
    ),
    { maxLength: 20 },
  )
  .map((parts) => parts.join(''));

const ws = fc.constantFrom('', '', ' ', '\t', ' \n', '\r\n ');
const dnsLabel = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,8}[a-z0-9])?$/);
const prefix = fc.array(dnsLabel, { minLength: 1, maxLength: 3 }).map((labels) => labels.join('.'));
const name = fc.oneof(fc.stringMatching(/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/), fc.constantFrom('in', 'notin', 'a', 'b'));
const key = fc.oneof(name, fc.tuple(prefix, name).map(([p, n]) => `${p}/${n}`));
const value = fc.oneof(fc.constant(''), name);
const integer = fc.tuple(fc.constantFrom('', '0', '00'), fc.bigInt({ min: 0n, max: 2n ** 63n - 1n })).map(([zeros, n]) => `${zeros}${n}`);

type Model =
  | { op: 'exists' | '!'; key: string }
  | { op: '=' | '==' | '!='; key: string; value: string }
  | { op: 'in' | 'notin'; key: string; values: string[] }
  | { op: '>' | '<'; key: string; value: string };

/** A valid requirement and one way of writing it. */
const requirement: fc.Arbitrary<{ model: Model; text: fc.Arbitrary<string> }> = fc.oneof(
  fc.tuple(fc.constantFrom('exists' as const, '!' as const), key).map(([op, k]) => ({
    model: { op, key: k },
    text: fc.tuple(ws, ws).map(([a, b]) => (op === '!' ? `!${a}${k}` : k) + b),
  })),
  fc.tuple(fc.constantFrom('=' as const, '==' as const, '!=' as const), key, value).map(([op, k, v]) => ({
    model: { op, key: k, value: v },
    text: fc.tuple(ws, ws).map(([a, b]) => `${k}${a}${op}${b}${v}`),
  })),
  fc.tuple(fc.constantFrom('>' as const, '<' as const), key, integer).map(([op, k, v]) => ({
    model: { op, key: k, value: v },
    text: fc.tuple(ws, ws).map(([a, b]) => `${k}${a}${op}${b}${v}`),
  })),
  // Sets: non-empty values, optionally with a leading empty value, which parses the same in any order.
  fc.tuple(fc.constantFrom('in' as const, 'notin' as const), key, fc.array(name, { maxLength: 4 }), fc.boolean()).map(
    ([op, k, names, withEmpty]) => {
      const values = names.length === 0 || withEmpty ? ['', ...names] : names;
      const written = names.length === 0 ? '' : (withEmpty ? ',' : '') + names.join(' , ');
      return { model: { op, key: k, values }, text: fc.constant(` ${k} ${op} (${written})`) };
    },
  ),
);

const selector = fc
  .array(requirement, { maxLength: 5 })
  .chain((reqs) =>
    fc.tuple(...reqs.map((r) => r.text)).map((texts) => ({ models: reqs.map((r) => r.model), text: texts.join(',') })),
  );

function modelMatches(m: Model, labels: Labels): boolean {
  const v = Object.hasOwn(labels, m.key) ? labels[m.key] : undefined;
  switch (m.op) {
    case 'exists':
      return v !== undefined;
    case '!':
      return v === undefined;
    case '=':
    case '==':
      return v === m.value;
    case '!=':
      return v !== m.value;
    case 'in':
      return v !== undefined && m.values.includes(v);
    case 'notin':
      return v === undefined || !m.values.includes(v);
    case '>':
      return v !== undefined && /^\d{1,18}$/.test(v) && BigInt(v) > BigInt(m.value);
    case '<':
      return v !== undefined && /^\d{1,18}$/.test(v) && BigInt(v) < BigInt(m.value);
  }
}

describe('properties', () => {
  test('any string parses or throws a SelectorError', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), soup), (text) => {
        let parsed: LabelSelector;
        try {
          parsed = parseLabelSelector(text);
        } catch (error) {
          expect(error).toBeInstanceOf(SelectorError);
          return;
        }
        expect(parseLabelSelector(parsed.text).text).toBe(parsed.text);
      }),
      { numRuns: 3000 },
    );
  });

  test('canonical text is a fixed point and means the same as the input', () => {
    fc.assert(
      fc.property(selector, fc.array(fc.tuple(fc.boolean(), fc.nat(3), fc.nat(4))), ({ models, text }, picks) => {
        const parsed = parseLabelSelector(text);
        const reparsed = parseLabelSelector(parsed.text);
        expect(reparsed.text).toBe(parsed.text);
        // Labels drawn from the selector's own keys and values, so requirements both hold and fail.
        const labels: Labels = {};
        for (const [use, i, j] of picks) {
          const m = models[i % Math.max(models.length, 1)];
          if (!use || m === undefined) continue;
          const candidates = 'values' in m ? m.values : 'value' in m ? [m.value, String(j)] : [String(j)];
          labels[m.key] = candidates[j % candidates.length] ?? '';
        }
        const expected = models.every((m) => modelMatches(m, labels));
        expect(parsed.matches(labels)).toBe(expected);
        expect(reparsed.matches(labels)).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });
});

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    if (error instanceof Error) return error;
  }
  throw new Error('expected a throw');
}
