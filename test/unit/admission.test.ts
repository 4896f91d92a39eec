/** The admission webhook's pure parts: reading a review, what it introduces, the budget, the words and their bounds, the flags. */
import { describe, expect, test } from 'vitest';
import type { ContainerRow } from '../../src/engine/collector.js';
import { BodyBudget, reviewBudgetMs } from '../../src/exporter/admission/admission.js';
import { introduced, parseReview, ReviewError, reviewResponse } from '../../src/exporter/admission/review.js';
import { RecentWarnings, MAX_RECENT } from '../../src/exporter/admission/recent-warnings.js';
import { denialMessage, findingOf, MAX_WARNING_CHARS, MAX_WARNINGS, warningLines } from '../../src/exporter/admission/warnings.js';
import { FlagError, parseFlags } from '../../src/flags/config.js';
import { sourceOfResource, workloadOf } from '../../src/kubernetes/workload-lister.js';
import { parseWorkloadResource, toWorkload, type ContainerImage } from '../../src/kubernetes/workloads.js';
import type { CheckStatus } from '../../src/registry/status.js';

const review = (request: object) => JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request });
const REQUEST = {
  uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
  kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
  resource: { group: 'apps', version: 'v1', resource: 'deployments' },
  namespace: 'team',
  name: 'web',
  operation: 'CREATE',
  object: { metadata: { name: 'web' }, spec: { template: { spec: { containers: [{ name: 'app', image: 'nginx:1' }] } } } },
};

describe('parseReview', () => {
  test('reads what the webhook needs of a v1 review', () => {
    expect(parseReview(review(REQUEST))).toMatchObject({ uid: REQUEST.uid, kind: 'Deployment', resource: REQUEST.resource, operation: 'CREATE', namespace: 'team', subResource: undefined });
  });

  test.each([
    ['not JSON', '{', 'not JSON'],
    ['an array', '[]', 'not a JSON object'],
    ['v1beta1', JSON.stringify({ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: REQUEST }), 'admissionReviewVersions'],
    ['no request', JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }), 'no request'],
    ['a uid with spaces', review({ ...REQUEST, uid: 'a b' }), 'uid'],
    ['a uid of 10,000 characters', review({ ...REQUEST, uid: 'a'.repeat(10_000) }), 'uid'],
  ])('%s is a ReviewError', (_, text, message) => {
    expect(() => parseReview(text)).toThrow(ReviewError);
    expect(() => parseReview(text)).toThrow(message);
  });

  test('names are cut to 253 characters, and fields of the wrong type read as empty', () => {
    const parsed = parseReview(review({ ...REQUEST, namespace: 'n'.repeat(100_000), name: 42, kind: 'Deployment' }));
    expect(parsed.namespace).toHaveLength(253);
    expect(parsed.name).toBe('');
    expect(parsed.kind).toBe('');
  });

  test('the response carries the uid; a refusal a 403 status with the message', () => {
    expect(JSON.parse(reviewResponse('u', { allowed: true, warnings: [] }))).toEqual({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'u', allowed: true } });
    expect(JSON.parse(reviewResponse('u', { allowed: false, warnings: ['w'], message: 'no' })).response).toEqual({ uid: 'u', allowed: false, warnings: ['w'], status: { code: 403, reason: 'Forbidden', message: 'no' } });
  });
});

