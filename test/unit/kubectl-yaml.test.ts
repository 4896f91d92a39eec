/**
 * `check` reads the YAML kubectl applies (issue 22). kubectl's go-yaml, PyYAML and js-yaml accept a
 * multi-line quoted string or flow sequence whose continuation lines or closing `"]` sit no deeper
 * than its key (as Argo Workflows' examples write `args: ["…"]`); the yaml package refuses it, and
 * one such file failed a whole directory. A document the yaml package refuses is read again, alone,
 * by js-yaml, with the same bounds on aliases and nesting; only what neither reads is an error, named
 * by its file and line. test/fixtures/kubectl-yaml/ holds such manifests (integration/kubectl-yaml
 * shows that kubectl reads them to the same values).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { CORE_SCHEMA, loadAll } from 'js-yaml';
import { describe, expect, test } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ManifestError, readManifests, type ManifestContents } from '../../src/check/manifests.js';
import { yamlValues } from '../../src/check/yaml-stream.js';
import { manifestFailure, readText } from '../support/manifest-reading.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/kubectl-yaml/', import.meta.url));
const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');

const read = (text: string, name = 'a.yaml'): ManifestContents => readText(text, name);
const failure = (text: string, name = 'a.yaml'): ManifestError => manifestFailure(text, name);

/** Whether the yaml package alone refuses the text: what these tests are about. */
const strictRefuses = (text: string) => parseAllDocuments(text).some((document) => document.errors.length > 0);

/** What js-yaml reads, document by document (empty ones left out), as the fast path reads it. */
const jsYamlValues = (text: string) => loadAll(text, null, { schema: CORE_SCHEMA, json: true }).filter((value) => value !== null && value !== undefined);

const values = (text: string) => [...yamlValues(text, 'a.yaml')].map((located) => located.value);

const containersOf = (contents: ManifestContents) =>
  contents.workloads.map((w) => `${w.kind}/${w.name}@${w.line}: ${w.containers.map((c) => `${c.name}=${c.image}`).join(', ')}`);

/** A Pod whose container's args are written as Argo's examples write them. */
const ARGO_POD = `apiVersion: v1
kind: Pod
metadata:
  name: build
spec:
  containers:
  - name: main
    image: registry.example.com/ci/builder:1
    args: ["
      cd /src &&
      make
    "]
`;

describe('the fixtures: manifests kubectl applies and the yaml package refuses', () => {
  const files = readdirSync(FIXTURES).filter((file) => file.endsWith('.yaml'));

  test.each(files)('%s is refused by the yaml package alone (so it is read by the second reader)', (file) => {
    expect(files.length).toBeGreaterThanOrEqual(6);
    expect(strictRefuses(fixture(file))).toBe(true);
  });

  test('their workloads are read, each at its line; the Workflows count as objects', () => {
    const contents = readManifests(files.map((file) => ({ name: file, text: fixture(file) })));
    expect(containersOf(contents)).toEqual([
      // Merged as kubectl merges: keys written before `<<` are overwritten by the merged map's.
      'Deployment/workers@3: emails=registry.example.com/shop/worker:5.0, emails=registry.example.com/shop/worker:5.0, exports=registry.example.com/shop/exporter:1.2',
      'CronJob/nightly-report@3: report=registry.example.com/shop/reports:2024.06',
      'Deployment/catalog@3: wait-for-db=registry.example.com/tools/netcat:1.10, catalog=registry.example.com/shop/catalog:3.4.1',
      // js-yaml does not say where a List's items are: they are placed at the List's line.
      'StatefulSet/search@2: search=registry.example.com/shop/search:8.13',
      'DaemonSet/log-shipper@2: shipper=registry.example.com/mirror/fluent-bit:3.0',
    ]);
    // Argo's Workflows hold their images outside a pod template: said once, with the flag that reads them.
    expect(contents.warnings).toEqual([expect.stringMatching(/^2 Workflow objects hold images outside a pod template, not read: --workload-resource=argoproj\.io\/v1alpha1\/workflows:images=/)]);
    expect(Object.fromEntries(contents.objects)).toEqual({
      'anchors-and-merges.yaml': 1,
      'argo-ci-workflow.yaml': 1,
      'argo-sidecar-workflow.yaml': 1,
      'cronjob-flow-command.yaml': 2,
      'deployment-shell-args.yaml': 1,
      'list-of-workloads.yaml': 3,
    });
  });

  test.each(files.filter((file) => !fixture(file).includes('<<')))('%s: the values are those js-yaml reads', (file) => {
    const text = fixture(file);
    expect(values(text)).toEqual(jsYamlValues(text));
  });

  test('the Argo sidecar: continuation lines and the closing `"]` left of their key', () => {
    const [workflow] = values(fixture('argo-sidecar-workflow.yaml')) as Array<{ spec: { templates: Array<{ container: { args: string[] } }> } }>;
    expect(workflow?.spec.templates[0]?.container.args).toEqual([" until pg_isready -h 127.0.0.1; do sleep 1; done && psql -h 127.0.0.1 -U postgres -c 'select 1' "]);
  });
});

