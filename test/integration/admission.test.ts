/**
 * The admission webhook end to end, in-process: the exporter on its --web-config-file TLS listener
 * (basic auth on, which the webhook's path is outside of), a real registry behind a recording proxy,
 * the loopback Kubernetes API, and AdmissionReviews sent as the API server sends them. Then as an
 * adversary: the largest body, a thousand containers, a burst of 200 reviews, a registry that never
 * answers, malformed reviews, and clients without the right certificate.
 */
import { writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { MAX_BODIES_BYTES, MAX_BODY_BYTES, MAX_IMAGES_PER_REVIEW, MAX_PENDING_CHECKS } from '../../src/exporter/admission/admission.js';
import { readClientCas } from '../../src/exporter/admission/client-cert.js';
import { checkWebConfigFile } from '../../src/exporter/web/web-config-load.js';
import { MAX_WARNING_CHARS, MAX_WARNINGS } from '../../src/exporter/admission/warnings.js';
import { createCa, issueCert, type IssuedCert } from '../support/client-cert.js';
import { PREFIX, startExporter, type RunningExporter } from '../support/exporter.js';
import { startHostileTcp, type Hostile } from '../support/hostile.js';
import { startKubeApi, type KubeApi } from '../support/kube-api.js';
import { deployment } from '../support/objects.js';
import { createPki, type Pki } from '../support/pki.js';
import { startRecordingProxy, type RecordingProxy } from '../support/proxy.js';
import { pushImage } from '../support/push.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { makeTempDir } from '../support/tmp.js';
import { reviewOf } from '../support/admission-review.js';

interface Answer {
  readonly status: number;
  readonly text: string;
  readonly json: any;
  readonly ms: number;
}

let pki: Pki;
let registry: RunningRegistry;
let proxy: RecordingProxy;
let kube: KubeApi;
let silent: Hostile | undefined;
let silentHost: string;
let dir: string;
let host: string;
let apiServerCert: IssuedCert;
let foreignCert: IssuedCert;
const exporters: RunningExporter[] = [];

const portOf = (exporter: RunningExporter) => Number(new URL(exporter.url).port);

/** POSTs a body to the webhook as the API server does (one connection each, the `?timeout=` query). */
function post(exporter: RunningExporter, body: string | Buffer, options: { timeout?: string; cert?: IssuedCert; path?: string } = {}): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = httpsRequest({
      host: '127.0.0.1',
      port: portOf(exporter),
      method: 'POST',
      path: options.path ?? `/admission?timeout=${options.timeout ?? '10s'}`,
      ca: pki.caCertPem,
      agent: false,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      ...(options.cert ? { cert: options.cert.certPem, key: options.cert.keyPem } : {}),
    });
    req.on('error', reject);
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, text, json, ms: performance.now() - started });
      });
    });
    req.end(body);
  });
}

const one = (name: string, image: string) => deployment('team', name, { containers: [{ name: 'app', image }] });

async function startWebhook(flags: string[] = []): Promise<RunningExporter> {
  const exporter = await startExporter(kube.kubeconfigPath, [
    `--web-config-file=${join(dir, 'web.yml')}`,
    '--admission-webhook',
    '--allow-plain-http=127.0.0.1:*',
    // Longer than any review's budget: the budget, not this, must end a review.
    '--registry-timeout=60s',
    ...flags,
  ]);
  exporters.push(exporter);
  return exporter;
}

function metric(text: string, name: string, labels: Record<string, string>): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split('\n').find((l) => l.startsWith(`${PREFIX}_${name}{`) && wanted.every((w) => l.includes(w)));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

async function metricsText(exporter: RunningExporter): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({
      host: '127.0.0.1', port: portOf(exporter), path: '/metrics', ca: pki.caCertPem, agent: false,
      headers: { authorization: `Basic ${Buffer.from('prometheus:secret').toString('base64')}` },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve(text));
    });
    req.end();
  });
}

