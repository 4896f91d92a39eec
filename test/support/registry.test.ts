/**
 * Self-test of the registry test-support library, against a real `docker-registry`.
 */
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request, type Dispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPki, type Pki } from './pki.js';
import { startRecordingProxy } from './proxy.js';
import {
  deleteManifest,
  MANIFEST_ACCEPT,
  MEDIA_TYPES,
  pushImage,
  pushManifestByDigestOnly,
  type ImageKind,
} from './push.js';
import { startRegistry, type RunningRegistry } from './registry.js';
import { startTokenIssuer, type TokenIssuer } from './token-issuer.js';

interface HeadResult {
  status: number;
  digest: string | undefined;
  contentType: string | undefined;
  wwwAuthenticate: string | undefined;
  body: string;
}

/** Manifest HEAD as the exporter sends it (GET when the error body is needed: HEAD has none). */
async function manifest(
  baseUrl: string,
  repository: string,
  reference: string,
  opts: { authorization?: string; dispatcher?: Dispatcher; method?: 'HEAD' | 'GET' } = {},
): Promise<HeadResult> {
  const headers: Record<string, string> = { accept: MANIFEST_ACCEPT };
  if (opts.authorization) headers['authorization'] = opts.authorization;
  const res = await request(`${baseUrl}/v2/${repository}/manifests/${reference}`, {
    method: opts.method ?? 'HEAD',
    headers,
    dispatcher: opts.dispatcher,
  });
  const header = (name: string): string | undefined => {
    const value = res.headers[name];
    return Array.isArray(value) ? value.join(', ') : value;
  };
  return {
    status: res.statusCode,
    digest: header('docker-content-digest'),
    contentType: header('content-type'),
    wwwAuthenticate: header('www-authenticate'),
    body: await res.body.text(),
  };
}

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** Parses `Bearer realm="...",service="...",scope="..."` into its parameters. */
function bearerChallenge(header: string | undefined): Record<string, string> {
  expect(header).toMatch(/^Bearer /);
  const params: Record<string, string> = {};
  for (const m of (header ?? '').matchAll(/(\w+)="([^"]*)"/g)) {
    if (m[1] !== undefined && m[2] !== undefined) params[m[1]] = m[2];
  }
  return params;
}

const KINDS: Array<{ kind: ImageKind; mediaType: string; children: number }> = [
  { kind: 'docker', mediaType: MEDIA_TYPES.dockerManifest, children: 0 },
  { kind: 'oci', mediaType: MEDIA_TYPES.ociManifest, children: 0 },
  { kind: 'docker-list', mediaType: MEDIA_TYPES.dockerList, children: 2 },
  { kind: 'oci-index', mediaType: MEDIA_TYPES.ociIndex, children: 2 },
];