describe('which objects and containers', () => {
  const deploymentSource = sourceOfResource({ group: 'apps', version: 'v1', resource: 'deployments' }, [])!;
  const of = (images: string[]) => workloadOf('Deployment', deploymentSource, { metadata: { namespace: 'team', name: 'web' }, spec: { template: { spec: { containers: images.map((image, i) => ({ name: `c${i}`, image })) } } } }, new Set())!;

  test('built-in kinds by group and resource, any version; custom ones as --workload-resource names them', () => {
    expect(sourceOfResource({ group: 'batch', version: 'v1beta1', resource: 'cronjobs' }, [])).toMatchObject({ builtin: 'CronJob' });
    expect(sourceOfResource({ group: '', version: 'v1', resource: 'pods' }, [])).toMatchObject({ builtin: 'Pod' });
    expect(sourceOfResource({ group: '', version: 'v1', resource: 'configmaps' }, [])).toBeUndefined();
    const rollouts = parseWorkloadResource('argoproj.io/v1alpha1/rollouts');
    expect(sourceOfResource({ group: 'argoproj.io', version: 'v1alpha1', resource: 'rollouts' }, [rollouts])).toMatchObject({ custom: rollouts });
    expect(sourceOfResource({ group: 'argoproj.io', version: 'v1', resource: 'rollouts' }, [rollouts])).toBeUndefined();
  });

  test("a controller's Pod and a CronJob's Job are left to their controller's review", () => {
    const pod = sourceOfResource({ group: '', version: 'v1', resource: 'pods' }, [])!;
    const owned = { metadata: { ownerReferences: [{ kind: 'ReplicaSet', controller: true }] }, spec: { containers: [{ name: 'a', image: 'x' }] } };
    expect(workloadOf('Pod', pod, owned, new Set())).toBeUndefined();
    expect(workloadOf('Pod', pod, { ...owned, metadata: {} }, new Set())?.containers).toHaveLength(1);
    const job = sourceOfResource({ group: 'batch', version: 'v1', resource: 'jobs' }, [])!;
    expect(workloadOf('Job', job, { metadata: { ownerReferences: [{ kind: 'CronJob', controller: true }] } }, new Set())).toBeUndefined();
  });

  test('CREATE checks every container; UPDATE only images the old object did not use', () => {
    const next = of(['a:2', 'b:1', 'c:1']);
    expect(introduced(next, undefined).map((c) => c.image)).toEqual(['a:2', 'b:1', 'c:1']);
    expect(introduced(next, of(['a:1', 'b:1', 'c:1'])).map((c) => c.image)).toEqual(['a:2']);
    expect(introduced(next, of(['c:1', 'b:1', 'a:2']))).toEqual([]);
  });
});

describe('reviewBudgetMs: well inside the API server timeout', () => {
  test.each([
    [undefined, 7000],
    ['10s', 7000],
    ['30s', 21_000],
    ['5s', 3500],
    ['1s', 500],
    ['2m', 21_000],
    ['junk', 7000],
  ])('?timeout=%s: %d ms', (timeout, ms) => {
    expect(reviewBudgetMs(timeout)).toBe(ms);
  });
});

describe('BodyBudget', () => {
  test('refuses what does not fit, and takes it again once given back', () => {
    const budget = new BodyBudget(100);
    expect(budget.tryTake(60)).toBe(true);
    expect(budget.tryTake(60)).toBe(false);
    budget.give(60);
    expect(budget.tryTake(100)).toBe(true);
  });
});

