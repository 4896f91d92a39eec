/**
 * check's outputs, each read back by a real reader: SARIF validated against the official 2.1.0 schema
 * (ajv), JUnit parsed as XML (fast-xml-parser) with its counts recounted, GitHub annotations parsed
 * and unescaped as the runner does it. The exact text of each is kept as a golden file.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { github } from '../../src/check/output/github.js';
import { OUTPUTS } from '../../src/check/output/index.js';
import { junit } from '../../src/check/output/junit.js';
import type { CheckReport, Render } from '../../src/check/output/output.js';
import { placeOf, shownPath } from '../../src/check/output/place.js';
import { sarif } from '../../src/check/output/sarif.js';
import { messageWords } from '../../src/check/output/words.js';
import type { CheckedContainer } from '../../src/check/report.js';
import { githubAnnotations, parsedJunit, validSarif, verdictOf } from '../support/check-output-readers.js';
import { CONTAINERS, CONTEXT, CWD, HOSTILE, reportOf } from '../support/check-report.js';

const WARNINGS = ['-:40: not a Kubernetes object (no apiVersion/kind), skipped'];

const textOf = (render: Render, report: CheckReport = reportOf(CONTAINERS, { warnings: WARNINGS })) => [...render(report, CONTEXT)].join('');
const problems = (containers: readonly CheckedContainer[]) => containers.filter((c) => c.status !== 'present');

/** A container like the fixture's present one, with other names. */
function named(name: string, container: string, image: string, status: CheckedContainer['status'] = 'absent', reason: string | null = 'registry says MANIFEST_UNKNOWN'): CheckedContainer {
  return { ...(CONTAINERS[0] as CheckedContainer), name, container, image, status, reason };
}

/** Text without the characters each output writes as `\uXXXX` (control characters but line ends, lone surrogates). */
const hostileUnit = fc.constantFrom('%', ':', ',', '=', '\n', '\r', '<', '>', ']]>', '"', "'", '&', '%0A', '%25', '::', '/', ' ');
/** Any UTF-16 text: control characters and lone surrogates included. */
const anyText = fc.string({ unit: fc.oneof(hostileUnit, fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code))), maxLength: 30 });
/** Text without what the outputs write as `\uXXXX` (control characters but line ends, U+FFFE/FFFF, lone surrogates). */
const plainText = fc
  .string({ unit: fc.oneof(hostileUnit, fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 })), maxLength: 30 })
  .filter((s) => !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\ufffe\uffff]/.test(s));

describe('golden files: the exact text of each output for one small realistic run', () => {
  test.each([
    ['table', 'report.table.txt'],
    ['json', 'report.json'],
    ['sarif', 'report.sarif'],
    ['junit', 'report.junit.xml'],
    ['github', 'report.github.txt'],
  ] as const)('%s', async (format, file) => {
    await expect(textOf(OUTPUTS[format])).toMatchFileSnapshot(`../fixtures/check-outputs/${file}`);
  });
});

describe('where the outputs point', () => {
  test('paths inside the working directory are relative, with /; others absolute; stdin and a cluster have no file', () => {
    expect(shownPath('/work/repo/deploy/a.yaml', '/work/repo')).toBe('deploy/a.yaml');
    expect(shownPath('deploy/../deploy/a.yaml', '/work/repo')).toBe('deploy/a.yaml');
    expect(shownPath('/elsewhere/a.yaml', '/work/repo')).toBe('/elsewhere/a.yaml');
    expect(shownPath('../a.yaml', '/work/repo')).toBe('/work/a.yaml');
    expect(shownPath('..a.yaml', '/work/repo')).toBe('..a.yaml'); // a name starting with dots is inside
    expect(placeOf({ file: '/work/repo/a.yaml', line: 7 }, CWD)).toEqual({ file: 'a.yaml', line: 7, note: undefined });
    expect(placeOf({ file: '-', line: 7 }, CWD)).toEqual({ file: undefined, line: undefined, note: 'standard input, line 7' });
    expect(placeOf(null, CWD)).toEqual({ file: undefined, line: undefined, note: undefined });
  });

  test("a helm template is pointed at (its own line is not known), and the stream's place is said in words", () => {
    expect(placeOf({ file: '-', line: 112, template: 'shop/templates/db.yaml' }, CWD)).toEqual({ file: 'shop/templates/db.yaml', line: undefined, note: 'standard input, line 112' });
    expect(placeOf({ file: '/work/repo/out.yaml', line: 9, template: 'shop/templates/db.yaml' }, CWD)).toEqual({ file: 'shop/templates/db.yaml', line: undefined, note: 'out.yaml:9' });
  });
});

