/**
 * No false absence where a node can pull: several credentials for one registry, a registry that
 * hides private repositories behind a flaky `/v2/`, mirrors that are real pull-through caches whose
 * upstream is rate limited or down, HEAD answered 501. And no registry can starve the others: hosts
 * that never answer lose their slots. Real registries (Debian's docker-registry) throughout; the
 * fronts that misbehave forward everything else to them.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { PREFIX, startExporter, type RunningExporter, type Scrape } from '../support/exporter.js';
import { distributionError, startHostileHttp, startHostileTcp, DISTRIBUTION } from '../support/hostile.js';
import { startKubeApi, type KubeApi } from '../support/kube-api.js';
import { deployment, dockerConfigSecret } from '../support/objects.js';
import { startRecordingProxy, type RecordingProxy } from '../support/proxy.js';
import { pushImage } from '../support/push.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { startTokenIssuer } from '../support/token-issuer.js';
import { createPki } from '../support/pki.js';
import { makeTempDir } from '../support/tmp.js';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const STATUS = `${PREFIX}_image_check_status`;
const EXISTS = `${PREFIX}_deployment_image_exists`;
const ALICE = 'pw-Al1ce-5e2f';
const BOB = 'pw-B0b-77c1';
const WRONG = 'pw-Wr0ng-91d3';

let kube: KubeApi;
const exporters: RunningExporter[] = [];
const cleanups: Array<() => Promise<void>> = [];

async function exporterWith(flags: string[]): Promise<RunningExporter> {
  const exporter = await startExporter(kube.kubeconfigPath, ['--allow-plain-http=127.0.0.1:*', ...flags]);
  exporters.push(exporter);
  return exporter;
}

const status = (scrape: Scrape, owner: string) => scrape.find(STATUS, { owner_name: owner }).map((s) => s.labels.status);
const exists = (scrape: Scrape, owner: string) => scrape.find(EXISTS, { owner_name: owner }).map((s) => s.value);

function workload(name: string, image: string, imagePullSecrets: string[] = []) {
  return deployment('trust', name, { containers: [{ name: 'app', image }], imagePullSecrets });
}

beforeAll(async () => {
  kube = await startKubeApi();
  kube.set('ServiceAccount', []);
});

afterAll(async () => {
  for (const exporter of exporters) await exporter.stop();
  for (const cleanup of cleanups.reverse()) await cleanup();
  await kube?.stop();
  // Nothing the tests used as a password shows in any log line or scrape.
  for (const exporter of exporters) {
    for (const line of exporter.logs) for (const secret of [ALICE, BOB, WRONG]) expect(line).not.toContain(secret);
  }
});

/** The user of a Basic Authorization header, if the header is one. */
function basicUser(header: string | undefined): string | undefined {
  if (!header?.startsWith('Basic ')) return undefined;
  return Buffer.from(header.slice(6), 'base64').toString('utf8').split(':')[0];
}

