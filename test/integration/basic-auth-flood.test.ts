/**
 * Basic auth under a flood of wrong passwords, against the exporter as its own process (deploy/'s
 * Node flags) with a real cost-10 bcrypt hash, as `htpasswd -nBC 10` makes: 200 clients, each from
 * its own loopback address, send wrong passwords over and over (each on a new connection, giving up
 * after a second, asking again 1.5 s after its answer or giving up); meanwhile the kubelet's /healthz
 * and an authenticated scrape (its password verified before the flood) must still answer at once.
 * Then 300 clients send a wrong password each and hang up: the exporter must not go on comparing
 * passwords nobody waits for (measured as the process' CPU time after they hung up).
 */
import { writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { Agent, type ClientRequest } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { deployedRuntime } from '../support/deployed.js';
import { startKubeApi, type KubeApi } from '../support/kube-api.js';
import { startExporterProcess, type ExporterProcess } from '../support/process.js';
import { get, type Sent } from '../support/http-get.js';
import { makeTempDir } from '../support/tmp.js';

const PASSWORD = 'scrape-password';
const HASH = bcrypt.hashSync(PASSWORD, 10);
const FLOOD_CLIENTS = 200;
const HANG_UP_CLIENTS = 300;
/** How long a flood client waits between its answer and its next request. */
const PAUSE_MS = 1500;
/** How long a flood client waits for its answer before it hangs up. */
const GIVE_UP_MS = 1000;
/** Latency allowed to /healthz and a scrape whose password was verified before (the base took 7-13 s). */
const ANSWER_WITHIN_MS = 3000;
/** /healthz and scrape pairs sent during the flood, 0.3 s apart. */
const PROBES = 8;

let kube: KubeApi;
let exporter: ExporterProcess;

beforeAll(async () => {
  kube = await startKubeApi();
  const dir = await makeTempDir('flood');
  await writeFile(join(dir, 'web.yml'), `basic_auth_users:\n  prometheus: ${HASH}\n`);
  exporter = await startExporterProcess([`--kubeconfig=${kube.kubeconfigPath}`, `--web-config-file=${join(dir, 'web.yml')}`], deployedRuntime());
}, 60_000);

afterAll(async () => {
  exporter?.kill();
  await kube?.stop();
});

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** The flood clients' addresses: 127.0.1.1, 127.0.1.2, … (all loopback on Linux). */
const floodAddress = (i: number) => `127.0.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`;

/** CPU time (user + system, all threads) the process has used, in ms (Linux, 100 ticks a second). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Waits until the process is idle (two quarter-seconds in a row with at most 20 ms of CPU), for at most `capMs` of CPU or `wallMs`. */
async function cpuUntilIdle(pid: number, capMs: number, wallMs: number): Promise<number> {
  const start = cpuMs(pid);
  const end = performance.now() + wallMs;
  let last = start;
  let quiet = 0;
  while (quiet < 2 && performance.now() < end) {
    await sleep(250);
    const now = cpuMs(pid);
    quiet = now - last <= 20 ? quiet + 1 : 0;
    last = now;
    if (now - start > capMs) break;
  }
  return last - start;
}

describe('wrong passwords cannot starve /healthz or an authenticated scrape', () => {
  test(`${FLOOD_CLIENTS} clients sending wrong passwords: /healthz and a verified scraper answer within ${ANSWER_WITHIN_MS} ms`, async () => {
    const scraper = new Agent({ keepAlive: true, maxSockets: 1 });
    // The scraper's password is verified once, before the flood.
    expect((await get(exporter.port, '/metrics', { authorization: basic('prometheus', PASSWORD), agent: scraper })).status).toBe(200);

    let flooding = true;
    const statuses = new Map<number, number>();
    const clients = Array.from({ length: FLOOD_CLIENTS }, async (_, i) => {
      for (let n = 0; flooding; n++) {
        const { status } = await get(exporter.port, '/metrics', {
          authorization: basic('prometheus', `guess-${i}-${n}`),
          localAddress: floodAddress(i),
          timeoutMs: GIVE_UP_MS,
        }).catch(() => ({ status: 0 }));
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        // Each client asks again, on a new connection, 1.5 s after its answer or giving up: a steady
        // flood of up to ~130 requests a second (an HTTP flood as such is rate_limit's business; this
        // one is about bcrypt's work).
        await sleep(PAUSE_MS);
      }
    });

    await sleep(500);
    const probe = (path: string, options: Parameters<typeof get>[2] = {}) =>
      get(exporter.port, path, { ...options, timeoutMs: 4 * ANSWER_WITHIN_MS }).catch(() => ({ status: 0, ms: Number.POSITIVE_INFINITY }));
    const health: Sent[] = [];
    const scrapes: Sent[] = [];
    for (let i = 0; i < PROBES; i++) {
      const [h, s] = await Promise.all([probe('/healthz'), probe('/metrics', { authorization: basic('prometheus', PASSWORD), agent: scraper })]);
      health.push(h);
      scrapes.push(s);
      await sleep(300);
    }
    flooding = false;
    await Promise.all(clients);
    scraper.destroy();
    const ms = (answers: Sent[]) => answers.map((a) => Math.round(a.ms));
    console.log(`during the flood: /healthz ${ms(health).join(', ')} ms; verified scrape ${ms(scrapes).join(', ')} ms; flood answers ${JSON.stringify(Object.fromEntries(statuses))} (0: gave up)`);

    expect(Math.max(...ms(health))).toBeLessThan(ANSWER_WITHIN_MS);
    expect(Math.max(...ms(scrapes))).toBeLessThan(ANSWER_WITHIN_MS);
    expect([...health, ...scrapes].map((a) => a.status)).toEqual(Array(2 * PROBES).fill(200));
    // The flood got "no" (401) or "busy" (429) or gave up, never in, never an error.
    expect([...statuses.keys()].filter((status) => status !== 401 && status !== 429 && status !== 0)).toEqual([]);
    expect(exporter.child.exitCode).toBeNull();
  }, 60_000);

  test(`${HANG_UP_CLIENTS} clients that send a wrong password and hang up leave no comparisons behind`, async () => {
    const pid = exporter.child.pid!;
    await cpuUntilIdle(pid, Number.POSITIVE_INFINITY, 30_000);
    // What one comparison costs on this machine (the exporter runs the same bcryptjs).
    const before = process.cpuUsage();
    for (let i = 0; i < 3; i++) bcrypt.compareSync(`wrong-${i}`, HASH);
    const used = process.cpuUsage(before);
    const comparisonMs = (used.user + used.system) / 1000 / 3;

    const requests: ClientRequest[] = [];
    const sent = Array.from({ length: HANG_UP_CLIENTS }, (_, i) =>
      get(exporter.port, '/metrics', { authorization: basic('prometheus', `guess-${i}`), localAddress: floodAddress(i), onRequest: (req) => requests.push(req) }).catch(() => undefined),
    );
    await sleep(300);
    for (const req of requests) req.destroy();
    await Promise.all(sent);

    // Had each been compared, the process would spend HANG_UP_CLIENTS × comparisonMs of CPU from now on.
    const cap = 20 * comparisonMs;
    const after = await cpuUntilIdle(pid, cap, 20_000);
    console.log(`one comparison ${comparisonMs.toFixed(0)} ms of CPU; after ${HANG_UP_CLIENTS} clients hung up the exporter used ${after} ms (cap ${cap.toFixed(0)} ms)`);
    expect(after).toBeLessThan(cap);
    // And it still answers.
    expect((await get(exporter.port, '/healthz')).status).toBe(200);
  }, 60_000);
});
