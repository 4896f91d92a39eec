import { describe, expect, test } from 'vitest';
import { DockerConfigError, parseDockerConfig } from '../../src/credentials/docker-config.js';
import { Keyring } from '../../src/credentials/keyring.js';
import { keyMatches, parseKey } from '../../src/credentials/matching.js';
import { parseSecret } from '../../src/credentials/secret-keyrings.js';
import { flagPlaces, parseMirrorRule, parseRegistryLocation, withDefaultRegistry } from '../../src/image/mirror.js';
import { parseImageReference } from '../../src/image/reference.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('parseDockerConfig', () => {
  test('auths with base64 auth or username/password', () => {
    const text = JSON.stringify({
      auths: {
        'registry.example.com': { auth: b64('alice:s3:cr3t') },
        'https://index.docker.io/v1/': { username: 'bob', password: 'pw' },
        'helper-only.example.com': { identitytoken: 'x' },
      },
    });
    expect(parseDockerConfig(text, 'dockerconfigjson')).toEqual([
      { key: 'registry.example.com', username: 'alice', password: 's3:cr3t' },
      { key: 'https://index.docker.io/v1/', username: 'bob', password: 'pw' },
    ]);
  });

  test('legacy .dockercfg is the auths map itself', () => {
    const text = JSON.stringify({ 'old.example.com': { auth: b64('u:p'), email: 'x@y' } });
    expect(parseDockerConfig(text, 'dockercfg')).toEqual([{ key: 'old.example.com', username: 'u', password: 'p' }]);
  });

  test.each([
    ['{not json', 'not valid JSON'],
    ['[]', 'not a JSON object'],
    ['{"auths": []}', '"auths" that is not an object'],
    ['{"auths": {"r": "x"}}', 'entry "r" is not an object'],
    [`{"auths": {"r": {"auth": "${b64('nocolon')}"}}}`, 'not base64 of user:password'],
  ])('malformed %s', (text, message) => {
    expect(() => parseDockerConfig(text, 'dockerconfigjson')).toThrow(DockerConfigError);
    expect(() => parseDockerConfig(text, 'dockerconfigjson')).toThrow(message);
  });

  test('errors never contain the secret', () => {
    try {
      parseDockerConfig(`{"auths": {"r": {"auth": "${b64('hunter2')}"}}}`, 'dockerconfigjson');
    } catch (error) {
      expect((error as Error).message).not.toContain('hunter2');
      expect((error as Error).message).not.toContain(b64('hunter2'));
      return;
    }
    throw new Error('expected an error');
  });

  test('secret types', () => {
    const data = { '.dockerconfigjson': b64(JSON.stringify({ auths: { r: { auth: b64('u:p') } } })) };
    expect(parseSecret({ type: 'kubernetes.io/dockerconfigjson', data })).toHaveLength(1);
    expect(() => parseSecret({ type: 'Opaque', data })).toThrow('has type "Opaque"');
    expect(() => parseSecret({ type: 'kubernetes.io/dockerconfigjson', data: {} })).toThrow('has no .dockerconfigjson key');
    expect(() => parseSecret({ type: 'kubernetes.io/dockercfg', data: { '.dockercfg': b64('junk') } })).toThrow(
      '.dockercfg is not valid JSON',
    );
  });
});

describe('kubelet-style key matching', () => {
  const ref = (image: string) => parseImageReference(image);
  test.each([
    ['registry.example.com', 'registry.example.com/team/app:1', true],
    ['https://registry.example.com', 'registry.example.com/app', true],
    ['https://registry.example.com/', 'registry.example.com/app', true],
    ['registry.example.com/team', 'registry.example.com/team/app', true],
    ['registry.example.com/team', 'registry.example.com/teamx/app', false],
    ['registry.example.com/team', 'registry.example.com/other/app', false],
    ['registry.example.com:5000', 'registry.example.com:5000/app', true],
    ['registry.example.com:5000', 'registry.example.com/app', false],
    ['registry.example.com', 'registry.example.com:5000/app', false],
    ['*.example.com', 'registry.example.com/app', true],
    ['*.example.com', 'a.b.example.com/app', false],
    ['*.example.com', 'example.com/app', false],
    ['https://index.docker.io/v1/', 'nginx', true],
    ['docker.io', 'library/nginx', true],
    ['registry-1.docker.io', 'bitnami/redis', true],
    ['index.docker.io', 'ghcr.io/x/y', false],
    ['docker.io/bitnami', 'bitnami/redis', true],
    ['docker.io/bitnami', 'nginx', false],
    ['REGISTRY.example.com', 'registry.example.com/app', true],
  ])('%s applies to %s: %s', (key, image, expected) => {
    const pattern = parseKey(key);
    expect(pattern).toBeDefined();
    expect(keyMatches(pattern!, ref(image))).toBe(expected);
  });

  test('most specific first: longer path, then exact host before wildcard', () => {
    const entries = [
      { key: '*.example.com', n: 1 },
      { key: 'registry.example.com', n: 2 },
      { key: 'registry.example.com/team/app', n: 3 },
      { key: 'registry.example.com/team', n: 4 },
      { key: 'other.example.org', n: 5 },
    ];
    expect(Keyring.of(entries).match(ref('registry.example.com/team/app:1')).map((e) => e.n)).toEqual([3, 4, 2, 1]);
  });

  test('keys that name no registry are ignored', () => {
    expect(parseKey('')).toBeUndefined();
    expect(parseKey('https://')).toBeUndefined();
    expect(parseKey('not a host')).toBeUndefined();
  });
});

