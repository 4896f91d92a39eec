/**
 * Private registries seen the way the kubelet of each workload would see them: pull secrets on the
 * template or the ServiceAccount, kubelet key matching, Basic and Bearer auth, TLS with a test CA,
 * plain HTTP, mirrors, proxies and redirects. Real registries throughout; no secret ever leaks.
 */
import { createServer as createHttpServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startKubeApi, type KubeApi } from '../support/kube-api.js';
import {
  deployment,
  dockercfgSecret,
  dockerConfigSecret,
  serviceAccount,
  type PodTemplateInput,
} from '../support/objects.js';
import { PREFIX, startExporter, type RunningExporter, type Scrape } from '../support/exporter.js';
import { createPki, type Pki } from '../support/pki.js';
import { pushImage } from '../support/push.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { makeTempDir } from '../support/tmp.js';
import { startTokenIssuer, type TokenIssuer } from '../support/token-issuer.js';

const STATUS = `${PREFIX}_image_check_status`;
const EXISTS = `${PREFIX}_deployment_image_exists`;

// Distinctive so that a leak anywhere is found by a plain substring search.
const PASSWORD = 'pw-Secr3t-7f9c2e';
const OTHER_PASSWORD = 'pw-0ther-4b1d8a';
const WRONG_PASSWORD = 'pw-Wr0ng-c3a9e1';
const SECRETS = [PASSWORD, OTHER_PASSWORD, WRONG_PASSWORD];

let pki: Pki;
let kube: KubeApi;
let basic: RunningRegistry; // htpasswd over TLS
let issuer: TokenIssuer;
let bearer: RunningRegistry; // token auth over TLS, issuer on plain HTTP
let plain: RunningRegistry; // anonymous, plain HTTP
let hub: RunningRegistry; // anonymous, TLS: stands in for a Docker Hub mirror
let caFile: string;
const exporters: RunningExporter[] = [];

const status = (scrape: Scrape, owner: string) => scrape.find(STATUS, { owner_name: owner }).map((s) => s.labels.status);

async function exporterWith(flags: string[] = []): Promise<RunningExporter> {
  const exporter = await startExporter(kube.kubeconfigPath, [`--registry-ca-file=${caFile}`, ...flags]);
  exporters.push(exporter);
  return exporter;
}

function workload(namespace: string, name: string, image: string, extra: Partial<PodTemplateInput> = {}) {
  return deployment(namespace, name, { containers: [{ name: 'app', image }], ...extra });
}

beforeAll(async () => {
  pki = await createPki();
  const dir = await makeTempDir('private-registries');
  caFile = join(dir, 'ca.pem');
  await writeFile(caFile, pki.caCertPem);
  basic = await startRegistry({ tls: pki, auth: { kind: 'htpasswd', users: { alice: PASSWORD, bob: OTHER_PASSWORD } } });
  await pushImage(basic, 'team/app', '1', 'docker');
  await pushImage(basic, 'other/app', '1', 'docker');
  issuer = await startTokenIssuer({
    pki,
    service: 'private.test',
    users: { carol: PASSWORD },
    grant: ({ subject, actions }) => (subject === null ? [] : actions),
  });
  bearer = await startRegistry({ tls: pki, auth: { kind: 'token', issuer, service: 'private.test', pki } });
  await pushImage(bearer, 'secure/app', '1', 'oci');
  plain = await startRegistry();
  await pushImage(plain, 'open/app', '1', 'docker');
  hub = await startRegistry({ tls: pki });
  await pushImage(hub, 'library/nginx', 'latest', 'oci-index');
  kube = await startKubeApi();
});

afterAll(async () => {
  // The whole matrix is over: nothing any exporter logged or exported may contain a secret.
  for (const exporter of exporters) {
    const text = exporter.logs.join('') + (await exporter.scrape().then((s) => s.text, () => ''));
    for (const secret of SECRETS) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain(Buffer.from(`alice:${secret}`).toString('base64'));
    }
    await exporter.stop();
  }
  await kube?.stop();
  for (const r of [basic, bearer, plain, hub]) await r?.stop();
  await issuer?.stop();
});

