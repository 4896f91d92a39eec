/**
 * The registry client against the real registry with a real token flow: anonymous tokens, token
 * reuse, Docker Hub's "insufficient_scope" for a missing repository, and a digest check.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseImageReference } from '../../src/image/reference.js';
import { RegistryClient } from '../../src/registry/client.js';
import { Transport } from '../../src/registry/transport.js';
import { createPki, type Pki } from '../support/pki.js';
import { startRecordingProxy, type RecordingProxy } from '../support/proxy.js';
import { pushImage, type PushedImage } from '../support/push.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { startTokenIssuer, type TokenIssuer } from '../support/token-issuer.js';

let pki: Pki;
let issuer: TokenIssuer;
let registry: RunningRegistry;
let proxy: RecordingProxy;
let transport: Transport;
let image: PushedImage;
const existing = new Set<string>();

beforeAll(async () => {
  pki = await createPki();
  // Like Docker Hub: anonymous pull tokens, but no access at all to repositories that do not exist.
  issuer = await startTokenIssuer({
    pki,
    service: 'registry.test',
    grant: ({ subject, repository, actions }) =>
      subject === null && !existing.has(repository) ? [] : actions.filter((a) => subject !== null || a === 'pull'),
  });
  registry = await startRegistry({ auth: { kind: 'token', issuer, service: 'registry.test', pki } });
  image = await pushImage(registry, 'library/nginx', '1.25', 'oci-index');
  existing.add('library/nginx');
  proxy = await startRecordingProxy(registry.url);
  transport = new Transport({ requestTimeoutMs: 5000 });
});

afterAll(async () => {
  await transport?.destroy();
  await proxy?.stop();
  await registry?.stop();
  await issuer?.stop();
});

function client(options: { hub?: boolean } = {}): RegistryClient {
  return new RegistryClient({
    transport,
    isPlainHttpHost: (host) => host === proxy.host,
    dockerHubHost: options.hub ? proxy.host : undefined,
  });
}

describe('Bearer token flow', () => {
  test('anonymous token, then HEAD with it; the token is reused until it expires', async () => {
    const c = client();
    issuer.requests.length = 0;
    proxy.reset();
    const ref = parseImageReference(`${proxy.host}/library/nginx:1.25`);
    expect((await c.attempt(ref, undefined, false)).status).toBe('present');
    expect((await c.attempt(ref, undefined, false)).status).toBe('present');
    expect((await c.attempt(parseImageReference(`${proxy.host}/library/nginx:nope`), undefined, false)).status).toBe('absent');
    // One token for the repository scope, three checks.
    expect(issuer.requests).toHaveLength(1);
    expect(issuer.requests[0]?.query.get('scope')).toBe('repository:library/nginx:pull');
    expect(issuer.requests[0]?.query.get('service')).toBe('registry.test');
    expect(issuer.requests[0]?.authorization).toBeUndefined();
    // First HEAD challenged (401), then one HEAD per check with the cached token; the 404 is read by GET.
    const heads = proxy.requests.filter((r) => r.method === 'HEAD');
    expect(heads).toHaveLength(4);
    expect(heads.slice(1).every((r) => String(r.headers.authorization).startsWith('Bearer '))).toBe(true);
    // HEAD asks for all four manifest types.
    for (const type of [
      'application/vnd.oci.image.index.v1+json',
      'application/vnd.oci.image.manifest.v1+json',
      'application/vnd.docker.distribution.manifest.list.v2+json',
      'application/vnd.docker.distribution.manifest.v2+json',
    ]) {
      expect(String(heads[0]?.headers.accept)).toContain(type);
    }
  });

  test('a pinned digest is checked by digest; a different digest is absent', async () => {
    const c = client();
    expect((await c.attempt(parseImageReference(`${proxy.host}/library/nginx@${image.digest}`), undefined, false)).status).toBe('present');
    expect((await c.attempt(parseImageReference(`${proxy.host}/library/nginx@sha256:${'1'.repeat(64)}`), undefined, false)).status).toBe('absent');
  });

  test('a repository the token service refuses is NOT absent for an ordinary registry', async () => {
    const verdict = await client().attempt(parseImageReference(`${proxy.host}/team/ghost:1`), undefined, false);
    expect(verdict.status).toBe('auth_failure');
  });
});

describe('Docker Hub', () => {
  test('short names are normalized to library/ and asked of the Hub API host', async () => {
    proxy.reset();
    const verdict = await client({ hub: true }).attempt(parseImageReference('nginx:1.25'), undefined, false);
    expect(verdict.status).toBe('present');
    expect(proxy.requests.some((r) => r.path === '/v2/library/nginx/manifests/1.25')).toBe(true);
  });

  test("401 insufficient_scope after a valid anonymous token is Docker Hub's answer for a missing repository", async () => {
    const verdict = await client({ hub: true }).attempt(parseImageReference('no-such-user/no-such-image:1'), undefined, false);
    expect(verdict.status).toBe('absent');
  });

  test('…but not when the workload had credentials for it (the repository may be private)', async () => {
    const verdict = await client({ hub: true }).attempt(parseImageReference('no-such-user/no-such-image:1'), undefined, true);
    expect(verdict.status).not.toBe('absent');
  });
});

describe('token answers', () => {
  test('`access_token` instead of `token` is accepted', async () => {
    const altIssuer = await startTokenIssuer({ pki, service: 'alt.test', tokenField: 'access_token' });
    const alt = await startRegistry({ auth: { kind: 'token', issuer: altIssuer, service: 'alt.test', pki } });
    try {
      await pushImage(alt, 'app', '1', 'docker');
      const c = new RegistryClient({ transport, isPlainHttpHost: (host) => host === alt.host });
      expect((await c.attempt(parseImageReference(`${alt.host}/app:1`), undefined, false)).status).toBe('present');
      expect(altIssuer.requests).toHaveLength(1);
    } finally {
      await alt.stop();
      await altIssuer.stop();
    }
  });
});