describe('sarif', () => {
  const valid = validSarif;

  test('valid against the SARIF 2.1.0 schema; one result per container with a problem, each pointing at its rule', () => {
    const document = valid(textOf(sarif));
    const [run] = document.runs;
    expect(run.tool.driver).toMatchObject({ name: 'k8s-image-existence-exporter', version: '1.2.3', informationUri: 'https://example.com/k8s-image-existence-exporter' });
    const rules = run.tool.driver.rules as Array<{ id: string; shortDescription: { text: string }; help: { text: string } }>;
    expect(rules.map((r) => r.id)).toEqual(['absent', 'bad_reference', 'blocked', 'auth_failure', 'access_denied', 'rate_limited', 'registry_unavailable', 'unknown_error', 'not_checked', 'skipped']);
    for (const rule of rules) expect(rule.shortDescription.text && rule.help.text).toBeTruthy();
    const results = run.results as Array<Record<string, any>>;
    expect(results).toHaveLength(problems(CONTAINERS).length);
    for (const result of results) expect(rules[result.ruleIndex]?.id).toBe(result.ruleId);
    expect(results.map((r) => [r.ruleId, r.level])).toEqual([
      ['absent', 'error'],
      ['absent', 'error'],
      ['bad_reference', 'error'],
      ['bad_reference', 'error'],
      ['registry_unavailable', 'warning'],
      ['auth_failure', 'warning'],
    ]);
    expect(run.invocations[0]).toMatchObject({ executionSuccessful: true, exitCode: 1, toolExecutionNotifications: [{ level: 'warning', message: { text: WARNINGS[0] } }] });
    // Code scanning tells alerts apart by rule, file and fingerprint: every container has its own.
    expect(new Set(results.map((r) => r.partialFingerprints.primaryLocationLineHash)).size).toBe(results.length);
  });

  test('locations: relative to the working directory (URI-encoded), a template at its first line, a cluster workload by name only', () => {
    const results = valid(textOf(sarif)).runs[0].results as Array<Record<string, any>>;
    const physical = (i: number) => results[i]?.locations[0].physicalLocation;
    expect(physical(0)).toEqual({ artifactLocation: { uri: 'deploy/shop.yaml', uriBaseId: '%SRCROOT%' }, region: { startLine: 24 } });
    expect(physical(1).artifactLocation.uri).toBe('deploy/odd%20dir/a%2Cb%3Ac%25.yaml');
    expect(decodeURIComponent(physical(1).artifactLocation.uri)).toBe(HOSTILE.file);
    expect(physical(4)).toEqual({ artifactLocation: { uri: 'shop/templates/db.yaml', uriBaseId: '%SRCROOT%' }, region: { startLine: 1 } });
    expect(results[4]?.message.text).toContain('(read at standard input, line 112)');
    expect(physical(5)).toBeUndefined();
    expect(results[5]?.locations[0].logicalLocations).toEqual([{ name: 'dump', fullyQualifiedName: 'CronJob/ops/backup/dump' }]);
    // A file outside the working directory is named by its absolute file: URI.
    const outside = { ...(CONTAINERS[0] as CheckedContainer), location: { file: '/srv/manifests/a b.yaml', line: 2 } };
    const [result] = valid(textOf(sarif, reportOf([outside]))).runs[0].results;
    expect(result.locations[0].physicalLocation.artifactLocation).toEqual({ uri: 'file:///srv/manifests/a%20b.yaml' });
  });

  test('messages say which workload, container and image, and what the registry said; manifest text kept exactly', () => {
    const results = valid(textOf(sarif)).runs[0].results as Array<Record<string, any>>;
    expect(results[0]?.message.text).toBe('Deployment shop/checkout, container app: image "registry.example.com/shop/checkout:1.4.1" does not exist (registry says MANIFEST_UNKNOWN)');
    expect(results[1]?.message.text).toContain(`Job shop/${HOSTILE.name}, container ${HOSTILE.container}: image ${JSON.stringify(HOSTILE.image)}`);
    expect(results[1]?.properties).toMatchObject({ name: HOSTILE.name, container: HOSTILE.container, image: HOSTILE.image, reason: HOSTILE.reason });
    expect(results[3]?.message.text).toBe('Job shop/build-, container main: no image: the container names none (its image field is missing or empty)');
  });

  test('--fail-on absent: what could not be checked is a note, not a warning; kinds not listed are notified', () => {
    const document = valid(textOf(sarif, reportOf(CONTAINERS, { failOn: 'absent', unlisted: ['CronJob'] })));
    expect(document.runs[0].results.map((r: { level: string }) => r.level)).toEqual(['error', 'error', 'error', 'error', 'note', 'note']);
    expect(document.runs[0].invocations[0].toolExecutionNotifications).toEqual([{ level: 'note', message: { text: 'CronJob could not be listed: none of its workloads was checked' } }]);
    const failing = valid(textOf(sarif, reportOf(CONTAINERS.slice(4, 5), { unlisted: ['CronJob in ops'] })));
    expect(failing.runs[0].invocations[0]).toMatchObject({ exitCode: 3, toolExecutionNotifications: [{ level: 'warning' }] });
  });

  test('no problem: an empty list of results; thousands: written in pieces that join into one valid document', () => {
    const present = CONTAINERS.filter((c) => c.status === 'present');
    expect(valid(textOf(sarif, reportOf(present))).runs[0].results).toEqual([]);
    const many = Array.from({ length: 2_500 }, (_, i) => named(`app-${i}`, 'c', `r.example/app:${i}`));
    const pieces = [...sarif(reportOf(many), CONTEXT)];
    expect(pieces.length).toBeGreaterThan(3);
    expect(valid(pieces.join('')).runs[0].results).toHaveLength(2_500);
  });

  test('any names, images and reasons make a valid document that keeps them exactly', () => {
    fc.assert(
      fc.property(anyText, anyText, anyText, anyText, (name, container, image, reason) => {
        const document = valid(textOf(sarif, reportOf([named(name, container, image, 'registry_unavailable', reason)])));
        expect(document.runs[0].results[0].properties).toMatchObject({ name, container, image, reason });
      }),
      { numRuns: 200 },
    );
  });
});

