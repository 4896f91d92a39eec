/**
 * Issue 20, item 1: text a registry controls is bounded where it enters. A loopback registry answers
 * each image with 60,000 characters where a registry writes a few: a 404's error code, a Bearer
 * challenge's `error=`, a `Docker-Content-Digest`. The exporter (with a real registry alongside)
 * keeps at most MAX_REASON_CHARS (and a little of its own words) of it per image: in its status
 * page, its JSON, its metrics and its log lines. And a cut never makes an image absent.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startKubeApi, type KubeApi } from '../support/kube-api.js';
import { DISTRIBUTION, startHostileHttp, type Hostile } from '../support/hostile.js';
import { deployment } from '../support/objects.js';
import { PREFIX, startExporter, type RunningExporter } from '../support/exporter.js';
import { pushImage } from '../support/push.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';

const STATUS = `${PREFIX}_image_check_status`;
/** The bound on a reason that README states (MAX_REASON_CHARS in src/utils/untrusted.ts). */
const MAX_REASON_CHARS = 1000;
const HUGE = 60_000;
/** Images per kind of hostile answer. */
const EACH = 50;
/** A reason is the registry's bounded text plus the exporter's own words around it. */
const MAX_KEPT = MAX_REASON_CHARS + 200;
const PINNED = `sha256:${'0'.repeat(64)}`;

let kube: KubeApi;
let hostile: Hostile;
let reg: RunningRegistry;
let exporter: RunningExporter;

const huge = (start: string, i: number) => `${start}${'X'.repeat(HUGE)}${i}`;

/** A registry that says everything at length. */
function answer(req: IncomingMessage, res: ServerResponse, host: string): void {
  const path = (req.url ?? '').split('?')[0] as string;
  const send = (status: number, headers: Record<string, string>, body?: string) => {
    res.writeHead(status, { ...DISTRIBUTION, 'content-type': 'application/json', ...headers });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  if (path === '/v2/') return send(200, {}, '{}');
  if (path === '/token') return send(200, {}, JSON.stringify({ token: 'hostile-token', expires_in: 300 }));
  // A token is kept per repository while it lasts: one this big is refused, not kept.
  if (path === '/bigtoken') return send(200, {}, JSON.stringify({ token: 't'.repeat(40_000), expires_in: 3600 }));
  const match = /^\/v2\/(code|long|bearer|bigtoken|digest|pinned)-(\d+)\/manifests\//.exec(path);
  if (!match) return send(404, {}, JSON.stringify({ errors: [{ code: 'NAME_UNKNOWN' }] }));
  const [, kind, n] = match;
  const i = Number(n);
  switch (kind) {
    case 'code':
      // Starts like an absence code: cut, it still must not read as one. (The body stays under the
      // 64 KiB the exporter reads of it.)
      return send(404, {}, JSON.stringify({ errors: [{ code: huge('MANIFEST_UNKNOWN', i) }] }));
    case 'long':
      // More than the exporter reads of an error body: what it says past that is unknown, so
      // this 404 proves nothing either.
      return send(404, {}, JSON.stringify({ errors: [{ code: 'DENIED', message: huge('m', i).repeat(2) }] }));
    case 'bearer':
      // Every request, with the token or without, is refused with a huge error=.
      return send(401, { 'www-authenticate': `Bearer realm="http://${host}/token",service="hostile",error="${huge('insufficient_scope', i)}"` }, '{}');
    case 'bigtoken':
      return send(401, { 'www-authenticate': `Bearer realm="http://${host}/bigtoken",service="hostile"` }, '{}');
    case 'digest':
    case 'pinned':
      return send(200, { 'docker-content-digest': `sha256:${'a'.repeat(HUGE)}${i % 10}` }, '{}');
  }
}

beforeAll(async () => {
  hostile = await startHostileHttp((req, res) => answer(req, res, hostile.host));
  reg = await startRegistry();
  await pushImage(reg, 'real/app', '1', 'docker');
  kube = await startKubeApi();
  const images = [
    `${reg.host}/real/app:1`,
    `${reg.host}/real/gone:1`,
    ...Array.from({ length: EACH }, (_, i) => [
      `${hostile.host}/code-${i}:1`,
      `${hostile.host}/long-${i}:1`,
      `${hostile.host}/bearer-${i}:1`,
      `${hostile.host}/bigtoken-${i}:1`,
      `${hostile.host}/digest-${i}:1`,
      `${hostile.host}/pinned-${i}@${PINNED}`,
    ]).flat(),
  ];
  kube.set(
    'Deployment',
    images.map((image, i) => deployment('ns', `app-${i}`, { containers: [{ name: 'c', image }] })),
  );
  exporter = await startExporter(kube.kubeconfigPath, [`--allow-plain-http=${hostile.host},${reg.host}`, '--check-platforms=false']);
}, 120_000);

afterAll(async () => {
  await exporter?.stop();
  await kube?.stop();
  await hostile?.stop();
  await reg?.stop();
});

/** Every string in a JSON value. */
function strings(value: unknown, into: string[] = []): string[] {
  if (typeof value === 'string') into.push(value);
  else if (Array.isArray(value)) for (const v of value) strings(v, into);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) strings(v, into);
  return into;
}