describe('documents js-yaml accepts are read, with the values js-yaml gives', () => {
  // Content of the quoted lines: `&` sends a document to the careful reader, as `&&` in a shell
  // command does; no `"` or `\` (the string's own syntax), nothing that starts a marker or comment.
  const text = fc
    .tuple(fc.constantFrom('a', 'cd', 'make', 'X'), fc.array(fc.constantFrom(...'abz09 &&-=/.:;\'#|$*!%@,{}[]'.split('')), { maxLength: 24 }))
    .map(([head, rest]) => `${head}${rest.join('')}`);
  const indent = fc.integer({ min: 0, max: 7 }).map((n) => ' '.repeat(n));
  const argoDocument = fc.record({
    name: fc.constantFrom('build', 'test', 'deploy-1'),
    first: fc.oneof(fc.constant(''), text),
    lines: fc.array(fc.tuple(indent, text), { minLength: 1, maxLength: 5 }),
    close: indent,
    items: fc.array(fc.tuple(indent, fc.array(text, { minLength: 1, maxLength: 3 })), { maxLength: 3 }),
    anchor: fc.boolean(),
    before: fc.boolean(),
    source: fc.boolean(),
  });
  const render = (d: typeof argoDocument extends fc.Arbitrary<infer T> ? T : never) =>
    [
      ...(d.before ? ['apiVersion: v1', 'kind: ConfigMap', 'metadata: {name: settings}', '---'] : []),
      ...(d.source ? ['# Source: ci/templates/pod.yaml'] : []),
      'apiVersion: v1',
      'kind: Pod',
      'metadata:',
      d.anchor ? `  name: &name ${d.name}` : `  name: ${d.name}`,
      ...(d.anchor ? ['  labels: {job: *name}'] : []),
      'spec:',
      '  containers:',
      '  - name: main',
      '    image: registry.example.com/ci/builder:1',
      `    args: ["${d.first}`,
      ...d.lines.map(([space, line]) => `${space}${line}`),
      `${d.close}"]`,
      ...(d.items.length > 0 ? ['    command: [', ...d.items.map(([space, words]) => `${space}${words.map((w) => JSON.stringify(w)).join(', ')},`), '    "end"]'] : []),
      '',
    ].join('\n');

  test('Argo-style strings and flow sequences at any indentation: read as js-yaml reads them, at their line', () => {
    let fallbacks = 0;
    fc.assert(
      fc.property(argoDocument, (d) => {
        const stream = render(d);
        let expected: unknown[];
        try {
          expected = jsYamlValues(stream);
        } catch {
          return; // js-yaml refuses: see the broken documents below
        }
        if (strictRefuses(stream)) fallbacks++;
        const located = [...yamlValues(stream, 'a.yaml')];
        expect(located.map((l) => l.value)).toEqual(expected);
        const pod = located.at(-1);
        expect(pod?.line).toBe(stream.split('\n').indexOf('apiVersion: v1', d.before ? 1 : 0) + 1);
        expect(pod?.template).toBe(d.source ? 'ci/templates/pod.yaml' : undefined);
      }),
      { numRuns: 300 },
    );
    // The property is about documents the yaml package refuses: most of those generated are.
    expect(fallbacks).toBeGreaterThan(100);
  });

  test('a document that neither reads names its file and line, and quotes nothing of it', () => {
    const secret = 'Zq9-secret-token';
    const brokenDocument = fc.record({
      before: fc.integer({ min: 0, max: 3 }),
      lines: fc.integer({ min: 0, max: 3 }),
      how: fc.constantFrom('unclosed string', 'indentation', 'unclosed sequence'),
    });
    fc.assert(
      fc.property(brokenDocument, ({ before, lines, how }) => {
        const head = Array.from({ length: before }, (_, i) => `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c${i}}\n---\n`).join('');
        const body = [
          'apiVersion: v1',
          'kind: Pod',
          'metadata:',
          '  name: build',
          ...(how === 'indentation' ? [` labels: {token: ${secret}}`] : []),
          'spec:',
          '  containers:',
          '  - name: main',
          '    image: registry.example.com/ci/builder:1',
          `    args: ["${secret} &&`,
          ...Array.from({ length: lines }, (_, i) => `    step-${i} &&`),
          ...(how === 'unclosed string' ? ['    done'] : how === 'unclosed sequence' ? ['    done"'] : ['    done"]']),
          '',
        ].join('\n');
        const stream = head + body;
        expect(() => jsYamlValues(stream)).toThrow();
        const error = failure(stream, 'broken.yaml');
        const first = before * 4 + 1;
        const last = stream.split('\n').length;
        expect(error.source).toBe('broken.yaml');
        expect(error.line).toBeGreaterThanOrEqual(first);
        expect(error.line).toBeLessThanOrEqual(last);
        expect(error.message).toMatch(/^broken\.yaml:\d+: invalid YAML: /);
        expect(error.message).not.toContain(secret);
        if (how === 'indentation') expect(error.line).toBe(first + 4);
      }),
      { numRuns: 100 },
    );
  });

  test('only the refused document is read again: a stream of them costs about linearly', () => {
    const stream = (n: number) => Array.from({ length: n }, (_, i) => ARGO_POD.replace('name: build', `name: build-${i}`)).join('---\n');
    const cpuOfRead = (text: string) => {
      let best = Infinity;
      for (let i = 0; i < 3; i++) {
        const started = process.cpuUsage();
        read(text);
        const used = process.cpuUsage(started);
        best = Math.min(best, used.user + used.system);
      }
      return best;
    };
    const small = stream(300);
    const large = stream(1_200);
    expect(strictRefuses(ARGO_POD)).toBe(true);
    expect(read(large).workloads).toHaveLength(1_200);
    cpuOfRead(small); // warm-up
    // Re-reading the whole stream for each refused document would make this 16.
    expect(cpuOfRead(large) / cpuOfRead(small)).toBeLessThan(8);
  }, 120_000);
});

