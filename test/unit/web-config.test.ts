/**
 * --web-config-file without a server: parsing and checking the file (each problem named, nothing
 * secret in a message), the certificate checks, Basic auth header parsing and the bcrypt cache,
 * the client certificate policy and the rate limit.
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { beforeAll, describe, expect, test } from 'vitest';
import { FlagError, parseFlags } from '../../src/flags/config.js';
import { AUTH_CACHE_TTL_MS, BasicAuth, parseBasicAuth, type BasicAuthOptions } from '../../src/exporter/web/basic-auth.js';
import { bcryptWorker } from '../../src/exporter/web/bcrypt-worker.js';
import { CLIENT_AUTH_TYPES, parseWebConfig, WebConfigError, type TlsSpec } from '../../src/exporter/web/web-config.js';
import { checkWebConfigFile, loadWebConfig } from '../../src/exporter/web/web-config-load.js';
import { clientCertRefusal, subjectAltNames, TokenBucket } from '../../src/exporter/web/web-server.js';
import { createPki, type Pki } from '../support/pki.js';
import { makeTempDir } from '../support/tmp.js';
import type { ExpiringMap } from '../../src/utils/expiring-map.js';

const FILE = '/etc/exporter/web.yml';
const HASH = bcrypt.hashSync('s3cret', 4);

function problem(text: string): string {
  try {
    parseWebConfig(text, FILE);
  } catch (error) {
    expect(error).toBeInstanceOf(WebConfigError);
    const message = (error as WebConfigError).message;
    expect(message.split('\n')).toHaveLength(1);
    expect(message.startsWith(`${FILE}: `)).toBe(true);
    return (error as WebConfigError).problem;
  }
  throw new Error(`no problem found in:\n${text}`);
}

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

describe('parseWebConfig', () => {
  test('the flag: optional, a path', () => {
    const run = (argv: string[]) => {
      const outcome = parseFlags(argv);
      if (outcome.action !== 'run') throw new Error('not a run');
      return outcome.config;
    };
    expect(run([]).webConfigFile).toBeUndefined();
    expect(run(['--web-config-file=/etc/web.yml']).webConfigFile).toBe('/etc/web.yml');
    expect(() => run(['--web-config-file='])).toThrow('invalid flag --web-config-file: must not be empty');
  });

  test('an empty file: plain HTTP, no auth', () => {
    for (const text of ['', '---\n', '# nothing\n', 'tls_server_config:\nbasic_auth_users:\n']) {
      const spec = parseWebConfig(text, FILE);
      expect(spec.tls).toBeUndefined();
      expect(spec.users.size).toBe(0);
      expect(spec.rateLimit).toBeUndefined();
    }
  });

  test('relative paths are relative to the file, absolute ones stay', () => {
    const spec = parseWebConfig('tls_server_config:\n  cert_file: tls/server.crt\n  key_file: /keys/server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ../ca.crt\n', FILE);
    expect(spec.tls?.cert).toEqual({ file: '/etc/exporter/tls/server.crt', field: 'cert_file' });
    expect(spec.tls?.key).toEqual({ file: '/keys/server.key', field: 'key_file' });
    expect(spec.tls?.clientCa).toEqual({ file: '/etc/ca.crt', field: 'client_ca_file' });
  });

  test('defaults: TLS 1.2 to 1.3, NoClientCert, server cipher order', () => {
    const tls = parseWebConfig('tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n', FILE).tls as TlsSpec;
    expect(tls).toMatchObject({ clientAuth: 'NoClientCert', minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3', honorCipherOrder: true, ciphers: undefined, ecdhCurve: undefined });
  });

  test.each(CLIENT_AUTH_TYPES.map((type) => [type]))('client_auth_type %s', (type) => {
    const needsCa = type === 'VerifyClientCertIfGiven' || type === 'RequireAndVerifyClientCert';
    const base = `tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n  client_auth_type: ${type}\n`;
    if (needsCa) {
      expect(problem(base)).toBe(`tls_server_config.client_auth_type ${type} needs client_ca_file (or client_ca): the CA certificates client certificates are verified against`);
    } else {
      expect(parseWebConfig(base, FILE).tls?.clientAuth).toBe(type);
    }
    const withCa = `${base}  client_ca_file: ca.crt\n`;
    if (type === 'NoClientCert') expect(problem(withCa)).toContain('client_ca_file is set but client_auth_type is NoClientCert');
    else expect(parseWebConfig(withCa, FILE).tls?.clientAuth).toBe(type);
  });

  test('RequireClientCert: exporter-toolkit\'s old name of RequireAnyClientCert', () => {
    expect(parseWebConfig('tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: RequireClientCert\n', FILE).tls?.clientAuth).toBe('RequireAnyClientCert');
  });

  test('versions, cipher suites and curves map to OpenSSL names', () => {
    const tls = parseWebConfig(
      [
        'tls_server_config:',
        '  cert_file: a',
        '  key_file: b',
        '  min_version: TLS13',
        '  max_version: TLS13',
        '  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256]',
        '  curve_preferences: [X25519, CurveP256]',
        '  prefer_server_cipher_suites: false',
        '',
      ].join('\n'),
      FILE,
    ).tls as TlsSpec;
    expect(tls.minVersion).toBe('TLSv1.3');
    expect(tls.ciphers?.split(':').slice(0, 2)).toEqual(['ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-CHACHA20-POLY1305']);
    expect(tls.ciphers).toContain('TLS_AES_128_GCM_SHA256'); // TLS 1.3 suites stay on, as in Go
    expect(tls.ecdhCurve).toBe('X25519:P-256');
    expect(tls.honorCipherOrder).toBe(false);
  });

  test('users, headers, rate limit', () => {
    const spec = parseWebConfig(
      [
        'basic_auth_users:',
        `  alice: ${HASH}`,
        `  "bob smith": ${HASH.replace(/^\$2a\$/, '$2y$')}`,
        'http_server_config:',
        '  headers:',
        '    X-Frame-Options: deny',
        '    Content-Security-Policy: ""',
        '    Strict-Transport-Security: max-age=31536000',
        'rate_limit:',
        '  interval: 100ms',
        '  burst: 5',
        '',
      ].join('\n'),
      FILE,
    );
    expect([...spec.users.keys()]).toEqual(['alice', 'bob smith']);
    expect(Object.fromEntries(spec.headers)).toEqual({ 'X-Frame-Options': 'deny', 'Strict-Transport-Security': 'max-age=31536000' });
    expect(spec.rateLimit).toEqual({ intervalMs: 100, burst: 5 });
    expect(parseWebConfig('rate_limit:\n  interval: 0s\n', FILE).rateLimit).toBeUndefined();
  });

  test('http2: accepted, with a warning (HTTP/1.1 only)', () => {
    expect(parseWebConfig('http_server_config:\n  http2: true\n', FILE).warnings).toEqual(['http_server_config.http2: HTTP/2 is not supported; serving HTTP/1.1']);
    expect(parseWebConfig('http_server_config:\n  http2: false\n', FILE).warnings).toEqual([]);
  });

  test.each([
    ['top: 1\n', 'the file: unknown key "top" (known: tls_server_config, http_server_config, basic_auth_users, rate_limit)'],
    ['- a\n- b\n', 'the file must be a mapping'],
    ['tls_server_config:\n  cert_file: a\n  key_file: b\n  certfile: c\n', 'tls_server_config: unknown key "certfile"'],
    ['http_server_config:\n  http3: true\n', 'http_server_config: unknown key "http3"'],
    ['rate_limit:\n  every: 1s\n', 'rate_limit: unknown key "every"'],
    ['tls_server_config: yes\n', 'tls_server_config must be a mapping'],
    ['tls_server_config:\n  key_file: b\n', 'tls_server_config needs cert_file (or cert)'],
    ['tls_server_config:\n  cert_file: a\n', 'tls_server_config needs key_file (or key)'],
    ['tls_server_config:\n  min_version: TLS12\n', 'tls_server_config needs cert_file (or cert)'],
    ['tls_server_config:\n  cert_file: a\n  cert: b\n  key_file: c\n', 'give cert or cert_file, not both'],
    ['tls_server_config:\n  cert_file: [a]\n  key_file: c\n', 'tls_server_config.cert_file must be a string'],
    ['tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: Always\n', 'tls_server_config.client_auth_type: unknown type "Always"'],
    ['tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS14\n', 'tls_server_config.min_version: unknown TLS version "TLS14"'],
    ['tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS13\n  max_version: TLS12\n', 'min_version is above max_version'],
    ['tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: [TLS_RC4]\n', 'tls_server_config.cipher_suites: unknown cipher suite "TLS_RC4"'],
    ['tls_server_config:\n  cert_file: a\n  key_file: b\n  curve_preferences: [P256]\n', 'tls_server_config.curve_preferences: unknown curve "P256"'],
    ['tls_server_config:\n  cert_file: a\n  key_file: b\n  client_allowed_sans: [x]\n', 'client_allowed_sans needs client_auth_type RequireAnyClientCert or RequireAndVerifyClientCert'],
    ['tls_server_config:\n  cert_file: a\n  key_file: b\n  prefer_server_cipher_suites: maybe\n', 'prefer_server_cipher_suites must be true or false'],
    ['basic_auth_users: [alice]\n', 'basic_auth_users must be a mapping'],
    ['basic_auth_users:\n  alice: s3cret\n', 'the password of user "alice" is not a bcrypt hash'],
    ['basic_auth_users:\n  alice: $2x$04$abcdefghijklmnopqrstuvABCDEFGHIJKLMNOPQRSTUVWXYZ0123456\n', 'the password of user "alice" is not a bcrypt hash'],
    ['basic_auth_users:\n  alice: $2a$03$abcdefghijklmnopqrstuvABCDEFGHIJKLMNOPQRSTUVWXYZ0123456\n', 'the password of user "alice" is not a bcrypt hash'],
    [`basic_auth_users:\n  alice: ${HASH.slice(0, -1)}\n`, 'the password of user "alice" is not a bcrypt hash'],
    ['basic_auth_users:\n  alice:\n', 'the password of user "alice" is not a bcrypt hash'],
    [`basic_auth_users:\n  "a:b": ${HASH}\n`, 'user name "a:b" contains ":"'],
    ['http_server_config:\n  headers:\n    X-Powered-By: me\n', 'header "X-Powered-By" cannot be configured'],
    ['http_server_config:\n  headers:\n    X-Frame-Options: allow\n', 'X-Frame-Options must be deny or sameorigin, got "allow"'],
    ['http_server_config:\n  http2: 1\n', 'http_server_config.http2 must be true or false'],
    ['rate_limit:\n  interval: soon\n  burst: 1\n', 'rate_limit.interval: invalid duration "soon"'],
    ['rate_limit:\n  interval: 1s\n', 'rate_limit.burst must be at least 1 when rate_limit.interval is set'],
    ['rate_limit:\n  interval: 1s\n  burst: 1.5\n', 'rate_limit.burst must be a whole number'],
  ])('%j: %s', (text, expected) => {
    expect(problem(text)).toContain(expected);
  });

  test('invalid YAML is reported by position, without quoting the file', () => {
    const secret = HASH;
    for (const text of [`basic_auth_users:\n  alice: ${secret}\n  alice: ${secret}\n`, `basic_auth_users:\n  alice: ${secret}\n\tbob: x\n`, `basic_auth_users: {alice: ${secret}\n`]) {
      const found = problem(text);
      expect(found).toMatch(/^invalid YAML: .* at line \d+, column \d+$/);
      expect(found).not.toContain(secret);
      expect(found).not.toContain('$2');
    }
  });

  test('a password that is not a hash is never quoted', () => {
    expect(problem('basic_auth_users:\n  alice: hunter2\n')).not.toContain('hunter2');
  });
});

describe('loadWebConfig: the files it names', () => {
  let pki: Pki;
  let other: Pki;
  let dir: string;

  beforeAll(async () => {
    [pki, other] = await Promise.all([createPki(), createPki()]);
    dir = await makeTempDir('webcfg');
    await mkdir(join(dir, 'tls'));
    await copyFile(pki.serverCertFile, join(dir, 'tls/server.crt'));
    await copyFile(pki.serverKeyFile, join(dir, 'tls/server.key'));
    await copyFile(pki.caCertFile, join(dir, 'tls/ca.crt'));
  });

  async function write(name: string, text: string): Promise<string> {
    const file = join(dir, name);
    await writeFile(file, text);
    return file;
  }

  test('a good file: relative paths read from the file\'s directory, fingerprinted', async () => {
    const file = await write('good.yml', 'tls_server_config:\n  cert_file: tls/server.crt\n  key_file: tls/server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: tls/ca.crt\n');
    const config = await loadWebConfig(file);
    expect(config.tls?.contextOptions).toMatchObject({ minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3' });
    expect(config.tls?.contextOptions.ca).toHaveLength(1);
    expect(config.tls?.certNotAfter.getTime()).toBeGreaterThan(Date.now());
    expect(config.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect((await loadWebConfig(file)).fingerprint).toBe(config.fingerprint);
  });

  test('inline cert and key', async () => {
    const { readFile } = await import('node:fs/promises');
    const indent = (pem: string) => pem.trim().split('\n').map((l) => `    ${l}`).join('\n');
    const file = await write('inline.yml', `tls_server_config:\n  cert: |\n${indent(await readFile(pki.serverCertFile, 'utf8'))}\n  key: |\n${indent(await readFile(pki.serverKeyFile, 'utf8'))}\n`);
    expect((await loadWebConfig(file)).tls).toBeDefined();
  });

  test.each([
    ['missing.yml', undefined, 'cannot read the file: ENOENT'],
    ['nocert.yml', 'tls_server_config:\n  cert_file: tls/none.crt\n  key_file: tls/server.key\n', /cannot read cert_file .*tls\/none\.crt: ENOENT/],
    ['notacert.yml', 'tls_server_config:\n  cert_file: tls/server.key\n  key_file: tls/server.key\n', /cert_file .*tls\/server\.key holds no PEM certificate/],
    ['notakey.yml', 'tls_server_config:\n  cert_file: tls/server.crt\n  key_file: tls/server.crt\n', /key_file .*tls\/server\.crt holds no usable private key/],
    ['badca.yml', 'tls_server_config:\n  cert_file: tls/server.crt\n  key_file: tls/server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: tls/server.key\n', /client_ca_file .* holds no PEM certificate/],
  ])('%s: %s', async (name, text, expected) => {
    const file = text === undefined ? join(dir, name) : await write(name, text);
    const error = await loadWebConfig(file).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(WebConfigError);
    expect((error as WebConfigError).problem).toMatch(expected);
  });

  test('a certificate block that does not parse', async () => {
    await writeFile(join(dir, 'tls/garbled.crt'), '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n');
    const file = await write('garbled.yml', 'tls_server_config:\n  cert_file: tls/garbled.crt\n  key_file: tls/server.key\n');
    const error = await loadWebConfig(file).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(WebConfigError);
    expect((error as WebConfigError).problem).toMatch(/^cert_file .*tls\/garbled\.crt holds a certificate that cannot be parsed$/);
  });

  test('a key that does not belong to the certificate', async () => {
    await copyFile(other.serverKeyFile, join(dir, 'tls/other.key'));
    const file = await write('mismatch.yml', 'tls_server_config:\n  cert_file: tls/server.crt\n  key_file: tls/other.key\n');
    await expect(loadWebConfig(file)).rejects.toThrow(/key_file .*tls\/other\.key does not belong to the certificate in cert_file/);
  });

  test('at start-up: a FlagError naming --web-config-file', async () => {
    await expect(checkWebConfigFile(undefined)).resolves.toBeUndefined();
    const error = await checkWebConfigFile(join(dir, 'missing.yml')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FlagError);
    expect((error as FlagError).message).toBe(`invalid flag --web-config-file: ${join(dir, 'missing.yml')}: cannot read the file: ENOENT`);
  });

  test('warnings: basic auth over plain HTTP', async () => {
    const file = await write('plain.yml', `basic_auth_users:\n  alice: ${HASH}\n`);
    expect((await loadWebConfig(file)).warnings).toEqual(['basic auth without tls_server_config: passwords cross the network in clear text']);
  });
});

describe('parseBasicAuth', () => {
  test.each([
    [`Basic ${b64('alice:s3cret')}`, { user: 'alice', password: 's3cret' }],
    [`basic ${b64('alice:s3cret')}`, { user: 'alice', password: 's3cret' }],
    [`BASIC  ${b64('alice:')}`, { user: 'alice', password: '' }],
    [`Basic ${b64(':pw')}`, { user: '', password: 'pw' }],
    [`Basic ${b64('alice:a:b:c')}`, { user: 'alice', password: 'a:b:c' }],
    [`Basic ${b64('jürgen:pässwörd ☃ 🔑')}`, { user: 'jürgen', password: 'pässwörd ☃ 🔑' }],
  ])('%s', (header, expected) => {
    expect(parseBasicAuth(header)).toEqual(expected);
  });

  test.each([
    [undefined],
    [''],
    ['Basic'],
    ['Basic '],
    [`Bearer ${b64('alice:s3cret')}`],
    [`Basic ${b64('alice s3cret')}`], // no colon
    ['Basic YWxpY2U6czNjcmV0!'], // not base64
    [`Basic ${b64('alice:s3cre').replace(/=+$/, '')}`], // missing padding
    ['Basic YWxpY2U6czNjcmV0===='],
    ['Basic YR=='], // non-canonical: trailing bits set
    [`Basic ${b64('alice:s3cret')} extra`],
    [`Basic ${Buffer.from([0x61, 0x3a, 0xff, 0xfe]).toString('base64')}`], // not UTF-8
  ])('%j is malformed', (header) => {
    expect(parseBasicAuth(header)).toBeUndefined();
  });
});

describe('BasicAuth', () => {
  function counting(options: BasicAuthOptions = {}) {
    const calls: string[] = [];
    const users = new Map([
      ['alice', HASH],
      ['bob', bcrypt.hashSync('other', 4)],
    ]);
    const auth = new BasicAuth(users, {
      ...options,
      compare: async (password, hash) => {
        calls.push(hash);
        return bcrypt.compare(password, hash);
      },
    });
    return { auth, calls, users };
  }

  /** Comparisons that finish only when the test says so (real bcrypt then answers). */
  function gated(options: BasicAuthOptions = {}) {
    let started = 0;
    const gates: Array<() => void> = [];
    const auth = new BasicAuth(new Map([['alice', HASH]]), {
      ...options,
      compare: async (password, hash) => {
        started++;
        await new Promise<void>((open) => gates.push(open));
        return bcrypt.compare(password, hash);
      },
    });
    const openAll = async () => {
      while (gates.length > 0 || auth.queued > 0) {
        gates.shift()?.();
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };
    return { auth, started: () => started, openAll };
  }
  const header = (user: string, password: string) => `Basic ${b64(`${user}:${password}`)}`;

  test('right password, wrong password, unknown user, malformed header', async () => {
    const { auth } = counting();
    expect(await auth.check(header('alice', 's3cret'))).toBe('ok');
    expect(await auth.check(header('alice', 'wrong'))).toBe('denied');
    expect(await auth.check(header('bob', 's3cret'))).toBe('denied');
    expect(await auth.check(header('mallory', 's3cret'))).toBe('denied');
    expect(await auth.check(undefined)).toBe('denied');
    expect(await auth.check('Basic !!!')).toBe('denied');
  });

  test('$2y$ hashes (htpasswd) verify, on the bcrypt worker thread by default', async () => {
    const before = bcryptWorker().comparisons;
    const auth = new BasicAuth(new Map([['alice', HASH.replace(/^\$2a\$/, '$2y$')]]));
    expect(await auth.check(header('alice', 's3cret'))).toBe('ok');
    expect(await auth.check(header('alice', 's3cret!'))).toBe('denied');
    expect(await new BasicAuth(new Map([['alice', 'not a bcrypt hash']])).check(header('alice', 's3cret'))).toBe('denied');
    expect(bcryptWorker().comparisons - before).toBe(3);
  });

  test('an unknown user costs one bcrypt comparison too (no enumeration by timing)', async () => {
    const { auth, calls } = counting();
    expect(await auth.check(header('mallory', 'x'))).toBe('denied');
    expect(calls).toHaveLength(1);
  });

  test('a success is cached, keyed by an HMAC of the pair; failures are not cached', async () => {
    let now = 1_000;
    const { auth, calls } = counting({ now: () => now, ttlMs: 60_000 });
    expect(await auth.check(header('alice', 's3cret'))).toBe('ok');
    expect(await auth.check(header('alice', 's3cret'))).toBe('ok');
    expect(calls).toHaveLength(1);
    expect(auth.cacheSize).toBe(1);
    expect(await auth.check(header('alice', 'wrong'))).toBe('denied');
    expect(await auth.check(header('alice', 'wrong'))).toBe('denied');
    expect(calls).toHaveLength(3);
    expect(auth.cacheSize).toBe(1);
    now += 60_001; // unused for longer than the TTL
    expect(await auth.check(header('alice', 's3cret'))).toBe('ok');
    expect(calls).toHaveLength(4);
    // The cache holds keyed digests only: not even a plain SHA-256 of the pair, which is fast to guess.
    const entries = [...(auth as unknown as { verified: ExpiringMap<string, string> }).verified.live()].map(([key]) => key);
    expect(entries).toHaveLength(1);
    expect(entries.every((k) => /^[0-9a-f]{64}$/.test(k))).toBe(true);
    expect(entries).not.toContain(createHash('sha256').update(JSON.stringify(['alice', 's3cret'])).digest('hex'));
  });

  test('a pair used every minute stays verified past the 5-minute TTL: one comparison in an hour', async () => {
    let now = 0;
    const { auth, calls } = counting({ now: () => now });
    for (let minute = 0; minute <= 60; minute++) {
      now = minute * 60_000;
      expect(await auth.check(header('alice', 's3cret')), `minute ${minute}`).toBe('ok');
    }
    expect(calls).toHaveLength(1);
    now += AUTH_CACHE_TTL_MS; // then unused for the TTL: verified anew
    expect(await auth.check(header('alice', 's3cret'))).toBe('ok');
    expect(calls).toHaveLength(2);
  });

  test('only a pair bcrypt verified is let in without bcrypt', async () => {
    const { auth, calls } = counting();
    const answers = await Promise.all([
      auth.check(header('alice', 'guess1')),
      auth.check(header('alice', 's3cret')),
      auth.check(header('alice', 'guess2')),
      auth.check(header('alice', 's3cret ')),
      auth.check(header('alice ', 's3cret')),
    ]);
    expect(answers).toEqual(['denied', 'ok', 'denied', 'denied', 'denied']);
    expect(calls).toHaveLength(5);
    expect(await auth.check(header('alice', 'guess1'))).toBe('denied');
  });

  test('(user, password) pairs are keyed unambiguously', async () => {
    const users = new Map([
      ['a', bcrypt.hashSync('b:c', 4)],
      ['a:b', bcrypt.hashSync('c', 4)],
    ]);
    const auth = new BasicAuth(users, { compare: (password, hash) => bcrypt.compare(password, hash) });
    expect(await auth.verify({ user: 'a', password: 'b:c' })).toBe('ok');
    expect(await auth.verify({ user: 'a:b', password: 'c' })).toBe('ok');
    expect(await auth.verify({ user: 'a', password: 'c' })).toBe('denied');
  });

  test('the cache is bounded: the least recently used pair goes first', async () => {
    const users = new Map([
      ['u1', bcrypt.hashSync('p', 4)],
      ['u2', bcrypt.hashSync('p', 4)],
      ['u3', bcrypt.hashSync('p', 4)],
    ]);
    const calls: string[] = [];
    const auth = new BasicAuth(users, {
      maxEntries: 2,
      compare: (password, hash) => {
        calls.push(hash);
        return bcrypt.compare(password, hash);
      },
    });
    for (const user of ['u1', 'u2', 'u1', 'u3']) expect(await auth.verify({ user, password: 'p' })).toBe('ok');
    expect(auth.cacheSize).toBe(2);
    expect(calls).toHaveLength(3);
    expect(await auth.verify({ user: 'u1', password: 'p' })).toBe('ok'); // used recently: kept
    expect(calls).toHaveLength(3);
    expect(await auth.verify({ user: 'u2', password: 'p' })).toBe('ok'); // dropped: bcrypt again
    expect(calls).toHaveLength(4);
  });

  test('concurrent requests with the same pair: one bcrypt comparison', async () => {
    const { auth, calls } = counting();
    const results = await Promise.all(Array.from({ length: 5 }, () => auth.check(header('alice', 's3cret'))));
    expect(results).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    expect(calls).toHaveLength(1);
  });

  test('the queue is bounded: past it, "busy" at once and no comparison', async () => {
    const { auth, started, openAll } = gated({ queueMax: 4 });
    const answers = Array.from({ length: 10 }, (_, i) => auth.check(header('alice', `guess${i}`), { client: `10.0.0.${i}` }));
    // One running, four waiting; the other five are turned away without waiting for anything.
    const early = await Promise.race([Promise.all(answers.slice(5)), new Promise((resolve) => setTimeout(() => resolve('waited'), 1000))]);
    expect(early).toEqual(['busy', 'busy', 'busy', 'busy', 'busy']);
    expect(auth.queued).toBe(4);
    await openAll();
    expect(await Promise.all(answers.slice(0, 5))).toEqual(['denied', 'denied', 'denied', 'denied', 'denied']);
    expect(started()).toBe(5);
  });

  test('each client may have a few comparisons waiting or running; other clients still get theirs', async () => {
    const { auth, started, openAll } = gated({ perClientMax: 2 });
    const flood = Array.from({ length: 6 }, (_, i) => auth.check(header('alice', `guess${i}`), { client: '192.0.2.1' }));
    const scrape = auth.check(header('alice', 's3cret'), { client: '10.1.2.3' });
    expect(await Promise.all(flood.slice(2))).toEqual(['busy', 'busy', 'busy', 'busy']);
    await openAll();
    expect(await Promise.all(flood.slice(0, 2))).toEqual(['denied', 'denied']);
    expect(await scrape).toBe('ok');
    expect(started()).toBe(3);
    // The count is released: the client may ask again.
    const again = auth.check(header('alice', 'guess'), { client: '192.0.2.1' });
    await openAll();
    expect(await again).toBe('denied');
  });

  test('a client that hung up before its turn is dropped: no comparison for it', async () => {
    const { auth, started, openAll } = gated();
    const clients = Array.from({ length: 10 }, (_, i) => ({ client: `10.0.0.${i}`, controller: new AbortController() }));
    const answers = clients.map(({ client, controller }, i) => auth.check(header('alice', `guess${i}`), { client, signal: controller.signal }));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(started()).toBe(1);
    // Nine of them give up (the first one's comparison is already running; the last one waits on).
    for (const { controller } of clients.slice(0, 9)) controller.abort();
    expect(auth.queued).toBe(1);
    await openAll();
    expect(await Promise.all(answers)).toEqual(Array(10).fill('denied'));
    expect(started()).toBe(2);
    // Already gone when it asks: not even queued.
    const gone = new AbortController();
    gone.abort();
    expect(await auth.check(header('alice', 's3cret'), { client: 'x', signal: gone.signal })).toBe('denied');
    expect(started()).toBe(2);
  });

  test('passwords over 72 bytes are refused (bcrypt would ignore the rest)', async () => {
    const long = 'x'.repeat(72);
    const auth = new BasicAuth(new Map([['alice', bcrypt.hashSync(long, 4)]]));
    expect(await auth.verify({ user: 'alice', password: long })).toBe('ok');
    expect(await auth.verify({ user: 'alice', password: `${long}y` })).toBe('denied');
  });

  test('no users: nobody gets in', async () => {
    expect(await new BasicAuth(new Map()).check(header('alice', 's3cret'))).toBe('denied');
  });
});

