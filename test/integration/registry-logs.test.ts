/**
 * What an operator reads when registries fail: one line per registry and kind of failure (not per
 * image), one when it recovers, the error counter still exact; reasons in plain words with the fix.
 * Real registries (plain HTTP and TLS), stopped and started again.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startKubeApi, type KubeApi } from '../support/kube-api.js';
import { deployment } from '../support/objects.js';
import { PREFIX, startExporter } from '../support/exporter.js';
import { createPki } from '../support/pki.js';
import { pushImage } from '../support/push.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { makeTempDir } from '../support/tmp.js';

const STATUS = `${PREFIX}_image_check_status`;
const IMAGES = 200;

let kube: KubeApi;
let plain: RunningRegistry;
let tls: RunningRegistry;
let caFile: string;

type Line = { level: string; msg: string; registry?: string; firstError?: string; imagesAffected?: number; images?: number };
const lines = (logs: readonly string[]): Line[] => logs.map((l) => JSON.parse(l) as Line);

beforeAll(async () => {
  const pki = await createPki();
  caFile = join(await makeTempDir('registry-logs'), 'ca.pem');
  await writeFile(caFile, pki.caCertPem);
  plain = await startRegistry();
  tls = await startRegistry({ tls: pki });
  for (let i = 0; i < IMAGES; i++) await pushImage(plain, `app-${i}`, '1', 'docker');
  await pushImage(tls, 'secure', '1', 'docker');
  kube = await startKubeApi();
});

afterAll(async () => {
  await kube?.stop();
  await plain?.stop();
  await tls?.stop();
});

describe('a registry that goes down', () => {
  test(`${IMAGES} images on a registry that is down: one warning for the registry, one line when it answers again; the counter counts every check`, async () => {
    kube.set('Deployment', Array.from({ length: IMAGES }, (_, i) => deployment('ns', `app-${i}`, { containers: [{ name: 'c', image: `${plain.host}/app-${i}:1` }] })));
    await plain.stop();
    // Failed checks are retried after the interval: 15 s lets the first round settle before any
    // retry (so the counter is exactly one per image) even on a loaded machine.
    const exporter = await startExporter(kube.kubeconfigPath, [`--allow-plain-http=${plain.host}`, '--check-interval=15s', '--check-platforms=false']);
    try {
      const down = await exporter.scrapeFresh();
      expect(down.find(STATUS, { status: 'registry_unavailable' })).toHaveLength(IMAGES);
      expect(down.value(`${PREFIX}_generic_errors_total`)).toBe(IMAGES);
      const warnings = lines(exporter.logs).filter((l) => l.level === 'warn' && l.registry === plain.host);
      expect(warnings).toEqual([expect.objectContaining({ msg: `registry ${plain.host} unreachable`, images: 1, firstError: expect.stringContaining('connection refused: nothing listens on that port (ECONNREFUSED)') })]);
      // Every image is still told, at debug level.
      expect(lines(exporter.logs).filter((l) => l.level === 'debug' && l.msg === 'image check failed')).toHaveLength(IMAGES);

      await plain.start();
      // Recovery takes rechecks of every image: generous on a loaded machine (the log lines are what is tested).
      await exporter.scrapeUntil((s) => s.find(STATUS, { status: 'present' }).length === IMAGES, { withinMs: 90_000 });
      const recovered = lines(exporter.logs).filter((l) => l.level === 'info' && l.registry === plain.host);
      expect(recovered).toEqual([expect.objectContaining({ msg: `registry ${plain.host} no longer unreachable`, imagesAffected: IMAGES })]);
      expect(lines(exporter.logs).filter((l) => l.level === 'warn' && l.registry === plain.host)).toHaveLength(1);
    } finally {
      await exporter.stop();
      await plain.start().catch(() => undefined);
    }
  }, 180_000);
});

describe('reasons in plain words, with the fix', () => {
  const firstError = async (image: string, flags: string[]) => {
    kube.set('Deployment', [deployment('ns', 'app', { containers: [{ name: 'c', image }] })]);
    const exporter = await startExporter(kube.kubeconfigPath, ['--check-platforms=false', ...flags]);
    try {
      const scrape = await exporter.scrapeFresh();
      const statuses = scrape.find(STATUS, { owner_name: 'app' }).map((s) => s.labels.status);
      const warning = lines(exporter.logs).find((l) => l.level === 'warn' && l.firstError !== undefined);
      return { statuses, reason: warning?.firstError ?? '' };
    } finally {
      await exporter.stop();
    }
  };

  test('TLS spoken to a plain-HTTP registry: list it in --allow-plain-http', async () => {
    const { statuses, reason } = await firstError(`${plain.host}/app-0:1`, []);
    expect(statuses).toEqual(['registry_unavailable']);
    expect(reason).toContain('speaks plain HTTP, not TLS: list it in --allow-plain-http');
  });

  test('a certificate from an unknown CA: --registry-ca-file', async () => {
    const { statuses, reason } = await firstError(`${tls.host}/secure:1`, []);
    expect(statuses).toEqual(['registry_unavailable']);
    expect(reason).toContain('signed by a CA this exporter does not trust: add that CA with --registry-ca-file');
  });

  test('plain HTTP spoken to a TLS registry: the answer says so', async () => {
    const { statuses, reason } = await firstError(`${tls.host}/secure:1`, [`--allow-plain-http=${tls.host}`]);
    expect(statuses).not.toContain('absent');
    expect(reason).toMatch(/plain HTTP/);
  });

  test('nothing listening: connection refused', async () => {
    const { reason } = await firstError('127.0.0.1:1/x:1', ['--allow-plain-http=127.0.0.1:1']);
    expect(reason).toContain('connection refused: nothing listens on that port (ECONNREFUSED)');
  });

  test('the trusted CA: present, and nothing logged at warn', async () => {
    const { statuses, reason } = await firstError(`${tls.host}/secure:1`, [`--registry-ca-file=${caFile}`]);
    expect(statuses).toEqual(['present']);
    expect(reason).toBe('');
  });
});
