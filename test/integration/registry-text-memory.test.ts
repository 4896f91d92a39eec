/**
 * Issue 20, item 1, as it was found: a registry answering each of 3,000 images with a 404 whose
 * error code is 60,000 characters. Kept whole, that is ~180 MB of reasons: more than the deployed
 * 192 MB heap holds. The exporter runs as deployed (its own process, deploy/'s Node flags), is
 * scraped until every image is checked, then its status page is read twice: it stays up, and
 * every reason it keeps is bounded.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { deployedRuntime } from '../support/deployed.js';
import { PREFIX, scrapeUrl } from '../support/exporter.js';
import { DISTRIBUTION, startHostileHttp, type Hostile } from '../support/hostile.js';
import { startKubeApi, type KubeApi } from '../support/kube-api.js';
import { deployment } from '../support/objects.js';
import { startExporterProcess, type ExporterProcess } from '../support/process.js';

const IMAGES = 3000;
const HUGE = 60_000;
/** The bound on a reason that README states (MAX_REASON_CHARS in src/utils/untrusted.ts), and some words of the exporter's own. */
const MAX_KEPT = 1000 + 200;

let kube: KubeApi;
let hostile: Hostile;
let exporter: ExporterProcess | undefined;

beforeAll(async () => {
  hostile = await startHostileHttp((req, res) => {
    const path = (req.url ?? '').split('?')[0] as string;
    res.writeHead(path === '/v2/' ? 200 : 404, { ...DISTRIBUTION, 'content-type': 'application/json' });
    if (req.method === 'HEAD' || path === '/v2/') return res.end(req.method === 'HEAD' ? undefined : '{}');
    res.end(JSON.stringify({ errors: [{ code: `${'X'.repeat(HUGE)}${path}` }] }));
  });
  kube = await startKubeApi();
  kube.set(
    'Deployment',
    Array.from({ length: IMAGES }, (_, i) => deployment('ns', `app-${i}`, { containers: [{ name: 'c', image: `${hostile.host}/app-${i}:1` }] })),
  );
}, 60_000);

afterAll(async () => {
  exporter?.kill();
  await kube?.stop();
  await hostile?.stop();
});

describe(`${IMAGES} images, each answered with a 60,000-character error code, 192 MB heap`, () => {
  test('the exporter stays up, reports them all, and keeps every reason bounded', async () => {
    const running = await startExporterProcess(
      [`--kubeconfig=${kube.kubeconfigPath}`, `--allow-plain-http=${hostile.host}`, '--check-platforms=false', '--scrape-timeout=60s', '--max-concurrent-per-registry=32'],
      deployedRuntime(),
    );
    exporter = running;
    const died = running.exited.then(({ code, signal }) => {
      throw new Error(`exporter exited (code ${code}, signal ${signal}): ${running.stderr().slice(-1500)}`);
    });
    died.catch(() => undefined);
    // A process killed by its heap limit closes the connection first: report the death, not the socket.
    const alive = <T>(p: Promise<T>): Promise<T> => Promise.race([p, died]).catch(async (error: unknown) => {
      await Promise.race([died, sleep(2000)]);
      throw error;
    });

    const STATUS = `${PREFIX}_image_check_status`;
    for (let scrapes = 0; ; scrapes++) {
      const scrape = await alive(scrapeUrl(running.url, { timeoutSeconds: 60 }));
      expect(scrape.status).toBe(200);
      const unavailable = scrape.find(STATUS, { status: 'registry_unavailable' }).filter((s) => s.value === 1).length;
      if (unavailable === IMAGES && scrape.value(`${PREFIX}_checks_pending`) === 0) break;
      expect(scrapes, `${unavailable} of ${IMAGES} checked`).toBeLessThan(200);
      await sleep(500);
    }
    // The status page and its JSON at once, twice, as an operator and a script do.
    const pages = await alive(
      Promise.all([
        fetch(`${running.url}/status`).then((r) => r.text()),
        fetch(`${running.url}/status?format=json`).then((r) => r.text()),
        fetch(`${running.url}/status?format=json`).then((r) => r.text()),
      ]),
    );
    const json = JSON.parse(pages[1] as string) as unknown;
    const reasons: string[] = [];
    const walk = (value: unknown): void => {
      if (Array.isArray(value)) value.forEach(walk);
      else if (value && typeof value === 'object') {
        const { reason } = value as { reason?: unknown };
        if (typeof reason === 'string') reasons.push(reason);
        Object.values(value).forEach(walk);
      }
    };
    walk(json);
    expect(reasons).toHaveLength(IMAGES);
    expect(Math.max(...reasons.map((r) => r.length))).toBeLessThanOrEqual(MAX_KEPT);
    expect(running.child.exitCode).toBeNull();
  }, 180_000);
});
