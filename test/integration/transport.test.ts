/**
 * Registry connections through the real exporter against a real TLS registry trusted with
 * --registry-ca-file: the TLS context (system roots plus the CA file) is built once, not per
 * connection, and keep-alive connections are reused across HEAD requests.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { PREFIX, startExporter } from '../support/exporter.js';
import { startKubeApi, type KubeApi } from '../support/kube-api.js';
import { deployment } from '../support/objects.js';
import { createPki } from '../support/pki.js';
import { pushImage } from '../support/push.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { makeTempDir } from '../support/tmp.js';

const IMAGES = 40;
const PER_REGISTRY = 4;
let registry: RunningRegistry;
let kube: KubeApi;
let caFile: string;

beforeAll(async () => {
  const pki = await createPki();
  caFile = join(await makeTempDir('transport'), 'ca.pem');
  await writeFile(caFile, pki.caCertPem);
  registry = await startRegistry({ tls: pki });
  for (let i = 0; i < IMAGES / 2; i++) await pushImage(registry, `svc${i}`, '1', 'docker');
  kube = await startKubeApi();
  kube.set('Deployment', Array.from({ length: IMAGES }, (_, i) => deployment('t', `w${i}`, { containers: [{ name: 'c', image: `${registry.host}/svc${i}:1` }] })));
});

afterAll(async () => {
  await kube?.stop();
  await registry?.stop();
});

test('one TLS context for all registry connections, and connections kept alive across HEADs', async () => {
  const exporter = await startExporter(kube.kubeconfigPath, [`--registry-ca-file=${caFile}`, `--max-concurrent-per-registry=${PER_REGISTRY}`]);
  // Counted from here on: everything the exporter does during the scrape.
  let contexts = 0;
  const original = tls.createSecureContext;
  (tls as { createSecureContext: typeof tls.createSecureContext }).createSecureContext = (options) => {
    contexts++;
    return original(options);
  };
  const connections: string[] = [];
  const onConnect = (message: unknown) => {
    const { connectParams } = message as { connectParams: { hostname: string; port: string } };
    connections.push(`${connectParams.hostname}:${connectParams.port}`);
  };
  subscribe('undici:client:connected', onConnect);
  try {
    const scrape = await exporter.scrape({ timeoutSeconds: 20 });
    expect(scrape.find(`${PREFIX}_image_check_status`, { status: 'present' })).toHaveLength(IMAGES / 2);
    expect(scrape.find(`${PREFIX}_image_check_status`, { status: 'absent' })).toHaveLength(IMAGES / 2);
    expect(contexts).toBe(0);
    // 40 HEADs and 20 GETs reading the 404 bodies, PER_REGISTRY checks at a time, over a handful of
    // reused connections (a check's GET may go out before its HEAD's connection is back in the
    // pool, hence up to two per check slot) — not one connection per request.
    const toRegistry = connections.filter((address) => address === registry.host);
    expect(toRegistry.length).toBeGreaterThan(0);
    expect(toRegistry.length).toBeLessThanOrEqual(2 * PER_REGISTRY);
  } finally {
    (tls as { createSecureContext: typeof tls.createSecureContext }).createSecureContext = original;
    unsubscribe('undici:client:connected', onConnect);
    await exporter.stop();
  }
});