/** Every `reason` of every object in a JSON value (an entry of the status page's groups). */
function reasonsIn(value: unknown, into: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) reasonsIn(v, into);
  else if (value && typeof value === 'object') {
    const { reason } = value as { reason?: unknown };
    if (typeof reason === 'string') into.push(reason);
    for (const v of Object.values(value)) reasonsIn(v, into);
  }
  return into;
}

describe('a registry that answers with 60,000 characters where it writes a few', () => {
  test('statuses are what the registries said, never absent for a cut code or an error body cut short', async () => {
    const scrape = await exporter.scrapeFresh({ timeoutSeconds: 30 });
    const statusOf = (image: string) => scrape.find(STATUS, { image }).find((s) => s.value === 1)?.labels.status;
    expect(statusOf(`${reg.host}/real/app:1`)).toBe('present');
    expect(statusOf(`${reg.host}/real/gone:1`)).toBe('absent');
    for (let i = 0; i < EACH; i++) {
      expect(statusOf(`${hostile.host}/code-${i}:1`)).toBe('registry_unavailable');
      expect(statusOf(`${hostile.host}/long-${i}:1`)).toBe('registry_unavailable');
      expect(statusOf(`${hostile.host}/bearer-${i}:1`)).toBe('auth_failure');
      expect(statusOf(`${hostile.host}/bigtoken-${i}:1`)).toBe('unknown_error');
      expect(statusOf(`${hostile.host}/digest-${i}:1`)).toBe('present');
      expect(statusOf(`${hostile.host}/pinned-${i}@${PINNED}`)).toBe('unknown_error');
    }
    // No line of the metrics carries any of it.
    for (const line of scrape.text.split('\n')) expect(line.length).toBeLessThan(MAX_KEPT);
  }, 60_000);

  test('every reason kept is bounded: the status page, its JSON, the log', async () => {
    await exporter.scrapeFresh({ timeoutSeconds: 30 });
    const json: unknown = await (await fetch(`${exporter.url}/status?format=json`)).json();
    const reasons = reasonsIn(json);
    // Every failing image is there with its reason (the real absent one included)...
    expect(reasons.length).toBe(5 * EACH + 1);
    // ...each cut, saying so, and the whole bounded per image.
    for (const reason of reasons) expect(reason.length).toBeLessThanOrEqual(MAX_KEPT);
    for (const kind of ['error document too large to read', 'unexpected error codes MANIFEST_UNKNOWNXXX', 'HTTP 401, insufficient_scopeXXX', 'registry answered digest sha256:aaa', 'answered a token longer than 16384 characters']) {
      expect(reasons.filter((r) => r.includes(kind))).toHaveLength(EACH);
    }
    expect(reasons.filter((r) => /…\(cut, \d+ chars\)/.test(r))).toHaveLength(3 * EACH);
    const total = reasons.reduce((sum, r) => sum + r.length, 0);
    expect(total).toBeLessThan(reasons.length * (MAX_REASON_CHARS + 100));
    for (const text of strings(json)) expect(text.length).toBeLessThanOrEqual(MAX_KEPT);

    const html = await (await fetch(`${exporter.url}/status`)).text();
    expect(html).not.toContain('X'.repeat(MAX_REASON_CHARS + 1));
    expect(html.length).toBeLessThan(reasons.length * 4 * MAX_KEPT);

    expect(exporter.logs.length).toBeGreaterThan(3 * EACH);
    for (const line of exporter.logs) {
      for (const text of strings(JSON.parse(line))) expect(text.length).toBeLessThanOrEqual(MAX_KEPT);
    }
  }, 60_000);
});
