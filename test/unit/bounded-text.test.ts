/**
 * Issue 20, item 1: the one bound on text others control (boundedText), and the places registry
 * text enters through it: error codes, challenges, digests, network errors, plugin stderr.
 */
import { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, test } from 'vitest';
import { parseChallenges } from '../../src/registry/challenge.js';
import { errorCodes } from '../../src/registry/client.js';
import { networkReason } from '../../src/registry/network-reason.js';
import { classifyManifestAnswer, classifyTransportError } from '../../src/registry/status.js';
import { boundedText, digestOf, MAX_CODE_CHARS, MAX_REASON_CHARS, readBounded, redactSecrets } from '../../src/utils/untrusted.js';

const HUGE = 60_000;

describe('boundedText', () => {
  test('short text is kept as it is', () => {
    expect(boundedText('MANIFEST_UNKNOWN', MAX_CODE_CHARS)).toBe('MANIFEST_UNKNOWN');
    expect(boundedText('', 10)).toBe('');
    expect(boundedText('x'.repeat(MAX_CODE_CHARS), MAX_CODE_CHARS)).toBe('x'.repeat(MAX_CODE_CHARS));
  });

  test('long text keeps its start, says it was cut and how long it was, and fits the bound', () => {
    const text = `start ${'x'.repeat(HUGE)}`;
    const cut = boundedText(text, MAX_REASON_CHARS);
    expect(cut).toHaveLength(MAX_REASON_CHARS);
    expect(cut.startsWith('start xxx')).toBe(true);
    expect(cut.endsWith(`…(cut, ${text.length} chars)`)).toBe(true);
  });

  test('never half a surrogate pair', () => {
    const cut = boundedText('😀'.repeat(1000), 101);
    expect(cut.length).toBeLessThanOrEqual(101);
    expect(/[\ud800-\udbff](?![\udc00-\udfff])/.test(cut)).toBe(false);
  });

  test('a piece of a huge string is copied: the huge one is not kept alive by it', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const heldBy = (keep: (piece: string) => string): number => {
      gc();
      const before = process.memoryUsage().heapUsed;
      const kept: string[] = [];
      for (let i = 0; i < 400; i++) {
        const parent = `${i}:${'x'.repeat(64 * 1024)}${i}`;
        kept.push(keep(/x{500}/.exec(parent)?.[0] as string));
      }
      gc();
      const grown = process.memoryUsage().heapUsed - before;
      expect(kept).toHaveLength(400);
      return grown;
    };
    const sliced = heldBy((piece) => piece);
    const bounded = heldBy((piece) => boundedText(piece, MAX_REASON_CHARS));
    // The measure sees the slices' parents (400 × 64 KiB); the bounded copies hold ~400 × 500 bytes.
    expect(sliced).toBeGreaterThan(20 * 1024 * 1024);
    expect(bounded).toBeLessThan(sliced / 10);
  });
});

describe('digestOf', () => {
  test('a digest of reasonable length is one; anything else is none', () => {
    const sha256 = `sha256:${'a'.repeat(64)}`;
    expect(digestOf(sha256)).toBe(sha256);
    expect(digestOf(`sha512:${'b'.repeat(128)}`)).toBe(`sha512:${'b'.repeat(128)}`);
    expect(digestOf(`sha256:${'a'.repeat(HUGE)}`)).toBeUndefined();
    expect(digestOf('../../etc/passwd')).toBeUndefined();
    expect(digestOf(undefined)).toBeUndefined();
  });
});