describe('mirrors and default registry', () => {
  /** Where a node pulls from, in order; the last one has the last word on absence. */
  const sources = (image: string, mirrors: string[], options: { only?: string[]; def?: string } = {}) =>
    withDefaultRegistry(
      flagPlaces([...mirrors.map((r) => parseMirrorRule(r)), ...(options.only ?? []).map((r) => parseMirrorRule(r, true))]),
      options.def ? parseRegistryLocation(options.def) : undefined,
    )
      .plan(parseImageReference(image))
      .sources.map((s) => `${s.authoritative ? 'final' : 'mirror'} ${s.ref.canonical}`);

  test('a mirror is tried first, then the original, which has the last word (containerd)', () => {
    expect(sources('nginx', ['docker.io=mirror.example.com'])).toEqual([
      'mirror mirror.example.com/library/nginx:latest',
      'final docker.io/library/nginx:latest',
    ]);
    expect(sources('docker.io/library/nginx:1', ['docker.io=mirror.example.com/hub'])).toEqual([
      'mirror mirror.example.com/hub/library/nginx:1',
      'final docker.io/library/nginx:1',
    ]);
  });

  test('several mirrors of one prefix in flag order; the longest prefix wins; others untouched', () => {
    const rules = ['ghcr.io=m.example.com/ghcr', 'ghcr.io/org=m.example.com/org-mirror', 'ghcr.io/org=m2.example.com/org'];
    expect(sources('ghcr.io/org/app:1', rules)).toEqual([
      'mirror m.example.com/org-mirror/app:1',
      'mirror m2.example.com/org/app:1',
      'final ghcr.io/org/app:1',
    ]);
    expect(sources('ghcr.io/other/app:1', rules)).toEqual(['mirror m.example.com/ghcr/other/app:1', 'final ghcr.io/other/app:1']);
    expect(sources('quay.io/x/y:1', rules)).toEqual(['final quay.io/x/y:1']);
  });

  test('--image-mirror-only replaces the original: its answer is final', () => {
    expect(sources('nginx', [], { only: ['docker.io=airgap.example.com/hub'] })).toEqual(['final airgap.example.com/hub/library/nginx:latest']);
    expect(sources('nginx', ['docker.io=cache.example.com'], { only: ['docker.io=airgap.example.com'] })).toEqual([
      'mirror cache.example.com/library/nginx:latest',
      'final airgap.example.com/library/nginx:latest',
    ]);
  });

  test('digests survive a mirror', () => {
    const digest = `sha256:${'b'.repeat(64)}`;
    expect(sources(`nginx@${digest}`, ['docker.io=m.example.com'])[0]).toBe(`mirror m.example.com/library/nginx@${digest}`);
  });

  test('default registry only for names without a registry', () => {
    const final = (image: string, def: string) => sources(image, [], { def });
    expect(final('nginx', 'registry.internal')).toEqual(['final registry.internal/library/nginx:latest']);
    expect(final('team/app:1', 'registry.internal/proxy')).toEqual(['final registry.internal/proxy/team/app:1']);
    expect(final('docker.io/library/nginx', 'registry.internal')).toEqual(['final docker.io/library/nginx:latest']);
    expect(final('ghcr.io/a/b', 'registry.internal')).toEqual(['final ghcr.io/a/b:latest']);
  });

  test.each(['', 'docker.io', '=x', 'x=', 'a b=c', 'docker.io=UPPER/Path'])('rejects %j', (rule) => {
    expect(() => parseMirrorRule(rule)).toThrow('original=mirror');
  });
});
