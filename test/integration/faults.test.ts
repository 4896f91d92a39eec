/**
 * The fault matrix: every way a registry can misbehave, driven through the real exporter. Each case
 * asserts its status, its `*_image_exists` value (a 0 only for proven absence) and that it counted
 * as one failed check. A real registry plays every case it can produce; loopback servers play the
 * rest. The observed matrix is written to .tmp/fault-matrix.md.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startKubeApi, type KubeApi } from '../support/kube-api.js';
import { deployment, dockerConfigSecret } from '../support/objects.js';
import { PREFIX, startExporter, type RunningExporter, type Scrape } from '../support/exporter.js';
import { DISTRIBUTION, distributionError, startHostileHttp, startHostileTcp, type Hostile } from '../support/hostile.js';
import { createPki, type Pki } from '../support/pki.js';
import { pushImage, type PushedImage } from '../support/push.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { startTokenIssuer, type TokenIssuer } from '../support/token-issuer.js';

const STATUS = `${PREFIX}_image_check_status`;
const EXISTS = `${PREFIX}_deployment_image_exists`;
const PASSWORD = 'pw-Fault-91e0aa';
const HUGE = 8 * 1024 * 1024;

interface Case {
  readonly name: string;
  /** What the registry does, for the matrix. */
  readonly fault: string;
  readonly image: () => string;
  readonly status: string;
  readonly exists: 0 | 1 | undefined;
  readonly secret?: string;
  /** Extra checks on what the server saw. */
  readonly verify?: () => void;
}

let pki: Pki;
let registry: RunningRegistry;
let tlsRegistry: RunningRegistry;
let basicRegistry: RunningRegistry;
let issuer: TokenIssuer;
let hubRegistry: RunningRegistry;
let pushed: PushedImage;
const servers: Hostile[] = [];
let kube: KubeApi;
let exporter: RunningExporter;
let scrape: Scrape;

async function http(handler: Parameters<typeof startHostileHttp>[0]): Promise<Hostile> {
  const server = await startHostileHttp(handler);
  servers.push(server);
  return server;
}
async function tcp(handler: Parameters<typeof startHostileTcp>[0]): Promise<Hostile> {
  const server = await startHostileTcp(handler);
  servers.push(server);
  return server;
}

/** A server that challenges for a Bearer token at `realm`, and serves the manifest to any token. */
async function bearerFront(realm: () => string): Promise<Hostile> {
  return http((req, res) => {
    if (!req.headers.authorization) {
      res.writeHead(401, { ...DISTRIBUTION, 'www-authenticate': `Bearer realm="${realm()}",service="svc",scope="repository:app:pull"` });
      return res.end();
    }
    res.writeHead(200, { ...DISTRIBUTION, 'docker-content-digest': `sha256:${'d'.repeat(64)}` });
    res.end();
  });
}

const h: Record<string, Hostile> = {};

