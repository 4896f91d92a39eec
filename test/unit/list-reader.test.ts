/**
 * The byte-level scanner the list reader splits `items` with (src/kubernetes/list-scanner.ts),
 * fuzzed with fast-check: whatever the items and however the bytes are chunked, it yields exactly
 * what JSON.parse of the whole document has, and malformed or truncated documents always throw.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { ListFormatError, ListScanner } from '../../src/kubernetes/list-scanner.js';

/** Scans `bytes` cut at the given offsets; returns the items and the continue token. */
function scan(bytes: Buffer, cuts: readonly number[] = []): { items: unknown[]; continueToken: string | undefined } {
  const items: unknown[] = [];
  const scanner = new ListScanner((item) => items.push(item));
  let from = 0;
  for (const cut of [...new Set(cuts)].sort((a, b) => a - b)) {
    if (cut <= from || cut >= bytes.length) continue;
    // A copy: the scanner must not depend on chunks sharing one buffer.
    scanner.push(Uint8Array.from(bytes.subarray(from, cut)));
    from = cut;
  }
  scanner.push(bytes.subarray(from));
  return { items, ...scanner.end() };
}

/** Strings heavy in what a scanner gets wrong: quotes, backslashes, brackets, multi-byte UTF-8. */
const tricky = fc.oneof(
  fc.string({ unit: fc.constantFrom('"', '\\', '[', ']', '{', '}', ',', ':', ' ', '\n', 'a', 'é', '€', '𝄞', '\u0000', '\u2028') }),
  fc.string({ unit: 'binary' }),
  fc.string(),
);

const json: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    tricky,
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(tricky, tie('value'), { maxKeys: 4 }),
  ),
})).value;

/** A list document: items anywhere among the other members, metadata.continue before or after. */
const document = fc
  .record({
    items: fc.array(json, { maxLength: 8 }),
    token: fc.option(tricky, { nil: undefined }),
    order: fc.constantFrom('metadata-first', 'items-first', 'items-middle'),
    extra: fc.dictionary(tricky.filter((k) => k !== 'items' && k !== 'metadata'), json, { maxKeys: 3 }),
    indent: fc.constantFrom(undefined, 1, '\t', ' \r\n'),
  })
  .map(({ items, token, order, extra, indent }) => {
    const metadata = { resourceVersion: '12', ...(token !== undefined ? { continue: token } : {}) };
    const members: Array<[string, unknown]> =
      order === 'metadata-first'
        ? [['kind', 'DeploymentList'], ['metadata', metadata], ['items', items], ...Object.entries(extra)]
        : order === 'items-first'
          ? [['items', items], ...Object.entries(extra), ['metadata', metadata]]
          : [['kind', 'List'], ['items', items], ['metadata', metadata], ...Object.entries(extra)];
    // JSON.stringify only indents with whitespace strings of up to 10 characters: make \r valid too.
    const text =
      indent === ' \r\n'
        ? JSON.stringify(Object.fromEntries(members), null, 1).replace(/\n/g, ' \r\n')
        : JSON.stringify(Object.fromEntries(members), null, indent);
    return { text, bytes: Buffer.from(text, 'utf8') };
  });

/** Cut points anywhere in a document, including inside multi-byte characters. */
const cutsFor = (length: number) => fc.array(fc.integer({ min: 1, max: Math.max(1, length - 1) }), { maxLength: 40 });