describe('warnings in plain words, bounded', () => {
  const container = (over: Partial<ContainerImage> = {}): ContainerImage => ({ name: 'app', image: 'registry.example.com/team/app:2', init: false, ...over });
  const row = (status: CheckStatus | undefined, over: Partial<ContainerImage> = {}, detail?: string): ContainerRow => ({
    workload: toWorkload('Deployment', { metadata: { namespace: 'team', name: 'web' } }, undefined),
    container: container(over),
    status,
    detail,
    checkedAt: 0,
    exists: undefined,
    missingPlatforms: undefined,
  });

  test('each status says which container, which image, what happened and what to do', () => {
    expect(findingOf(row('present'))).toBeUndefined();
    expect(findingOf({ ...row(undefined), skipped: 'annotation' })).toBeUndefined();
    expect(findingOf(row('absent', {}, 'registry says MANIFEST_UNKNOWN'))?.text).toBe(
      'container "app": image registry.example.com/team/app:2 does not exist (registry says MANIFEST_UNKNOWN): pods cannot start with it; push it or fix the tag',
    );
    expect(findingOf(row('absent', { init: true }))?.text).toMatch(/^init container "app": /);
    expect(findingOf(row('absent', { volume: true }))?.text).toMatch(/^image volume "app": /);
    expect(findingOf(row('registry_unavailable', {}, 'connection refused'))).toEqual({
      status: 'registry_unavailable',
      text: 'container "app": image registry.example.com/team/app:2 could not be checked (connection refused); whether it exists is not known (not refused)',
    });
    expect(findingOf(row(undefined))).toMatchObject({ status: 'not_checked_in_time', text: expect.stringContaining('not checked in time') });
    expect(findingOf(row('blocked', {}, 'no endpoint of registry.example.com may be used'))?.text).toBe(
      "container \"app\": image registry.example.com/team/app:2 cannot be pulled: the nodes' registry configuration blocks it (no endpoint of registry.example.com may be used)",
    );
    expect(findingOf(row('bad_reference', { image: 'UPPER' }, 'invalid reference format'))?.text).toBe('container "app": "UPPER" is not a valid image reference (invalid reference format); fix the image');
  });

  test('hostile names, images and reasons: printable, one line, at most 256 characters', () => {
    const text = findingOf(row('absent', { name: `x\n${'n'.repeat(5000)}`, image: `\u0000${'i'.repeat(100_000)}\u2028` }, `\r\n${'d'.repeat(10_000)}`))!.text;
    expect(text.length).toBeLessThanOrEqual(MAX_WARNING_CHARS);
    expect(text).not.toMatch(/[\u0000-\u001f\u007f\u2028]/);
  });

  test('at most ten lines, the last counting the others, under the 4 KiB the API server keeps whole', () => {
    const findings = Array.from({ length: 500 }, (_, i) => findingOf(row('absent', { name: `c${i}`, image: `${'r'.repeat(300)}${i}` }))!);
    const lines = warningLines(findings, 7);
    expect(lines).toHaveLength(MAX_WARNINGS);
    // The images left out are always said, last (before, they were one of the "more").
    expect(lines.slice(-2)).toEqual(["… and 492 more; see the exporter's status page", '7 more images not checked: too many at once (the exporter checks them when a scrape sees them)']);
    expect(lines.join('').length).toBeLessThan(4096);
    expect(warningLines(findings.slice(0, 1), 3)).toEqual([findings[0]!.text, '3 more images not checked: too many at once (the exporter checks them when a scrape sees them)']);
  });

  test('the refusal names the absent images only, bounded', () => {
    const absent = findingOf(row('absent'))!;
    const down = findingOf(row('registry_unavailable'))!;
    expect(denialMessage([absent, down])).toBe(`an image does not exist (--admission-deny-absent): ${absent.text}`);
    expect(denialMessage(Array.from({ length: 100 }, () => absent)).length).toBeLessThanOrEqual(1024);
  });
});

describe('RecentWarnings', () => {
  test('keeps the newest 50, escapes HTML', () => {
    const recent = new RecentWarnings();
    for (let i = 0; i < 120; i++) recent.add({ at: i, kind: 'Deployment', namespace: 'team', name: `<b>${i}`, operation: 'CREATE', denied: false, warnings: ['<script>'] });
    expect(recent.list()).toHaveLength(MAX_RECENT);
    expect(recent.list()[0]!.name).toBe('<b>119');
    expect(recent.html()).not.toContain('<script>');
    expect(recent.html()).toContain('&lt;b&gt;119');
    expect(JSON.parse(`{${recent.jsonField().slice(0, -1)}}`).admissionWarnings).toHaveLength(MAX_RECENT);
  });
});

describe('flags', () => {
  test('the options need --admission-webhook, which needs --web-config-file', () => {
    expect(() => parseFlags(['--admission-deny-absent'])).toThrow('--admission-deny-absent: applies only with --admission-webhook');
    expect(() => parseFlags(['--admission-client-ca-file=ca.crt'])).toThrow(FlagError);
    expect(() => parseFlags(['--admission-webhook'])).toThrow('--admission-webhook: needs --web-config-file with tls_server_config');
    const outcome = parseFlags(['--admission-webhook', '--web-config-file=web.yml', '--admission-deny-absent']);
    expect(outcome.action === 'run' && outcome.config.admission).toEqual({ denyAbsent: true, clientCaFile: undefined });
    const off = parseFlags([]);
    expect(off.action === 'run' && off.config.admission).toBeUndefined();
  });
});
