/**
 * Pull secrets written to hurt: any tenant who may create a Secret and a Deployment in their own
 * namespace could once stop the exporter for everyone, with a key whose `*`s made the matcher
 * backtrack without end, or with 10,000 entries re-parsed for every container. The exporter runs as
 * its own process here, probed on /healthz during a scrape the way the kubelet's liveness probe
 * does, so that a blocked event loop fails the test instead of freezing it.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { PREFIX, scrapeUrl, type Scrape } from '../support/exporter.js';
import { startKubeApi, type KubeApi } from '../support/kube-api.js';
import { deployment, dockerConfigSecret, type AuthEntry } from '../support/objects.js';
import { pushImage } from '../support/push.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { startExporterProcess, type ExporterProcess } from '../support/process.js';

const EXISTS = `${PREFIX}_deployment_image_exists`;
const PASSWORD = 'pw-H0stile-5e7a1c';
const WRONG_PASSWORD = 'pw-Wr0ng-9d2b4f';
/** 1,000 Deployments of two containers each. */
const DEPLOYMENTS = 1_000;
/** Longest wait for a /healthz answer: well within deploy/'s 3 s liveness probe timeout. */
const PROBE_MS = 2_000;
const SCRAPE_LIMIT_MS = 30_000;

let kube: KubeApi;
let registry: RunningRegistry; // htpasswd on plain HTTP
let exporter: ExporterProcess | undefined;

/** Scrapes once while probing /healthz every 25 ms; every probe must answer within PROBE_MS. */
async function scrapeWhileProbing(url: string): Promise<{ scrape: Scrape; probes: number[] }> {
  let done = false;
  const scrape = Promise.race([
    scrapeUrl(url),
    sleep(SCRAPE_LIMIT_MS).then(() => Promise.reject(new Error(`no scrape answer within ${SCRAPE_LIMIT_MS} ms`))),
  ]).finally(() => (done = true));
  scrape.catch(() => undefined); // awaited below; a failed probe must not leave it unhandled
  const probes: number[] = [];
  do {
    const started = performance.now();
    const health = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(PROBE_MS) }).catch(() => undefined);
    if (health?.status !== 200) {
      throw new Error(`/healthz did not answer within ${PROBE_MS} ms while a scrape was running (after ${probes.length} probes)`);
    }
    await health.text();
    probes.push(performance.now() - started);
    await sleep(25);
  } while (!done);
  return { scrape: await scrape, probes };
}

/** SIGTERM must stop it promptly: a spinning exporter never even sees the signal. */
async function stopsOnSigterm(child: ChildProcess): Promise<number | null> {
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const outcome = await Promise.race([exited, sleep(5_000).then(() => 'still running' as const)]);
  return outcome === 'still running' ? Promise.reject(new Error('SIGTERM ignored for 5 s')) : (outcome[0] as number | null);
}

function deployments(prefix: string, image: string, secrets: string[]) {
  return Array.from({ length: DEPLOYMENTS }, (_, i) =>
    deployment('tenant', `${prefix}-${i}`, {
      containers: [
        { name: 'app', image: `${image}:1` },
        { name: 'gone', image: `${image}:missing` },
      ],
      imagePullSecrets: secrets,
    }),
  );
}

/** One series per container: how many say present (1) and absent (0). */
function tally(scrape: Scrape, prefix: string): { present: number; absent: number; other: number } {
  const counts = { present: 0, absent: 0, other: 0 };
  for (const sample of scrape.find(EXISTS, { namespace: 'tenant' })) {
    if (!sample.labels.owner_name?.startsWith(`${prefix}-`)) continue;
    const expected = sample.labels.container === 'app' ? 1 : 0;
    if (sample.value !== expected) counts.other++;
    else if (expected === 1) counts.present++;
    else counts.absent++;
  }
  return counts;
}

beforeAll(async () => {
  registry = await startRegistry({ auth: { kind: 'htpasswd', users: { alice: PASSWORD } } });
  await pushImage(registry, 'team/app', '1', 'docker');
  kube = await startKubeApi();
});

