/**
 * The loopback API server answers list parameters as a real one does (k8s.io/apimachinery label
 * selectors; resourceVersion=0 from the "watch cache", ignoring limit as 1.20 does), so tests that
 * rely on server-side filtering test what a cluster would do.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseLabelSelector, startKubeApi, type KubeApi } from './kube-api.js';

describe('parseLabelSelector', () => {
  const labels = { app: 'web', 'pod-template-hash': '7d4b9', 'app.kubernetes.io/name': 'shop' };
  const matches = (selector: string, on: Record<string, string> = labels) => {
    const parsed = parseLabelSelector(selector);
    if (typeof parsed === 'string') throw new Error(`invalid: ${parsed}`);
    return parsed(on);
  };

  test.each([
    ['', true],
    ['app', true],
    ['!app', false],
    ['!missing', true],
    ['app=web', true],
    ['app==web', true],
    ['app=db', false],
    ['app=', false], // an empty value is valid, and matches only an empty label
    ['app!=db', true],
    ['missing!=x', true], // absent: not equal
    ['app in (web, db)', true],
    ['app notin (web)', false],
    ['missing notin (x)', true],
    ['missing in (x)', false],
    ['app.kubernetes.io/name=shop,app', true],
    ['!pod-template-hash,!controller-revision-hash', false],
    ['!controller-revision-hash,!job-name,!batch.kubernetes.io/job-name', true],
    [' app = web , !missing ', true],
  ])('%j → %s', (selector, expected) => {
    expect(matches(selector)).toBe(expected);
  });

  test.each(['!', 'app in web', '=web', 'a b', 'app,,x', '!app=web'])('%j is refused, as a real server answers 400', (selector) => {
    expect(typeof parseLabelSelector(selector)).toBe('string');
  });
});

describe('lists', () => {
  let kube: KubeApi;
  beforeAll(async () => {
    kube = await startKubeApi();
    kube.set('Pod', Array.from({ length: 5 }, (_, i) => ({ metadata: { namespace: 'ns', name: `p${i}`, labels: i < 3 ? { 'pod-template-hash': 'h' } : {} } })));
  });
  afterAll(() => kube?.stop());
  const get = async (query: string) => {
    const response = await fetch(`${kube.url}/api/v1/pods?${query}`, { headers: { authorization: 'Bearer test-token' } });
    return { status: response.status, body: (await response.json()) as { items?: Array<{ metadata: { name: string } }>; metadata?: { continue?: string } } };
  };

  test('labelSelector filters before pagination; an invalid one is a 400', async () => {
    const page = await get('labelSelector=!pod-template-hash&limit=1');
    expect(page.body.items?.map((p) => p.metadata.name)).toEqual(['p3']);
    expect(page.body.metadata?.continue).toBeDefined();
    expect((await get('labelSelector=a%20b')).status).toBe(400);
  });

  test('resourceVersion=0 answers in one body whatever the limit; with a continue token it is a 400', async () => {
    const all = await get('resourceVersion=0&limit=2');
    expect(all.body.items).toHaveLength(5);
    expect(all.body.metadata?.continue).toBeUndefined();
    const first = await get('limit=2');
    expect((await get(`limit=2&resourceVersion=0&continue=${first.body.metadata!.continue}`)).status).toBe(400);
  });
});