describe('junit', () => {
  const parsed = parsedJunit;

  test('one test case per container: failures for absent images and invalid references, errors for what could not be checked', () => {
    const { suite, cases } = parsed(textOf(junit));
    expect(cases).toHaveLength(CONTAINERS.length);
    expect(cases.map(verdictOf)).toEqual(['failure', 'failure', 'failure', 'failure', 'error', 'error', 'passed']);
    expect(cases.map((c) => c.classname)).toEqual(['deploy/shop.yaml', HOSTILE.file, 'deploy/shop.yaml', 'deploy/jobs.yaml', 'shop/templates/db.yaml', 'CronJob/ops', 'deploy/shop.yaml']);
    expect(cases[0]).toMatchObject({ name: 'Deployment shop/checkout, container app: registry.example.com/shop/checkout:1.4.1', file: 'deploy/shop.yaml' });
    expect(cases[0]?.failure).toMatchObject({ type: 'absent', message: messageWords(CONTAINERS[0] as CheckedContainer, undefined) });
    expect(cases[0]?.failure['#text']).toContain('reason: registry says MANIFEST_UNKNOWN\nat: deploy/shop.yaml:24');
    expect(cases[4]?.error['#text']).toContain('at: shop/templates/db.yaml (read at standard input, line 112)');
    expect(suite.properties.property).toEqual([{ name: 'exitCode', value: '1' }, { name: 'failOn', value: 'unknown' }]);
    expect(suite['system-err']).toBe(WARNINGS[0]);
  });

  test('hostile text reads back exactly (quotes, <, ]]>, line ends); what XML cannot hold is written as \\uXXXX', () => {
    const text = textOf(junit);
    expect(text.match(/]]>/g)).toBeNull();
    const { cases } = parsed(text);
    expect(cases[1]?.name).toBe(`Job shop/${HOSTILE.name}, container ${HOSTILE.container}: ${HOSTILE.image}`);
    expect(cases[1]?.file).toBe(HOSTILE.file);
    expect(cases[1]?.failure['#text']).toContain('reason: registry says MANIFEST_UNKNOWN <!-- ]]> --> \\u001b[31m%2C,: \\u0000');
  });

  test('--fail-on absent: what could not be checked is skipped, not an error; a kind not listed is a test case too', () => {
    const { cases } = parsed(textOf(junit, reportOf(CONTAINERS, { failOn: 'absent', unlisted: ['CronJob'] })));
    expect(cases.map(verdictOf)).toEqual(['failure', 'failure', 'failure', 'failure', 'skipped', 'skipped', 'passed', 'skipped']);
    expect(cases.at(-1)).toMatchObject({ classname: 'cluster', name: 'list CronJob', skipped: { type: 'not_listed' } });
    const { cases: failing } = parsed(textOf(junit, reportOf(CONTAINERS.slice(6), { unlisted: ['CronJob in ops'] })));
    expect(failing.at(-1)).toMatchObject({ name: 'list CronJob in ops', error: { message: 'CronJob in ops could not be listed: none of its workloads was checked' } });
  });

  test('any names, images and reasons give well-formed XML with the right counts; text XML can hold reads back exactly', () => {
    fc.assert(
      fc.property(anyText, anyText, anyText, (name, image, reason) => {
        parsed(textOf(junit, reportOf([named(name, 'c', image, 'absent', reason), named('ok', 'c', 'x:1', 'present')])));
      }),
      { numRuns: 200 },
    );
    fc.assert(
      fc.property(plainText, plainText, plainText, (name, container, image) => {
        const { cases } = parsed(textOf(junit, reportOf([named(name, container, image, 'auth_failure')])));
        expect(cases[0]?.name).toBe(`Deployment shop/${name || '(no name)'}, container ${container || '(no name)'}: ${image || 'no image'}`);
      }),
      { numRuns: 200 },
    );
  });
});

