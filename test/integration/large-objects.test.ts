/**
 * Big objects against the memory the exporter is deployed with: the process, run with deploy/'s
 * Node flags and environment (a 192 MB heap), lists 120 Deployments of ~1 MB each (a legal
 * object: one long container argument) and must keep running and report every one of them. Its
 * memory must follow what it keeps (names, images), not the size of the objects it reads.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startKubeApi, type KubeApi } from '../support/kube-api.js';
import { deployment } from '../support/objects.js';
import { PREFIX, scrapeUrl } from '../support/exporter.js';
import { pushImage } from '../support/push.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { startExporterProcess, type ExporterProcess } from '../support/process.js';
import { deployedRuntime } from '../support/deployed.js';

const DEPLOYMENTS = 120;
const ARGUMENT_BYTES = 1024 * 1024;

let kube: KubeApi;
let registry: RunningRegistry;
let exporter: ExporterProcess | undefined;

beforeAll(async () => {
  registry = await startRegistry();
  await pushImage(registry, 'app', '1', 'docker');
  kube = await startKubeApi();
  // One shared string: the test process holds 1 MB, the exporter still reads 120 MB of JSON.
  const longArgument = `--config=${'x'.repeat(ARGUMENT_BYTES)}`;
  kube.set(
    'Deployment',
    Array.from({ length: DEPLOYMENTS }, (_, i) => {
      const object = deployment('big', `d${String(i).padStart(3, '0')}`, {
        containers: [{ name: 'app', image: `${registry.host}/app:1` }],
      });
      Object.assign(object.spec.template.spec.containers[0]!, { args: [longArgument] });
      return object;
    }),
  );
});

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

describe('120 Deployments of 1 MB each, 192 MB heap', () => {
  test('the process stays up and a scrape reports all of them', async () => {
    const running = await startExporterProcess(
      // Not a timing test: give the list all the time it needs.
      [`--kubeconfig=${kube.kubeconfigPath}`, `--allow-plain-http=${registry.host}`, '--scrape-timeout=60s'],
      deployedRuntime(),
    );
    exporter = running;
    const proc = running.child;
    const url = running.url;
    const exited = running.exited.then(({ code, signal }) => {
      throw new Error(`exporter exited (code ${code}, signal ${signal}): ${running.stderr().slice(-2000)}`);
    });
    exited.catch(() => undefined);

    const before = rss(proc.pid!, 'VmRSS');
    // A process killed by its heap limit closes the connection first: report the death, not the socket.
    const scrape = await scrapeUrl(url).catch(async (error: unknown) => {
      await Promise.race([exited, sleep(2000)]);
      throw error;
    });
    expect(scrape.status).toBe(200);
    expect(scrape.value(`${PREFIX}_workload_list_up`, { kind: 'Deployment' }), running.stderr().slice(-2000)).toBe(1);
    const exists = scrape.find(`${PREFIX}_deployment_image_exists`);
    expect(exists).toHaveLength(DEPLOYMENTS);
    expect(exists.every((s) => s.value === 1)).toBe(true);

    expect(proc.exitCode).toBeNull();
    // Reading the list must not cost anything near its size (120 MiB): it is never held whole.
    // (Measured as growth over the process before the scrape: tsx alone takes ~200 MiB here,
    // where the built exporter starts at ~130 MiB.)
    const peak = rss(proc.pid!, 'VmHWM');
    const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
    console.log(`exporter RSS before the scrape ${mib(before)}, peak ${mib(peak)}, growth ${mib(peak - before)}`);
    expect(peak - before).toBeLessThan(DEPLOYMENTS * ARGUMENT_BYTES);
  }, 120_000);
});