const real = (path: string) => () => `${registry.host}/${path}`;
const on = (server: string, path = 'app:1') => () => `${h[server]!.host}/${path}`;
const cases: Case[] = [
  { name: 'manifest-unknown', fault: 'real registry: tag does not exist (404 MANIFEST_UNKNOWN)', image: real('real/app:nope'), status: 'absent', exists: 0 },
  { name: 'present', fault: 'real registry: manifest served', image: real('real/app:1'), status: 'present', exists: 1 },
  { name: 'name-unknown', fault: '404 NAME_UNKNOWN', image: on('nameUnknown'), status: 'absent', exists: 0 },
  { name: 'hub-insufficient-scope', fault: 'Docker Hub: 401 insufficient_scope after a valid anonymous token', image: () => 'ghost/missing:1', status: 'absent', exists: 0 },
  { name: 'hub-present', fault: 'Docker Hub: anonymous token, manifest served', image: () => 'real:1', status: 'present', exists: 1 },
  { name: 'wrong-credentials', fault: 'real registry (htpasswd): 401 with wrong credentials', image: () => `${basicRegistry.host}/real/app:1`, status: 'auth_failure', exists: undefined, secret: 'wrong' },
  { name: 'denied', fault: '403 DENIED', image: on('denied'), status: 'access_denied', exists: undefined },
  { name: 'rate-limited-retry-after', fault: '429 with Retry-After: 30', image: on('limitedAfter'), status: 'rate_limited', exists: undefined },
  { name: 'rate-limited', fault: '429 without Retry-After', image: on('limited'), status: 'rate_limited', exists: undefined },
  ...[500, 502, 503, 504].map((code) => ({
    name: `http-${code}`,
    fault: `HTTP ${code}`,
    image: on(`s${code}`),
    status: 'registry_unavailable',
    exists: undefined,
  })),
  { name: 'connection-refused', fault: 'connection refused', image: () => '127.0.0.1:1/app:1', status: 'registry_unavailable', exists: undefined },
  { name: 'dns-failure', fault: 'DNS name does not resolve', image: () => 'registry.does-not-exist.invalid/app:1', status: 'registry_unavailable', exists: undefined },
  { name: 'tls-unknown-ca', fault: 'TLS certificate from an unknown CA', image: () => `localhost:${tlsRegistry.host.split(':')[1]}/app:1`, status: 'registry_unavailable', exists: undefined },
  { name: 'never-answers', fault: 'accepts the connection and never answers', image: on('silent'), status: 'registry_unavailable', exists: undefined },
  { name: 'half-answer', fault: 'half a response, then the connection closes', image: on('halfAnswer'), status: 'registry_unavailable', exists: undefined },
  { name: 'not-http', fault: 'the port speaks something that is not HTTP', image: on('notHttp'), status: 'registry_unavailable', exists: undefined },
  {
    name: 'head-not-allowed',
    fault: 'HEAD answered 405; GET streams an endless body',
    image: on('noHead'),
    status: 'present',
    exists: 1,
    verify: () => expect(h.noHead!.bytesWritten).toBeLessThan(HUGE),
  },
  { name: 'no-digest-header', fault: '200 without Docker-Content-Digest', image: on('noDigest'), status: 'present', exists: 1 },
  {
    name: 'digest-mismatch',
    fault: 'digest reference answered with a different digest',
    image: on('wrongDigest', `app@sha256:${'a'.repeat(64)}`),
    status: 'unknown_error',
    exists: undefined,
  },
  { name: 'not-a-registry', fault: '/v2/ is a plain web server answering 404', image: on('webServer'), status: 'registry_unavailable', exists: undefined },
  { name: 'token-500', fault: 'token endpoint answers 500', image: on('tokenFails'), status: 'registry_unavailable', exists: undefined },
  { name: 'token-timeout', fault: 'token endpoint never answers', image: on('tokenHangs'), status: 'registry_unavailable', exists: undefined },
  { name: 'token-junk', fault: 'token endpoint answers junk JSON', image: on('tokenJunk'), status: 'unknown_error', exists: undefined },
  {
    name: 'redirect',
    fault: 'authenticated request redirected to another host',
    image: on('redirecting'),
    status: 'present',
    exists: 1,
    secret: 'redirect',
    verify: () => expect(h.redirectTarget!.requests.every((r) => r.authorization === undefined)).toBe(true),
  },
  {
    name: 'huge-body',
    fault: '404 whose error body is 8 MiB',
    image: on('hugeBody'),
    status: 'registry_unavailable',
    exists: undefined,
    verify: () => expect(h.hugeBody!.bytesWritten).toBeLessThan(HUGE),
  },
  { name: 'huge-header', fault: '200 with a 200 KiB header', image: on('hugeHeader'), status: 'registry_unavailable', exists: undefined },
  {
    name: 'digest-present',
    fault: 'real registry: pinned digest served',
    image: () => `${registry.host}/real/app@${pushed.digest}`,
    status: 'present',
    exists: 1,
  },
];