describe('github', () => {
  const read = githubAnnotations;

  test('one annotation per container with a problem, at its file and line; the summary last', () => {
    const { annotations, summary } = read(textOf(github));
    expect(annotations.map((a) => a.command)).toEqual(['error', 'error', 'error', 'error', 'warning', 'warning']);
    expect(annotations[0]).toEqual({
      command: 'error',
      properties: { file: 'deploy/shop.yaml', line: '24', title: 'Image absent' },
      message: 'Deployment shop/checkout, container app: image "registry.example.com/shop/checkout:1.4.1" does not exist (registry says MANIFEST_UNKNOWN)',
    });
    // The template is the file (its line is unknown); the stream's line is in the message.
    expect(annotations[4]?.properties).toEqual({ file: 'shop/templates/db.yaml', title: 'Registry unavailable' });
    expect(annotations[4]?.message).toMatch(/\(read at standard input, line 112\)$/);
    // A cluster's workload: no file.
    expect(annotations[5]?.properties).toEqual({ title: 'Credentials missing or rejected' });
    expect(summary).toBe('7 containers, 7 images: 2 absent, 2 bad_reference, 1 auth_failure, 1 registry_unavailable, 1 present');
  });

  test('hostile text cannot end an annotation or start a command: %, :, , and line ends come back exactly, control characters as \\uXXXX', () => {
    const text = textOf(github);
    expect(text.split('\n').filter((line) => line.startsWith('::'))).toHaveLength(problems(CONTAINERS).length);
    const hostile = read(text).annotations[1]!;
    expect(hostile.properties).toEqual({ file: HOSTILE.file, line: '3', title: 'Image absent' });
    expect(hostile.message).toBe(
      `Job shop/${HOSTILE.name}, container ${HOSTILE.container}: image ${JSON.stringify(HOSTILE.image)} does not exist (registry says MANIFEST_UNKNOWN <!-- ]]> --> \\u001b[31m%2C,: \\u0000)`,
    );
  });

  test('--fail-on absent: what could not be checked is a notice; a kind not listed is annotated too', () => {
    const { annotations } = read(textOf(github, reportOf(CONTAINERS, { failOn: 'absent', unlisted: ['CronJob'] })));
    expect(annotations.map((a) => a.command)).toEqual(['error', 'error', 'error', 'error', 'notice', 'notice', 'notice']);
    expect(annotations.at(-1)).toEqual({ command: 'notice', properties: { title: 'Not listed' }, message: 'CronJob could not be listed: none of its workloads was checked' });
  });

  test('any names and files: one line per annotation, each read back to what was meant', () => {
    fc.assert(
      fc.property(plainText, plainText, plainText, plainText, (name, container, image, file) => {
        const c = { ...named(name, container, image, 'rate_limited', 'HTTP 429'), location: { file: file === '' || file === '-' ? 'x.yaml' : file, line: 5 } };
        const { annotations } = read(textOf(github, reportOf([c])));
        expect(annotations).toHaveLength(1);
        expect(annotations[0]).toEqual({
          command: 'warning',
          properties: { file: shownPath(c.location.file, CWD), line: '5', title: 'Rate limited' },
          message: messageWords(c, undefined),
        });
      }),
      { numRuns: 300 },
    );
  });
});