beforeAll(async () => {
  dir = await makeTempDir('admission');
  pki = await createPki();
  apiServerCert = await issueCert(pki, 'kube-apiserver-client', { usage: 'client', cn: 'kube-apiserver' });
  foreignCert = await issueCert(await createCa(), 'foreign-client', { usage: 'client' });
  await writeFile(
    join(dir, 'web.yml'),
    `tls_server_config:\n  cert_file: ${pki.serverCertFile}\n  key_file: ${pki.serverKeyFile}\nbasic_auth_users:\n  prometheus: ${bcrypt.hashSync('secret', 4)}\n`,
  );
  registry = await startRegistry();
  await pushImage(registry, 'team/app', '1', 'docker');
  await pushImage(registry, 'team/burst', 'present', 'docker');
  // Every registry answer late enough that concurrent reviews of one image overlap.
  proxy = await startRecordingProxy(registry.url, { latencyMs: 300 });
  host = proxy.host;
  // A registry that accepts connections and never answers.
  silent = await startHostileTcp(() => undefined);
  silentHost = silent.host;
  kube = await startKubeApi();
}, 60_000);

afterAll(async () => {
  for (const exporter of exporters) await exporter.stop();
  await silent?.stop();
  await kube?.stop();
  await proxy?.stop();
  await registry?.stop();
});