describe('the bounds hold on the second reader', () => {
  /** ARGO_POD with more keys, so that the yaml package refuses the whole document. */
  const withArgo = (lines: string) => {
    const text = `${ARGO_POD}${lines}\n`;
    expect(strictRefuses(text)).toBe(true);
    return text;
  };

  test('a billion laughs is refused as it is counted, at the document’s line', () => {
    const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 10; i++) {
      const previous = String.fromCharCode(96 + i);
      levels.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${previous}`).join(',')}]`);
    }
    const text = `kind: Namespace\napiVersion: v1\n---\n${withArgo(levels.join('\n'))}`;
    expect(failure(text, 'bomb.yaml').message).toBe('bomb.yaml:4: YAML aliases expand to more than 10000 copies of values, not read');
  });

  test('merge keys that multiply are refused the same way; kubectl’s merge order is kept', () => {
    const levels = ['m0: &m0 {a: 1, b: 2, c: 3}'];
    for (let i = 1; i < 12; i++) levels.push(`m${i}: &m${i} {<<: [${Array(6).fill(`*m${i - 1}`).join(', ')}], k${i}: ${i}}`);
    expect(failure(withArgo(levels.join('\n'))).message).toBe('a.yaml:1: YAML aliases expand to more than 10000 copies of values, not read');
    // Under the bound, merged as on the other paths: `image` before `<<` is overwritten, after it wins.
    const merged = withArgo('  initContainers:\n  - name: before\n    image: "written:1"\n    <<: {image: "merged:1"}\n  - <<: {image: "merged:2"}\n    name: after\n    image: "written:2"\n  - {"<<": {image: "quoted:3"}, name: quoted, image: "written:3"}');
    expect(read(merged).workloads[0]?.containers.map((c) => `${c.name}=${c.image}`)).toEqual([
      'before=merged:1',
      'after=written:2',
      // A quoted "<<" is a key like any other, as go-yaml reads it.
      'quoted=written:3',
      'main=registry.example.com/ci/builder:1',
    ]);
  });

  test('an alias inside its own anchor (which js-yaml would make a cycle) names no anchor', () => {
    expect(failure(withArgo('loop: &loop {self: *loop}')).message).toBe('a.yaml:1: invalid YAML: an alias names no anchor before it');
    expect(failure(withArgo('loop: &loop [[*loop]]')).message).toBe('a.yaml:1: invalid YAML: an alias names no anchor before it');
  });

  test('nesting made deep through aliases is refused, not a stack overflow', () => {
    // Each anchor's place is overwritten by the next duplicate key: the chain is first met through
    // `use: *x999`, 150 levels per link, far deeper than any document js-yaml would read.
    const nest = (inner: string) => `${'['.repeat(150)}${inner}${']'.repeat(150)}`;
    const chain = [`k: &x0 ${nest('1')}`];
    for (let i = 1; i < 1_000; i++) chain.push(`k: &x${i} ${nest(`*x${i - 1}`)}`);
    const error = failure(withArgo([...chain, 'k: 0', 'use: *x999'].join('\n')));
    expect(error.message).toBe('a.yaml:1: nested more than 200 levels deep');
  });

  test('nesting deeper than the bound in the text itself is said as such, at its line', () => {
    const text = `kind: Namespace\napiVersion: v1\n---\n${withArgo(`deep: ${'['.repeat(300)}${']'.repeat(300)}`)}`;
    expect(failure(text).message).toBe('a.yaml:16: nested more than 200 levels deep');
    // Within the bound it reads.
    expect(read(withArgo(`deep: ${'['.repeat(150)}${']'.repeat(150)}`)).workloads).toHaveLength(1);
  });
});