describe('anonymous registry', () => {
  let reg: RunningRegistry;
  beforeAll(async () => {
    reg = await startRegistry();
  });
  afterAll(async () => {
    await reg?.stop();
  });

  it('listens on loopback over http', () => {
    expect(reg.scheme).toBe('http');
    expect(reg.host).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(reg.url).toBe(`http://${reg.host}`);
  });

  it.each(KINDS)('pushes a $kind image reachable by tag and by digest', async ({ kind, mediaType, children }) => {
    const pushed = await pushImage(reg, 'team/app', kind, kind);
    expect(pushed.mediaType).toBe(mediaType);
    expect(pushed.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(pushed.childDigests).toHaveLength(children);

    const byTag = await manifest(reg.url, 'team/app', kind);
    expect(byTag).toMatchObject({ status: 200, digest: pushed.digest, contentType: mediaType });
    const byDigest = await manifest(reg.url, 'team/app', pushed.digest);
    expect(byDigest).toMatchObject({ status: 200, digest: pushed.digest });
    for (const child of pushed.childDigests) {
      expect(await manifest(reg.url, 'team/app', child)).toMatchObject({ status: 200, digest: child });
    }
  });

  it('pushes fresh content every time, so digests differ', async () => {
    const a = await pushImage(reg, 'team/app', 'same', 'docker');
    const b = await pushImage(reg, 'team/app', 'same', 'docker');
    expect(a.digest).not.toBe(b.digest);
    expect((await manifest(reg.url, 'team/app', 'same')).digest).toBe(b.digest);
  });

  it('honours custom platforms for lists', async () => {
    const pushed = await pushImage(reg, 'team/multi', 'v1', 'oci-index', {
      platforms: [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm', variant: 'v7' },
        { os: 'windows', architecture: 'amd64' },
      ],
    });
    expect(pushed.childDigests).toHaveLength(3);
    const index = await manifest(reg.url, 'team/multi', 'v1', { method: 'GET' });
    const parsed = JSON.parse(index.body) as { manifests: Array<{ digest: string; platform: unknown }> };
    expect(parsed.manifests.map((m) => m.digest)).toEqual(pushed.childDigests);
    expect(parsed.manifests[1]?.platform).toEqual({ os: 'linux', architecture: 'arm', variant: 'v7' });
  });

  it.each(['docker', 'oci-index'] as const)('pushes a %s image reachable only by digest', async (kind) => {
    const pushed = await pushManifestByDigestOnly(reg, 'team/digest-only', kind);
    expect(await manifest(reg.url, 'team/digest-only', pushed.digest)).toMatchObject({
      status: 200,
      digest: pushed.digest,
    });
    // A repository holding no tag at all is "not known" to the tags API.
    const tags = await request(`${reg.url}/v2/team/digest-only/tags/list`);
    expect(tags.statusCode).toBe(404);
    expect(await tags.body.text()).toContain('NAME_UNKNOWN');
  });

  it('answers 404 MANIFEST_UNKNOWN for a missing tag, digest or repository', async () => {
    await pushImage(reg, 'team/app', 'present', 'docker');
    expect((await manifest(reg.url, 'team/app', 'absent')).status).toBe(404);
    expect((await manifest(reg.url, 'team/app', `sha256:${'0'.repeat(64)}`)).status).toBe(404);
    const missingRepo = await manifest(reg.url, 'team/never-pushed', 'latest', { method: 'GET' });
    expect(missingRepo.status).toBe(404);
    expect(missingRepo.body).toContain('MANIFEST_UNKNOWN');
  });

  it.each(KINDS)('deleteManifest removes a $kind image and its tag', async ({ kind }) => {
    const pushed = await pushImage(reg, 'team/retention', `del-${kind}`, kind);
    expect((await manifest(reg.url, 'team/retention', `del-${kind}`)).status).toBe(200);
    await deleteManifest(reg, 'team/retention', pushed.digest);
    expect((await manifest(reg.url, 'team/retention', `del-${kind}`)).status).toBe(404);
    expect((await manifest(reg.url, 'team/retention', pushed.digest)).status).toBe(404);
    // Children of a deleted list are left behind, as in real registries.
    for (const child of pushed.childDigests) {
      expect((await manifest(reg.url, 'team/retention', child)).status).toBe(200);
    }
  });

  it('comes back with the same content after stop() and start()', async () => {
    const pushed = await pushImage(reg, 'team/restart', 'v1', 'docker-list');
    const host = reg.host;
    await reg.stop();
    await expect(manifest(reg.url, 'team/restart', 'v1')).rejects.toThrow();
    await reg.stop(); // idempotent
    await reg.start();
    expect(reg.host).toBe(host);
    expect(await manifest(reg.url, 'team/restart', 'v1')).toMatchObject({ status: 200, digest: pushed.digest });
  });
});

describe('many registries at once', () => {
  const regs: RunningRegistry[] = [];
  afterAll(async () => {
    await Promise.all(regs.map((r) => r.stop()));
  });

  it('start in parallel on distinct ports', async () => {
    regs.push(...(await Promise.all(Array.from({ length: 4 }, () => startRegistry()))));
    expect(new Set(regs.map((r) => r.host)).size).toBe(4);
    for (const r of regs) expect((await request(`${r.url}/v2/`)).statusCode).toBe(200);
  });

  it('refuses deletes when deleteEnabled is false', async () => {
    const reg = await startRegistry({ deleteEnabled: false });
    regs.push(reg);
    const pushed = await pushImage(reg, 'keep/app', 'v1', 'docker');
    await expect(deleteManifest(reg, 'keep/app', pushed.digest)).rejects.toThrow(/-> 405/);
    expect((await manifest(reg.url, 'keep/app', 'v1')).status).toBe(200);
  });

  it('start() after stop() waits until its port is free again', async () => {
    const reg = await startRegistry();
    regs.push(reg);
    const pushed = await pushImage(reg, 'squat/app', 'v1', 'docker');
    await reg.stop();
    // Drop connections at once: a readiness probe may reach the squatter, and close() waits for them.
    const squatter = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => squatter.listen(Number(reg.host.split(':')[1]), '127.0.0.1', resolve));
    const restarting = reg.start();
    await sleep(600);
    await new Promise<void>((resolve) => squatter.close(() => resolve()));
    await restarting;
    expect(await manifest(reg.url, 'squat/app', 'v1')).toMatchObject({ status: 200, digest: pushed.digest });
  });
});

