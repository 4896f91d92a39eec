/**
 * Scrapes answer in time however slow the registries are: the deadline from Prometheus' header,
 * pending checks landing in the cache for the next scrape, per-host concurrency and 429 backoff.
 */
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startKubeApi, type KubeApi } from '../support/kube-api.js';
import { deployment } from '../support/objects.js';
import { PREFIX, startExporter } from '../support/exporter.js';
import { startRecordingProxy, type RecordingProxy } from '../support/proxy.js';
import { pushImage } from '../support/push.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { REUSE_MS } from '../../src/exporter/shared-answer.js';

const STATUS = `${PREFIX}_image_check_status`;
const EXISTS = `${PREFIX}_deployment_image_exists`;
const PENDING = `${PREFIX}_checks_pending`;

let registry: RunningRegistry;
let kube: KubeApi;

beforeAll(async () => {
  registry = await startRegistry();
  for (let i = 0; i < 12; i++) await pushImage(registry, `app${i}`, '1', 'docker');
  kube = await startKubeApi();
});
afterAll(async () => {
  await kube?.stop();
  await registry?.stop();
});

describe('deadline', () => {
  let fast: RecordingProxy;
  let slow: RecordingProxy;

  beforeAll(async () => {
    fast = await startRecordingProxy(registry.url);
    slow = await startRecordingProxy(registry.url, { latencyMs: 2500 });
  });
  afterAll(async () => {
    await fast?.stop();
    await slow?.stop();
  });

  test('a slow registry cannot hold the scrape past X-Prometheus-Scrape-Timeout-Seconds', async () => {
    kube.set('Deployment', [
      deployment('d', 'quick', { containers: [{ name: 'c', image: `${fast.host}/app0:1` }] }),
      deployment('d', 'sluggish', { containers: [{ name: 'c', image: `${slow.host}/app1:1` }] }),
    ]);
    const exporter = await startExporter(kube.kubeconfigPath, ['--allow-plain-http=127.0.0.1:*']);
    try {
      // Learn the quick image first, so the slow scrape has something known to return.
      kube.set('Deployment', [deployment('d', 'quick', { containers: [{ name: 'c', image: `${fast.host}/app0:1` }] })]);
      expect((await exporter.scrape()).value(EXISTS, { owner_name: 'quick' })).toBe(1);
      kube.add('Deployment', deployment('d', 'sluggish', { containers: [{ name: 'c', image: `${slow.host}/app1:1` }] }));
      // A scrape answers from the listing it has and lists anew; the one after sees the new workload.
      // (Each a new answer: the exporter hands a finished one to scrapes for REUSE_MS.)
      await sleep(REUSE_MS + 10);
      expect((await exporter.scrape({ timeoutSeconds: 1 })).find(STATUS, { owner_name: 'sluggish' })).toEqual([]);
      await sleep(200);

      const scrape = await exporter.scrape({ timeoutSeconds: 1 });
      expect(scrape.status).toBe(200);
      expect(scrape.ms).toBeLessThan(1000);
      expect(scrape.value(EXISTS, { owner_name: 'quick' })).toBe(1);
      // Not known yet: no series, certainly no guessed 0.
      expect(scrape.find(EXISTS, { owner_name: 'sluggish' })).toEqual([]);
      expect(scrape.find(STATUS, { owner_name: 'sluggish' })).toEqual([]);
      expect(scrape.value(PENDING)).toBe(1);

      // The check went on in the background and is there for the next scrape.
      await sleep(2000);
      const next = await exporter.scrape({ timeoutSeconds: 1 });
      expect(next.value(EXISTS, { owner_name: 'sluggish' })).toBe(1);
      expect(next.value(PENDING)).toBe(0);
      expect(slow.requests.filter((r) => r.method === 'HEAD')).toHaveLength(1);
    } finally {
      await exporter.stop();
    }
  });

  test('without the header, --scrape-timeout bounds the scrape', async () => {
    kube.set('Deployment', [deployment('d', 'sluggish2', { containers: [{ name: 'c', image: `${slow.host}/app2:1` }] })]);
    const exporter = await startExporter(kube.kubeconfigPath, ['--allow-plain-http=127.0.0.1:*', '--scrape-timeout=800ms']);
    try {
      const scrape = await exporter.scrape();
      expect(scrape.ms).toBeLessThan(800);
      expect(scrape.value(PENDING)).toBe(1);
      expect(scrape.value(`${PREFIX}_collection_duration_seconds`)).toBeLessThan(0.8);
    } finally {
      await exporter.stop();
    }
  });
});

describe('concurrency', () => {
  test('no more than --max-concurrent-per-registry requests reach one registry at once', async () => {
    const proxy = await startRecordingProxy(registry.url, { latencyMs: 150 });
    kube.set(
      'Deployment',
      Array.from({ length: 12 }, (_, i) => deployment('c', `w${i}`, { containers: [{ name: 'c', image: `${proxy.host}/app${i}:1` }] })),
    );
    const exporter = await startExporter(kube.kubeconfigPath, [
      '--allow-plain-http=127.0.0.1:*',
      '--max-concurrent-checks=10',
      '--max-concurrent-per-registry=3',
    ]);
    try {
      const scrape = await exporter.scrape({ timeoutSeconds: 10 });
      expect(scrape.find(EXISTS).filter((s) => s.value === 1)).toHaveLength(12);
      expect(proxy.maxConcurrent).toBe(3);
    } finally {
      await exporter.stop();
      await proxy.stop();
    }
  });
});

describe('429 backoff', () => {
  let server: Server;
  let hits = 0;
  let retryAfter: string | undefined = '2';

  beforeAll(async () => {
    // A real registry never answers 429; this loopback server does what Docker Hub's limit does.
    server = createServer((req, res) => {
      hits++;
      const headers: Record<string, string> = { 'docker-distribution-api-version': 'registry/2.0', 'content-type': 'application/json' };
      if (retryAfter !== undefined) headers['retry-after'] = retryAfter;
      res.writeHead(429, headers);
      res.end(req.method === 'HEAD' ? undefined : '{"errors":[{"code":"TOOMANYREQUESTS"}]}');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
  });
  afterAll(() => server?.close());

  test('backs the host off for Retry-After instead of hammering it, and never says absent', async () => {
    const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    kube.set(
      'Deployment',
      Array.from({ length: 5 }, (_, i) => deployment('r', `limited${i}`, { containers: [{ name: 'c', image: `${host}/app${i}:1` }] })),
    );
    const exporter = await startExporter(kube.kubeconfigPath, [
      '--allow-plain-http=127.0.0.1:*',
      '--check-interval=1s',
      '--max-concurrent-per-registry=1',
    ]);
    try {
      hits = 0;
      let scrape = await exporter.scrape();
      expect(scrape.find(STATUS, { status: 'rate_limited' })).toHaveLength(5);
      expect(scrape.find(EXISTS)).toEqual([]);
      // The first 429 backs the host off: the other four checks did not reach it.
      expect(hits).toBe(1);

      // Within Retry-After (2 s) nothing is sent, although the failure retry (1 s) has passed.
      await sleep(1200);
      scrape = await exporter.scrape();
      expect(hits).toBe(1);
      expect(scrape.find(STATUS, { status: 'rate_limited' })).toHaveLength(5);

      await sleep(1000);
      await exporter.scrapeFresh();
      expect(hits).toBeGreaterThan(1);
      expect(exporter.logs.some((l) => l.includes('backing off after HTTP 429'))).toBe(true);
    } finally {
      await exporter.stop();
    }
  });
});