afterEach(() => {
  exporter?.kill();
  exporter = undefined;
});

afterAll(async () => {
  await kube?.stop();
  await registry?.stop();
});

describe('hostile pull secrets', () => {
  test('a key whose wildcards once made matching spin: scrapes complete, /healthz answers, SIGTERM stops it', async () => {
    const port = registry.host.split(':')[1];
    // 0…0177 is 127 in octal: a long host label that still reaches the registry on 127.0.0.1.
    const host = `${'0'.repeat(60)}177.0.0.1:${port}`;
    kube.set('Secret', [
      dockerConfigSecret('tenant', 'spin', {
        // /^[^.]*0[^.]*0…x$/ over 60 zeros: the old RegExp never returned.
        [`${'*0'.repeat(40)}x.0.0.1:${port}`]: { username: 'alice', password: WRONG_PASSWORD },
        [`*.0.0.1:${port}`]: { username: 'alice', password: PASSWORD },
      }),
    ]);
    kube.set('ServiceAccount', []);
    kube.set('Deployment', [
      ...deployments('spin', `${host}/team/app`, ['spin']),
      deployment('tenant', 'no-secret', { containers: [{ name: 'app', image: `${host}/team/app:1` }] }),
    ]);
    exporter = await startExporterProcess([`--kubeconfig=${kube.kubeconfigPath}`, '--allow-plain-http=*.0.0.1:*']);

    const { scrape, probes } = await scrapeWhileProbing(exporter.url);
    expect(scrape.status).toBe(200);
    expect(tally(scrape, 'spin')).toEqual({ present: DEPLOYMENTS, absent: DEPLOYMENTS, other: 0 });
    expect(scrape.find(`${PREFIX}_image_check_status`, { owner_name: 'no-secret' }).map((s) => s.labels.status)).toEqual(['auth_failure']);
    expect(Math.max(...probes)).toBeLessThan(PROBE_MS);
    expect(await stopsOnSigterm(exporter.child)).toBe(0);
  }, 60_000);

  test('a secret of 10,000 entries named by 2,000 containers costs one match, not 2,000', async () => {
    const port = registry.host.split(':')[1];
    const auths: Record<string, AuthEntry> = {};
    for (let i = 0; i < 9_998; i++) {
      // Other registries, other paths of this one, and wildcards that fit the host but not the path.
      const key = [`registry-${i}.example.com`, `*.zone-${i}.example.com`, `${registry.host}/other-${i}`, `*.0.0.1:${port}/other-${i}`][i % 4]!;
      auths[key] = { username: 'alice', password: WRONG_PASSWORD };
    }
    auths[`${registry.host}/team`] = { username: 'alice', password: PASSWORD };
    auths[registry.host] = { username: 'alice', password: WRONG_PASSWORD }; // less specific: tried after /team
    expect(Object.keys(auths)).toHaveLength(10_000);
    kube.set('Secret', [dockerConfigSecret('tenant', 'big', auths)]);
    kube.set('ServiceAccount', []);
    kube.set('Deployment', deployments('big', `${registry.host}/team/app`, ['big']));
    exporter = await startExporterProcess([`--kubeconfig=${kube.kubeconfigPath}`, `--allow-plain-http=${registry.host}`]);

    const { scrape, probes } = await scrapeWhileProbing(exporter.url);
    expect(scrape.status).toBe(200);
    expect(tally(scrape, 'big')).toEqual({ present: DEPLOYMENTS, absent: DEPLOYMENTS, other: 0 });
    expect(Math.max(...probes)).toBeLessThan(PROBE_MS);
    // The next scrape reuses the read secret: it must be quick, not merely finish.
    const again = await scrapeUrl(exporter.url);
    expect(tally(again, 'big')).toEqual({ present: DEPLOYMENTS, absent: DEPLOYMENTS, other: 0 });
    expect(again.ms).toBeLessThan(5_000);
    expect(await stopsOnSigterm(exporter.child)).toBe(0);
  }, 60_000);
});
