/**
 * Background listings give way to answers being finished, but not forever (src/utils/yield.ts): scrapes
 * arriving back to back keep an answer in the making almost all the time, with only a turn of the
 * event loop between two. A listing that waited for every one of them read one chunk per answer,
 * and a page of a few hundred realistic Deployments (hundreds of gunzipped chunks) outlived its
 * request timeout: the listing failed for as long as the scrapes went on.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ListReader } from '../../src/kubernetes/list-reader.js';
import { asForeground, BACKGROUND_WAIT_MAX_MS, yieldToEventLoop } from '../../src/utils/yield.js';
import type { KubeApi } from '../support/kube-api.js';
import { kubeApiWithDeployments } from '../support/listing-load.js';

const DEPLOYMENTS = 500;
let kube: KubeApi;
let kubeConfig: KubeConfig;

beforeAll(async () => {
  ({ kube, kubeConfig } = await kubeApiWithDeployments(DEPLOYMENTS));
});
afterAll(() => kube?.stop());

test('a listing finishes while answers are made back to back, each for longer than its wait bound', async () => {
  const reader = new ListReader(kubeConfig, { pageSize: DEPLOYMENTS, requestTimeoutMs: 15_000 });
  let scraping = true;
  let answers = 0;
  // Continuous scrapes: one answer after another, a turn of the event loop between two (as SharedAnswer starts the next).
  const scrapes = (async () => {
    while (scraping) {
      await asForeground(() => sleep(BACKGROUND_WAIT_MAX_MS * 2));
      answers++;
      await yieldToEventLoop();
    }
  })();
  try {
    const items = await reader.list('/apis/apps/v1/deployments', () => 1);
    expect(items.length).toBe(DEPLOYMENTS);
  } finally {
    scraping = false;
    await scrapes;
  }
  // The page is hundreds of chunks; waiting for each answer in turn it needed one answer per chunk.
  expect(answers).toBeLessThan(30);
}, 40_000);