beforeAll(async () => {
  pki = await createPki();
  registry = await startRegistry();
  pushed = await pushImage(registry, 'real/app', '1', 'docker');
  tlsRegistry = await startRegistry({ tls: pki });
  basicRegistry = await startRegistry({ auth: { kind: 'htpasswd', users: { alice: PASSWORD } } });
  issuer = await startTokenIssuer({
    pki,
    service: 'hub.test',
    grant: ({ subject, repository, actions }) => (subject === null && repository !== 'library/real' ? [] : actions),
  });
  hubRegistry = await startRegistry({ auth: { kind: 'token', issuer, service: 'hub.test', pki } });
  await pushImage(hubRegistry, 'library/real', '1', 'docker');

  h.nameUnknown = await http((req, res) => distributionError(res, 404, 'NAME_UNKNOWN'));
  h.denied = await http((req, res) => distributionError(res, 403, 'DENIED'));
  h.limitedAfter = await http((req, res) => distributionError(res, 429, 'TOOMANYREQUESTS', { 'retry-after': '30' }));
  h.limited = await http((req, res) => distributionError(res, 429, 'TOOMANYREQUESTS'));
  for (const code of [500, 502, 503, 504]) {
    h[`s${code}`] = await http((req, res) => {
      res.writeHead(code, { 'content-type': 'text/html' });
      res.end(req.method === 'HEAD' ? undefined : `<html>${code}</html>`);
    });
  }
  h.silent = await tcp(() => undefined); // accepts, never answers
  h.halfAnswer = await tcp((socket) => {
    socket.once('data', () => socket.end('HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.distrib'));
  });
  h.notHttp = await tcp((socket) => {
    socket.once('data', () => socket.end('SSH-2.0-OpenSSH_9.2\r\n'));
  });
  h.noHead = await http((req, res, self) => {
    if (req.method === 'HEAD') {
      res.writeHead(405, DISTRIBUTION);
      return res.end();
    }
    // An endless body: the exporter must take the status and hang up.
    res.writeHead(200, { ...DISTRIBUTION, 'content-type': 'application/vnd.docker.distribution.manifest.v2+json' });
    const chunk = Buffer.alloc(64 * 1024, 120);
    const pump = () => {
      while (self.bytesWritten < HUGE && res.write(chunk)) self.bytesWritten += chunk.length;
      if (self.bytesWritten < HUGE) res.once('drain', pump);
      else res.end();
    };
    pump();
  });
  h.noDigest = await http((req, res) => {
    res.writeHead(200, { ...DISTRIBUTION, 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
    res.end();
  });
  h.wrongDigest = await http((req, res) => {
    res.writeHead(200, { ...DISTRIBUTION, 'docker-content-digest': `sha256:${'e'.repeat(64)}` });
    res.end();
  });
  h.webServer = await http((req, res) => {
    res.writeHead(404, { 'content-type': 'text/html' });
    res.end(req.method === 'HEAD' ? undefined : '<html><body>Not Found</body></html>');
  });
  h.tokenFails = await bearerFront(() => `http://${h.tokenFailsRealm!.host}/token`);
  h.tokenFailsRealm = await http((req, res) => {
    res.writeHead(500);
    res.end('oops');
  });
  h.tokenHangs = await bearerFront(() => `http://${h.tokenHangsRealm!.host}/token`);
  h.tokenHangsRealm = await tcp(() => undefined);
  h.tokenJunk = await bearerFront(() => `http://${h.tokenJunkRealm!.host}/token`);
  h.tokenJunkRealm = await http((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"tok');
  });
  h.redirectTarget = await http((req, res) => {
    res.writeHead(200, { ...DISTRIBUTION, 'docker-content-digest': `sha256:${'f'.repeat(64)}` });
    res.end();
  });
  h.redirecting = await http((req, res) => {
    if (!req.headers.authorization) {
      res.writeHead(401, { ...DISTRIBUTION, 'www-authenticate': 'Basic realm="r"' });
      return res.end();
    }
    res.writeHead(302, { location: `http://${h.redirectTarget!.host}${req.url}` });
    res.end();
  });
  h.hugeBody = await http((req, res, self) => {
    if (req.method === 'HEAD') {
      res.writeHead(404, { 'content-type': 'application/json' });
      return res.end();
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    const chunk = Buffer.alloc(64 * 1024, 32);
    res.write('{"errors":[{"code":"MANIFEST_UNKNOWN"}],"padding":"');
    const pump = () => {
      while (self.bytesWritten < HUGE && res.write(chunk)) self.bytesWritten += chunk.length;
      if (self.bytesWritten < HUGE) res.once('drain', pump);
      else res.end('"}');
    };
    pump();
  });
  h.hugeHeader = await http((req, res) => {
    res.writeHead(200, { ...DISTRIBUTION, 'x-padding': 'x'.repeat(200 * 1024) });
    res.end();
  });

  kube = await startKubeApi();
  kube.set('Secret', [
    dockerConfigSecret('faults', 'wrong', { [basicRegistry.host]: { username: 'alice', password: 'not-the-password' } }),
    dockerConfigSecret('faults', 'redirect', { [h.redirecting!.host]: { username: 'alice', password: PASSWORD } }),
  ]);
  kube.set(
    'Deployment',
    cases.map((c) =>
      deployment('faults', c.name, { containers: [{ name: 'c', image: c.image() }], imagePullSecrets: c.secret ? [c.secret] : undefined }),
    ),
  );
  exporter = await startExporter(
    kube.kubeconfigPath,
    ['--allow-plain-http=127.0.0.1:*', '--registry-timeout=1s'],
    { dockerHubHost: hubRegistry.host },
  );
  scrape = await exporter.scrape({ timeoutSeconds: 10 });
}, 60_000);

afterAll(async () => {
  const everything = exporter.logs.join('') + scrape.text;
  expect(everything).not.toContain(PASSWORD);
  expect(everything).not.toContain(Buffer.from(`alice:${PASSWORD}`).toString('base64'));
  // No bearer token (a JWT: base64url JSON header starting "eyJ") anywhere either.
  expect(issuer.requests.length).toBeGreaterThan(0);
  expect(everything).not.toMatch(/eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/);
  await exporter?.stop();
  await kube?.stop();
  for (const server of servers) await server.stop();
  for (const r of [registry, tlsRegistry, basicRegistry, hubRegistry]) await r?.stop();
  await issuer?.stop();
});

describe('registry fault matrix', () => {
  test('every case answered within the scrape', () => {
    expect(scrape.status).toBe(200);
    expect(scrape.value(`${PREFIX}_checks_pending`)).toBe(0);
  });

  test.each(cases.map((c) => [c.fault, c] as const))('%s', (_fault, c) => {
    const statuses = scrape.find(STATUS, { owner_name: c.name }).map((s) => s.labels.status);
    expect(statuses, c.name).toEqual([c.status]);
    expect(scrape.value(EXISTS, { owner_name: c.name }), c.name).toBe(c.exists);
    c.verify?.();
  });

  test('one failed check counted per failing case; one log line each with image and reason', () => {
    const failing = cases.filter((c) => c.status !== 'present' && c.status !== 'absent');
    expect(scrape.value(`${PREFIX}_generic_errors_total`)).toBe(failing.length);
    for (const c of failing) {
      const lines = exporter.logs.filter((l) => l.includes('"msg":"image check failed"') && l.includes(JSON.stringify(c.image())));
      expect(lines, c.name).toHaveLength(1);
      expect(JSON.parse(lines[0]!).reason, c.name).toBeTruthy();
    }
  });

  test('no 0 anywhere but for proven absence', () => {
    const zeros = scrape.find(EXISTS).filter((s) => s.value === 0).map((s) => s.labels.owner_name).sort();
    expect(zeros).toEqual(cases.filter((c) => c.status === 'absent').map((c) => c.name).sort());
  });

  test('the observed matrix', async () => {
    const rows = cases.map((c) => {
      const observed = scrape.find(STATUS, { owner_name: c.name }).map((s) => s.labels.status).join(',');
      const value = scrape.value(EXISTS, { owner_name: c.name });
      const expected = `${c.status}, ${c.exists === undefined ? 'no series' : c.exists}`;
      return `| ${c.fault} | ${expected} | ${observed}, ${value === undefined ? 'no series' : value} |`;
    });
    const table = ['| registry behaviour | expected status, value | observed |', '|---|---|---|', ...rows].join('\n');
    const dir = fileURLToPath(new URL('../../.tmp/', import.meta.url));
    await mkdir(dir, { recursive: true });
    await writeFile(`${dir}fault-matrix.md`, `${table}\n`);
    expect(rows).toHaveLength(cases.length);
    for (const row of rows) {
      const [, expected, observed] = row.split(' | ');
      expect(observed?.replace(/ \|$/, '')).toBe(expected);
    }
  });
});
