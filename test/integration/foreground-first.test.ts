/**
 * An answer being finished comes before a listing being refreshed (src/utils/yield.ts): on a loaded
 * machine the two would otherwise take turns chunk by chunk, and the answer would be late by the
 * listing's share of the CPU. Counted in items read, not timed.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ListReader } from '../../src/kubernetes/list-reader.js';
import { asForeground, BACKGROUND_WAIT_MAX_MS, yieldToEventLoop } from '../../src/utils/yield.js';
import type { KubeApi } from '../support/kube-api.js';
import { kubeApiWithDeployments } from '../support/listing-load.js';

const DEPLOYMENTS = 2000;
let kube: KubeApi;
let kubeConfig: KubeConfig;

beforeAll(async () => {
  ({ kube, kubeConfig } = await kubeApiWithDeployments(DEPLOYMENTS));
});
afterAll(() => kube?.stop());

test('a listing reads nothing while an answer is being finished, and all of it after', async () => {
  const reader = new ListReader(kubeConfig, { pageSize: 500, requestTimeoutMs: 60_000 });
  let read = 0;
  let release!: () => void;
  const finishing = asForeground(() => new Promise<void>((resolve) => (release = resolve)));
  const listing = reader.list('/apis/apps/v1/deployments', () => ++read);
  // Long enough for the server to answer the first page (~5 MB) many times over, but shorter than
  // a listing's longest wait (after which it has a turn, src/utils/yield.ts): timers never fire early.
  while (!kube.requests.some((r) => r.path === '/apis/apps/v1/deployments')) await yieldToEventLoop();
  const asked = performance.now();
  for (let turn = 0; turn < 2000 && performance.now() - asked < BACKGROUND_WAIT_MAX_MS / 2; turn++) await yieldToEventLoop();
  expect(read).toBe(0);
  release();
  await finishing;
  expect((await listing).length).toBe(DEPLOYMENTS);
  expect(read).toBe(DEPLOYMENTS);
});
