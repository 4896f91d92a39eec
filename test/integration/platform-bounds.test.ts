/**
 * Issue 20, item 2: what an image says about its platforms is registry-controlled, and bounded where
 * it is read. A real registry (Debian's `docker-registry`) holds indexes of thousands of distinct
 * platforms (still under the 1 MiB read limit), one of 65, and an image whose config names an architecture too
 * long to be one; the exporter checks them on amd64 + arm64 nodes. Those images are reported as
 * present with their platforms not knowable (a log line, no platform_missing series), never as
 * missing a platform, and are not read again; ordinary images next to them are checked as before.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { PREFIX, startExporter, type Scrape } from '../support/exporter.js';
import { startKubeApi, type KubeApi } from '../support/kube-api.js';
import { deployment, node } from '../support/objects.js';
import { startRecordingProxy, type RecordingProxy } from '../support/proxy.js';
import { MEDIA_TYPES, pushImage, sha256Digest, type Platform } from '../support/push.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';

const MISSING = `${PREFIX}_image_platform_missing`;
const EXISTS = `${PREFIX}_deployment_image_exists`;
const STATUS = `${PREFIX}_image_check_status`;
const NOT_KNOWABLE = 'image platforms not knowable';
/** Distinct platforms in the big indexes: as many as fit in 1 MiB with the real registry's descriptors. */
const MANY = 7_500;

let registry: RunningRegistry;
let proxy: RecordingProxy;
let kube: KubeApi;
let host: string;

/**
 * PUTs an OCI index of `platforms`, every entry pointing at one real child manifest (the registry
 * checks that each exists; it does not compare platforms), written compactly as a registry might.
 */
async function pushIndex(repository: string, tag: string, childDigest: string, platforms: readonly Platform[]): Promise<number> {
  const manifests = platforms.map((platform) => ({ digest: childDigest, platform }));
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests }));
  const res = await request(`${registry.url}/v2/${repository}/manifests/${tag}`, {
    method: 'PUT',
    body: bytes,
    headers: { 'content-type': MEDIA_TYPES.ociIndex },
  });
  const text = await res.body.text();
  if (res.statusCode !== 201) throw new Error(`PUT index ${repository}:${tag} -> ${res.statusCode}: ${text.slice(0, 300)}`);
  expect(res.headers['docker-content-digest']).toBe(sha256Digest(bytes));
  return bytes.length;
}

const linux = (architecture: string): Platform => ({ os: 'linux', architecture });
const numbered = (count: number, prefix: string): Platform[] => Array.from({ length: count }, (_, i) => linux(`${prefix}${i}`));

beforeAll(async () => {
  registry = await startRegistry();
  proxy = await startRecordingProxy(registry.url);
  host = proxy.host;
  const child = await pushImage(registry, 'big/index', 'child', 'oci');
  // Thousands of platforms, none an amd64 or arm64 node can run: trusted, they would say both are missing.
  const lacking = await pushIndex('big/index', 'lacking', child.digest, numbered(MANY, 'a'));
  // The same, with the nodes' platforms after the first 64: keeping only a first few would be a false alert.
  const tail = await pushIndex('big/index', 'tail', child.digest, [...numbered(MANY, 'b'), linux('amd64'), linux('arm64')]);
  expect(Math.max(lacking, tail)).toBeLessThan(1024 * 1024); // under the exporter's read limit: it is read
  // At the bound, still an ordinary index: 64 platforms, neither amd64 nor arm64.
  await pushIndex('big/index', 'edge64', child.digest, numbered(64, 'c'));
  // One past it: not an ordinary index any more (an old exporter would say amd64 and arm64 are missing).
  await pushIndex('big/index', 'edge65', child.digest, numbered(65, 'd'));
  // A single image whose config blob names an architecture far longer than any real one.
  await pushImage(registry, 'long/arch', '1', 'oci', { platforms: [linux('x'.repeat(4000))] });
  await pushImage(registry, 'multi/oci', '1', 'oci-index'); // linux/amd64 + linux/arm64
  await pushImage(registry, 'single/amd64', '1', 'docker');
  kube = await startKubeApi();
  kube.set('Node', [node('amd-1', { os: 'linux', architecture: 'amd64' }), node('arm-1', { os: 'linux', architecture: 'arm64' })]);
  kube.set('Deployment', [
    app('big-lacking', 'big/index:lacking'),
    app('big-tail', 'big/index:tail'),
    app('edge-64', 'big/index:edge64'),
    app('edge-65', 'big/index:edge65'),
    app('long-arch', 'long/arch:1'),
    app('multi', 'multi/oci:1'),
    app('single', 'single/amd64:1'),
  ]);
}, 60_000);