describe('client certificate policy', () => {
  const socket = (given: boolean, authorized: boolean, san = 'DNS:prometheus.monitoring.svc, IP Address:0:0:0:0:0:0:0:1') => ({
    authorized,
    authorizationError: authorized ? undefined : 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    getPeerCertificate: () => (given ? { subjectaltname: san } : {}),
  });

  test.each([
    // type, no cert, unverified cert, verified cert
    ['NoClientCert', true, true, true],
    ['RequestClientCert', true, true, true],
    ['RequireAnyClientCert', false, true, true],
    ['VerifyClientCertIfGiven', true, false, true],
    ['RequireAndVerifyClientCert', false, false, true],
  ] as const)('%s: none %s, unverified %s, verified %s', (clientAuth, none, unverified, verified) => {
    const policy = { clientAuth, allowedSans: undefined };
    expect(clientCertRefusal(policy, socket(false, false)) === undefined).toBe(none);
    expect(clientCertRefusal(policy, socket(true, false)) === undefined).toBe(unverified);
    expect(clientCertRefusal(policy, socket(true, true)) === undefined).toBe(verified);
  });

  test('client_allowed_sans: an exact match of a DNS, IP, e-mail or URI SAN', () => {
    const policy = (allowedSans: string[]) => ({ clientAuth: 'RequireAndVerifyClientCert' as const, allowedSans });
    expect(clientCertRefusal(policy(['prometheus.monitoring.svc']), socket(true, true))).toBeUndefined();
    expect(clientCertRefusal(policy(['::1']), socket(true, true))).toBeUndefined();
    expect(clientCertRefusal(policy(['other.svc', 'monitoring.svc']), socket(true, true))).toBe('client certificate has none of client_allowed_sans');
    expect(subjectAltNames('DNS:a.example, IP Address:127.0.0.1, email:x@y.z, URI:spiffe://cluster/ns/monitoring/sa/prometheus, DNS:"b,c"')).toEqual([
      'a.example',
      '127.0.0.1',
      'x@y.z',
      'spiffe://cluster/ns/monitoring/sa/prometheus',
      'b,c',
    ]);
    expect(subjectAltNames(undefined)).toEqual([]);
  });
});

describe('TokenBucket (rate_limit)', () => {
  test('a burst, then one request per interval', () => {
    let now = 0;
    const bucket = new TokenBucket(100, 2, () => now);
    expect([bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, false]);
    now += 50;
    expect(bucket.take()).toBe(false);
    now += 50;
    expect(bucket.take()).toBe(true);
    now += 10_000;
    expect([bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, false]);
  });
});