describe('pull secrets, like the kubelet', () => {
  let scrape: Scrape;

  beforeAll(async () => {
    const host = basic.host;
    kube.set('Secret', [
      dockerConfigSecret('prod', 'regcred', { [`https://${host}`]: { username: 'alice', password: PASSWORD } }),
      dockerConfigSecret('prod', 'wrong', { [host]: { username: 'alice', password: WRONG_PASSWORD } }),
      dockercfgSecret('prod', 'legacy', { [host]: { auth: Buffer.from(`bob:${OTHER_PASSWORD}`).toString('base64') } }),
      dockerConfigSecret('prod', 'scoped', {
        [`${host}/team`]: { username: 'alice', password: PASSWORD },
        [host]: { username: 'alice', password: WRONG_PASSWORD },
      }),
      dockerConfigSecret('prod', 'fallback', {
        [`${host}/team/app`]: { username: 'alice', password: WRONG_PASSWORD },
        [`*.0.0.1:${host.split(':')[1]}`]: { username: 'alice', password: 'unused' },
        [host]: { username: 'bob', password: OTHER_PASSWORD },
      }),
      {
        metadata: { namespace: 'prod', name: 'garbled' },
        type: 'kubernetes.io/dockerconfigjson',
        data: { '.dockerconfigjson': Buffer.from('{"auths": {oops').toString('base64') },
      },
      dockerConfigSecret('prod', 'forbidden', { [host]: { username: 'alice', password: PASSWORD } }),
      dockerConfigSecret('elsewhere', 'only-here', { [host]: { username: 'alice', password: PASSWORD } }),
    ]);
    kube.set('ServiceAccount', [
      serviceAccount('prod', 'default'),
      serviceAccount('prod', 'puller', ['regcred']),
      serviceAccount('elsewhere', 'default'),
    ]);
    kube.fault({ path: '/api/v1/namespaces/prod/secrets/forbidden', status: 403, message: 'secrets "forbidden" is forbidden' });
    kube.set('Deployment', [
      workload('prod', 'template-secret', `${host}/team/app:1`, { imagePullSecrets: ['regcred'] }),
      workload('prod', 'template-absent', `${host}/team/app:404`, { imagePullSecrets: ['regcred'] }),
      workload('prod', 'account-secret', `${host}/team/app:1`, { serviceAccountName: 'puller' }),
      workload('prod', 'no-secret', `${host}/team/app:1`),
      workload('prod', 'wrong-password', `${host}/team/app:1`, { imagePullSecrets: ['wrong'] }),
      workload('prod', 'legacy-dockercfg', `${host}/team/app:1`, { imagePullSecrets: ['legacy'] }),
      workload('prod', 'path-scoped', `${host}/team/app:1`, { imagePullSecrets: ['scoped'] }),
      workload('prod', 'path-outside', `${host}/other/app:1`, { imagePullSecrets: ['scoped'] }),
      workload('prod', 'second-key', `${host}/team/app:1`, { imagePullSecrets: ['fallback'] }),
      workload('prod', 'missing-secret', `${host}/team/app:1`, { imagePullSecrets: ['does-not-exist'] }),
      workload('prod', 'forbidden-secret', `${host}/team/app:1`, { imagePullSecrets: ['forbidden'] }),
      workload('prod', 'malformed-secret', `${host}/team/app:1`, { imagePullSecrets: ['garbled'] }),
      workload('prod', 'missing-but-public', `${plain.host}/open/app:1`, { imagePullSecrets: ['does-not-exist'] }),
      workload('elsewhere', 'own-namespace', `${host}/team/app:1`, { imagePullSecrets: ['only-here'] }),
      workload('prod', 'other-namespace', `${host}/team/app:1`, { imagePullSecrets: ['only-here'] }),
    ]);
    const exporter = await exporterWith([`--allow-plain-http=${plain.host}`]);
    scrape = await exporter.scrape();
  });

  test.each([
    ['template-secret', 'present'],
    ['template-absent', 'absent'],
    ['account-secret', 'present'],
    ['no-secret', 'auth_failure'],
    ['wrong-password', 'auth_failure'],
    ['legacy-dockercfg', 'present'],
    ['path-scoped', 'present'],
    ['path-outside', 'auth_failure'],
    ['second-key', 'present'],
    ['missing-secret', 'auth_failure'],
    ['forbidden-secret', 'auth_failure'],
    ['malformed-secret', 'auth_failure'],
    ['missing-but-public', 'present'],
    ['own-namespace', 'present'],
    ['other-namespace', 'auth_failure'],
  ])('%s → %s', (owner, expected) => {
    expect(status(scrape, owner)).toEqual([expected]);
    const exists = scrape.value(EXISTS, { owner_name: owner });
    expect(exists).toBe(expected === 'present' ? 1 : expected === 'absent' ? 0 : undefined);
  });

  test('unreadable secrets are logged with the reason, not their content', () => {
    const exporter = exporters[0]!;
    const logs = exporter.logs.join('');
    expect(logs).toContain('pull secret prod/does-not-exist not found');
    expect(logs).toContain('not allowed to read pull secret prod/forbidden');
    expect(logs).toContain('pull secret prod/garbled .dockerconfigjson is not valid JSON');
    expect(logs).toContain('pull secret prod/only-here not found');
  });

  test('secrets are read once per scrape however many workloads name them', () => {
    const gets = kube.requests.filter((r) => r.path === '/api/v1/namespaces/prod/secrets/regcred');
    expect(gets).toHaveLength(1);
    expect(kube.requests.filter((r) => r.path === '/api/v1/serviceaccounts')).toHaveLength(1);
  });
});