afterAll(async () => {
  await kube?.stop();
  await proxy?.stop();
  await registry?.stop();
});

function app(name: string, image: string) {
  return deployment('p', name, { containers: [{ name: 'app', image: `${host}/${image}` }] });
}

function missing(scrape: Scrape): string[] {
  return scrape
    .find(MISSING)
    .map((s) => `${s.labels.owner_name} ${s.labels.platform}`)
    .sort();
}

describe('platforms past the bounds are not knowable, never missing', () => {
  test('thousands of platforms, or a name too long to be one: present, no platform_missing, said once; others as before', async () => {
    proxy.requests.length = 0;
    const exporter = await startExporter(kube.kubeconfigPath, [`--allow-plain-http=${host}`, '--check-interval=1s']);
    try {
      const notKnowable = () => exporter.logs.filter((line) => line.includes(NOT_KNOWABLE)).map((line) => JSON.parse(line) as Record<string, unknown>);
      const images: Record<string, string> = {
        'big-lacking': 'big/index:lacking',
        'big-tail': 'big/index:tail',
        'edge-65': 'big/index:edge65',
        'long-arch': 'long/arch:1',
      };
      const bigOnes = Object.keys(images);
      // Read: said to be not knowable, or (what must not happen) reported missing a platform.
      const read = (s: Scrape, name: string) =>
        notKnowable().some((l) => l['image'] === `${host}/${images[name]}`) || missing(s).some((m) => m.startsWith(`${name} `));
      // Settled: the ordinary images' platforms are read, and so are the big ones that an old
      // exporter would report (big-tail lacks nothing, so only its log line tells it was read).
      let scrape = await exporter.scrapeUntil(
        (s) =>
          missing(s).includes('single linux/arm64') &&
          missing(s).includes('edge-64 linux/amd64') &&
          read(s, 'big-lacking') &&
          read(s, 'edge-65') &&
          read(s, 'long-arch') &&
          s.value(`${PREFIX}_checks_pending`) === 0,
        { withinMs: 20_000 },
      );
      expect(missing(scrape)).toEqual(['edge-64 linux/amd64', 'edge-64 linux/arm64', 'single linux/arm64']);
      for (const name of [...bigOnes, 'multi']) {
        // Present, and said so: neither absent nor missing a platform.
        expect(scrape.value(EXISTS, { owner_name: name })).toBe(1);
        expect(scrape.value(STATUS, { owner_name: name, status: 'present' })).toBe(1);
      }
      scrape = await exporter.scrapeUntil((s) => read(s, 'big-tail'), { withinMs: 10_000 });
      expect(missing(scrape)).toEqual(['edge-64 linux/amd64', 'edge-64 linux/arm64', 'single linux/arm64']);
      const said = notKnowable();
      expect(said.map((l) => `${String(l['image']).replace(`${host}/`, '')}: ${String(l['reason'])}`).sort()).toEqual([
        'big/index:edge65: the image lists more than 64 platforms',
        'big/index:lacking: the image index lists more than 1024 manifests',
        'big/index:tail: the image index lists more than 1024 manifests',
        'long/arch:1: the image names a platform (os, architecture or variant) longer than 32 characters',
      ]);
      for (const line of said) expect(line['level']).toBe('warn');

      // Not knowable is kept as such: a later check interval reads none of them again, and says nothing new.
      const manifestGets = () => proxy.requests.filter((r) => r.method === 'GET' && r.path.includes('/manifests/')).length;
      const heads = () => proxy.requests.filter((r) => r.method === 'HEAD').length;
      const before = { gets: manifestGets(), heads: heads() };
      await sleep(1200);
      scrape = await exporter.scrapeUntil((s) => heads() >= before.heads + 7 && s.value(`${PREFIX}_checks_pending`) === 0, { withinMs: 10_000 });
      expect(manifestGets()).toBe(before.gets);
      expect(notKnowable()).toHaveLength(4);
      expect(missing(scrape)).toEqual(['edge-64 linux/amd64', 'edge-64 linux/arm64', 'single linux/arm64']);
    } finally {
      await exporter.stop();
    }
  }, 60_000);
});