describe('htpasswd registry', () => {
  let reg: RunningRegistry;
  beforeAll(async () => {
    reg = await startRegistry({ auth: { kind: 'htpasswd', users: { alice: 's3cret', bob: 'hunter2' } } });
  });
  afterAll(async () => {
    await reg?.stop();
  });

  it('challenges anonymous requests with Basic and accepts valid credentials', async () => {
    const pushed = await pushImage(reg, 'private/app', '1.0', 'oci');
    const anonymous = await manifest(reg.url, 'private/app', '1.0');
    expect(anonymous.status).toBe(401);
    expect(anonymous.wwwAuthenticate).toMatch(/^Basic realm="test-registry"/);
    expect((await manifest(reg.url, 'private/app', '1.0', { authorization: basic('bob', 'wrong') })).status).toBe(401);
    expect(await manifest(reg.url, 'private/app', '1.0', { authorization: basic('bob', 'hunter2') })).toMatchObject({
      status: 200,
      digest: pushed.digest,
    });
  });

  it('pushes a list and deletes with Basic credentials', async () => {
    const pushed = await pushImage(reg, 'private/app', 'multi', 'docker-list');
    const auth = { authorization: basic('alice', 's3cret') };
    expect((await manifest(reg.url, 'private/app', 'multi', auth)).digest).toBe(pushed.digest);
    await deleteManifest(reg, 'private/app', pushed.digest);
    expect((await manifest(reg.url, 'private/app', 'multi', auth)).status).toBe(404);
  });
});