describe('--docker-config: the nodes\' own credentials', () => {
  test('used after the pull secrets, for workloads that have none', async () => {
    const dir = await makeTempDir('docker-config');
    const path = join(dir, 'config.json');
    await writeFile(path, JSON.stringify({ auths: { [basic.host]: { auth: Buffer.from(`bob:${OTHER_PASSWORD}`).toString('base64') } } }));
    kube.set('Secret', [dockerConfigSecret('n', 'wrong', { [basic.host]: { username: 'alice', password: WRONG_PASSWORD } })]);
    kube.set('ServiceAccount', []);
    kube.set('Deployment', [
      workload('n', 'node-creds', `${basic.host}/team/app:1`),
      workload('n', 'wrong-secret-then-node', `${basic.host}/team/app:1`, { imagePullSecrets: ['wrong'] }),
    ]);
    const scrape = await (await exporterWith([`--docker-config=${path}`])).scrape();
    expect(status(scrape, 'node-creds')).toEqual(['present']);
    expect(status(scrape, 'wrong-secret-then-node')).toEqual(['present']);
  });
});

describe('Bearer auth with credentials', () => {
  test('the token request carries the credentials; the exporter then reads present', async () => {
    kube.set('Secret', [dockerConfigSecret('sec', 'token-creds', { [bearer.host]: { username: 'carol', password: PASSWORD } })]);
    kube.set('ServiceAccount', [serviceAccount('sec', 'default')]);
    kube.set('Deployment', [
      workload('sec', 'with-creds', `${bearer.host}/secure/app:1`, { imagePullSecrets: ['token-creds'] }),
      workload('sec', 'anonymous', `${bearer.host}/secure/app:1`),
    ]);
    issuer.requests.length = 0;
    // The token service speaks plain HTTP: credentials may go there only when the operator allows it.
    const refused = await (await exporterWith()).scrape();
    expect(status(refused, 'with-creds')).toEqual(['auth_failure']);
    expect(issuer.requests.every((r) => r.authorization === undefined)).toBe(true);

    const realmHost = new URL(issuer.realm).host;
    const allowed = await (await exporterWith([`--allow-plain-http=${realmHost}`])).scrape();
    expect(status(allowed, 'with-creds')).toEqual(['present']);
    expect(status(allowed, 'anonymous')).toEqual(['auth_failure']);
    expect(issuer.requests.some((r) => r.authorization === `Basic ${Buffer.from(`carol:${PASSWORD}`).toString('base64')}`)).toBe(true);
  });
});