describe('warns, never blocks (the default)', () => {
  let exporter: RunningExporter;
  beforeAll(async () => {
    exporter = await startWebhook();
  });

  test('an absent image: allowed, with a warning naming the container, the image and what to do', async () => {
    const answer = await post(exporter, reviewOf(one('web', `${host}/team/app:2`)));
    expect(answer.status).toBe(200);
    expect(answer.json.apiVersion).toBe('admission.k8s.io/v1');
    expect(answer.json.response.allowed).toBe(true);
    expect(answer.json.response.warnings).toEqual([expect.stringMatching(new RegExp(`^container "app": image ${host}/team/app:2 does not exist \\(registry says MANIFEST_UNKNOWN\\): pods cannot start with it; push it or fix the tag$`))]);
    const text = await metricsText(exporter);
    expect(metric(text, 'admission_reviews_total', { kind: 'Deployment', outcome: 'warned' })).toBe(1);
    expect(metric(text, 'admission_warnings_total', { kind: 'Deployment', status: 'absent' })).toBe(1);
  });

  test('a present image: allowed without a warning; the uid is the request\'s', async () => {
    const body = reviewOf(one('api', `${host}/team/app:1`));
    const answer = await post(exporter, body);
    expect(answer.json.response).toEqual({ uid: JSON.parse(body).request.uid, allowed: true });
  });

  test('an UPDATE that keeps its images (a scale) asks no registry', async () => {
    const object = one('web2', `${host}/team/never-asked:1`);
    const before = proxy.requests.length;
    const answer = await post(exporter, reviewOf({ ...object, spec: { ...object.spec, replicas: 3 } }, { operation: 'UPDATE', oldObject: object }));
    expect(answer.json.response).toEqual({ uid: expect.any(String), allowed: true });
    expect(proxy.requests.slice(before).filter((r) => r.path.includes('never-asked'))).toEqual([]);
  });

  test('an UPDATE that changes one image checks that one only', async () => {
    const old = deployment('team', 'two', { containers: [{ name: 'a', image: `${host}/team/old-a:1` }, { name: 'b', image: `${host}/team/app:1` }] });
    const next = deployment('team', 'two', { containers: [{ name: 'a', image: `${host}/team/new-a:1` }, { name: 'b', image: `${host}/team/app:1` }] });
    const answer = await post(exporter, reviewOf(next, { operation: 'UPDATE', oldObject: old }));
    expect(answer.json.response.warnings).toEqual([expect.stringContaining('container "a": image')]);
    expect(proxy.requests.some((r) => r.path.includes('old-a'))).toBe(false);
  });

  test('a registry that refuses connections: allowed, with a "could not be checked" warning', async () => {
    const answer = await post(exporter, reviewOf(one('down', '127.0.0.1:1/team/app:1')));
    expect(answer.json.response.allowed).toBe(true);
    expect(answer.json.response.warnings).toEqual([expect.stringMatching(/^container "app": image 127\.0\.0\.1:1\/team\/app:1 could not be checked \(.*connection refused.*\); whether it exists is not known/)]);
  });

  test('a registry that never answers: answered within the budget, "not checked in time"', async () => {
    // timeout=4s (timeoutSeconds: 4): a budget of 2.8 s, the answer before the API server gives up.
    const answer = await post(exporter, reviewOf(one('silent', `${silentHost}/team/app:1`)), { timeout: '4s' });
    expect(answer.json.response.allowed).toBe(true);
    expect(answer.json.response.warnings).toEqual([expect.stringContaining('not checked in time')]);
    expect(answer.ms).toBeLessThan(4000);
  });

  test('a burst of 200 reviews of one new image: all answered within the timeout, one registry check', async () => {
    const before = proxy.requests.length;
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => post(exporter, reviewOf(one(`burst-${i}`, `${host}/team/burst:absent`)))));
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(answer.json.response.warnings).toEqual([expect.stringContaining('does not exist')]);
      expect(answer.ms).toBeLessThan(10_000);
    }
    // One check: the manifest's HEAD (and the GET of its error body), never one per review.
    const manifests = proxy.requests.slice(before).filter((r) => r.path === '/v2/team/burst/manifests/absent');
    expect(manifests.length).toBeGreaterThan(0);
    expect(manifests.length).toBeLessThanOrEqual(2);
  });

  test('1,000 containers: at most 256 images checked, ten short warnings, within the timeout', async () => {
    const containers = Array.from({ length: 1000 }, (_, i) => ({ name: `c${i}`, image: `${host}/team/many-${i}:1` }));
    const answer = await post(exporter, reviewOf(deployment('team', 'huge', { containers })));
    expect(answer.status).toBe(200);
    const { warnings } = answer.json.response;
    expect(warnings).toHaveLength(MAX_WARNINGS);
    expect(warnings.at(-2)).toMatch(/^… and \d+ more; see the exporter's status page$/);
    // The images left out are said, not counted among the "more" (adversary-admission.test.ts).
    expect(warnings.at(-1)).toBe(`${1000 - MAX_IMAGES_PER_REVIEW} more images not checked: too many at once (the exporter checks them when a scrape sees them)`);
    for (const w of warnings) expect(w.length).toBeLessThanOrEqual(MAX_WARNING_CHARS);
    expect(warnings.join('').length).toBeLessThan(4096);
    expect(answer.ms).toBeLessThan(10_000);
    const asked = new Set(proxy.requests.filter((r) => r.path.includes('/team/many-')).map((r) => r.path.split('/')[3]));
    expect(asked.size).toBeLessThanOrEqual(MAX_IMAGES_PER_REVIEW);
  });

  test('the status page lists the recent warnings', async () => {
    const res = await new Promise<string>((resolve, reject) => {
      const req = httpsRequest({
        host: '127.0.0.1', port: portOf(exporter), path: '/status?format=json', ca: pki.caCertPem, agent: false,
        headers: { authorization: `Basic ${Buffer.from('prometheus:secret').toString('base64')}` },
      });
      req.on('error', reject);
      req.on('response', (r) => {
        let t = '';
        r.setEncoding('utf8');
        r.on('data', (c: string) => (t += c));
        r.on('end', () => resolve(t));
      });
      req.end();
    });
    const status = JSON.parse(res);
    // 200 and more reviews warned: the newest 50 are kept.
    expect(status.admissionWarnings).toHaveLength(50);
    expect(status.admissionWarnings[0]).toMatchObject({ kind: 'Deployment', namespace: 'team', operation: 'CREATE', denied: false });
    expect(status.admissionWarnings.some((w: any) => w.name.startsWith('burst-') && w.warnings[0].includes('team/burst:absent'))).toBe(true);
  });

  test('bounds: a body past 8 MiB is 413, not read; malformed reviews are 400 (the API server then ignores the webhook)', async () => {
    const big = await post(exporter, Buffer.alloc(MAX_BODY_BYTES + 1, 0x20));
    expect(big.status).toBe(413);
    expect((await post(exporter, '{"apiVersion": "admission.k8s.io/v1", "kind": ')).status).toBe(400);
    expect((await post(exporter, JSON.stringify({ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: { uid: 'x' } }))).status).toBe(400);
    expect((await post(exporter, JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'a b' } }))).status).toBe(400);
    // A request of a kind the exporter does not read, and a subresource: allowed, nothing asked.
    const review = JSON.parse(reviewOf(one('scaled', `${host}/team/app:9`)));
    review.request.subResource = 'scale';
    expect((await post(exporter, JSON.stringify(review))).json.response).toEqual({ uid: review.request.uid, allowed: true });
    review.request.resource = { group: '', version: 'v1', resource: 'configmaps' };
    delete review.request.subResource;
    expect((await post(exporter, JSON.stringify(review))).json.response).toEqual({ uid: review.request.uid, allowed: true });
  });

  test('hostile strings: control characters never reach a warning', async () => {
    const answer = await post(exporter, reviewOf(deployment('team', 'evil', { containers: [{ name: 'a\r\nX-Injected: 1', image: `${host}/team/evil:1\u0007` }] })));
    const [warning] = answer.json.response.warnings;
    expect(warning).not.toMatch(/[\u0000-\u001f\u007f]/);
  });

  test('the webhook is outside basic auth; /metrics is not', async () => {
    const res = await new Promise<number>((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port: portOf(exporter), path: '/metrics', ca: pki.caCertPem, agent: false });
      req.on('error', reject);
      req.on('response', (r) => {
        r.resume();
        resolve(r.statusCode ?? 0);
      });
      req.end();
    });
    expect(res).toBe(401);
  });
});