describe('redactSecrets (ECR\'s and GCP\'s error messages)', () => {
  test.each([
    ['a JWT', 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJl'],
    ['an AWS secret access key', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'],
    ['an AWS session token', `FwoGZXIvYXdzE${'Ab9+/'.repeat(40)}`],
    ['a base64 token of 64 bytes', Buffer.alloc(64, 0xfb).toString('base64')],
    ['a Google access token', `ya29.a0AfB_${'x1Y-z_'.repeat(30)}`],
    ['a Google refresh token', `1//0g${'Ab-9_'.repeat(20)}`],
  ])('%s is blanked out', (_name, secret) => {
    const text = redactSecrets(`denied ${secret} (see docs)`);
    expect(text).toMatch(/^denied (1\/\/)?\[redacted\] \(see docs\)$/);
  });

  test('readable text stays, long role paths and ARNs included', () => {
    const arn = 'arn:aws:sts::123456789012:assumed-role/eksctl-prod-cluster-nodegroup-ng-NodeInstanceRole-1A2B3C4D5E6F/i-0123456789abcdef0';
    const text = `User: ${arn} is not authorized to perform: ecr:GetAuthorizationToken; Permission 'iam.serviceAccounts.getAccessToken' denied`;
    expect(redactSecrets(text)).toBe(text);
  });
});

describe('readBounded', () => {
  /** A body of `chunks`, then (with `failure`) an error instead of its end; counts what was pulled. */
  function body(chunks: readonly string[], failure?: Error) {
    const pulled = { count: 0 };
    const stream = new Readable({
      read() {
        if (pulled.count < chunks.length) this.push(Buffer.from(chunks[pulled.count++] as string));
        else if (failure) this.destroy(failure);
        else this.push(null);
      },
    });
    return { stream, pulled };
  }

  test('a short body whole; a long one cut at the bound, said so, and the rest never pulled', async () => {
    expect(await readBounded(body(['{"errors"', ':[]}']).stream, 64)).toStrictEqual({ text: '{"errors":[]}', truncated: false });
    const long = body(Array.from({ length: 100 }, () => 'x'.repeat(10)));
    expect(await readBounded(long.stream, 25)).toStrictEqual({ text: 'x'.repeat(25), truncated: true });
    expect(long.pulled.count).toBeLessThan(10);
    expect(long.stream.destroyed).toBe(true);
  });

  test('a body that breaks off rejects; with keepWhatArrived, what arrived is the answer', async () => {
    await expect(readBounded(body(['{"mess'], new Error('aborted')).stream, 64)).rejects.toThrow('aborted');
    expect(await readBounded(body(['{"mess'], new Error('aborted')).stream, 64, { keepWhatArrived: true })).toStrictEqual({ text: '{"mess', truncated: false });
  });
});

describe('registry text enters bounded', () => {
  test('error codes are cut, and a cut absence code is not absence', () => {
    const codes = errorCodes(JSON.stringify({ errors: [{ code: `MANIFEST_UNKNOWN${'X'.repeat(HUGE)}` }, { code: 'NAME_UNKNOWN' }] }));
    expect(codes[0]?.length).toBeLessThanOrEqual(MAX_CODE_CHARS);
    expect(codes[1]).toBe('NAME_UNKNOWN');
    const answer = { httpStatus: 404, speaksDistribution: true, bearerError: undefined, afterToken: false, isDockerHub: false, expectedDigest: undefined, servedDigest: undefined };
    const [first] = codes;
    expect(classifyManifestAnswer({ ...answer, errorCodes: [first as string] }).status).toBe('registry_unavailable');
    // Many codes: the reason is bounded all the same.
    const many = errorCodes(JSON.stringify({ errors: Array.from({ length: 2000 }, (_, i) => ({ code: `CODE_${i}` })) }));
    expect(classifyManifestAnswer({ ...answer, errorCodes: many }).detail.length).toBeLessThanOrEqual(MAX_REASON_CHARS + 100);
  });

  test('an error body read only in part is not "no error codes": never absent', () => {
    const answer = { httpStatus: 404, speaksDistribution: true, bearerError: undefined, afterToken: false, isDockerHub: false, expectedDigest: undefined, servedDigest: undefined };
    expect(classifyManifestAnswer({ ...answer, errorCodes: [] }).status).toBe('absent');
    expect(classifyManifestAnswer({ ...answer, errorCodes: [], bodyTruncated: true }).status).toBe('registry_unavailable');
    expect(classifyManifestAnswer({ ...answer, errorCodes: ['MANIFEST_UNKNOWN'], bodyTruncated: true }).status).toBe('absent');
  });

  test('challenges: values cut, and a bounded number of challenges and params kept', () => {
    const [bearer] = parseChallenges(`Bearer realm="https://auth.example/token",service="x",error="${'e'.repeat(HUGE)}"`);
    expect(bearer?.params.realm).toBe('https://auth.example/token');
    expect(bearer?.params.error?.length).toBeLessThanOrEqual(MAX_CODE_CHARS);
    const many = parseChallenges(Array.from({ length: 5000 }, (_, i) => `S${i} a=1,b=2,c=3,d=4,e=5,f=6,g=7,h=8,i=9,j=10`).join(', '));
    expect(many.length).toBeLessThanOrEqual(8);
    for (const c of many) expect(Object.keys(c.params).length).toBeLessThanOrEqual(8);
    const [longName] = parseChallenges(`Bearer ${'n'.repeat(HUGE)}=1, realm="r"`);
    expect(longName?.params).toEqual({ realm: 'r' });
  });

  test('network errors: the message (which may quote the peer) is cut', () => {
    const message = `Hostname/IP does not match certificate's altnames: ${'DNS:x.example, '.repeat(5000)}`;
    expect(networkReason({ code: 'SOME_NEW_CODE', message }).length).toBeLessThanOrEqual(MAX_REASON_CHARS + 50);
    expect(networkReason({ message }).length).toBeLessThanOrEqual(MAX_REASON_CHARS + 50);
    const failure = classifyTransportError(Object.assign(new Error(`certificate ${'x'.repeat(HUGE)}`), { code: 'ERR_TLS_WHATEVER' }));
    expect(failure.status).toBe('registry_unavailable');
    expect(failure.detail.length).toBeLessThanOrEqual(MAX_REASON_CHARS + 50);
  });
});