describe('transport options', () => {
  beforeAll(() => {
    kube.set('Secret', []);
    kube.set('ServiceAccount', []);
  });

  test('self-signed registry: unavailable without --registry-ca-file, present with it or with verification off', async () => {
    kube.set('Deployment', [workload('t', 'tls', `${hub.host}/library/nginx:latest`)]);
    const without = await startExporter(kube.kubeconfigPath);
    exporters.push(without);
    const scrape = await without.scrape();
    expect(status(scrape, 'tls')).toEqual(['registry_unavailable']);
    expect(scrape.find(EXISTS, { owner_name: 'tls' })).toEqual([]);
    expect(without.logs.join('')).toMatch(/certificate|UNABLE_TO_VERIFY|SELF_SIGNED/i);

    expect(status(await (await exporterWith()).scrape(), 'tls')).toEqual(['present']);
    const insecure = await startExporter(kube.kubeconfigPath, ['--skip-registry-cert-verification']);
    exporters.push(insecure);
    expect(status(await insecure.scrape(), 'tls')).toEqual(['present']);
  });

  test('plain-HTTP registry: unavailable unless --allow-plain-http names it', async () => {
    kube.set('Deployment', [workload('t', 'plain', `${plain.host}/open/app:1`)]);
    expect(status(await (await exporterWith()).scrape(), 'plain')).toEqual(['registry_unavailable']);
    expect(status(await (await exporterWith([`--allow-plain-http=127.0.0.1:*`])).scrape(), 'plain')).toEqual(['present']);
  });

  test('--image-mirror applies to implicit Docker Hub names such as nginx; only the original proves absence', async () => {
    kube.set('Deployment', [workload('t', 'hub', 'nginx'), workload('t', 'hub-missing', 'nginx:does-not-exist')]);
    const scrape = await (await exporterWith([`--image-mirror=docker.io=${hub.host}`])).scrape();
    expect(status(scrape, 'hub')).toEqual(['present']);
    expect(scrape.value(EXISTS, { owner_name: 'hub', image: 'nginx' })).toBe(1);
    // The mirror's 404 is no proof: a node falls back to Docker Hub, which cannot be reached here.
    expect(status(scrape, 'hub-missing')).toEqual(['registry_unavailable']);
    expect(scrape.find(EXISTS, { owner_name: 'hub-missing' })).toEqual([]);
    // A mirror that replaces the original (air-gapped) has the last word.
    const replaced = await (await exporterWith([`--image-mirror-only=docker.io=${hub.host}`])).scrape();
    expect(status(replaced, 'hub')).toEqual(['present']);
    expect(status(replaced, 'hub-missing')).toEqual(['absent']);
  });

  test('--default-registry serves names without a registry', async () => {
    kube.set('Deployment', [workload('t', 'short', 'library/nginx')]);
    expect(status(await (await exporterWith([`--default-registry=${hub.host}`])).scrape(), 'short')).toEqual(['present']);
  });

  test('HTTPS_PROXY is honoured, NO_PROXY bypasses it', async () => {
    const connects: string[] = [];
    const proxy = createHttpServer();
    proxy.on('connect', (req, socket, head) => {
      connects.push(req.url ?? '');
      const [h, p] = (req.url ?? '').split(':');
      const upstream = connect(Number(p), h, () => {
        socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(socket);
        socket.pipe(upstream);
      });
      upstream.on('error', () => socket.destroy());
      socket.on('error', () => upstream.destroy());
    });
    proxy.listen(0, '127.0.0.1');
    await once(proxy, 'listening');
    const saved = { https: process.env.HTTPS_PROXY, no: process.env.NO_PROXY };
    try {
      kube.set('Deployment', [workload('t', 'proxied', `${hub.host}/library/nginx:latest`)]);
      process.env.HTTPS_PROXY = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      delete process.env.NO_PROXY;
      // No platform reads: they go on after the scrape and would cross the next part's connections.
      expect(status(await (await exporterWith(['--check-platforms=false'])).scrape(), 'proxied')).toEqual(['present']);
      expect(connects).toContain(hub.host);

      connects.length = 0;
      process.env.NO_PROXY = '127.0.0.1';
      expect(status(await (await exporterWith(['--check-platforms=false'])).scrape(), 'proxied')).toEqual(['present']);
      expect(connects).toEqual([]);
    } finally {
      if (saved.https === undefined) delete process.env.HTTPS_PROXY;
      else process.env.HTTPS_PROXY = saved.https;
      if (saved.no === undefined) delete process.env.NO_PROXY;
      else process.env.NO_PROXY = saved.no;
      proxy.closeAllConnections();
      proxy.close();
    }
  });
});

describe('redirects', () => {
  let front: Server;
  let back: Server;
  const seen: IncomingHttpHeaders[] = [];

  afterAll(() => {
    front?.close();
    back?.close();
  });

  test('Authorization is never forwarded to another host', async () => {
    // "back" is another host (another port) serving the manifest; "front" wants Basic auth and redirects.
    back = createHttpServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(200, {
        'docker-content-digest': `sha256:${'c'.repeat(64)}`,
        'content-type': 'application/vnd.oci.image.manifest.v1+json',
        'docker-distribution-api-version': 'registry/2.0',
      });
      res.end();
    });
    back.listen(0, '127.0.0.1');
    await once(back, 'listening');
    const backHost = `127.0.0.1:${(back.address() as AddressInfo).port}`;
    front = createHttpServer((req, res) => {
      if (!req.headers.authorization) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="front"', 'docker-distribution-api-version': 'registry/2.0' });
        return res.end();
      }
      res.writeHead(307, { location: `http://${backHost}${req.url}` });
      res.end();
    });
    front.listen(0, '127.0.0.1');
    await once(front, 'listening');
    const frontHost = `127.0.0.1:${(front.address() as AddressInfo).port}`;

    kube.set('Secret', [dockerConfigSecret('r', 'creds', { [frontHost]: { username: 'alice', password: PASSWORD } })]);
    kube.set('ServiceAccount', []);
    kube.set('Deployment', [workload('r', 'redirected', `${frontHost}/app:1`, { imagePullSecrets: ['creds'] })]);
    const scrape = await (await exporterWith([`--allow-plain-http=127.0.0.1:*`])).scrape();
    expect(status(scrape, 'redirected')).toEqual(['present']);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((h) => h.authorization === undefined)).toBe(true);
  });
});

// Registries that hide private repositories (404 rather than 401), with flaky /v2/ and several
// credentials: test/integration/trust.test.ts.