describe('what many reviews at once may hold', () => {
  let exporter: RunningExporter;
  beforeAll(async () => {
    exporter = await startWebhook();
  });

  test('bodies in flight: counted as they arrive, not as declared (adversary-admission.test.ts: past 16 MiB held, 429); a body that never ends is cut at the budget (408)', async () => {
    // Two reviews declaring the largest body, sending a little of it and then nothing.
    const stalled = Array.from({ length: MAX_BODIES_BYTES / MAX_BODY_BYTES }, () => {
      const started = performance.now();
      return new Promise<{ status: number; ms: number }>((resolve, reject) => {
        const req = httpsRequest({
          host: '127.0.0.1', port: portOf(exporter), method: 'POST', path: '/admission?timeout=2s', ca: pki.caCertPem, agent: false,
          headers: { 'content-type': 'application/json', 'content-length': MAX_BODY_BYTES },
        });
        req.on('error', reject);
        req.on('response', (res) => {
          res.resume();
          resolve({ status: res.statusCode ?? 0, ms: performance.now() - started });
          req.destroy();
        });
        req.write('{"apiVersion":');
      });
    });
    await new Promise((r) => setTimeout(r, 300));
    // They hold a few bytes: the API server's reviews are still answered.
    expect((await post(exporter, reviewOf(one('third', `${host}/team/app:1`)))).status).toBe(200);
    for (const answer of await Promise.all(stalled)) {
      expect(answer.status).toBe(408);
      expect(answer.ms).toBeLessThan(2000);
    }
    // Their bytes were given back.
    expect((await post(exporter, reviewOf(one('fourth', `${host}/team/app:1`)))).status).toBe(200);
  });

  test(`checks still pending: past ${MAX_PENDING_CHECKS}, a review starts none and says so`, async () => {
    const review = (n: number) => {
      const containers = Array.from({ length: MAX_IMAGES_PER_REVIEW }, (_, i) => ({ name: `c${i}`, image: `${silentHost}/pile/${n}-${i}:1` }));
      return post(exporter, reviewOf(deployment('team', `pile-${n}`, { containers })), { timeout: '2s' });
    };
    // Each review leaves its 256 checks of a registry that never answers pending.
    for (let n = 0; n < MAX_PENDING_CHECKS / MAX_IMAGES_PER_REVIEW; n++) expect((await review(n)).status).toBe(200);
    const answer = await post(exporter, reviewOf(one('one-more', `${silentHost}/pile/more:1`)), { timeout: '2s' });
    expect(answer.json.response.warnings).toEqual(['1 more image not checked: too many at once (the exporter checks them when a scrape sees them)']);
    const text = await metricsText(exporter);
    expect(metric(text, 'admission_warnings_total', { kind: 'Deployment', status: 'not_checked_too_many' })).toBe(1);
  });
});

