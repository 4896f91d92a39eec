/**
 * Issue 20, items 1, 2 and 7, tried as a hostile registry, token service or credential plugin would,
 * past the bounds the first fixes put in: text the registry chooses in a redirect, a token service's
 * `expires_in`, an index entry without a platform, a plugin's answer of tens of thousands of auth
 * entries, and answers cached per image without end. Real loopback servers, real plugin executables.
 */
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadPluginProviders } from '../../src/credentials/providers/plugin.js';
import { parseImageReference } from '../../src/image/reference.js';
import { createLogger } from '../../src/utils/log.js';
import { platformsOfIndex } from '../../src/platform/platform.js';
import { parseChallenges } from '../../src/registry/challenge.js';
import { PlatformFacts } from '../../src/registry/platforms.js';
import { RegistryClient } from '../../src/registry/client.js';
import { Transport } from '../../src/registry/transport.js';
import { DISTRIBUTION, startHostileHttp, type Hostile } from '../support/hostile.js';
import { makeTempDir } from '../support/tmp.js';

/** The bounds README states (src/utils/untrusted.ts, src/credentials/providers/plugin.ts). */
const MAX_REASON_CHARS = 1000;
const MAX_SECRET_CHARS = 16 * 1024;
const MAX_CACHED_CHARS = 8 * 1024 * 1024;
const MAX_TOKEN_CHARS_KEPT = 16 * 1024 * 1024;
const DIGEST = `sha256:${'a'.repeat(64)}`;

describe('a hostile registry', () => {
  let transport: Transport;
  let hostile: Hostile;
  beforeAll(async () => {
    transport = new Transport({ requestTimeoutMs: 5000 });
    hostile = await startHostileHttp((req, res, self) => {
      const path = (req.url ?? '').split('?')[0] as string;
      const send = (status: number, headers: Record<string, string>, body = '') => {
        res.writeHead(status, { ...DISTRIBUTION, 'content-type': 'application/json', ...headers });
        res.end(req.method === 'HEAD' ? undefined : body);
      };
      // JSON reads 1e400 as Infinity.
      if (path === '/token') return send(200, {}, '{"token":"forever","expires_in":1e400}');
      if (path.startsWith('/v2/redirect/')) return send(307, { location: `http://${'h'.repeat(60_000)}.example/x` });
      if (path.startsWith('/v2/token/') && req.headers.authorization === 'Bearer forever') return send(200, { 'docker-content-digest': DIGEST });
      return send(401, { 'www-authenticate': `Bearer realm="http://${self.host}/token",service="s"` }, '{}');
    });
  });
  afterAll(async () => {
    await hostile.stop();
    await transport.destroy();
  });

  test('a redirect to a 60,000-character host is refused with the host cut to a code’s bound', async () => {
    const client = new RegistryClient({ transport, isPlainHttpHost: (host) => host === hostile.host });
    const answer = await client.attempt(parseImageReference(`${hostile.host}/redirect/app:1`), undefined, false);
    expect(answer.status).toBe('unknown_error');
    expect(answer.detail).toContain('refusing redirect to plain HTTP hhhh');
    expect(answer.detail.length).toBeLessThanOrEqual(MAX_REASON_CHARS);
  });

  test('a token that "expires" in 1e400 s is asked again within an hour, not kept for ever', async () => {
    let now = Date.now();
    const client = new RegistryClient({ transport, isPlainHttpHost: (host) => host === hostile.host, now: () => now });
    const ref = parseImageReference(`${hostile.host}/token/app:1`);
    const tokenRequests = () => hostile.requests.filter((r) => r.url.startsWith('/token')).length;
    const before = tokenRequests();
    expect((await client.attempt(ref, undefined, false)).status).toBe('present');
    expect((await client.attempt(ref, undefined, false)).status).toBe('present');
    expect(tokenRequests() - before).toBe(1);
    now += 61 * 60_000;
    client.prune();
    expect((await client.attempt(ref, undefined, false)).status).toBe('present');
    expect(tokenRequests() - before).toBe(2);
  });
});

