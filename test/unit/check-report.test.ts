import { describe, expect, test } from 'vitest';
import type { ContainerRow } from '../../src/engine/collector.js';
import { FlagError, parseCheckFlags, UsageError } from '../../src/flags/config.js';
import type { Workload } from '../../src/kubernetes/workloads.js';
import { NO_PLACEMENT } from '../../src/platform/placement.js';
import type { CheckStatus } from '../../src/registry/status.js';
import { checkedContainers, exitCodeOf, locationText, summarize, summaryLine, type CheckedContainer, type SourceLocation } from '../../src/check/report.js';
import { json } from '../../src/check/output/json.js';
import { table } from '../../src/check/output/table.js';
import type { Render } from '../../src/check/output/output.js';

/** The whole text an output writes for these containers. */
function rendered(render: Render, containers: readonly CheckedContainer[], options: { colour: boolean } = { colour: false }): string {
  const summary = summarize(containers);
  const report = { containers, summary, exitCode: exitCodeOf(summary, 'unknown'), warnings: [], failOn: 'unknown' as const };
  return [...render(report, { colour: options.colour, cwd: '/work', tool: { name: 'tool', version: '0', informationUri: undefined } })].join('');
}
const renderTable = (containers: readonly CheckedContainer[], _summary: unknown, options: { colour: boolean }) => rendered(table, containers, options);

function row(name: string, status: CheckStatus | undefined, image = `registry.test/${name}:1`, kind = 'Deployment'): ContainerRow {
  const workload: Workload = {
    kind,
    namespace: 'ns',
    name,
    containers: [{ name: 'c', image, init: false }],
    imagePullSecrets: [],
    serviceAccountName: 'default',
    placement: NO_PLACEMENT,
    placementKey: '',
    active: true,
  };
  return { workload, container: workload.containers[0]!, status, detail: status ? `because ${status}` : undefined, checkedAt: status ? 0 : undefined, exists: undefined, missingPlatforms: undefined };
}

const codeOf = (statuses: Array<CheckStatus | undefined>, failOn: 'absent' | 'unknown' = 'unknown', unlisted: string[] = []) =>
  exitCodeOf(summarize(checkedContainers(statuses.map((s, i) => row(`w${i}`, s))), unlisted), failOn);

describe('exit code', () => {
  test.each([
    [['present', 'present'], 'unknown', 0],
    [[], 'unknown', 0],
    [['present', 'absent'], 'unknown', 1],
    [['present', 'bad_reference'], 'unknown', 1],
    [['auth_failure', 'absent'], 'absent', 1],
    [['present', 'auth_failure'], 'unknown', 3],
    [['rate_limited'], 'unknown', 3],
    [['registry_unavailable', 'access_denied', 'unknown_error'], 'unknown', 3],
    [[undefined], 'unknown', 3],
    [['present', 'registry_unavailable'], 'absent', 0],
  ] as const)('%j with --fail-on=%s is %i', (statuses, failOn, code) => {
    expect(codeOf([...statuses], failOn)).toBe(code);
  });

  test('a kind that could not be listed is unknown: 3, or 0 with --fail-on absent; an absent image still wins', () => {
    expect(codeOf(['present'], 'unknown', ['CronJob'])).toBe(3);
    expect(codeOf(['present'], 'absent', ['CronJob'])).toBe(0);
    expect(codeOf(['absent'], 'unknown', ['CronJob'])).toBe(1);
  });
});

describe('report', () => {
  test('problems first (absent, bad reference, unknown, present), the input order within each', () => {
    const rows = [row('p1', 'present'), row('u1', 'auth_failure'), row('a1', 'absent'), row('b1', 'bad_reference'), row('u2', undefined), row('a2', 'absent'), row('p2', 'present')];
    expect(checkedContainers(rows).map((c) => c.name)).toEqual(['a1', 'a2', 'b1', 'u1', 'u2', 'p1', 'p2']);
    expect(checkedContainers([row('u', undefined)])[0]).toMatchObject({ status: 'not_checked', reason: 'the check did not finish' });
  });

  test('the summary counts statuses problems first, by name within a rank', () => {
    const statuses = ['present', 'unknown_error', 'auth_failure', undefined, 'access_denied', 'bad_reference', 'absent'] as const;
    const containers = checkedContainers(statuses.map((status, i) => row(`w${i}`, status, 'registry.test/app:1')));
    expect(summaryLine(summarize(containers))).toBe('7 containers, 1 image: 1 absent, 1 bad_reference, 1 access_denied, 1 auth_failure, 1 not_checked, 1 unknown_error, 1 present');
  });

  test('summary counts containers, distinct images and statuses', () => {
    const rows = [row('a', 'present', 'img:1'), row('b', 'present', 'img:1'), row('c', 'absent', 'img:2')];
    expect(summarize(checkedContainers(rows))).toEqual({ containers: 3, images: 2, statuses: { present: 2, absent: 1 }, unlisted: [] });
  });

  test('the table: aligned columns, the reason only for problems, "-" for no namespace, a summary line', () => {
    const unnamespaced = row('web', 'present');
    const rows = [{ ...unnamespaced, workload: { ...unnamespaced.workload, namespace: '' } }, row('gone', 'absent')];
    const containers = checkedContainers(rows);
    const text = renderTable(containers, summarize(containers), { colour: false });
    const lines = text.split('\n');
    expect(lines[0]).toBe('KIND        NAMESPACE  NAME  CONTAINER  IMAGE                 STATUS   REASON');
    expect(lines[1]).toBe('Deployment  ns         gone  c          registry.test/gone:1  absent   because absent');
    expect(lines[2]).toBe('Deployment  -          web   c          registry.test/web:1   present');
    expect(lines[4]).toBe('2 containers, 2 images: 1 absent, 1 present');
    expect(text).not.toContain('\x1b[');
  });

  test('colours the status only when asked', () => {
    const containers = checkedContainers([row('gone', 'absent'), row('locked', 'auth_failure'), row('web', 'present')]);
    const text = renderTable(containers, summarize(containers), { colour: true });
    expect(text).toContain('\x1b[31mabsent');
    expect(text).toContain('\x1b[33mauth_failure');
    expect(text).toContain('\x1b[32mpresent');
  });

  test('hostile strings from manifests cannot write escape sequences or lines into the table; JSON keeps them exactly', () => {
    const hostile = 'evil\x1b[2J\nimage:1\r';
    const containers = checkedContainers([row('x\x1b]0;title\x07', 'bad_reference', hostile)]);
    const text = renderTable(containers, summarize(containers), { colour: false });
    expect(text).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
    expect(text.split('\n')).toHaveLength(5); // header, one row, blank, summary, final newline
    const document = JSON.parse(rendered(json, containers));
    expect(document.exitCode).toBe(1);
    expect(document.containers[0].image).toBe(hostile);
  });
});