describe('--admission-deny-absent', () => {
  let exporter: RunningExporter;
  beforeAll(async () => {
    exporter = await startWebhook(['--admission-deny-absent']);
  });

  test('an absent image is refused with the reason; a present one passes; could-not-check is only warned about', async () => {
    const absent = await post(exporter, reviewOf(one('web', `${host}/team/app:404`)));
    expect(absent.json.response.allowed).toBe(false);
    expect(absent.json.response.status).toMatchObject({ code: 403, message: expect.stringMatching(/^an image does not exist \(--admission-deny-absent\): container "app": image .*team\/app:404 does not exist/) });
    expect((await post(exporter, reviewOf(one('web', `${host}/team/app:1`)))).json.response.allowed).toBe(true);
    const down = await post(exporter, reviewOf(one('web', '127.0.0.1:1/team/app:1')));
    expect(down.json.response.allowed).toBe(true);
    expect(down.json.response.warnings).toEqual([expect.stringContaining('could not be checked')]);
    const text = await metricsText(exporter);
    expect(metric(text, 'admission_denials_total', { kind: 'Deployment' })).toBe(1);
  });
});

describe('--admission-client-ca-file', () => {
  let exporter: RunningExporter;
  beforeAll(async () => {
    exporter = await startWebhook([`--admission-client-ca-file=${pki.caCertFile}`]);
  });

  test('only a client certificate of that CA gets a review', async () => {
    const body = reviewOf(one('web', `${host}/team/app:1`));
    expect((await post(exporter, body)).status).toBe(403);
    expect((await post(exporter, body, { cert: foreignCert })).status).toBe(403);
    const answer = await post(exporter, body, { cert: apiServerCert });
    expect(answer.status).toBe(200);
    expect(answer.json.response.allowed).toBe(true);
  });
});

describe('start-up checks (exit 2, naming the flag)', () => {
  test('--admission-webhook needs tls_server_config in the web config', async () => {
    const file = join(dir, 'plain.yml');
    await writeFile(file, `basic_auth_users:\n  prometheus: ${bcrypt.hashSync('secret', 4)}\n`);
    await expect(checkWebConfigFile(file, 'admission-webhook')).rejects.toThrow(`invalid flag --admission-webhook: needs tls_server_config in ${file}`);
    await expect(checkWebConfigFile(join(dir, 'web.yml'), 'admission-webhook')).resolves.toBeUndefined();
  });

  test('--admission-client-ca-file must hold a certificate', async () => {
    await expect(readClientCas(join(dir, 'nope.crt'))).rejects.toThrow('--admission-client-ca-file: cannot read');
    await expect(readClientCas(join(dir, 'web.yml'))).rejects.toThrow('holds no PEM certificate');
    await expect(readClientCas(pki.caCertFile)).resolves.toHaveLength(1);
  });
});