describe('templates of a `helm template` stream', () => {
  test('each workload has the template of its document; a List’s items their List’s; none without a `# Source:`', () => {
    const text = [
      '---',
      '# Source: shop/templates/pod.yaml',
      ARGO_POD, // read by the second reader
      '---',
      '# Source: shop/templates/jobs.yaml',
      'apiVersion: v1',
      'kind: List',
      'items:',
      '- {apiVersion: batch/v1, kind: Job, metadata: {name: one}, spec: {template: {spec: {containers: [{name: a, image: "one:1"}]}}}}',
      '- {apiVersion: batch/v1, kind: Job, metadata: {name: two}, spec: {template: {spec: {containers: [{name: a, image: "two:1"}]}}}}',
      '---',
      '# Source: shop/templates/anchored.yaml',
      'apiVersion: v1',
      'kind: Pod',
      'metadata: {name: &n anchored}',
      'spec: {containers: [{name: *n, image: "a:1"}]}',
      '---',
      'apiVersion: v1',
      'kind: Pod',
      'metadata: {name: plain}',
      'spec: {containers: [{name: c, image: "p:1"}]}',
    ].join('\n');
    const { workloads } = read(text, '-');
    expect(workloads.map((w) => [w.name, w.line, w.template])).toEqual([
      ['build', 3, 'shop/templates/pod.yaml'],
      ['one', 21, 'shop/templates/jobs.yaml'],
      ['two', 22, 'shop/templates/jobs.yaml'],
      ['anchored', 25, 'shop/templates/anchored.yaml'],
      ['plain', 30, undefined],
    ]);
  });

  test('JSON names no template', () => {
    const [workload] = read('{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"image": "x:1"}]}}', 'a.json').workloads;
    expect(workload?.template).toBeUndefined();
  });
});
