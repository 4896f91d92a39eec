/**
 * `check` reading custom kinds from manifests where --workload-resource says (pod template and
 * image paths), matched by apiVersion and kind; and its warnings: once per run for each known kind
 * that holds images no flag reads, and for a flag that matches nothing.
 */
import { describe, expect, test } from 'vitest';
import { readManifests } from '../../src/check/manifests.js';
import { parseWorkloadResource } from '../../src/kubernetes/workloads.js';

const WORKFLOWS = parseWorkloadResource(
  'argoproj.io/v1alpha1/workflows:images=spec.templates[*].container,spec.templates[*].script,spec.templates[*].initContainers[*],spec.templates[*].sidecars[*]',
);

const workflow = (name: string, image: string) => `apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: ${name}, namespace: ci}
spec:
  entrypoint: main
  templates:
  - name: main
    container: {image: "${image}"}
    sidecars: [{name: cache, image: "registry.test/cache:1"}]
  - name: report
    script: {image: "python:3.12", source: "print(1)"}
`;

describe('custom kinds in manifests', () => {
  test('a Workflow is read at its image paths, its containers named by name or path, at the object\'s line', () => {
    const { workloads, warnings } = readManifests([{ name: 'wf.yaml', text: `# a comment\n${workflow('build', 'registry.test/builder:1')}` }], { customResources: [WORKFLOWS] });
    expect(warnings).toEqual([]);
    expect(workloads).toHaveLength(1);
    expect(workloads[0]).toMatchObject({ kind: 'Workflow', namespace: 'ci', name: 'build', source: 'wf.yaml', line: 2, serviceAccountName: 'default' });
    expect(workloads[0]!.containers).toEqual([
      { name: 'spec.templates[0].container', image: 'registry.test/builder:1', init: false },
      { name: 'spec.templates[1].script', image: 'python:3.12', init: false },
      { name: 'cache', image: 'registry.test/cache:1', init: false },
    ]);
  });

  test('without the flag: not read, and one warning for all the Workflows, naming the flag that reads them', () => {
    const text = [workflow('a', 'x:1'), workflow('b', 'y:1')].join('---\n');
    const { workloads, warnings } = readManifests([{ name: 'wf.yaml', text }, { name: 'more.yaml', text: workflow('c', 'z:1') }]);
    expect(workloads).toEqual([]);
    expect(warnings).toEqual([
      '3 Workflow objects hold images outside a pod template, not read: --workload-resource=argoproj.io/v1alpha1/workflows:images=' +
        'spec.templates[*].container,spec.templates[*].script,spec.templates[*].containerSet.containers[*],spec.templates[*].initContainers[*],spec.templates[*].sidecars[*] reads them',
    ]);
  });

  test('each known kind once; a known kind that holds no image says nothing; Rollouts are read as before', () => {
    const text = `apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {name: pvc-only}
spec: {template: {spec: {domain: {devices: {}}, volumes: [{name: root, persistentVolumeClaim: {claimName: root}}]}}}
---
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {name: kernel}
spec: {template: {spec: {domain: {firmware: {kernelBoot: {container: {image: "quay.io/k/kernel:1"}}}}}}}
---
apiVersion: argoproj.io/v1alpha1
kind: Experiment
metadata: {name: e}
spec: {templates: [{name: canary, template: {spec: {containers: [{name: app, image: "app:2"}]}}}]}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: r}
spec: {replicas: 2, template: {spec: {containers: [{name: app, image: "app:1"}]}}}
`;
    const { workloads, warnings } = readManifests([{ name: 'a.yaml', text }]);
    expect(workloads.map((w) => `${w.kind}/${w.name}`)).toEqual(['Rollout/r']);
    expect(warnings).toEqual([
      '1 VirtualMachine object holds images outside a pod template, not read: --workload-resource=kubevirt.io/v1/virtualmachines:images=spec.template.spec.domain.firmware.kernelBoot.container,spec.template.spec.volumes[*].containerDisk reads them',
      '1 Experiment object holds images outside a pod template, not read: --workload-resource=argoproj.io/v1alpha1/experiments:images=spec.templates[*].template.spec.containers[*],spec.templates[*].template.spec.initContainers[*] reads them',
    ]);
  });

  test('a configured kind is read only where the flag says: a template elsewhere, a template and images, nothing when neither is there', () => {
    const text = `apiVersion: example.com/v1
kind: Worker
metadata: {name: queue, annotations: {k8s-image-existence-exporter/ignore: helper}}
spec:
  template: {spec: {containers: [{name: default-place, image: "not-read:1"}]}}
  workload:
    template:
      spec:
        serviceAccountName: worker
        containers: [{name: main, image: "worker:1"}]
  helper: {image: "helper:1"}
---
apiVersion: example.com/v1
kind: Worker
metadata: {name: empty}
spec: {}
`;
    const { workloads, warnings } = readManifests([{ name: 'w.yaml', text }], { customResources: [parseWorkloadResource('example.com/v1/workers:spec.workload.template,images=spec.helper')] });
    // The annotation names containers as they are reported: "helper" is none of them.
    expect(warnings).toEqual(['w.yaml:1: annotation k8s-image-existence-exporter/ignore names no container "helper"']);
    expect(workloads.map((w) => [w.name, w.serviceAccountName, w.containers])).toEqual([
      ['queue', 'worker', [{ name: 'main', image: 'worker:1', init: false }, { name: 'spec.helper', image: 'helper:1', init: false }]],
    ]);
    // Named as reported, it opts the container out.
    const named = readManifests([{ name: 'w.yaml', text: text.replace('ignore: helper', 'ignore: spec.helper') }], { customResources: [parseWorkloadResource('example.com/v1/workers:spec.workload.template,images=spec.helper')] });
    expect(named.workloads[0]!.containers.map((c) => [c.name, c.optedOut === true])).toEqual([['main', false], ['spec.helper', true]]);
  });

  test('kinds match by apiVersion and the plural of the kind (s, es, ies), never another version or group', () => {
    const object = (apiVersion: string, kind: string) => `apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata: {name: ${kind.toLowerCase()}}\nspec: {image: "x:1"}\n`;
    const text = [
      object('example.com/v1', 'Policy'),
      object('example.com/v1', 'Gateway'),
      object('example.com/v1', 'Class'),
      object('example.com/v2', 'Policy'),
      object('other.com/v1', 'Policy'),
    ].join('---\n');
    const customs = ['policies', 'gateways', 'classes'].map((plural) => parseWorkloadResource(`example.com/v1/${plural}:images=spec.image`));
    const { workloads, warnings } = readManifests([{ name: 'a.yaml', text }], { customResources: customs });
    expect(workloads.map((w) => `${w.kind}/${w.name}`)).toEqual(['Policy/policy', 'Gateway/gateway', 'Class/class']);
    expect(warnings).toEqual([]);
  });

  test('a flag that matches no object says so, once', () => {
    const { warnings } = readManifests([{ name: 'wf.yaml', text: workflow('a', 'x:1') }], {
      customResources: [WORKFLOWS, parseWorkloadResource('argoproj.io/v1alpha1/cronworkflows:images=spec.x')],
    });
    expect(warnings).toEqual([
      '--workload-resource=argoproj.io/v1alpha1/cronworkflows:images=spec.x matches no object (apiVersion argoproj.io/v1alpha1, a kind whose plural in lower case is cronworkflows)',
    ]);
  });
});