describe('a registry that hides what an identity may not see (404, not 401)', () => {
  let backend: RunningRegistry;
  let front: RecordingProxy;
  let pingBroken = false;
  // Each user sees only its own projects; everything else is a 404, as for anonymous users.
  const visible: Record<string, string> = { alice: 'a/', bob: 'b/' };

  beforeAll(async () => {
    backend = await startRegistry({ auth: { kind: 'htpasswd', users: { alice: ALICE, bob: BOB } } });
    await pushImage(backend, 'a/app', '1', 'docker');
    await pushImage(backend, 'b/app', '1', 'oci');
    cleanups.push(() => backend.stop());
    front = await startRecordingProxy(backend.url, {
      intercept(req: IncomingMessage, res: ServerResponse) {
        if (req.url === '/v2/') {
          if (!pingBroken) return false;
          res.writeHead(502, { 'content-type': 'text/html' });
          res.end('<html>502 Bad Gateway</html>');
          return true;
        }
        const repository = /^\/v2\/(.+)\/manifests\//.exec(req.url ?? '')?.[1];
        if (repository === undefined) return false;
        const user = basicUser(req.headers.authorization);
        if (user && visible[user] && repository.startsWith(visible[user] as string)) return false; // the registry checks the password
        distributionError(res, 404, 'NAME_UNKNOWN');
        return true;
      },
    });
    cleanups.push(() => front.stop());
    kube.set('Secret', [
      dockerConfigSecret('trust', 'alice', { [front.host]: { username: 'alice', password: ALICE } }),
      dockerConfigSecret('trust', 'bob', { [front.host]: { username: 'bob', password: BOB } }),
      dockerConfigSecret('trust', 'bob-wrong', { [front.host]: { username: 'bob', password: WRONG } }),
    ]);
  });

  test.each([
    ['answers', false],
    ['fails', true],
  ])('while /v2/ %s: rejected credentials, then an anonymous 404, is "not visible", never absence', async (_, broken) => {
    pingBroken = broken;
    kube.set('Deployment', [
      workload('wrong-password', `${front.host}/b/app:1`, ['bob-wrong']),
      workload('wrong-then-right', `${front.host}/b/app:1`, ['bob-wrong', 'bob']),
      workload('wrong-password-missing', `${front.host}/b/app:2`, ['bob-wrong']),
    ]);
    const scrape = await (await exporterWith([])).scrape();
    expect(status(scrape, 'wrong-password')).toEqual(['auth_failure']);
    expect(status(scrape, 'wrong-password-missing')).toEqual(['auth_failure']);
    expect(exists(scrape, 'wrong-password-missing')).toEqual([]);
    expect(status(scrape, 'wrong-then-right')).toEqual(['present']);
    pingBroken = false;
  });

  test('several credentials: tried in kubelet order on anything but present; present if any sees it; absent only if all say so', async () => {
    pingBroken = false;
    const dir = await makeTempDir('trust');
    const nodeConfig = join(dir, 'config.json');
    await writeFile(nodeConfig, JSON.stringify({ auths: { [front.host]: { auth: Buffer.from(`bob:${BOB}`).toString('base64') } } }));
    kube.set('Deployment', [
      workload('both-sees-b', `${front.host}/b/app:1`, ['alice', 'bob']),
      workload('both-missing', `${front.host}/b/app:2`, ['alice', 'bob']),
      workload('alice-only', `${front.host}/b/app:1`, ['alice']),
      workload('alice-then-node-config', `${front.host}/b/app:1`, ['alice']),
    ]);
    const plain = await (await exporterWith([])).scrape();
    // The first credential's 404 no longer decides: the second one sees the image.
    expect(status(plain, 'both-sees-b')).toEqual(['present']);
    expect(exists(plain, 'both-sees-b')).toEqual([1]);
    expect(status(plain, 'both-missing')).toEqual(['absent']);
    // With only alice's credentials a node cannot pull it either: the registry says so to that node.
    expect(status(plain, 'alice-only')).toEqual(['absent']);

    // --docker-config (the node's own credentials) comes after the pull secrets, and is tried too.
    const withNode = await (await exporterWith([`--docker-config=${nodeConfig}`])).scrape();
    expect(status(withNode, 'alice-then-node-config')).toEqual(['present']);
    expect(status(withNode, 'both-missing')).toEqual(['absent']);
  });

  test('a failed GET /v2/ never sends the check out anonymously; an anonymous 404 proves nothing while credentials were not tried', async () => {
    pingBroken = true;
    kube.set('Deployment', [
      workload('private', `${front.host}/b/app:1`, ['bob']),
      workload('private-missing', `${front.host}/b/app:2`, ['bob']),
      workload('no-credentials', `${front.host}/c/app:1`),
    ]);
    const exporter = await exporterWith(['--check-interval=1s']);
    let scrape = await exporter.scrape();
    expect(status(scrape, 'private')).toEqual(['present']);
    expect(exists(scrape, 'private')).toEqual([1]);
    // The registry's 404 may be for a request it did not authenticate: not proof.
    expect(status(scrape, 'private-missing')).toEqual(['registry_unavailable']);
    expect(exists(scrape, 'private-missing')).toEqual([]);
    // Nobody has credentials there: what anyone (and any node) is told is the answer.
    expect(status(scrape, 'no-credentials')).toEqual(['absent']);
    // The credentials went to that registry only, and nowhere over a plain request it was not allowed.
    expect(front.requests.some((r) => basicUser(r.headers.authorization as string) === 'bob')).toBe(true);

    // /v2/ recovers: the retry (a failure is retried after one interval here) proves the absence.
    pingBroken = false;
    await sleep(1100);
    scrape = await exporter.scrapeFresh();
    expect(status(scrape, 'private-missing')).toEqual(['absent']);
    expect(exists(scrape, 'private-missing')).toEqual([0]);
  });
});