describe('tokens of a hostile token service', () => {
  const TOKEN_CHARS = 12 * 1024;
  let transport: Transport;
  let hostile: Hostile;
  beforeAll(async () => {
    transport = new Transport({ requestTimeoutMs: 5000 });
    hostile = await startHostileHttp((req, res, self) => {
      const path = (req.url ?? '').split('?')[0] as string;
      const send = (status: number, headers: Record<string, string>, body = '') => {
        res.writeHead(status, { ...DISTRIBUTION, 'content-type': 'application/json', ...headers });
        res.end(req.method === 'HEAD' ? undefined : body);
      };
      // A token near the longest a service may hand out (Node's HTTP server reads 16 KiB of headers),
      // for every repository, valid for an hour.
      if (path === '/token') return send(200, {}, JSON.stringify({ token: 't'.repeat(TOKEN_CHARS), expires_in: 3600 }));
      if (req.headers.authorization?.startsWith('Bearer tttt')) return send(200, { 'docker-content-digest': DIGEST });
      return send(401, { 'www-authenticate': `Bearer realm="http://${self.host}/token",service="s"` }, '{}');
    });
  });
  afterAll(async () => {
    await hostile.stop();
    await transport.destroy();
  });

  test('are kept up to a bound in all: the first of 1,374 repositories’ is dropped and asked again, the last kept', async () => {
    const client = new RegistryClient({ transport, isPlainHttpHost: (host) => host === hostile.host });
    const repositories = Math.ceil(MAX_TOKEN_CHARS_KEPT / TOKEN_CHARS) + 8;
    const ref = (i: number) => parseImageReference(`${hostile.host}/big${i}/app:1`);
    const tokenRequests = (i: number) => hostile.requests.filter((r) => r.url.startsWith('/token') && r.url.includes(encodeURIComponent(`big${i}/app`))).length;
    for (let i = 0; i < repositories; i += 16) {
      const batch = Array.from({ length: Math.min(16, repositories - i) }, (_, j) => client.attempt(ref(i + j), undefined, false));
      for (const answer of await Promise.all(batch)) expect(`${answer.status} ${answer.detail}`).toMatch(/^present/);
    }
    expect(tokenRequests(0)).toBe(1);
    expect((await client.attempt(ref(repositories - 1), undefined, false)).status).toBe('present');
    expect(tokenRequests(repositories - 1)).toBe(1);
    expect((await client.attempt(ref(0), undefined, false)).status).toBe('present');
    expect(tokenRequests(0)).toBe(2);
  }, 60_000);
});

describe('an index entry without a platform', () => {
  test('makes the image’s platforms not knowable: containerd would consider it for every node', () => {
    // What containerd pulls for an arm64 node here may well be the entry without a platform (its
    // config decides): "linux/amd64 only" would report arm64 missing, a false alert.
    const index = {
      manifests: [
        { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: DIGEST, size: 1 },
        { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: DIGEST, size: 1, platform: { os: 'linux', architecture: 'amd64' } },
      ],
    };
    expect(platformsOfIndex(index)).toHaveProperty('unknowable');
    // Attestations still do not count, with or without a platform.
    const attested = {
      manifests: [
        { digest: DIGEST, annotations: { 'vnd.docker.reference.type': 'attestation-manifest' } },
        { digest: DIGEST, platform: { os: 'linux', architecture: 'amd64' } },
      ],
    };
    expect(platformsOfIndex(attested)).toStrictEqual([{ os: 'linux', architecture: 'amd64' }]);
  });
});

const REGISTRY = 'registry.example:5000';

async function pluginProvider(script: string, env: Record<string, string>) {
  const dir = await makeTempDir('adversary-plugin');
  const bin = join(dir, 'bin');
  await mkdir(bin);
  await writeFile(join(bin, 'p'), script);
  await chmod(join(bin, 'p'), 0o755);
  const config = join(dir, 'config.json');
  await writeFile(
    config,
    JSON.stringify({
      apiVersion: 'kubelet.config.k8s.io/v1',
      kind: 'CredentialProviderConfig',
      providers: [
        {
          name: 'p',
          matchImages: [REGISTRY],
          defaultCacheDuration: '1m',
          apiVersion: 'credentialprovider.kubelet.k8s.io/v1',
          env: Object.entries({ ...env, RECORD: join(dir, 'runs') }).map(([name, value]) => ({ name, value })),
        },
      ],
    }),
  );
  const [loaded] = await loadPluginProviders(config, bin, { logger: createLogger('error', () => undefined), timeoutMs: 30_000 });
  const runs = async () => (await readFile(join(dir, 'runs'), 'utf8').catch(() => '')).length;
  return { plugin: loaded as NonNullable<typeof loaded>, runs };
}