describe('ListScanner', () => {
  test('yields exactly the parsed items and continue token, however the bytes are chunked', () => {
    fc.assert(
      fc.property(
        document.chain((doc) => fc.tuple(fc.constant(doc), cutsFor(doc.bytes.length))),
        ([{ text, bytes }, cuts]) => {
          const whole = JSON.parse(text) as { items: unknown[]; metadata: { continue?: string } };
          const scanned = scan(bytes, cuts);
          expect(scanned.items).toEqual(whole.items);
          expect(scanned.continueToken).toBe(whole.metadata.continue || undefined);
        },
      ),
      { numRuns: 3000 },
    );
  });

  test('one byte at a time', () => {
    fc.assert(
      fc.property(document, ({ text, bytes }) => {
        const cuts = Array.from({ length: bytes.length }, (_, i) => i);
        expect(scan(bytes, cuts).items).toEqual((JSON.parse(text) as { items: unknown[] }).items);
      }),
      { numRuns: 200 },
    );
  });

  test('a multi-byte character split between chunks stays whole', () => {
    const bytes = Buffer.from('{"items":[{"a":"é€𝄞\\"\\\\]}"},"𝄞"],"metadata":{"continue":"t€"}}');
    // Every cut inside the 4-byte 𝄞 and the 3-byte €.
    for (let cut = 1; cut < bytes.length; cut++) {
      const scanned = scan(bytes, [cut, cut + 1, cut + 2]);
      expect(scanned.items).toEqual([{ a: 'é€𝄞"\\]}' }, '𝄞']);
      expect(scanned.continueToken).toBe('t€');
    }
  });

  test('metadata.continue before or after items; empty or null items', () => {
    expect(scan(Buffer.from('{"metadata":{"continue":"abc"},"items":[1]}'))).toEqual({ items: [1], continueToken: 'abc' });
    expect(scan(Buffer.from('{"items":[1],"metadata":{"continue":"abc"}}'))).toEqual({ items: [1], continueToken: 'abc' });
    expect(scan(Buffer.from('{"items":[],"metadata":{"continue":""}}'))).toEqual({ items: [], continueToken: undefined });
    expect(scan(Buffer.from(' {"items":null} \n'))).toEqual({ items: [], continueToken: undefined });
    expect(scan(Buffer.from('{"\\u0069tems":[true]}'))).toEqual({ items: [true], continueToken: undefined });
  });

  test.each([
    ['empty body', ''],
    ['whitespace only', ' \n'],
    ['not an object', '[1,2]'],
    ['a Status-like scalar', '42'],
    ['HTML', '<html>502 Bad Gateway</html>'],
    ['truncated inside an item', '{"kind":"DeploymentList","items":[{"metad'],
    ['truncated after an item', '{"items":[{"a":1}'],
    ['truncated after items', '{"items":[{"a":1}]'],
    ['truncated inside a string with an escape', '{"items":["a\\'],
    ['truncated scalar', '{"items":[12'],
    ['trailing comma in items', '{"items":[1,]}'],
    ['missing comma in items', '{"items":[1 2]}'],
    ['trailing comma in the object', '{"items":[],}'],
    ['mismatched brackets in an item', '{"items":[{"a":[1}]]}'],
    ['invalid scalar', '{"items":[tru]}'],
    ['invalid escape', '{"items":["\\x"]}'],
    ['control character in a string', '{"items":["a\nb"]}'],
    ['junk after the document', '{"items":[]}x'],
    ['two documents', '{"items":[]}{"items":[]}'],
    ['items not an array', '{"items":{"a":1}}'],
    ['items twice', '{"items":[1],"items":[2]}'],
    ['no items', '{"kind":"List","metadata":{}}'],
    ['an empty object', '{}'],
    ['continue not a string', '{"metadata":{"continue":5},"items":[]}'],
    ['key without value', '{"items"}'],
    ['unquoted key', '{items:[]}'],
    ['malformed metadata', '{"metadata":{"continue":},"items":[]}'],
  ])('%s throws ListFormatError', (_name, text) => {
    const bytes = Buffer.from(text);
    for (const cuts of [[], Array.from({ length: bytes.length }, (_, i) => i)]) {
      expect(() => scan(bytes, cuts)).toThrow(ListFormatError);
    }
  });

  test('any truncation of a valid document throws, never a shorter list', () => {
    fc.assert(
      fc.property(
        document.chain((doc) => fc.tuple(fc.constant(doc), fc.integer({ min: 0, max: doc.bytes.length - 1 }), cutsFor(doc.bytes.length))),
        ([{ bytes }, length, cuts]) => {
          // Trailing whitespace is not part of the document; cut before it.
          const end = Math.min(length, bytes.toString('latin1').trimEnd().length - 1);
          expect(() => scan(bytes.subarray(0, end), cuts)).toThrow(ListFormatError);
        },
      ),
      { numRuns: 1000 },
    );
  });

  test('any single corrupted outline or item byte either throws or still matches JSON.parse', () => {
    fc.assert(
      fc.property(
        document.chain((doc) =>
          fc.tuple(fc.constant(doc), fc.integer({ min: 0, max: doc.bytes.length - 1 }), fc.constantFrom(...'{}[]",: x\\0'), cutsFor(doc.bytes.length)),
        ),
        ([{ bytes }, at, replacement, cuts]) => {
          const corrupted = Buffer.from(bytes);
          corrupted[at] = replacement.charCodeAt(0);
          let expected: { items?: unknown; metadata?: { continue?: unknown } } | undefined;
          try {
            expected = JSON.parse(corrupted.toString('utf8')) as typeof expected;
          } catch {
            expected = undefined;
          }
          const valid =
            expected !== null &&
            typeof expected === 'object' &&
            !Array.isArray(expected) &&
            (expected.items === null || Array.isArray(expected.items)) &&
            (expected.metadata?.continue === undefined || typeof expected.metadata.continue === 'string');
          if (!valid) {
            expect(() => scan(corrupted, cuts)).toThrow(ListFormatError);
            return;
          }
          // Still valid JSON (a space in a string, say): must then agree with JSON.parse. Duplicate
          // keys JSON.parse resolves silently are out of scope here.
          try {
            const scanned = scan(corrupted, cuts);
            expect(scanned.items).toEqual(expected!.items ?? []);
          } catch (error) {
            expect(error).toBeInstanceOf(ListFormatError);
            expect((error as Error).message).toMatch(/twice/);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
