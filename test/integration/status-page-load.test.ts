/**
 * The status page under load, against the memory the exporter is deployed with: 100,000 containers
 * whose image is absent from a real registry (2,000 Deployments × 50 containers on one image, as
 * when one base image is deleted, or a registry is down at that size), the exporter as its own
 * process with deploy/'s Node flags (a 192 MB heap), and many people (or scripts) loading
 * /status?format=json and the page at once. They share one answer per collection: the exporter
 * makes it once (its debug log says so per answer made), every request gets the same bytes, the
 * process stays up, and the JSON is smaller than /metrics' answer for the same containers.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { StatusModel } from '../../src/exporter/status/status-model.js';
import { deployedRuntime } from '../support/deployed.js';
import { PREFIX, scrapeUrl } from '../support/exporter.js';
import { startKubeApi, type KubeApi } from '../support/kube-api.js';
import { deployment } from '../support/objects.js';
import { startExporterProcess, type ExporterProcess } from '../support/process.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';

const WORKLOADS = 2000;
const CONTAINERS = 50;
const TOTAL = WORKLOADS * CONTAINERS;
/** Requests at once: the base exporter ran out of its heap at four. */
const AT_ONCE = 8;

let kube: KubeApi;
let registry: RunningRegistry;
let exporter: ExporterProcess | undefined;
let image: string;

beforeAll(async () => {
  registry = await startRegistry();
  image = `${registry.host}/team/base:gone`;
  kube = await startKubeApi();
  kube.set(
    'Deployment',
    Array.from({ length: WORKLOADS }, (_, i) =>
      deployment(`team-${String(i % 40).padStart(2, '0')}`, `app-${String(i).padStart(4, '0')}`, {
        containers: Array.from({ length: CONTAINERS }, (_, c) => ({ name: `c${String(c).padStart(2, '0')}`, image })),
      }),
    ),
  );
}, 60_000);

afterAll(async () => {
  exporter?.kill();
  await kube?.stop();
  await registry?.stop();
});

/** Current (VmRSS) or peak (VmHWM) resident set size of a live process, in bytes (Linux). */
function rss(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const kib = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kib) * 1024;
}

interface Got {
  readonly status: number;
  readonly body: Buffer;
}

async function get(url: string): Promise<Got> {
  const response = await fetch(url);
  return { status: response.status, body: Buffer.from(await response.arrayBuffer()) };
}

/** The answer after the part that says when it was sent (generatedAt, the collection's age). */
function afterHead(json: string): string {
  return json.slice(json.indexOf('"collectionSeconds"'));
}

const made = (format: string) => (exporter?.stderr() ?? '').split('\n').filter((l) => l.includes('"msg":"status page made"') && l.includes(`"format":"${format}"`)).length;

describe(`${TOTAL.toLocaleString('en')} containers on an absent image, 192 MB heap`, () => {
  test(`${AT_ONCE} requests at once for the JSON and for the page: one answer each, shared; the process stays up`, async () => {
    const running = await startExporterProcess(
      [`--kubeconfig=${kube.kubeconfigPath}`, `--allow-plain-http=${registry.host}`, '--scrape-timeout=60s', '--list-max-age=1h', '--log-level=debug'],
      deployedRuntime(),
    );
    exporter = running;
    const died = running.exited.then(({ code, signal }) => {
      throw new Error(`exporter exited (code ${code}, signal ${signal}): ${running.stderr().slice(-1500)}`);
    });
    died.catch(() => undefined);
    /** A request's failure, or the process' death when that is why it failed. */
    const alive = <T>(request: Promise<T>): Promise<T> =>
      request.catch(async (error: unknown) => {
        await Promise.race([died, sleep(2000)]);
        throw error;
      });

    // Scrape until every container has its (absent) result.
    let metricsBytes = 0;
    for (let attempt = 0; ; attempt++) {
      const scrape = await alive(scrapeUrl(running.url, { timeoutSeconds: 60 }));
      expect(scrape.status).toBe(200);
      const absent = scrape.find(`${PREFIX}_image_check_status`, { status: 'absent' }).length;
      if (absent === TOTAL && scrape.value(`${PREFIX}_checks_pending`) === 0) {
        metricsBytes = Buffer.byteLength(scrape.text);
        break;
      }
      if (attempt > 30) throw new Error(`not settled: ${absent} absent`);
      await sleep(200);
    }
    const before = { json: made('json'), html: made('html'), rss: rss(running.child.pid!, 'VmRSS') };

    const jsons = await Promise.all(Array.from({ length: AT_ONCE }, () => alive(get(`${running.url}/status?format=json`))));
    const pages = await Promise.all(Array.from({ length: AT_ONCE }, () => alive(get(`${running.url}/status`))));
    expect(running.child.exitCode).toBeNull();
    expect(jsons.map((j) => j.status)).toEqual(Array(AT_ONCE).fill(200));
    expect(pages.map((p) => p.status)).toEqual(Array(AT_ONCE).fill(200));

    const texts = jsons.map((j) => j.body.toString('utf8'));
    const model = JSON.parse(texts[0] as string) as StatusModel;
    expect(model.totals).toEqual({ containers: TOTAL, present: 0, notPresent: TOTAL, platformMissing: 0, skipped: 0 });
    const absent = model.groups.find((g) => g.id === 'absent');
    expect(absent?.count).toBe(TOTAL);
    // All of them listed, under the one image they share.
    expect(absent?.images.map((i) => [i.image, i.count, i.containers.length])).toEqual([[image, TOTAL, TOTAL]]);
    // Every request got the same answer (past the head that says when it was sent)...
    for (const text of texts) expect(afterHead(text)).toBe(afterHead(texts[0] as string));
    // ...made once for them all: once per format since that collection.
    expect({ json: made('json') - before.json, html: made('html') - before.html }).toEqual({ json: 1, html: 1 });
    // A page load after that makes nothing new.
    expect((await alive(get(`${running.url}/status?format=json`))).status).toBe(200);
    expect(made('json') - before.json).toBe(1);

    // The JSON grows no faster than /metrics: what containers share is written once.
    const jsonBytes = (jsons[0] as Got).body.length;
    const pageBytes = (pages[0] as Got).body.length;
    const peak = rss(running.child.pid!, 'VmHWM');
    const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
    console.log(
      `/metrics ${mib(metricsBytes)}, /status?format=json ${mib(jsonBytes)} (${(jsonBytes / TOTAL).toFixed(0)} B per container), ` +
        `page ${mib(pageBytes)}; RSS before the status requests ${mib(before.rss)}, peak ${mib(peak)}`,
    );
    expect(jsonBytes).toBeLessThan(metricsBytes);
    // The page lists 1,000 containers per group and counts the rest.
    expect(pages[0]?.body.toString('utf8')).toContain(`and ${TOTAL - 1000} more`);
  }, 150_000);
});