describe('a hostile credential plugin', () => {
  test('an answer of 65,000 auth entries (under 1 MiB) is refused, not parsed into tens of MB', async () => {
    // Each `"*.hN.x":{}` is an entry (username and password default to ''), plus one for the image.
    const script = `#!/usr/bin/env node
process.stdin.resume();
process.stdin.on('end', () => {
  const auth = {};
  for (let i = 0; i < 65000; i++) auth['*.h' + i + '.x'] = {};
  auth['${REGISTRY}'] = { username: 'u', password: 'p' };
  process.stdout.write(JSON.stringify({ apiVersion: 'credentialprovider.kubelet.k8s.io/v1', kind: 'CredentialProviderResponse', cacheKeyType: 'Registry', auth }));
});
`;
    const { plugin } = await pluginProvider(script, {});
    await expect(plugin.credentialFor(parseImageReference(`${REGISTRY}/team/app:1`))).rejects.toThrow(/answered with more than 64 auth entries/);
  }, 60_000);

  test('Image-keyed answers cached for 100,000 h are bounded in all: the oldest is dropped, and asked again', async () => {
    // Each answer holds a token-sized username and password (32 KiB): past MAX_CACHED_CHARS of them,
    // the least recently used one is no longer kept.
    const script = `#!/bin/sh
cat > /dev/null
printf x >> "$RECORD"
printf '{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderResponse","cacheKeyType":"Image","cacheDuration":"100000h","auth":{"%s":{"username":"%s","password":"%s"}}}' "${REGISTRY}" "$BIG" "$BIG"
`;
    const { plugin, runs } = await pluginProvider(script, { BIG: 's'.repeat(MAX_SECRET_CHARS) });
    const images = Math.ceil(MAX_CACHED_CHARS / (2 * MAX_SECRET_CHARS)) + 8;
    const ref = (i: number) => parseImageReference(`${REGISTRY}/team/app${i}:1`);
    for (let i = 0; i < images; i += 8) {
      await Promise.all(Array.from({ length: Math.min(8, images - i) }, (_, j) => plugin.credentialFor(ref(i + j))));
    }
    expect(await runs()).toBe(images);
    // The latest one is still cached…
    await plugin.credentialFor(ref(images - 1));
    expect(await runs()).toBe(images);
    // …the first one was dropped: the plugin runs again for it.
    expect((await plugin.credentialFor(ref(0))).username).toHaveLength(MAX_SECRET_CHARS);
    expect(await runs()).toBe(images + 1);
  }, 60_000);
});

describe('a hostile WWW-Authenticate header', () => {
  test('keeps only the params the exporter reads: a challenge holds at most a realm and three codes', () => {
    // 64 KiB of header: eight challenges of long params nobody reads, then the ones that count.
    const junk = Array.from({ length: 8 }, (_, i) => `p${i}="${'j'.repeat(190)}"`).join(',');
    const header = Array.from({ length: 8 }, (_, i) => `${i === 0 ? 'Bearer' : `S${i}`} ${junk},realm="https://auth.example/token",service="s"`).join(', ');
    const challenges = parseChallenges(header);
    expect(challenges[0]).toEqual({ scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 's' } });
    const kept = challenges.reduce((sum, c) => sum + Object.entries(c.params).reduce((n, [k, v]) => n + k.length + v.length, 0), 0);
    expect(kept).toBeLessThanOrEqual(8 * (MAX_REASON_CHARS + 3 * 200 + 30));
    expect(challenges.every((c) => Object.keys(c.params).every((k) => ['realm', 'service', 'scope', 'error'].includes(k)))).toBe(true);
  });
});

describe('a manifest naming a config digest 100,000 characters long', () => {
  test('is not asked for: only a digest of a digest’s length goes into a URL', async () => {
    const asked: string[] = [];
    const facts = new PlatformFacts();
    await facts.learn(DIGEST, async (path) => {
      asked.push(path);
      return path.startsWith('manifests/') ? { config: { digest: `sha256:${'b'.repeat(100_000)}` }, layers: [] } : { os: 'linux', architecture: 'amd64' };
    });
    expect(asked).toEqual([`manifests/${DIGEST}`]);
    expect(facts.of(DIGEST)).toBeUndefined();
  });
});
