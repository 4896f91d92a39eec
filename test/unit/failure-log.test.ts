import { describe, expect, test } from 'vitest';
import { createLogger } from '../../src/utils/log.js';
import { FailureLog, SUMMARY_EVERY_MS } from '../../src/registry/failure-log.js';
import { networkReason } from '../../src/registry/network-reason.js';
import { classifyTransportError, type CheckResult, type CheckStatus } from '../../src/registry/status.js';

function logged() {
  const lines: Array<{ level: string; msg: string; [field: string]: unknown }> = [];
  const logger = createLogger('debug', (line) => lines.push(JSON.parse(line)));
  return { logger, lines, at: (level: string) => lines.filter((l) => l.level === level) };
}
const result = (status: CheckStatus, detail = `because ${status}`): CheckResult => ({ status, detail, checkedAt: 0 });

describe('failures logged per registry and state change', () => {
  test('10,000 images failing on one registry: one warning, a summary a minute while it spreads, one line when it answers again', () => {
    let now = 0;
    const { logger, at } = logged();
    const log = new FailureLog(logger, () => now);
    for (let i = 0; i < 10_000; i++) log.record('registry.example.com', `key-${i}`, `registry.example.com/app:${i}`, result('registry_unavailable', `connection refused (ECONNREFUSED) #${i}`));
    expect(at('warn')).toEqual([expect.objectContaining({ msg: 'registry registry.example.com unreachable', images: 1, firstError: 'connection refused (ECONNREFUSED) #0' })]);
    expect(at('debug')).toHaveLength(10_000); // each image still, at debug level

    now = SUMMARY_EVERY_MS;
    for (let i = 0; i < 10_001; i++) log.record('registry.example.com', `key-${i}`, `registry.example.com/app:${i}`, result('registry_unavailable'));
    expect(at('warn')).toHaveLength(2);
    expect(at('warn')[1]).toMatchObject({ msg: 'registry registry.example.com still unreachable', images: 10_000, sinceSeconds: 60 });
    // The one image added after that summary is told at the next failure a minute later; then no
    // growth, no new line, however long it lasts.
    now = 10 * SUMMARY_EVERY_MS;
    log.record('registry.example.com', 'key-0', 'registry.example.com/app:0', result('registry_unavailable'));
    expect(at('warn')).toHaveLength(3);
    expect(at('warn')[2]).toMatchObject({ images: 10_001 });
    now = 20 * SUMMARY_EVERY_MS;
    log.record('registry.example.com', 'key-0', 'registry.example.com/app:0', result('registry_unavailable'));
    expect(at('warn')).toHaveLength(3);

    for (let i = 0; i < 10_000; i++) log.record('registry.example.com', `key-${i}`, `registry.example.com/app:${i}`, result('present'));
    expect(at('info')).toHaveLength(0); // one image still fails
    log.record('registry.example.com', 'key-10000', 'registry.example.com/app:10000', result('absent'));
    expect(at('info')).toEqual([expect.objectContaining({ msg: 'registry registry.example.com no longer unreachable', imagesAffected: 10_001, seconds: 1200 })]);
  });

  test('kinds of failure and registries are told apart; an image moving from one to another ends the first', () => {
    const { logger, at } = logged();
    const log = new FailureLog(logger, () => 0);
    log.record('a.example', 'k1', 'a.example/x:1', result('auth_failure'));
    log.record('a.example', 'k2', 'a.example/y:1', result('rate_limited'));
    log.record('b.example', 'k3', 'b.example/z:1', result('auth_failure'));
    expect(at('warn').map((l) => l.msg)).toEqual(['registry a.example rejecting the credentials', 'registry a.example rate limiting the checks', 'registry b.example rejecting the credentials']);
    log.record('a.example', 'k2', 'a.example/y:1', result('auth_failure'));
    expect(at('info').map((l) => l.msg)).toEqual(['registry a.example no longer rate limiting the checks']);
    expect(at('warn')).toHaveLength(3);
  });

  test('invalid references are one line too; images no longer referenced end the failure quietly counted', () => {
    const { logger, at } = logged();
    const log = new FailureLog(logger, () => 0);
    log.record('', 'bad-1', 'Bad Image', result('bad_reference'));
    log.record('', 'bad-2', 'Worse Image', result('bad_reference'));
    expect(at('warn')).toEqual([expect.objectContaining({ msg: 'image references invalid', images: 1 })]);
    log.prune(new Set(['bad-2']));
    expect(at('info')).toHaveLength(0);
    log.prune(new Set());
    expect(at('info')).toEqual([expect.objectContaining({ msg: 'image references no longer invalid', imagesAffected: 2 })]);
  });
});

describe('reasons in plain words', () => {
  const error = (code: string | undefined, message: string, name = 'Error') => Object.assign(new Error(message), { code, name });

  test.each([
    [error('ERR_SSL_WRONG_VERSION_NUMBER', 'C0B7:error:0A00010B:SSL routines:ssl3_get_record:wrong version number'), 'speaks plain HTTP, not TLS: list it in --allow-plain-http (ERR_SSL_WRONG_VERSION_NUMBER)'],
    [error('EPROTO', 'write EPROTO 40A8:error:0A00010B:SSL routines:ssl3_get_record:wrong version number'), 'speaks plain HTTP, not TLS: list it in --allow-plain-http (EPROTO)'],
    [error('UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate'), 'add that CA with --registry-ca-file (UNABLE_TO_VERIFY_LEAF_SIGNATURE)'],
    [error('SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain'), '--registry-ca-file'],
    [error('DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate'), '--registry-ca-file'],
    [error('CERT_HAS_EXPIRED', 'certificate has expired'), 'its TLS certificate has expired (CERT_HAS_EXPIRED)'],
    [error('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames"), 'for other host names'],
    [error('ENOTFOUND', 'getaddrinfo ENOTFOUND registry.example.invalid'), 'the host name does not resolve (DNS): check the registry name (ENOTFOUND)'],
    [error('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1'), 'connection refused: nothing listens on that port (ECONNREFUSED)'],
    [error('UND_ERR_CONNECT_TIMEOUT', 'Connect Timeout Error'), 'no answer within --registry-timeout (UND_ERR_CONNECT_TIMEOUT)'],
    [error(undefined, 'The operation was aborted due to timeout', 'TimeoutError'), 'no answer within --registry-timeout (TimeoutError)'],
    [error(undefined, 'Expected HTTP/', 'HTTPParserError'), 'the answer is not HTTP'],
  ])('%s', (failure, words) => {
    const { detail, status } = classifyTransportError(failure);
    expect(detail).toContain(words);
    expect(status).toBe('registry_unavailable');
  });

  test('an error nothing knows keeps its message and code', () => {
    expect(networkReason({ code: 'EWEIRD', message: 'something odd' })).toBe('something odd (EWEIRD)');
    expect(networkReason({ message: 'plain' })).toBe('plain');
  });
});
