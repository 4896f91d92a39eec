import { describe, expect, test } from 'vitest';
import { parseChallenges } from '../../src/registry/challenge.js';
import { errorCodes } from '../../src/registry/client.js';
import {
  classifyManifestAnswer,
  classifyTransportError,
  parseRetryAfter,
  type ManifestAnswer,
} from '../../src/registry/status.js';

describe('parseChallenges', () => {
  test('Docker Hub style Bearer challenge', () => {
    const [c] = parseChallenges(
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"',
    );
    expect(c).toEqual({
      scheme: 'bearer',
      params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/nginx:pull' },
    });
  });

  test('error param, escapes and several challenges', () => {
    const parsed = parseChallenges('Basic realm="a \\"b\\"", Bearer realm="r",error="insufficient_scope"');
    expect(parsed).toEqual([
      { scheme: 'basic', params: { realm: 'a "b"' } },
      { scheme: 'bearer', params: { realm: 'r', error: 'insufficient_scope' } },
    ]);
  });

  test('garbage yields what could be read and never throws', () => {
    expect(parseChallenges(undefined)).toEqual([]);
    expect(parseChallenges('')).toEqual([]);
    expect(parseChallenges('=== "')).toEqual([]);
    expect(parseChallenges('Bearer realm="unterminated')).toEqual([{ scheme: 'bearer', params: { realm: 'unterminated' } }]);
  });
});

const base: ManifestAnswer = {
  httpStatus: 200,
  errorCodes: [],
  speaksDistribution: true,
  bearerError: undefined,
  afterToken: false,
  isDockerHub: false,
  expectedDigest: undefined,
  servedDigest: undefined,
};

describe('classifyManifestAnswer: only the registry saying so is absence', () => {
  test.each<[Partial<ManifestAnswer>, string]>([
    [{ httpStatus: 200 }, 'present'],
    [{ httpStatus: 200, expectedDigest: 'sha256:a', servedDigest: 'sha256:a' }, 'present'],
    [{ httpStatus: 200, expectedDigest: 'sha256:a', servedDigest: 'sha256:b' }, 'unknown_error'],
    [{ httpStatus: 200, speaksDistribution: false }, 'present'],
    [{ httpStatus: 404, errorCodes: ['MANIFEST_UNKNOWN'] }, 'absent'],
    [{ httpStatus: 404, errorCodes: ['NAME_UNKNOWN'], speaksDistribution: false }, 'absent'],
    [{ httpStatus: 404, errorCodes: [] }, 'absent'],
    [{ httpStatus: 404, errorCodes: [], speaksDistribution: false }, 'registry_unavailable'],
    [{ httpStatus: 404, errorCodes: ['SOMETHING'], speaksDistribution: true }, 'registry_unavailable'],
    [{ httpStatus: 401, isDockerHub: true, afterToken: true, bearerError: 'insufficient_scope' }, 'absent'],
    [{ httpStatus: 401, isDockerHub: false, afterToken: true, bearerError: 'insufficient_scope' }, 'auth_failure'],
    [{ httpStatus: 401, isDockerHub: true, afterToken: false, bearerError: 'insufficient_scope' }, 'auth_failure'],
    [{ httpStatus: 401, isDockerHub: true, afterToken: true, bearerError: 'invalid_token' }, 'auth_failure'],
    [{ httpStatus: 403 }, 'access_denied'],
    [{ httpStatus: 429 }, 'rate_limited'],
    [{ httpStatus: 500 }, 'registry_unavailable'],
    [{ httpStatus: 502 }, 'registry_unavailable'],
    [{ httpStatus: 503 }, 'registry_unavailable'],
    [{ httpStatus: 504 }, 'registry_unavailable'],
    [{ httpStatus: 400 }, 'unknown_error'],
    [{ httpStatus: 302 }, 'unknown_error'],
  ])('%j → %s', (answer, status) => {
    expect(classifyManifestAnswer({ ...base, ...answer }).status).toBe(status);
  });
});

describe('classifyManifestAnswer: what an absence is said as', () => {
  const digest = `sha256:${'d'.repeat(64)}`;

  test('a pinned digest the registry does not have is said to be the digest, not a tag', () => {
    const missing = classifyManifestAnswer({ ...base, httpStatus: 404, errorCodes: ['MANIFEST_UNKNOWN'], expectedDigest: digest });
    expect(missing).toEqual({ status: 'absent', detail: `the registry has no manifest with the pinned digest ${digest}; nodes pull by digest, whatever the tag (MANIFEST_UNKNOWN)` });
    const bare = classifyManifestAnswer({ ...base, httpStatus: 404, errorCodes: [], expectedDigest: digest });
    expect(bare).toEqual({ status: 'absent', detail: `registry answered 404 for the pinned digest ${digest}` });
  });

  test('a missing repository is still the repository; a tag is still the registry\'s code', () => {
    expect(classifyManifestAnswer({ ...base, httpStatus: 404, errorCodes: ['NAME_UNKNOWN'], expectedDigest: digest }).detail).toBe('registry says NAME_UNKNOWN');
    expect(classifyManifestAnswer({ ...base, httpStatus: 404, errorCodes: ['MANIFEST_UNKNOWN'] }).detail).toBe('registry says MANIFEST_UNKNOWN');
  });
});

describe('classifyTransportError never says absent', () => {
  test.each([
    [Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 'registry_unavailable'],
    [Object.assign(new Error('getaddrinfo ENOTFOUND x'), { code: 'ENOTFOUND' }), 'registry_unavailable'],
    [Object.assign(new Error('unable to verify'), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }), 'registry_unavailable'],
    [Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }), 'registry_unavailable'],
    [Object.assign(new Error('x'), { name: 'TimeoutError' }), 'registry_unavailable'],
    [Object.assign(new Error('headers'), { code: 'UND_ERR_HEADERS_TIMEOUT' }), 'registry_unavailable'],
    [Object.assign(new Error('Response does not match the HTTP/1.1 protocol'), { name: 'HTTPParserError' }), 'registry_unavailable'],
    [Object.assign(new Error('Parse Error: Expected HTTP/'), { code: 'HPE_INVALID_CONSTANT' }), 'registry_unavailable'],
    [new Error('something odd'), 'unknown_error'],
    ['a string', 'unknown_error'],
    [undefined, 'unknown_error'],
  ])('%s', (error, status) => {
    expect(classifyTransportError(error).status).toBe(status);
  });
});

test('parseRetryAfter', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  expect(parseRetryAfter('120', now)).toBe(120_000);
  expect(parseRetryAfter('Thu, 01 Jan 2026 00:01:00 GMT', now)).toBe(60_000);
  expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
  expect(parseRetryAfter('soon', now)).toBeUndefined();
  expect(parseRetryAfter(undefined, now)).toBeUndefined();
});

test('errorCodes reads distribution error documents only', () => {
  expect(errorCodes('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"x"},{"code":"NAME_UNKNOWN"}]}')).toEqual([
    'MANIFEST_UNKNOWN',
    'NAME_UNKNOWN',
  ]);
  expect(errorCodes('<html>404</html>')).toEqual([]);
  expect(errorCodes('{"errors":"no"}')).toEqual([]);
  expect(errorCodes('null')).toEqual([]);
  expect(errorCodes('')).toEqual([]);
});