describe('token registry', () => {
  const service = 'registry.test';
  let pki: Pki;
  let issuer: TokenIssuer;
  let reg: RunningRegistry;
  beforeAll(async () => {
    pki = await createPki();
    issuer = await startTokenIssuer({
      pki,
      service,
      users: { ci: 'ci-pass' },
      // Emulates Docker Hub: a missing repository yields a token without any access to it.
      grant: ({ subject, repository, actions }) =>
        repository.startsWith('hub/missing') ? [] : subject === null ? actions.filter((a) => a === 'pull') : actions,
    });
    reg = await startRegistry({ auth: { kind: 'token', issuer, service, pki } });
  });
  afterAll(async () => {
    await reg?.stop();
    await issuer?.stop();
  });

  async function fetchToken(challenge: Record<string, string>, authorization?: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const url = new URL(challenge['realm'] ?? '');
    url.searchParams.set('service', challenge['service'] ?? '');
    if (challenge['scope']) url.searchParams.append('scope', challenge['scope']);
    const res = await request(url, { headers: authorization ? { authorization } : {} });
    return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
  }

  it('challenges with Bearer realm/service/scope and accepts an anonymous pull token', async () => {
    const pushed = await pushImage(reg, 'library/app', 'latest', 'oci-index');
    const first = await manifest(reg.url, 'library/app', 'latest');
    expect(first.status).toBe(401);
    const challenge = bearerChallenge(first.wwwAuthenticate);
    expect(challenge).toEqual({ realm: issuer.realm, service, scope: 'repository:library/app:pull' });

    const token = await fetchToken(challenge);
    expect(token.status).toBe(200);
    expect(token.body).toMatchObject({ token: expect.any(String), expires_in: 300, issued_at: expect.any(String) });
    expect(token.body).not.toHaveProperty('access_token');
    const requested = issuer.requests.at(-1);
    expect(requested?.authorization).toBeUndefined();
    expect(requested?.query.get('scope')).toBe('repository:library/app:pull');

    const authorized = await manifest(reg.url, 'library/app', 'latest', {
      authorization: `Bearer ${String(token.body['token'])}`,
    });
    expect(authorized).toMatchObject({ status: 200, digest: pushed.digest });
  });

  it('rejects wrong Basic credentials at the token endpoint and honours right ones', async () => {
    const challenge = { realm: issuer.realm, service, scope: 'repository:library/app:pull,push' };
    expect((await fetchToken(challenge, basic('ci', 'nope'))).status).toBe(401);
    const ok = await fetchToken(challenge, basic('ci', 'ci-pass'));
    expect(ok.status).toBe(200);
    const [, payload] = String(ok.body['token']).split('.');
    const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()) as Record<string, unknown>;
    expect(claims).toMatchObject({
      iss: issuer.issuer,
      sub: 'ci',
      aud: service,
      access: [{ type: 'repository', name: 'library/app', actions: ['pull', 'push'] }],
    });
  });

  it('answers 401 insufficient_scope when the token grants nothing (Docker Hub missing repo)', async () => {
    const first = await manifest(reg.url, 'hub/missing', 'latest');
    expect(first.status).toBe(401);
    const token = await fetchToken(bearerChallenge(first.wwwAuthenticate));
    expect(token.status).toBe(200);
    const denied = await manifest(reg.url, 'hub/missing', 'latest', {
      authorization: `Bearer ${String(token.body['token'])}`,
      method: 'GET',
    });
    expect(denied.status).toBe(401);
    // distribution says UNAUTHORIZED in the body; the scope error is only in the challenge.
    expect(denied.wwwAuthenticate).toContain('error="insufficient_scope"');
    expect(bearerChallenge(denied.wwwAuthenticate)).toMatchObject({ scope: 'repository:hub/missing:pull' });
    expect(denied.body).toContain('UNAUTHORIZED');
  });

  it('rejects a token signed by a key the registry does not trust', async () => {
    const otherPki = await createPki();
    const rogue = await startTokenIssuer({ pki: otherPki, service });
    try {
      const token = rogue.mintToken('mallory', [{ type: 'repository', name: 'library/app', actions: ['pull'] }]);
      const res = await manifest(reg.url, 'library/app', 'latest', { authorization: `Bearer ${token}` });
      expect(res.status).toBe(401);
    } finally {
      await rogue.stop();
    }
  });

  it('can answer with access_token or both fields', async () => {
    for (const tokenField of ['access_token', 'both'] as const) {
      const alt = await startTokenIssuer({ pki, service, tokenField, expiresIn: 60 });
      try {
        const res = await fetchToken({ realm: alt.realm, service, scope: 'repository:library/app:pull' });
        expect(res.body).toMatchObject({ access_token: expect.any(String), expires_in: 60 });
        expect('token' in res.body).toBe(tokenField === 'both');
        const ok = await manifest(reg.url, 'library/app', 'latest', {
          authorization: `Bearer ${String(res.body['access_token'])}`,
        });
        expect(ok.status).toBe(200);
      } finally {
        await alt.stop();
      }
    }
  });
});

describe('TLS registry', () => {
  let pki: Pki;
  let reg: RunningRegistry;
  let trusting: Agent;
  beforeAll(async () => {
    pki = await createPki();
    reg = await startRegistry({ tls: pki, auth: { kind: 'htpasswd', users: { alice: 'pw' } } });
    trusting = new Agent({ connect: { ca: pki.caCertPem } });
  });
  afterAll(async () => {
    await reg?.stop();
    await trusting?.close();
  });

  it('serves https verified by the test CA, and fails verification without it', async () => {
    expect(reg.scheme).toBe('https');
    expect(reg.url).toBe(`https://${reg.host}`);
    const pushed = await pushImage(reg, 'secure/app', 'v1', 'docker');
    const auth = basic('alice', 'pw');
    expect(
      await manifest(reg.url, 'secure/app', 'v1', { authorization: auth, dispatcher: trusting }),
    ).toMatchObject({ status: 200, digest: pushed.digest });

    const untrusting = new Agent();
    try {
      await expect(manifest(reg.url, 'secure/app', 'v1', { authorization: auth, dispatcher: untrusting })).rejects.toMatchObject({
        code: expect.stringMatching(/SELF_SIGNED|UNABLE_TO_VERIFY|CERT/),
      });
    } finally {
      await untrusting.close();
    }
  });
});

