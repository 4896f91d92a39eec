/**
 * The opt-out annotation (k8s-image-existence-exporter/ignore) read from a workload and its pod
 * template, bounded against hostile values; the containers it marks; and how `check` reports a
 * container skipped on purpose (by the annotation or by --ignored-images): with its reason, never
 * silently, never failing the run.
 */
import { describe, expect, test } from 'vitest';
import { readManifests } from '../../src/check/manifests.js';
import { checkedContainers, exitCodeOf, summarize, summaryLine, type CheckedContainer, type CheckSummary } from '../../src/check/report.js';
import { json as jsonOutput } from '../../src/check/output/json.js';
import type { Render } from '../../src/check/output/output.js';
import { table as tableOutput } from '../../src/check/output/table.js';
import type { ContainerRow } from '../../src/engine/collector.js';
import { IGNORE_ANNOTATION, ignoreRuleOf, MAX_IGNORE_CHARS, MAX_IGNORED_NAMES } from '../../src/kubernetes/ignore-annotation.js';
import { keepUnchanged, toWorkload, type Workload } from '../../src/kubernetes/workloads.js';

const annotated = (value: unknown) => ({ annotations: { [IGNORE_ANNOTATION]: value } });
const names = (rule: ReturnType<typeof ignoreRuleOf>) => [...rule.names].sort();

describe('the rule', () => {
  test('"true" opts every container out; a list names containers; "false", "" and no annotation opt none out', () => {
    expect(ignoreRuleOf(annotated('true'))).toMatchObject({ all: true, problem: undefined });
    expect(ignoreRuleOf(annotated(' true '))).toMatchObject({ all: true });
    const listed = ignoreRuleOf(annotated(' legacy, sidecar ,,legacy '));
    expect([listed.all, names(listed)]).toEqual([false, ['legacy', 'sidecar']]);
    for (const metadata of [annotated('false'), annotated(''), {}, { annotations: {} }, { annotations: { other: 'true' } }, undefined, null, [], 'x']) {
      expect(ignoreRuleOf(metadata)).toMatchObject({ all: false, names: new Set(), problem: undefined });
    }
  });

  test('the workload and its pod template together: "true" in either, else the union of their names', () => {
    expect(ignoreRuleOf(annotated('a'), annotated('true')).all).toBe(true);
    expect(names(ignoreRuleOf(annotated('a'), annotated('b,a')))).toEqual(['a', 'b']);
  });

  test('hostile values are not honoured, and say why: not a string, too long, too many names', () => {
    expect(ignoreRuleOf(annotated(true))).toMatchObject({ all: false, problem: `annotation ${IGNORE_ANNOTATION} is not a string, not honoured` });
    expect(ignoreRuleOf(annotated(`a,${'x'.repeat(MAX_IGNORE_CHARS)}`))).toMatchObject({ all: false, names: new Set(), problem: expect.stringContaining(`longer than ${MAX_IGNORE_CHARS} characters`) });
    const many = Array.from({ length: MAX_IGNORED_NAMES + 1 }, (_, i) => `c${i}`).join(',');
    expect(ignoreRuleOf(annotated(many))).toMatchObject({ names: new Set(), problem: expect.stringContaining(`more than ${MAX_IGNORED_NAMES} containers`) });
    expect(ignoreRuleOf(annotated(many.split(',').slice(0, MAX_IGNORED_NAMES).join(','))).names.size).toBe(MAX_IGNORED_NAMES);
    // A value that is not honoured on the template does not undo the workload's.
    expect(ignoreRuleOf(annotated('true'), annotated(7))).toMatchObject({ all: true, problem: expect.stringContaining('not a string') });
  });
});

function deployment(metadata: object, templateMetadata: object | undefined, containers = ['app', 'sidecar']): Workload {
  const spec = { containers: containers.map((name) => ({ name, image: `registry.test/${name}:1` })), initContainers: [{ name: 'init', image: 'registry.test/init:1' }] };
  return toWorkload('Deployment', { metadata: { namespace: 'ns', name: 'web', ...metadata } }, spec, { templateMetadata });
}
const optedOut = (workload: Workload) => workload.containers.filter((c) => c.optedOut).map((c) => c.name);