describe('a container skipped on purpose (--ignored-images, the opt-out annotation)', () => {
  const skipped: CheckedContainer = {
    kind: 'Deployment',
    namespace: 'shop',
    name: 'legacy',
    container: 'app',
    init: false,
    volume: false,
    image: 'registry.example.com/shop/legacy:0.1',
    status: 'skipped',
    reason: 'skipped: opted out by the annotation k8s-image-existence-exporter/ignore',
    source: `${CWD}/deploy/shop.yaml:80`,
    location: { file: `${CWD}/deploy/shop.yaml`, line: 80 },
  };

  test('is said in every CI output, as a note whatever --fail-on says, and never as a failure', async () => {
    for (const failOn of ['unknown', 'absent'] as const) {
      const report = reportOf([skipped], { failOn });
      expect(report.exitCode).toBe(0);
      const annotations = textOf(github, report);
      expect(annotations).toContain('::notice file=deploy/shop.yaml,line=80,title=Skipped::Deployment shop/legacy, container app: image "registry.example.com/shop/legacy:0.1" skipped: opted out by the annotation k8s-image-existence-exporter/ignore');
      expect(annotations).not.toMatch(/^::(error|warning)/m);
      expect(textOf(junit, report)).toMatch(/tests="1" failures="0" errors="0" skipped="1"/);
      const log = validSarif(textOf(sarif, report));
      expect(log.runs[0].results.map((r: { ruleId: string; level: string }) => [r.ruleId, r.level])).toEqual([['skipped', 'note']]);
    }
  });
});

describe('an image volume (spec.volumes[].image)', () => {
  const volume: CheckedContainer = { ...(CONTAINERS[0] as CheckedContainer), container: 'models', volume: true, image: 'registry.example.com/ml/models:3' };
  // A container of the same workload with the volume's name: the two stay apart.
  const sameName: CheckedContainer = { ...volume, volume: false };

  test('is named "image volume <name>" where a container is named, in every output', () => {
    const report = reportOf([volume, sameName]);
    expect(report.exitCode).toBe(1);
    const said = 'Deployment shop/checkout, image volume models: image "registry.example.com/ml/models:3" does not exist (registry says MANIFEST_UNKNOWN)';
    const { annotations } = githubAnnotations(textOf(github, report));
    expect(annotations.map((a) => a.message)).toEqual([said, said.replace('image volume', 'container')]);
    const { cases } = parsedJunit(textOf(junit, report));
    expect(cases.map((c) => c.name)).toEqual(['Deployment shop/checkout, image volume models: registry.example.com/ml/models:3', 'Deployment shop/checkout, container models: registry.example.com/ml/models:3']);
    const results = validSarif(textOf(sarif, report)).runs[0].results;
    expect(results[0].message.text).toContain('image volume models');
    expect(results.map((r: { properties: { volume: boolean } }) => r.properties.volume)).toEqual([true, false]);
    expect(results[0].partialFingerprints.primaryLocationLineHash).not.toBe(results[1].partialFingerprints.primaryLocationLineHash);
    const json = JSON.parse(textOf(OUTPUTS.json, report)) as { containers: Array<{ volume: boolean; container: string }> };
    expect(json.containers.map((c) => [c.container, c.volume])).toEqual([['models', true], ['models', false]]);
    const lines = textOf(OUTPUTS.table, report).split('\n');
    expect(lines[1]).toMatch(/ volume models +registry\.example\.com\/ml\/models:3 +absent/);
    expect(lines[2]).not.toContain('volume');
  });
});