describe('a mirror that is a real pull-through cache (docker-registry in proxy mode)', () => {
  let upstream: RunningRegistry;
  let upstreamFront: RecordingProxy;
  let mirror: RunningRegistry;
  let rateLimited = false;

  beforeAll(async () => {
    upstream = await startRegistry();
    for (const tag of ['1', '2', '3']) await pushImage(upstream, 'team/app', tag, 'docker');
    cleanups.push(() => upstream.stop());
    // What the cache sees of its upstream: sometimes only 429s (the upstream limits the cache's IP).
    upstreamFront = await startRecordingProxy(upstream.url, {
      intercept(_req, res) {
        if (!rateLimited) return false;
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '60' });
        res.end(JSON.stringify({ errors: [{ code: 'TOOMANYREQUESTS', message: 'rate limit' }] }));
        return true;
      },
    });
    cleanups.push(() => upstreamFront.stop());
    mirror = await startRegistry({ pullThroughOf: { remoteurl: upstreamFront.url } });
    cleanups.push(() => mirror.stop());
  });

  test('its 404 while the upstream answers 429 is not absence: the node falls back to the original and pulls', async () => {
    rateLimited = true;
    kube.set('Deployment', [
      workload('uncached', `${upstream.host}/team/app:1`),
      workload('missing', `${upstream.host}/team/app:nope`),
    ]);
    try {
      const scrape = await (await exporterWith([`--image-mirror=${upstream.host}=${mirror.host}`])).scrape();
      expect(status(scrape, 'uncached')).toEqual(['present']);
      expect(exists(scrape, 'uncached')).toEqual([1]);
      // Absent where the original says so.
      expect(status(scrape, 'missing')).toEqual(['absent']);
    } finally {
      rateLimited = false;
    }
  });

  test('its 404 while the upstream is down is not absence either; with --image-mirror-only the mirror has the last word', async () => {
    const cached = await fetch(`${mirror.url}/v2/team/app/manifests/3`, { headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' } });
    expect(cached.status).toBe(200); // the cache has tag 3 from now on
    await upstream.stop();
    try {
      kube.set('Deployment', [workload('uncached', `${upstream.host}/team/app:2`), workload('cached', `${upstream.host}/team/app:3`)]);
      const scrape = await (await exporterWith([`--image-mirror=${upstream.host}=${mirror.host}`])).scrape();
      expect(status(scrape, 'uncached')).toEqual(['registry_unavailable']);
      expect(exists(scrape, 'uncached')).toEqual([]);
      expect(scrape.find(STATUS, { owner_name: 'uncached' })).toHaveLength(1);
      expect(status(scrape, 'cached')).toEqual(['present']);
      // An air-gapped cluster that pulls only from the mirror: the mirror's 404 is final (README caveat).
      const only = await (await exporterWith([`--image-mirror-only=${upstream.host}=${mirror.host}`])).scrape();
      expect(status(only, 'uncached')).toEqual(['absent']);
      expect(status(only, 'cached')).toEqual(['present']);
    } finally {
      await upstream.start();
    }
  });
});

