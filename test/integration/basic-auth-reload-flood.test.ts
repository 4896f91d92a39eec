/**
 * A reload of the web config during a flood of wrong passwords (src/exporter/web/basic-auth.ts): the
 * scraper's verified password must stay verified when the reload did not change its user (a user
 * added here; a rotated certificate or a header does the same). A reload used to start with no
 * verified pairs, so the scraper had to queue for bcrypt again behind the flood and got 429 until
 * the flood stopped. The exporter as its own process (deploy/'s Node flags), a real cost-10 hash,
 * each flood client from its own loopback address, asking again as soon as it has its answer.
 */
import { writeFile } from 'node:fs/promises';
import { Agent } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { deployedRuntime } from '../support/deployed.js';
import { startKubeApi, type KubeApi } from '../support/kube-api.js';
import { startExporterProcess, type ExporterProcess } from '../support/process.js';
import { get } from '../support/http-get.js';
import { makeTempDir } from '../support/tmp.js';

const PASSWORD = 'scrape-password';
const HASH = bcrypt.hashSync(PASSWORD, 10);
/** More than the queue holds (16), so that it stays full. */
const FLOOD_CLIENTS = 40;
const PROBES = 5;

let kube: KubeApi;
let exporter: ExporterProcess;
let webConfig: string;

beforeAll(async () => {
  kube = await startKubeApi();
  const dir = await makeTempDir('reload-flood');
  webConfig = join(dir, 'web.yml');
  await writeFile(webConfig, `basic_auth_users:\n  prometheus: ${HASH}\n`);
  exporter = await startExporterProcess([`--kubeconfig=${kube.kubeconfigPath}`, `--web-config-file=${webConfig}`], deployedRuntime());
}, 60_000);

afterAll(async () => {
  exporter?.kill();
  await kube?.stop();
});

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** The status of one GET; 0 when it got no answer (refused, reset, or given up on). */
function statusOf(path: string, options: { authorization: string; agent?: Agent; localAddress?: string; timeoutMs: number }): Promise<number> {
  return get(exporter.port, path, options).then(
    (sent) => sent.status,
    () => 0,
  );
}

test('a reload that keeps the scraper\'s user keeps its password verified during a flood of wrong ones', async () => {
  const scraper = new Agent({ keepAlive: true, maxSockets: 1 });
  const scrape = () => statusOf('/metrics', { authorization: basic('prometheus', PASSWORD), agent: scraper, timeoutMs: 20_000 });
  expect(await scrape()).toBe(200);

  let flooding = true;
  const flood = Array.from({ length: FLOOD_CLIENTS }, async (_, i) => {
    for (let n = 0; flooding; n++) {
      const status = await statusOf('/metrics', { authorization: basic('prometheus', `guess-${i}-${n}`), localAddress: `127.0.2.${1 + i}`, timeoutMs: 1000 });
      if (status !== 401 && status !== 429) await sleep(50);
    }
  });
  try {
    await sleep(500);
    const reloads = () => exporter.stderr().split('"msg":"web config reloaded"').length - 1;
    const before = reloads();
    await writeFile(webConfig, `basic_auth_users:\n  prometheus: ${HASH}\n  grafana: ${bcrypt.hashSync('other', 10)}\n`);
    while (reloads() === before) await sleep(100);
    const statuses: number[] = [];
    for (let i = 0; i < PROBES; i++) {
      statuses.push(await scrape());
      await sleep(300);
    }
    expect(statuses).toEqual(Array(PROBES).fill(200));
  } finally {
    flooding = false;
    await Promise.all(flood);
    scraper.destroy();
  }
  expect(exporter.child.exitCode).toBeNull();
}, 60_000);