describe('containers marked', () => {
  test('by name (init containers too), all of them, or none', () => {
    expect(optedOut(deployment(annotated('sidecar,init'), undefined))).toEqual(['init', 'sidecar']);
    expect(optedOut(deployment({}, annotated('true')))).toEqual(['init', 'app', 'sidecar']);
    expect(optedOut(deployment({ annotations: { other: 'x' } }, {}))).toEqual([]);
    expect(deployment({}, undefined).annotationProblem).toBeUndefined();
  });

  test('names no container has are a problem to warn about (quoted, at most five), the others still honoured', () => {
    const w = deployment(annotated('app,nope,"x"'), undefined);
    expect(optedOut(w)).toEqual(['app']);
    expect(w.annotationProblem).toBe(`annotation ${IGNORE_ANNOTATION} names no container "nope", "\\"x\\""`);
    const hostile = deployment(annotated(Array.from({ length: 30 }, (_, i) => `${'\u202e'.repeat(120)}${i}`).join(',')), undefined);
    expect(hostile.annotationProblem!.length).toBeLessThan(1000);
    expect(hostile.annotationProblem).toMatch(/, …$/);
  });

  test('a change of the annotation is a change of the workload (its rows are made anew)', () => {
    const before = [deployment({}, undefined)];
    const same = keepUnchanged(before, [deployment({}, undefined)]);
    expect(same[0]).toBe(before[0]);
    const changed = keepUnchanged(before, [deployment(annotated('app'), undefined)]);
    expect(changed[0]).not.toBe(before[0]);
  });
});

describe('read from manifests', () => {
  test('on a Deployment, its pod template, a CronJob\'s pod template and a Pod; a problem is a warning at the object\'s line', () => {
    const text = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, annotations: {${IGNORE_ANNOTATION}: "sidecar,typo"}}
spec:
  template:
    metadata: {annotations: {${IGNORE_ANNOTATION}: init}}
    spec:
      initContainers: [{name: init, image: "registry.test/init:1"}]
      containers: [{name: app, image: "registry.test/app:1"}, {name: sidecar, image: "registry.test/sidecar:1"}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  jobTemplate:
    spec:
      template:
        metadata: {annotations: {${IGNORE_ANNOTATION}: "true"}}
        spec: {containers: [{name: job, image: "registry.test/job:1"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: debug, annotations: {${IGNORE_ANNOTATION}: "true"}}
spec: {containers: [{name: shell, image: "registry.test/shell:1"}]}
`;
    const { workloads, warnings } = readManifests([{ name: 'a.yaml', text }]);
    expect(workloads.map((w) => [w.name, optedOut(w)])).toEqual([
      ['web', ['init', 'sidecar']],
      ['nightly', ['job']],
      ['debug', ['shell']],
    ]);
    expect(warnings).toEqual([`a.yaml:1: annotation ${IGNORE_ANNOTATION} names no container "typo"`]);
  });
});

function row(name: string, skipped: ContainerRow['skipped'], status: ContainerRow['status'] = undefined): ContainerRow {
  const workload = deployment({ name }, undefined, ['c']);
  return { workload, container: workload.containers[1]!, status, detail: status && `because ${status}`, checkedAt: undefined, exists: undefined, missingPlatforms: undefined, ...(skipped ? { skipped } : {}) };
}

describe('check reports skipped containers', () => {
  const rows = [row('opted', 'annotation'), row('ok', undefined, 'present'), row('ignored', 'ignored-images'), row('gone', undefined, 'absent')];

  test('as "skipped" with the reason naming the annotation or the flag, last in the table, counted in the summary', () => {
    const containers = checkedContainers(rows);
    expect(containers.map((c) => [c.name, c.status, c.reason])).toEqual([
      ['gone', 'absent', 'because absent'],
      ['ok', 'present', 'because present'],
      ['opted', 'skipped', `skipped: opted out by the annotation ${IGNORE_ANNOTATION}`],
      ['ignored', 'skipped', 'skipped: the image matches --ignored-images'],
    ]);
    const summary = summarize(containers);
    expect(summaryLine(summary)).toBe('4 containers, 1 image: 1 absent, 1 present, 2 skipped');
    const table = rendered(tableOutput, containers, summary);
    expect(table).toMatch(/opted\s+c\s+registry\.test\/c:1\s+skipped\s+skipped: opted out by the annotation k8s-image-existence-exporter\/ignore/);
    const json = JSON.parse(rendered(jsonOutput, containers, summary));
    expect(json.summary.statuses).toEqual({ absent: 1, present: 1, skipped: 2 });
  });

  test('a skipped container never changes the exit code', () => {
    const code = (...picked: ContainerRow[]) => exitCodeOf(summarize(checkedContainers(picked)), 'unknown');
    expect(code(rows[0]!, rows[2]!)).toBe(0);
    expect(code(rows[0]!, rows[1]!)).toBe(0);
    expect(code(rows[0]!, rows[3]!)).toBe(1);
    expect(code(rows[0]!, row('x', undefined, 'auth_failure'))).toBe(3);
  });
});

/** The whole text an output writes for these containers. */
function rendered(render: Render, containers: readonly CheckedContainer[], summary: CheckSummary): string {
  const report = { containers, summary, exitCode: exitCodeOf(summary, 'unknown'), warnings: [], failOn: 'unknown' as const };
  return [...render(report, { colour: false, cwd: '/work', tool: { name: 'tool', version: '0', informationUri: undefined } })].join('');
}