describe('where each container is written', () => {
  const locations = new Map<string, SourceLocation>([
    ['helm', { file: 'rendered.yaml', line: 12, template: 'shop/templates/deployment.yaml' }],
    ['plain', { file: 'manifests/web.yaml', line: 1 }],
  ]);
  const located = () => checkedContainers([row('helm', 'absent'), row('plain', 'present'), row('elsewhere', 'present')], (w) => locations.get(w.name));

  test('the table has a SOURCE column for manifests: the template, then the file and line, when a helm stream named one', () => {
    const containers = located();
    const lines = renderTable(containers, summarize(containers), { colour: false }).split('\n');
    expect(lines[0]).toBe(`KIND        NAMESPACE  NAME       CONTAINER  IMAGE                      STATUS   ${'SOURCE'.padEnd(49)}  REASON`);
    expect(lines[1]).toBe('Deployment  ns         helm       c          registry.test/helm:1       absent   shop/templates/deployment.yaml (rendered.yaml:12)  because absent');
    expect(lines[2]).toBe('Deployment  ns         plain      c          registry.test/plain:1      present  manifests/web.yaml:1');
    expect(lines[3]).toBe('Deployment  ns         elsewhere  c          registry.test/elsewhere:1  present  -');
    expect(locationText(null)).toBe('');
  });

  test('JSON: `source` as it always was, and `template` only where a helm stream named one', () => {
    const containers = located();
    const document = JSON.parse(rendered(json, containers));
    expect(document.containers.map((c: Record<string, unknown>) => [c.name, c.source, c.template])).toEqual([
      ['helm', 'rendered.yaml:12', 'shop/templates/deployment.yaml'],
      ['plain', 'manifests/web.yaml:1', undefined],
      ['elsewhere', null, undefined],
    ]);
    expect(Object.keys(document.containers[1])).toEqual(['kind', 'namespace', 'name', 'container', 'init', 'volume', 'image', 'status', 'reason', 'source']);
    expect(Object.keys(document.containers[0])).toEqual(['kind', 'namespace', 'name', 'container', 'init', 'volume', 'image', 'status', 'reason', 'source', 'template']);
  });

  test('a template cannot write escape sequences into the table', () => {
    const containers = checkedContainers([row('x', 'absent')], () => ({ file: 'a.yaml', line: 1, template: 'evil\x1b[2J.yaml' }));
    expect(renderTable(containers, summarize(containers), { colour: false })).not.toContain('\x1b');
  });
});

describe('check flags', () => {
  test('paths and flags in any order; "-" and everything after "--" are inputs', () => {
    const parsed = parseCheckFlags(['a.yaml', '--output', 'json', '-', '--fail-on=absent', 'dir/', '--', '--odd-name.yaml']);
    expect(parsed).toMatchObject({ action: 'check', config: { inputs: ['a.yaml', '-', 'dir/', '--odd-name.yaml'], output: 'json', failOn: 'absent', cluster: false } });
  });

  test.each(['table', 'json', 'sarif', 'junit', 'github'])('--output=%s is an output', (output) => {
    expect(parseCheckFlags([`--output=${output}`, 'x'])).toMatchObject({ config: { output } });
  });

  test('defaults: table, --fail-on unknown, errors only in the log', () => {
    expect(parseCheckFlags(['x'])).toMatchObject({ config: { output: 'table', failOn: 'unknown', logLevel: 'error', dockerConfig: undefined } });
  });

  test.each([
    [['--output=yaml', 'x'], 'output'],
    [['--fail-on=sometimes', 'x'], 'fail-on'],
    [['--cluster', 'x'], 'cluster'],
    [['--bind-address=:9000', 'x'], 'bind-address'],
    [['--registry-timeout=soon', 'x'], 'registry-timeout'],
  ])('%j is a FlagError naming --%s', (argv, flag) => {
    expect(() => parseCheckFlags(argv)).toThrow(FlagError);
    expect(() => parseCheckFlags(argv)).toThrow(`--${flag}`);
  });

  test('nothing to check, or stdin twice, is a usage error', () => {
    expect(() => parseCheckFlags([])).toThrow(UsageError);
    expect(() => parseCheckFlags(['-', '-'])).toThrow(UsageError);
    expect(parseCheckFlags(['--cluster'])).toMatchObject({ config: { cluster: true, inputs: [] } });
  });
});
