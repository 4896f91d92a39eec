/**
 * Reading Kubernetes lists as streams (src/kubernetes/list-reader.ts) against the loopback API
 * server: pages, expired continue tokens for workloads and service accounts, Status errors, junk
 * and cut-off bodies, timeouts mid-body, and the kubeconfig's TLS and exec authentication.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { PullSecretCredentials } from '../../src/credentials/pull-secrets.js';
import { parseImageReference } from '../../src/image/reference.js';
import { describeApiError } from '../../src/kubernetes/api.js';
import { ListReader } from '../../src/kubernetes/list-reader.js';
import type { Workload } from '../../src/kubernetes/workloads.js';
import { NO_PLACEMENT } from '../../src/platform/placement.js';
import { createLogger } from '../../src/utils/log.js';
import { startKubeApi, type KubeApi } from '../support/kube-api.js';
import { deployment, dockerConfigSecret, realisticDeployment, serviceAccount } from '../support/objects.js';
import { PREFIX, startExporter } from '../support/exporter.js';
import { createPki } from '../support/pki.js';

const DEPLOYMENTS = '/apis/apps/v1/deployments';
const SERVICE_ACCOUNTS = '/api/v1/serviceaccounts';

let kube: KubeApi;
let kubeConfig: KubeConfig;

beforeAll(async () => {
  kube = await startKubeApi();
  kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kube.kubeconfigPath);
});
afterAll(() => kube?.stop());
beforeEach(() => {
  kube.clearFaults();
  kube.requests.length = 0;
  kube.set('Deployment', Array.from({ length: 25 }, (_, i) => deployment('ns', `d${String(i).padStart(2, '0')}`, { containers: [{ name: 'c', image: `app:${i}` }] })));
  kube.set('ServiceAccount', []);
  kube.set('Secret', []);
});

const names = (reader: ListReader) => reader.list(DEPLOYMENTS, (o: { metadata?: { name?: string } }) => o.metadata?.name);
const listRequests = (path: string) => kube.requests.filter((r) => r.path === path);

describe('ListReader', () => {
  test('reads every page with limit and continue, asking for JSON', async () => {
    const reader = new ListReader(kubeConfig, { pageSize: 10, requestTimeoutMs: 2000 });
    expect(await names(reader)).toEqual(Array.from({ length: 25 }, (_, i) => `d${String(i).padStart(2, '0')}`));
    const requests = listRequests(DEPLOYMENTS);
    expect(requests.map((r) => r.query.get('limit'))).toEqual(['10', '10', '10']);
    expect(requests.map((r) => r.query.get('continue') !== null)).toEqual([false, true, true]);
    for (const r of requests) {
      expect(r.headers.accept).toBe('application/json');
      expect(r.authorization).toBe('Bearer test-token');
    }
  });

  test('410 on a continue token: at most two restarts, then the 410 is the error', async () => {
    kube.fault({ path: DEPLOYMENTS, afterPages: 1, status: 410, times: 3 });
    const reader = new ListReader(kubeConfig, { pageSize: 10, requestTimeoutMs: 2000 });
    const error = await names(reader).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 410 });
    // Each attempt: page 1, then page 2 → 410.
    expect(listRequests(DEPLOYMENTS).map((r) => r.query.get('continue') !== null)).toEqual([false, true, false, true, false, true]);
  });

  test('a 410 without a continue token is not retried', async () => {
    kube.fault({ path: DEPLOYMENTS, status: 410, times: 1 });
    const reader = new ListReader(kubeConfig, { pageSize: 10, requestTimeoutMs: 2000 });
    await expect(names(reader)).rejects.toMatchObject({ code: 410 });
    expect(listRequests(DEPLOYMENTS)).toHaveLength(1);
  });

  test('a Status answer: its code, and its message in the description', async () => {
    kube.fault({ path: DEPLOYMENTS, status: 403, message: 'deployments.apps is forbidden: User "x" cannot list' });
    const reader = new ListReader(kubeConfig, { pageSize: 10, requestTimeoutMs: 2000 });
    const error = await names(reader).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 403 });
    expect(describeApiError(error)).toBe('HTTP 403: deployments.apps is forbidden: User "x" cannot list');
  });

  test('an error body is read up to 64 KiB only', async () => {
    kube.fault({ path: DEPLOYMENTS, status: 500, rawBody: `{"message":"${'x'.repeat(1024 * 1024)}"}` });
    const reader = new ListReader(kubeConfig, { pageSize: 10, requestTimeoutMs: 2000 });
    const error = (await names(reader).catch((e: unknown) => e)) as { code: number; body: string };
    expect(error.code).toBe(500);
    expect(error.body.length).toBe(64 * 1024);
    expect(describeApiError(error)).toBe('HTTP 500');
  });

  test.each([
    ['junk JSON', { rawBody: '{"kind":"DeploymentList","items":[{"metad' }, /malformed list JSON: body ended after \d+ bytes, before the list was complete/],
    ['not a list', { rawBody: '<html>hello</html>' }, /malformed list JSON: "<" at byte 0/],
    ['an item that is not an object', { rawBody: '{"items":[1]}' }, /malformed list JSON: an item is not an object/],
    ['a connection cut mid-body', { truncate: { afterBytes: 1500, then: 'close' as const } }, /aborted/],
  ])('%s fails the list with a clear error, never a shorter list', async (_name, fault, message) => {
    kube.fault({ path: DEPLOYMENTS, afterPages: 1, ...fault });
    const reader = new ListReader(kubeConfig, { pageSize: 10, requestTimeoutMs: 2000 });
    const error = await names(reader).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(describeApiError(error)).toMatch(message);
  });

  describe('gzip, as the API server sends large lists to clients that ask', () => {
    // 300 Deployments of ~11 KB: pages well over the server's 128 KiB compression threshold.
    const big = () => Array.from({ length: 300 }, (_, i) => realisticDeployment('ns', `d${String(i).padStart(3, '0')}`, { containers: [{ name: 'c', image: `app:${i}` }] }, i));

    test('asked for and decoded: the same items as plain JSON', async () => {
      kube.set('Deployment', big());
      const gzipped = await names(new ListReader(kubeConfig, { pageSize: 100, requestTimeoutMs: 2000 }));
      const gzipRequests = listRequests(DEPLOYMENTS);
      expect(gzipRequests.every((r) => r.headers['accept-encoding'] === 'gzip')).toBe(true);
      kube.requests.length = 0;
      const plain = await names(new ListReader(kubeConfig, { pageSize: 100, requestTimeoutMs: 2000, compressed: false }));
      expect(listRequests(DEPLOYMENTS).every((r) => r.headers['accept-encoding'] === undefined)).toBe(true);
      expect(gzipped).toHaveLength(300);
      expect(gzipped).toEqual(plain);
    });

    test('a gzip stream cut short fails the list, never a shorter one', async () => {
      kube.set('Deployment', big());
      kube.fault({ path: DEPLOYMENTS, afterPages: 1, truncate: { afterBytes: 2000, then: 'close' } });
      const error = await names(new ListReader(kubeConfig, { pageSize: 100, requestTimeoutMs: 2000 })).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
    });
  });

  test('a body that stalls midway times out like a request that never answers', async () => {
    kube.fault({ path: DEPLOYMENTS, truncate: { afterBytes: 1500, then: 'hang' } });
    const reader = new ListReader(kubeConfig, { pageSize: 10, requestTimeoutMs: 300 });
    const error = await names(reader).catch((e: unknown) => e);
    expect(describeApiError(error)).toBe('request timed out');
  });

  test('HTTPS with the kubeconfig\'s CA, and an exec credential plugin', async () => {
    const secure = await startKubeApi({ tls: await createPki(), user: 'exec' });
    try {
      secure.set('Deployment', [deployment('ns', 'web', { containers: [{ name: 'c', image: 'app:1' }] })]);
      const config = new KubeConfig();
      config.loadFromFile(secure.kubeconfigPath);
      expect(config.getCurrentCluster()?.server).toMatch(/^https:/);
      expect(config.getCurrentUser()?.exec).toBeDefined();
      const reader = new ListReader(config, { pageSize: 10, requestTimeoutMs: 5000 });
      expect(await names(reader)).toEqual(['web']);
      expect(secure.requests[0]?.authorization).toBe('Bearer test-token');
    } finally {
      await secure.stop();
    }
  });
});

describe('service accounts for pull secrets', () => {
  const logs: string[] = [];
  const workload: Workload = {
    kind: 'Deployment',
    namespace: 'a',
    name: 'web',
    containers: [{ name: 'c', image: 'registry.example.com/app:1', init: false }],
    imagePullSecrets: [],
    serviceAccountName: 'builder',
    placement: NO_PLACEMENT,
    placementKey: '',
    active: true,
  };
  const ref = parseImageReference('registry.example.com/app:1');
  const credentials = () =>
    new PullSecretCredentials({ kubeConfig, apiTimeoutMs: 2000, logger: createLogger('debug', (line) => logs.push(line)) });

  beforeEach(() => {
    logs.length = 0;
    // More than one page of 500, the account that matters on the last one.
    kube.set('ServiceAccount', [
      ...Array.from({ length: 1100 }, (_, i) => serviceAccount('a', `sa${String(i).padStart(4, '0')}`)),
      serviceAccount('a', 'builder', ['regcred']),
    ]);
    kube.set('Secret', [dockerConfigSecret('a', 'regcred', { 'registry.example.com': { username: 'u', password: 'p' } })]);
  });

  test('the account\'s imagePullSecrets are found across pages', async () => {
    const lookup = await credentials().prepare([workload]);
    expect(lookup(workload).lookup(ref)).toEqual({ credentials: [expect.objectContaining({ id: 'secret:a/regcred#registry.example.com' })] });
    expect(listRequests(SERVICE_ACCOUNTS).map((r) => r.query.get('limit'))).toEqual(['500', '500', '500']);
  });

  test('an expired continue token (410) restarts the list instead of losing every account', async () => {
    kube.expireContinue();
    const lookup = await credentials().prepare([workload]);
    expect(lookup(workload).lookup(ref)).toEqual({ credentials: [expect.objectContaining({ id: 'secret:a/regcred#registry.example.com' })] });
    // page 1, page 2 → 410, then pages 1-3 again
    expect(listRequests(SERVICE_ACCOUNTS).map((r) => r.query.get('continue') !== null)).toEqual([false, true, false, true, true]);
    expect(logs.filter((l) => l.includes('cannot list service accounts'))).toEqual([]);
  });

  // The same lines as before this reader; junk JSON's reason was JSON.parse's own message then.
  test.each([
    [{ status: 403, message: 'serviceaccounts is forbidden' }, /^HTTP 403: serviceaccounts is forbidden$/],
    [{ rawBody: '{"kind":"ServiceAccountList","items":[{"metad' }, /JSON/],
  ])('a failed list (%j) is logged and becomes the workload\'s credential problem', async (fault, reason) => {
    kube.fault({ path: SERVICE_ACCOUNTS, ...fault });
    const lookup = await credentials().prepare([workload]);
    const found = lookup(workload).lookup(ref);
    expect(found.credentials).toEqual([]);
    expect(found.problem).toMatch(/^cannot read service account a\/builder: /);
    expect(found.problem?.replace('cannot read service account a/builder: ', '')).toMatch(reason);
    const lines = logs.filter((l) => l.includes('cannot list service accounts for their imagePullSecrets')).map((l) => JSON.parse(l) as unknown);
    expect(lines).toEqual([expect.objectContaining({ level: 'error', reason: expect.stringMatching(reason) })]);
  });
});

describe('pull secrets re-read', () => {
  const workload: Workload = {
    kind: 'Deployment',
    namespace: 'a',
    name: 'web',
    containers: [{ name: 'c', image: 'registry.example.com/app:1', init: false }],
    imagePullSecrets: ['regcred'],
    serviceAccountName: 'default',
    placement: NO_PLACEMENT,
    placementKey: '',
    active: true,
  };
  const ref = parseImageReference('registry.example.com/app:1');
  const secretReads = () => kube.requests.filter((r) => r.path === '/api/v1/namespaces/a/secrets/regcred').length;

  /** Prepares once a minute has passed, then again once the re-read it started has finished. */
  async function prepareAfterReread(credentials: PullSecretCredentials, clock: { now: number }, workloads: Workload[]) {
    const reads = secretReads();
    clock.now += 61_000;
    await credentials.prepare(workloads); // serves the old secret and starts the re-read
    for (let i = 0; i < 100 && secretReads() === reads; i++) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 50));
    return credentials.prepare(workloads);
  }

  test('a rotated secret is used after its re-read; an unchanged one keeps the credentials object (and all planned with it)', async () => {
    kube.set('Secret', [dockerConfigSecret('a', 'regcred', { 'registry.example.com': { username: 'u', password: 'old' } })]);
    const clock = { now: Date.now() };
    const credentials = new PullSecretCredentials({ kubeConfig, apiTimeoutMs: 2000, logger: createLogger('error', () => {}), now: () => clock.now });
    const first = (await credentials.prepare([workload]))(workload);
    expect(first.lookup(ref).credentials.map((c) => ('password' in c ? c.password : c.id))).toEqual(['old']);

    // Same content, new read: the same object, so nothing planned with it is planned again.
    const unchanged = (await prepareAfterReread(credentials, clock, [workload]))(workload);
    expect(secretReads()).toBe(2);
    expect(unchanged).toBe(first);

    kube.set('Secret', [dockerConfigSecret('a', 'regcred', { 'registry.example.com': { username: 'u', password: 'new' } })]);
    const rotated = (await prepareAfterReread(credentials, clock, [workload]))(workload);
    expect(secretReads()).toBe(3);
    expect(rotated).not.toBe(first);
    expect(rotated.lookup(ref).credentials.map((c) => ('password' in c ? c.password : c.id))).toEqual(['new']);
  });

  test('workloads naming the same secrets share one credentials object; others get their own', async () => {
    kube.set('Secret', [
      dockerConfigSecret('a', 'regcred', { 'registry.example.com': { username: 'u', password: 'p' } }),
      dockerConfigSecret('a', 'other', { 'registry.example.com': { username: 'v', password: 'q' } }),
    ]);
    const twin = { ...workload, name: 'twin' };
    const different = { ...workload, name: 'different', imagePullSecrets: ['other'] };
    const lookup = await new PullSecretCredentials({ kubeConfig, apiTimeoutMs: 2000, logger: createLogger('error', () => {}) }).prepare([
      workload,
      twin,
      different,
    ]);
    expect(lookup(twin)).toBe(lookup(workload));
    expect(lookup(different)).not.toBe(lookup(workload));
    expect(lookup(different).lookup(ref).credentials.map((c) => ('username' in c ? c.username : c.id))).toEqual(['v']);
  });
});

describe('exporter log lines when a workload list fails', () => {
  // The same lines as before this reader; junk JSON's reason was JSON.parse's own message then.
  test.each([
    [{ status: 403, message: 'deployments.apps is forbidden' }, /^HTTP 403: deployments.apps is forbidden$/],
    [{ rawBody: '{"kind":"DeploymentList","items":[{"metad' }, /JSON/],
  ])('%j', async (fault, reason) => {
    const exporter = await startExporter(kube.kubeconfigPath, ['--ignored-images=*']);
    try {
      kube.fault({ path: DEPLOYMENTS, ...fault });
      const scrape = await exporter.scrape();
      expect(scrape.value(`${PREFIX}_workload_list_up`, { kind: 'Deployment' })).toBe(0);
      const lines = exporter.logs.filter((l) => l.includes('cannot list workloads')).map((l) => JSON.parse(l) as unknown);
      expect(lines).toEqual([expect.objectContaining({ level: 'error', kind: 'Deployment', reason: expect.stringMatching(reason) })]);
    } finally {
      await exporter.stop();
    }
  });
});
