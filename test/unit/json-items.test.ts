/** JSON read as JSON keeps the places `check` reports: each List item at the line it starts on. */
import { expect, test } from 'vitest';
import { readManifests } from '../../src/check/manifests.js';

const pod = (name: string, image: string) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, annotations: { note: 'has "quotes", [brackets] and {braces}\\' } }, spec: { containers: [{ name: 'c', image }] } });

test('a pretty-printed List (kubectl get -o json): each item at its own line; strings with brackets do not confuse it', () => {
  const text = JSON.stringify({ apiVersion: 'v1', kind: 'List', metadata: { items: ['not', 'these'] }, items: [pod('a', 'a:1'), pod('b', 'b:1')] }, null, 4);
  const lines = text.split('\n');
  const expected = lines.flatMap((line, i) => (/^ {8}\{$/.test(line) ? [i + 1] : []));
  const contents = readManifests([{ name: 'list.json', text }]);
  expect(contents.workloads.map((w) => `${w.name}@${w.line}`)).toEqual([`a@${expected[0]}`, `b@${expected[1]}`]);
});

test('compact JSON: everything on line 1; leading blank lines counted', () => {
  const text = `\n\n${JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [pod('a', 'a:1'), pod('b', 'b:1')] })}`;
  expect(readManifests([{ name: 'list.json', text }]).workloads.map((w) => w.line)).toEqual([3, 3]);
});

test('text that only starts like JSON is read as YAML, with its line-numbered errors', () => {
  const flow = '{apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {containers: [{image: "x:1"}]}}\n';
  expect(readManifests([{ name: 'flow.yaml', text: flow }]).workloads.map((w) => w.name)).toEqual(['p']);
  expect(() => readManifests([{ name: 'bad.json', text: '{\n  "kind": "Pod",\n  "spec": [\n}\n' }])).toThrow(/^bad\.json:\d+: invalid YAML/);
});
