/**
 * Property-based tests (fast-check): no input makes the flag parser or the image reference parser
 * throw anything but their own clear errors, and every valid reference round-trips.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { FlagError, FLAGS, parseFlags } from '../../src/flags/config.js';
import { BadReferenceError, parseImageReference } from '../../src/image/reference.js';

const flagNames = Object.keys(FLAGS);

/** Arguments that look like flags, with values that are plausible, hostile or absurd. */
const flagArg = fc.oneof(
  fc.tuple(fc.constantFrom(...flagNames, 'nope', 'check', ''), fc.oneof(
    fc.string(),
    fc.constantFrom('', '0', '-1m', '5m', '1h30m', '9999999999999999999h', '1e400', 'NaN', ':8080', '[::1]:0', 'true', 'false', 'a=b', 'docker.io=mirror.example.com'),
    fc.integer().map(String),
    fc.double().map(String),
  )).map(([name, value]) => `--${name}=${value}`),
  fc.constantFrom(...flagNames).map((name) => `--${name}`),
  fc.constantFrom(...flagNames).map((name) => `-${name}`),
  fc.string(),
);

describe('flags', () => {
  test('any argv either parses or fails with a FlagError naming a flag', () => {
    fc.assert(
      fc.property(fc.array(flagArg, { maxLength: 6 }), (argv) => {
        try {
          parseFlags(argv);
        } catch (error) {
          expect(error).toBeInstanceOf(FlagError);
          const { flag, message } = error as FlagError;
          expect(message).toContain(`--${flag}`);
          expect(message.split('\n')).toHaveLength(1);
        }
      }),
      { numRuns: 2000 },
    );
  });

  test('a parsed config is always usable: positive durations, ports in range', () => {
    fc.assert(
      fc.property(fc.array(flagArg, { maxLength: 6 }), (argv) => {
        let outcome;
        try {
          outcome = parseFlags(argv);
        } catch {
          return;
        }
        if (outcome.action !== 'run') return;
        const { config } = outcome;
        for (const ms of [config.checkIntervalMs, config.scrapeTimeoutMs, config.registryTimeoutMs]) {
          expect(Number.isFinite(ms) && ms > 0 && ms <= 2_147_483_647).toBe(true);
        }
        expect(config.bindPort >= 0 && config.bindPort <= 65_535).toBe(true);
        expect(config.maxConcurrentChecks >= 1).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  test('duplicated, negative and overflowing values are refused', () => {
    expect(() => parseFlags(['--scrape-timeout=1s', '--scrape-timeout=2s'])).toThrow(FlagError);
    expect(() => parseFlags(['--registry-timeout=-1s'])).toThrow(FlagError);
    expect(() => parseFlags(['--check-interval=99999999999999999999999h'])).toThrow(FlagError);
    expect(() => parseFlags(['--max-concurrent-checks=-3'])).toThrow(FlagError);
    expect(() => parseFlags(['--bind-address=:99999999999'])).toThrow(FlagError);
  });
});

const lower = 'abcdefghijklmnopqrstuvwxyz0123456789';
const component = fc
  .array(fc.stringMatching(/^[a-z0-9]{1,6}$/), { minLength: 1, maxLength: 3 })
  .chain((parts) => fc.array(fc.constantFrom('.', '_', '__', '-', '--'), { minLength: parts.length - 1, maxLength: parts.length - 1 }).map((seps) => parts.map((p, i) => (i === 0 ? p : `${seps[i - 1]}${p}`)).join('')));
const host = fc.oneof(
  fc.constantFrom('docker.io', 'ghcr.io', 'quay.io', 'localhost', 'registry.example.com', '127.0.0.1', '[::1]'),
  fc.array(fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?$/), { minLength: 2, maxLength: 4 }).map((labels) => labels.join('.')),
);
const validReference = fc
  .record({
    host: fc.option(fc.tuple(host, fc.option(fc.integer({ min: 1, max: 65_535 }), { nil: undefined })), { nil: undefined }),
    path: fc.array(component, { minLength: 1, maxLength: 3 }),
    tag: fc.option(fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}$/), { nil: undefined }),
    digest: fc.option(fc.stringMatching(/^[a-f0-9]{64}$/).map((hex) => `sha256:${hex}`), { nil: undefined }),
  })
  // Without a host, a first component with a dot (or "localhost") would itself be read as the host.
  .filter(({ host: h, path }) => h !== undefined || !(path[0]!.includes('.') || path[0] === 'localhost'))
  .map(({ host: h, path, tag, digest }) => {
    const registry = h ? `${h[0]}${h[1] !== undefined ? `:${h[1]}` : ''}/` : '';
    return `${registry}${path.join('/')}${tag !== undefined ? `:${tag}` : ''}${digest !== undefined ? `@${digest}` : ''}`;
  })
  .filter((s) => s.length < 200);

describe('image references', () => {
  test('no string makes the parser throw anything but BadReferenceError', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.stringMatching(/^[a-zA-Z0-9.:/@_-]{0,80}$/)), (image) => {
        try {
          const ref = parseImageReference(image);
          expect(ref.original).toBe(image);
        } catch (error) {
          expect(error).toBeInstanceOf(BadReferenceError);
        }
      }),
      { numRuns: 5000 },
    );
  });

  test('every valid reference parses, and its canonical form round-trips', () => {
    fc.assert(
      fc.property(validReference, (image) => {
        const ref = parseImageReference(image);
        const again = parseImageReference(ref.canonical);
        expect(again.canonical).toBe(ref.canonical);
        expect([again.registry, again.repository, again.tag, again.digest]).toEqual([ref.registry, ref.repository, ref.tag, ref.digest]);
        expect(ref.repository).toMatch(new RegExp(`^[${lower}._/-]+$`));
      }),
      { numRuns: 3000 },
    );
  });
});
