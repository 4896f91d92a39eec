/**
 * Merge keys (`<<`) read as kubectl reads them: sigs.k8s.io/yaml decodes with go-yaml v2, which
 * writes the merged maps' keys at the place of `<<`, over keys the mapping set before it (keys set
 * after it override them; of several merged maps, the first wins). js-yaml and the YAML spec let the
 * mapping's own keys win wherever they are, so a key written before `<<` read differently: a Pod
 * that runs the merged image was checked for the other one (a false "absent", or a missed one).
 * Both readers are tried: without `&` (the fast one) and with anchors (the careful one). And tags
 * that only the careful reader reads (`!!binary`), as go-yaml v2 reads them.
 */
import { expect, test } from 'vitest';
import { readManifests } from '../../src/check/manifests.js';

const images = (text: string) => readManifests([{ name: 'a.yaml', text }]).workloads.flatMap((w) => w.containers.map((c) => `${c.name}=${c.image}`));

test('a key written before `<<` is overwritten by the merged map, as go-yaml v2 (kubectl) does; one written after it wins', () => {
  const text = `apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
    - name: before
      image: "written:1"
      <<: {image: "merged:1"}
    - <<: {image: "merged:2"}
      name: after
      image: "written:2"
    - {name: flow, image: "written:3", <<: [{image: "first:3"}, {image: "second:3"}]}
`;
  expect(images(text)).toEqual(['before=merged:1', 'after=written:2', 'flow=first:3']);
});

test('the same with anchors (the careful reader)', () => {
  const text = `apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
    - &base {name: base, image: "merged:1"}
    - name: before
      image: "written:1"
      <<: *base
    - <<: *base
      name: after
      image: "written:2"
`;
  expect(images(text)).toEqual(['base=merged:1', 'base=merged:1', 'after=written:2']);
});

test('a !!binary image is the text of its bytes, as go-yaml v2 (kubectl) decodes it, never an empty image', () => {
  const text = `apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: !!binary ${Buffer.from('registry.example.com/app:1').toString('base64')}}]\n`;
  expect(images(text)).toEqual(['c=registry.example.com/app:1']);
});
