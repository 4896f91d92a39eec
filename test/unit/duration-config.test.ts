import { describe, expect, test } from 'vitest';
import { FlagError, parseBindAddress, parseFlags, type Config } from '../../src/flags/config.js';
import { formatDuration, parseGoDuration } from '../../src/utils/duration.js';

describe('parseGoDuration', () => {
  test.each([
    ['5m', 300_000],
    ['90s', 90_000],
    ['1h30m', 5_400_000],
    ['500ms', 500],
    ['1.5h', 5_400_000],
    ['2h45m30.5s', 9_930_500],
    ['0', 0],
    ['-1m', -60_000],
    ['1000us', 1],
  ])('%s', (text, ms) => expect(parseGoDuration(text)).toBe(ms));

  test.each(['', '5', 'm', '5 m', '5mm', '1d', 'abc', '5m junk', '--5m', '1e3s'])('rejects %j', (text) => {
    expect(() => parseGoDuration(text)).toThrow();
  });

  test('formats like Go', () => {
    expect(formatDuration(300_000)).toBe('5m0s');
    expect(formatDuration(5_400_000)).toBe('1h30m0s');
    expect(formatDuration(1500)).toBe('1.5s');
  });
});

function run(argv: string[]): Config {
  const outcome = parseFlags(argv);
  if (outcome.action !== 'run') throw new Error(`unexpected ${outcome.action}`);
  return outcome.config;
}

function flagError(argv: string[]): FlagError {
  try {
    parseFlags(argv);
  } catch (error) {
    if (error instanceof FlagError) return error;
    throw error;
  }
  throw new Error(`no error for ${argv.join(' ')}`);
}

describe('parseFlags', () => {
  test('defaults', () => {
    const config = run([]);
    expect(config).toMatchObject({
      bindHost: undefined,
      bindPort: 8080,
      checkIntervalMs: 300_000,
      scrapeTimeoutMs: 10_000,
      ignoredImages: [],
      kubeconfig: undefined,
      logLevel: 'info',
    });
  });

  test('Go style: --flag=value, --flag value and -flag', () => {
    const config = run(['--check-interval=90s', '--bind-address', '127.0.0.1:9000', '-kubeconfig=/tmp/kc']);
    expect(config.checkIntervalMs).toBe(90_000);
    expect(config.bindHost).toBe('127.0.0.1');
    expect(config.bindPort).toBe(9000);
    expect(config.kubeconfig).toBe('/tmp/kc');
  });

  test('ignored images: comma-separated and repeatable', () => {
    const config = run(['--ignored-images=a:1, b/*', '--ignored-images', 'c']);
    expect(config.ignoredImages).toEqual(['a:1', 'b/*', 'c']);
  });

  test('help and version', () => {
    expect(parseFlags(['--help']).action).toBe('help');
    expect(parseFlags(['--version']).action).toBe('version');
  });

  test.each([
    [['--check-interval=0'], 'check-interval', 'positive'],
    [['--check-interval=-5m'], 'check-interval', 'positive'],
    [['--check-interval=5'], 'check-interval', 'invalid duration'],
    [['--check-interval=abc'], 'check-interval', 'invalid duration'],
    [['--check-interval='], 'check-interval', 'empty'],
    [['--check-interval=100000000h'], 'check-interval', 'at most'],
    [['--check-interval'], 'check-interval', 'needs a value'],
    [['--check-interval=1m', '--check-interval=2m'], 'check-interval', 'more than once'],
    [['--bind-address=8080'], 'bind-address', 'expected'],
    [['--bind-address=:70000'], 'bind-address', 'out of range'],
    [['--no-such-flag'], 'no-such-flag', 'unknown flag'],
    [['stray'], 'stray', 'unexpected argument'],
    [['--max-concurrent-checks=0'], 'max-concurrent-checks', 'between'],
    [['--max-concurrent-checks=1e9'], 'max-concurrent-checks', 'whole number'],
    [['--max-concurrent-checks=99999999999999999999'], 'max-concurrent-checks', 'between'],
    [['--log-level=loud'], 'log-level', 'must be'],
    [['--help=maybe'], 'help', 'true or false'],
    [['--kubeconfig='], 'kubeconfig', 'empty'],
  ])('%j is rejected naming the flag', (argv, flag, problem) => {
    const error = flagError(argv);
    expect(error.flag).toBe(flag);
    expect(error.message).toContain(`--${flag}`);
    expect(error.message).toContain(problem);
  });

  test.each([
    [':8080', undefined, 8080],
    ['0.0.0.0:1', '0.0.0.0', 1],
    ['localhost:0', 'localhost', 0],
    ['[::1]:9100', '::1', 9100],
    ['[::]:80', '::', 80],
  ])('bind address %s', (value, host, port) => {
    expect(parseBindAddress(value)).toEqual({ host, port });
  });
});
