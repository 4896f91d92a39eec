/**
 * A YAML stream cut into documents at its markers (issue 20, item 12: each document read on its
 * own, by js-yaml unless it needs the careful reader), and what that reading accepts.
 */
import { describe, expect, test } from 'vitest';
import { readManifests } from '../../src/check/manifests.js';
import { firstContentLine, helmTemplate, MAX_TEMPLATE_LENGTH, yamlDocuments } from '../../src/check/yaml-documents.js';

const cut = (text: string) => [...yamlDocuments(text)].map((d) => [d.line, d.text]);

describe('yamlDocuments', () => {
  test('cuts before each `---` and after each `...` line, each part with the line it starts on', () => {
    expect(cut('a: 1\n---\nb: 2\n--- # c\nc: 3\n...\nd: 4\n')).toEqual([
      [1, 'a: 1\n'],
      [2, '---\nb: 2\n'],
      [4, '--- # c\nc: 3\n...\n'],
      [7, 'd: 4\n'],
    ]);
  });

  test('only markers at the start of a line followed by a space or its end; CRLF lines too', () => {
    expect(cut('a: "x --- y"\nb: ---x\n ---\n---\r\nc: 1\r\n')).toEqual([
      [1, 'a: "x --- y"\nb: ---x\n ---\n'],
      [4, '---\r\nc: 1\r\n'],
    ]);
  });

  test('directives stay with the document their marker starts', () => {
    expect(cut('a: 1\n...\n%YAML 1.2\n# c\n---\nb: 2\n')).toEqual([
      [1, 'a: 1\n...\n'],
      [3, '%YAML 1.2\n# c\n---\nb: 2\n'],
    ]);
  });

  test('the first line with content: comments, blank lines, directives and bare markers skipped', () => {
    expect(firstContentLine('%YAML 1.2\n--- # x\n\n  # y\nkind: A\n')).toBe(4);
    expect(firstContentLine('--- {a: 1}\n')).toBe(0);
    expect(firstContentLine('---\n# only a comment\n...\n')).toBeUndefined();
  });
});

describe('helmTemplate: the template a `helm template` stream names for a document', () => {
  const templateOf = (text: string) => helmTemplate(text, firstContentLine(text) ?? 0);

  test('the `# Source:` comment before the content, as helm writes it; the last of several', () => {
    expect(templateOf('---\n# Source: shop/templates/deployment.yaml\napiVersion: v1\n')).toBe('shop/templates/deployment.yaml');
    expect(templateOf('# Source: a/templates/x.yaml\r\n# Source: a/charts/db/templates/y.yaml  \r\nkind: A\r\n')).toBe('a/charts/db/templates/y.yaml');
  });

  test('only that form, and only before the content', () => {
    for (const text of [
      'apiVersion: v1\n# Source: shop/templates/x.yaml\n', // after the content: another document's
      '  # Source: shop/templates/x.yaml\nkind: A\n', // indented
      '# source: shop/templates/x.yaml\nkind: A\n',
      '# Source:shop/templates/x.yaml\nkind: A\n',
      '# Source: \nkind: A\n',
      '--- # Source: shop/templates/x.yaml\nkind: A\n',
      'kind: A # Source: shop/templates/x.yaml\n',
    ]) {
      expect(templateOf(text), text).toBeUndefined();
    }
  });

  test('a path that helm would not write (too long, control characters) is not taken', () => {
    const long = 'x'.repeat(MAX_TEMPLATE_LENGTH + 1);
    expect(templateOf(`# Source: ${long}\nkind: A\n`)).toBeUndefined();
    expect(templateOf(`# Source: ${long.slice(1)}\nkind: A\n`)).toBe(long.slice(1));
    expect(templateOf('# Source: evil\x1b]0;title\x07.yaml\nkind: A\n')).toBeUndefined();
    // The last one says, even when it says nothing usable: an earlier one may be another document's.
    expect(templateOf(`# Source: ok/templates/a.yaml\n# Source: ${long}\nkind: A\n`)).toBeUndefined();
  });
});

describe('documents read as kubectl reads them', () => {
  const deployment = (name: string, annotations: string) =>
    `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ${name}\n  annotations:\n${annotations}spec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: "${name}:1"\n`;

  test('a quoted string continued on lines indented no deeper than its key (go-yaml reads it; issue 22)', () => {
    const text = `${deployment('one', '    a: 1\n')}---\n${deployment('two', '    note: "first\n    second"\n')}`;
    const contents = readManifests([{ name: 'a.yaml', text }]);
    expect(contents.workloads.map((w) => [w.name, w.line, w.containers[0]?.image])).toEqual([
      ['one', 1, 'one:1'],
      ['two', 14, 'two:1'],
    ]);
  });

  test('plain dates and times stay strings (no timestamp type), `<<` merges, the last duplicate key wins', () => {
    const text = 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: 2024-01-01\n  namespace: a\n  namespace: b\nspec:\n  template:\n    spec:\n      <<: {serviceAccountName: robot}\n      containers: [{name: app, image: "x:1"}]\n';
    const [workload] = readManifests([{ name: 'a.yaml', text }]).workloads;
    expect(workload).toMatchObject({ name: '2024-01-01', namespace: 'b', serviceAccountName: 'robot' });
  });
});
