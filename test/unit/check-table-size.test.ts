import { expect, test } from 'vitest';
import { table } from '../../src/check/output/table.js';
import { summarize, type CheckedContainer } from '../../src/check/report.js';

test('the table of 150,001 containers is written (column widths without spreading a column into arguments)', () => {
  const containers: CheckedContainer[] = Array.from({ length: 150_001 }, (_, i) => ({
    kind: 'Deployment',
    namespace: 'shop',
    name: `app-${i}`,
    container: 'app',
    volume: false,
    init: false,
    image: 'registry.example.com/web:1',
    status: 'present',
    reason: null,
    source: null,
    location: null,
  }));
  const report = { containers, summary: summarize(containers), exitCode: 0, warnings: [], failOn: 'unknown' as const };
  const pieces = [...table(report, { colour: false, cwd: '/', tool: { name: 'tool', version: '0', informationUri: undefined } })];
  // Written in pieces (a thousand rows each), not as one string.
  expect(pieces.length).toBeGreaterThan(150);
  const lines = pieces.join('').split('\n');
  expect(lines[0]).toMatch(/^KIND {8}NAMESPACE {2}NAME {8}CONTAINER/);
  // The widest name (app-150000) sets its column's width for every row.
  expect(lines[1]).toBe(`Deployment  shop       ${'app-0'.padEnd(10)}  app        registry.example.com/web:1  present`);
  expect(lines.at(-2)).toBe('150001 containers, 1 image: 150001 present');
});
