/**
 * Issue 20, item 8: the margin a scrape keeps before its deadline follows how long recent answers
 * took to finish after their collection stopped waiting (rows, rendering, other work's turns), as
 * they do on a loaded machine, within the bounds the exporter always kept.
 */
import { describe, expect, test } from 'vitest';
import { FINISHING_SAFETY, FinishingTime } from '../../src/exporter/finishing-time.js';
import { collectionBudgetMs } from '../../src/exporter/server.js';

describe('the collection budget of a scrape', () => {
  test('on an idle exporter: the timeout minus 10 %, at least 500 ms', () => {
    expect(collectionBudgetMs(10_000)).toBe(9_000);
    expect(collectionBudgetMs(2_000)).toBe(1_500);
    expect(collectionBudgetMs(10_000, 300)).toBe(9_000);
  });

  test('after answers that took long to finish: a margin of FINISHING_SAFETY times that, never below half the timeout', () => {
    expect(collectionBudgetMs(10_000, 1_500)).toBe(10_000 - FINISHING_SAFETY * 1_500);
    expect(collectionBudgetMs(10_000, 60_000)).toBe(5_000);
  });

  test('a long finishing time counts for a while, fading with each answer', () => {
    const finishing = new FinishingTime();
    expect(finishing.ms).toBe(0);
    finishing.record(2_000);
    finishing.record(100);
    expect(finishing.ms).toBeGreaterThan(1_500);
    for (let i = 0; i < 50; i++) finishing.record(100);
    expect(finishing.ms).toBe(100);
    finishing.record(3_000);
    expect(finishing.ms).toBe(3_000);
  });
});