describe('recording proxy', () => {
  let reg: RunningRegistry;
  let tlsPki: Pki;
  let tlsReg: RunningRegistry;
  beforeAll(async () => {
    tlsPki = await createPki();
    [reg, tlsReg] = await Promise.all([startRegistry(), startRegistry({ tls: tlsPki })]);
  });
  afterAll(async () => {
    await Promise.all([reg?.stop(), tlsReg?.stop()]);
  });

  it('counts HEADs per image, tracks peak concurrency and adds latency', async () => {
    const a = await pushImage(reg, 'proxied/a', 'v1', 'docker');
    await pushImage(reg, 'proxied/b', 'v1', 'oci');
    const proxy = await startRecordingProxy(reg.url, { latencyMs: 100 });
    try {
      const started = Date.now();
      const results = await Promise.all([
        ...Array.from({ length: 6 }, () => manifest(proxy.url, 'proxied/a', 'v1')),
        ...Array.from({ length: 4 }, () => manifest(proxy.url, 'proxied/b', 'v1')),
      ]);
      const elapsed = Date.now() - started;
      expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
      expect(results[0]?.digest).toBe(a.digest);
      expect(elapsed).toBeGreaterThanOrEqual(95);
      expect(proxy.requests.filter((r) => r.method === 'HEAD' && r.path === '/v2/proxied/a/manifests/v1')).toHaveLength(6);
      expect(proxy.requests.filter((r) => r.path === '/v2/proxied/b/manifests/v1')).toHaveLength(4);
      expect(proxy.requests[0]?.headers['accept']).toBe(MANIFEST_ACCEPT);
      expect(proxy.maxConcurrent).toBeGreaterThanOrEqual(5);
      expect(proxy.inFlight).toBe(0);

      const requests = proxy.requests;
      proxy.reset();
      expect(requests).toHaveLength(0);
      expect(proxy.maxConcurrent).toBe(0);
      await manifest(proxy.url, 'proxied/a', 'v1');
      expect(proxy.requests).toHaveLength(1);
      expect(proxy.maxConcurrent).toBe(1);
    } finally {
      await proxy.stop();
    }
  });

  it('passes error answers through unchanged', async () => {
    const proxy = await startRecordingProxy(reg.url);
    try {
      const missing = await manifest(proxy.url, 'proxied/a', 'nope', { method: 'GET' });
      expect(missing.status).toBe(404);
      expect(missing.body).toContain('MANIFEST_UNKNOWN');
    } finally {
      await proxy.stop();
    }
  });

  it('forwards to an https upstream trusting the given CA', async () => {
    const pushed = await pushImage(tlsReg, 'proxied/tls', 'v1', 'docker-list');
    const proxy = await startRecordingProxy(tlsReg.url, { ca: tlsPki.caCertPem });
    try {
      expect(await manifest(proxy.url, 'proxied/tls', 'v1')).toMatchObject({ status: 200, digest: pushed.digest });
      expect(proxy.requests).toHaveLength(1);
    } finally {
      await proxy.stop();
    }
  });

  it('answers 502 when the upstream is down, without leaking in-flight counts', async () => {
    const dead = await startRegistry();
    const proxy = await startRecordingProxy(dead.url);
    await dead.stop();
    try {
      expect((await manifest(proxy.url, 'x/y', 'z')).status).toBe(502);
      await sleep(10);
      expect(proxy.inFlight).toBe(0);
    } finally {
      await proxy.stop();
    }
  });
});
