/**
 * The YAML `check` reads is the YAML kubectl reads (issue 22): every manifest of
 * test/fixtures/kubectl-yaml/ (Argo-style multi-line strings and flow sequences, which the yaml
 * package alone refuses) and a sample of generated ones are read by the kubectl on PATH
 * (`kubectl label --local -o json`: its own decoder, no cluster) to the same objects as `check`
 * reads them, merge keys included. Without kubectl the tests fail: test/install-deps.sh installs it.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { beforeAll, describe, expect, test } from 'vitest';
import { yamlValues } from '../../src/check/yaml-stream.js';
import { makeTempDir } from '../support/tmp.js';

const run = promisify(execFile);
const FIXTURES = fileURLToPath(new URL('../fixtures/kubectl-yaml/', import.meta.url));
/** A label kubectl adds to each object it reads, taken off again before comparing. */
const MARK = 'kubectl-yaml-test';

let dir: string;

beforeAll(async () => {
  dir = await makeTempDir('kubectl-yaml');
});

/** The objects kubectl reads from a file (Lists flattened into their items, as kubectl does). */
async function kubectlObjects(path: string): Promise<unknown[]> {
  let stdout: string;
  try {
    ({ stdout } = await run('kubectl', ['label', '--local', '-f', path, `${MARK}=x`, '-o', 'json'], { env: { ...process.env, KUBECONFIG: '/dev/null' }, maxBuffer: 16 * 1024 * 1024 }));
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error('kubectl is not on PATH: test/install-deps.sh installs it');
    throw new Error(`kubectl refused ${path}: ${e.stderr || e.message}`);
  }
  // One pretty-printed JSON object after another: each ends with a `}` alone on its line.
  return stdout
    .split(/^}$/m)
    .filter((part) => part.trim() !== '')
    .map((part) => {
      const object = JSON.parse(`${part}}`) as { metadata: { labels: Record<string, string> } };
      delete object.metadata.labels[MARK];
      if (Object.keys(object.metadata.labels).length === 0) delete (object.metadata as { labels?: unknown }).labels;
      return object;
    });
}

/** The objects `check` reads from a text, Lists flattened. */
function ourObjects(text: string, name: string): unknown[] {
  return [...yamlValues(text, name)].flatMap(({ value }) => {
    const object = value as { kind?: unknown; items?: unknown };
    return object.kind === 'List' && Array.isArray(object.items) ? object.items : [value];
  });
}

describe('kubectl and check read the same objects', () => {
  const files = readdirSync(FIXTURES).filter((file) => file.endsWith('.yaml'));

  test.each(files)('%s', async (file) => {
    const path = join(FIXTURES, file);
    const theirs = await kubectlObjects(path);
    expect(theirs.length).toBeGreaterThan(0);
    expect(ourObjects(readFileSync(path, 'utf8'), file)).toEqual(theirs);
  });

  test('generated Argo-style Pods: quoted lines and brackets at any indentation, `&&` and anchors', async () => {
    const text = fc
      .tuple(fc.constantFrom('a', 'cd', 'make'), fc.array(fc.constantFrom(...'abz09 &-=/.:;#|$*!%@,{}'.split('')), { maxLength: 20 }))
      .map(([head, rest]) => `${head}${rest.join('')}`.trimEnd());
    const indent = fc.integer({ min: 0, max: 7 }).map((n) => ' '.repeat(n));
    const pod = fc.record({ lines: fc.array(fc.tuple(indent, text), { minLength: 1, maxLength: 4 }), close: indent, anchor: fc.boolean() });
    const pods = fc.sample(pod, { numRuns: 40, seed: 22 }).map((p, i) =>
      [
        'apiVersion: v1',
        'kind: Pod',
        'metadata:',
        p.anchor ? `  name: &name pod-${i}` : `  name: pod-${i}`,
        ...(p.anchor ? ['  labels: {app: *name}'] : []),
        'spec:',
        '  containers:',
        '  - name: main',
        `    image: registry.example.com/ci/builder:${i}`,
        '    args: ["',
        ...p.lines.map(([space, line]) => `${space}${line}`),
        `${p.close}"]`,
        '',
      ].join('\n'),
    );
    const stream = pods.join('---\n');
    const path = join(dir, 'generated.yaml');
    await writeFile(path, stream);
    const theirs = await kubectlObjects(path);
    expect(theirs).toHaveLength(40);
    expect(ourObjects(stream, 'generated.yaml')).toEqual(theirs);
  });
});