test('HEAD answered 501 (not implemented) gets the GET fallback, like 405', async () => {
  const digest = `sha256:${'5'.repeat(64)}`;
  const server = await startHostileHttp((req, res) => {
    if (req.method === 'HEAD') {
      res.writeHead(501, DISTRIBUTION);
      return res.end();
    }
    if (req.url === '/v2/') {
      res.writeHead(200, DISTRIBUTION);
      return res.end('{}');
    }
    if (req.url?.endsWith('/manifests/1')) {
      res.writeHead(200, { ...DISTRIBUTION, 'docker-content-digest': digest, 'content-type': 'application/vnd.docker.distribution.manifest.v2+json' });
      return res.end('{"schemaVersion":2}');
    }
    distributionError(res, 404, 'MANIFEST_UNKNOWN');
  });
  cleanups.push(() => server.stop());
  kube.set('Deployment', [workload('head-501', `${server.host}/app:1`), workload('head-501-missing', `${server.host}/app:2`)]);
  const scrape = await (await exporterWith([])).scrape();
  expect(status(scrape, 'head-501')).toEqual(['present']);
  expect(status(scrape, 'head-501-missing')).toEqual(['absent']);
});

test('registries that never answer cannot starve the others; after their timeouts they fail fast', async () => {
  const silent = await Promise.all([0, 1].map(() => startHostileTcp(() => undefined)));
  for (const s of silent) cleanups.push(() => s.stop());
  const healthy = await startRegistry();
  cleanups.push(() => healthy.stop());
  for (let i = 0; i < 60; i++) await pushImage(healthy, `svc${i}`, '1', 'docker');
  // Silent hosts first: a FIFO limit would give them every slot.
  kube.set('Deployment', [
    ...silent.flatMap((s, h) => Array.from({ length: 60 }, (_, i) => workload(`silent${h}-${i}`, `${s.host}/svc${i}:1`))),
    ...Array.from({ length: 60 }, (_, i) => workload(`healthy-${i}`, `${healthy.host}/svc${i}:1`)),
  ]);
  const exporter = await exporterWith(['--registry-timeout=2s']);
  const first = await exporter.scrape({ timeoutSeconds: 4 });
  const healthyPresent = Array.from({ length: 60 }, (_, i) => status(first, `healthy-${i}`)).filter((s) => s[0] === 'present');
  expect(healthyPresent).toHaveLength(60);

  // After the first timeouts the silent hosts' circuits open: their other checks fail at once
  // instead of each holding a slot for a whole timeout.
  await sleep(2500);
  const later = await exporter.scrape({ timeoutSeconds: 4 });
  expect(later.value(`${PREFIX}_checks_pending`)).toBe(0);
  for (const [h, s] of silent.entries()) {
    expect(status(later, `silent${h}-59`)).toEqual(['registry_unavailable']);
    // Only its fair share of connections was ever opened, not one per image.

    expect(s.requests.length).toBeLessThan(20);
  }
  expect(exporter.logs.some((l) => l.includes('not asked'))).toBe(true);
});

test('concurrent checks of one repository share one token request', async () => {
  const pki = await createPki();
  const issuer = await startTokenIssuer({ pki, service: 'share.test' });
  cleanups.push(() => issuer.stop());
  const registry = await startRegistry({ auth: { kind: 'token', issuer, service: 'share.test', pki } });
  cleanups.push(() => registry.stop());
  for (let i = 0; i < 10; i++) await pushImage(registry, 'team/app', String(i), 'docker');
  issuer.requests.length = 0;
  kube.set('Deployment', Array.from({ length: 10 }, (_, i) => workload(`tag-${i}`, `${registry.host}/team/app:${i}`)));
  const scrape = await (await exporterWith([])).scrape();
  expect(Array.from({ length: 10 }, (_, i) => status(scrape, `tag-${i}`)[0])).toEqual(Array(10).fill('present'));
  expect(issuer.requests).toHaveLength(1);
});
