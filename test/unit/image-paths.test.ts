/**
 * Image paths of --workload-resource: the grammar (one, parsed once, errors naming the flag,
 * bounded), their evaluation over untrusted objects (never throws, linear in the object: counted
 * property reads, not wall-clock time), and the paths shipped for Argo Workflows, Argo Rollouts and
 * KubeVirt read against objects shaped as the upstream types are.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { FlagError, parseCheckFlags, parseFlags } from '../../src/flags/config.js';
import { imagesAt, MAX_PATH_CHARS, MAX_PATH_STEPS, parseFieldPath, type FieldPath } from '../../src/kubernetes/field-paths.js';
import { holdsImages, KNOWN_IMAGE_KINDS, knownImageKind, workloadResourceFor } from '../../src/kubernetes/known-image-kinds.js';
import { formatWorkloadResource, MAX_IMAGE_PATHS, parseWorkloadResource } from '../../src/kubernetes/workloads.js';

const paths = (...texts: string[]): FieldPath[] => texts.map(parseFieldPath);

describe('path grammar', () => {
  test('fields separated by dots, each with any number of [*]', () => {
    expect(parseFieldPath('spec.templates[*].container').steps).toEqual([{ field: 'spec' }, { field: 'templates' }, { each: true }, { field: 'container' }]);
    expect(parseFieldPath('matrix[*][*]').steps).toEqual([{ field: 'matrix' }, { each: true }, { each: true }]);
    expect(parseFieldPath('spec.template.spec.domain.firmware.kernelBoot.container.image').steps).toHaveLength(8);
    expect(parseFieldPath('a_b-c.D9').text).toBe('a_b-c.D9');
  });

  test.each(['', 'a..b', '.a', 'a.', '[*].a', 'a[0]', 'a[*', 'a[]', 'a b', 'a.*', 'a[*]b', 'a/b', 'ä'])('%j is refused with the path quoted', (text) => {
    expect(() => parseFieldPath(text)).toThrow(text === '' ? 'a path is empty' : JSON.stringify(text));
  });

  test('bounded: characters and steps', () => {
    expect(() => parseFieldPath('a'.repeat(MAX_PATH_CHARS + 1))).toThrow(`longer than ${MAX_PATH_CHARS} characters`);
    expect(parseFieldPath(Array(MAX_PATH_STEPS).fill('a').join('.')).steps).toHaveLength(MAX_PATH_STEPS);
    expect(() => parseFieldPath(Array(MAX_PATH_STEPS + 1).fill('a').join('.'))).toThrow(`more than ${MAX_PATH_STEPS} steps`);
    expect(() => parseFieldPath(`a${'[*]'.repeat(MAX_PATH_STEPS)}`)).toThrow(`more than ${MAX_PATH_STEPS} steps`);
  });

  test('any text either parses into bounded steps or throws an Error', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.stringMatching(/^[a-z[\]*.]{0,40}$/)), (text) => {
        try {
          const path = parseFieldPath(text);
          expect(path.steps.length).toBeGreaterThan(0);
          expect(path.steps.length).toBeLessThanOrEqual(MAX_PATH_STEPS);
          expect('field' in path.steps[0]!).toBe(true);
        } catch (error) {
          expect(error).toBeInstanceOf(Error);
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('--workload-resource', () => {
  test('a pod template (default spec.template), image paths after images=, or both', () => {
    expect(parseWorkloadResource('argoproj.io/v1alpha1/rollouts')).toMatchObject({ templatePath: ['spec', 'template'], imagePaths: [] });
    expect(parseWorkloadResource('example.com/v1/workers:spec.workload.template')).toMatchObject({ templatePath: ['spec', 'workload', 'template'], imagePaths: [] });
    const workflows = parseWorkloadResource('argoproj.io/v1alpha1/workflows:images=spec.templates[*].container, spec.templates[*].sidecars[*]');
    expect(workflows).toMatchObject({ group: 'argoproj.io', version: 'v1alpha1', resource: 'workflows', templatePath: undefined });
    expect(workflows.imagePaths.map((p) => p.text)).toEqual(['spec.templates[*].container', 'spec.templates[*].sidecars[*]']);
    const both = parseWorkloadResource('example.com/v1/things:spec.template,images=spec.helper.image');
    expect(both.templatePath).toEqual(['spec', 'template']);
    expect(both.imagePaths.map((p) => p.text)).toEqual(['spec.helper.image']);
  });

  test('written back as given (the suggestion check prints parses to the same resource)', () => {
    for (const value of [
      'argoproj.io/v1alpha1/rollouts',
      'example.com/v1/workers:spec.workload.template',
      'argoproj.io/v1alpha1/workflows:images=spec.templates[*].container,spec.templates[*].sidecars[*]',
      'example.com/v1/things:spec.template,images=spec.helper.image',
    ]) {
      expect(formatWorkloadResource(parseWorkloadResource(value))).toBe(value);
      expect(parseWorkloadResource(formatWorkloadResource(parseWorkloadResource(value)))).toEqual(parseWorkloadResource(value));
    }
  });

  test.each([
    ['a.io/v1/x:images=', 'a path is empty'],
    ['a.io/v1/x:images=spec.templates[0].container', '"spec.templates[0].container"'],
    ['a.io/v1/x:spec.a,spec.b', 'expected one template path, then images=PATH'],
    ['a.io/v1/x:,images=spec.a', 'expected one template path'],
    ['a.io/v1/x:spec.a[*]', 'TEMPLATE.PATH must be dot-separated field names'],
    ['a.io/v1/x:images=a,', 'a path is empty'],
    [`a.io/v1/x:images=${Array(MAX_IMAGE_PATHS + 1).fill('a').join(',')}`, `more than ${MAX_IMAGE_PATHS} image paths`],
    [`a.io/v1/x:images=${'a.'.repeat(2100)}a`, 'longer than 4096 characters'],
    ['Argoproj.io/v1alpha1/workflows:images=spec.a', 'GROUP/VERSION/RESOURCE[:TEMPLATE.PATH][,images=PATH,...]'],
  ])('%j: a one-line FlagError naming --workload-resource (%s), in both commands', (value, problem) => {
    for (const parse of [() => parseFlags([`--workload-resource=${value}`]), () => parseCheckFlags([`--workload-resource=${value}`, 'x.yaml'])]) {
      expect(parse).toThrow(FlagError);
      expect(parse).toThrow(`invalid flag --workload-resource: `);
      expect(parse).toThrow(problem);
      try {
        parse();
      } catch (error) {
        expect((error as Error).message.split('\n')).toHaveLength(1);
        expect((error as Error).message.length).toBeLessThan(600);
      }
    }
  });

  test('one resource given twice is refused; check takes the flag for manifests too, not only with --cluster', () => {
    expect(() => parseFlags(['--workload-resource=a.io/v1/x', '--workload-resource=a.io/v1/x:images=spec.a'])).toThrow('--workload-resource: a.io/v1/x is given more than once');
    const outcome = parseCheckFlags(['--workload-resource=argoproj.io/v1alpha1/workflows:images=spec.templates[*].container', 'wf.yaml']);
    expect(outcome.action === 'check' && outcome.config.customResources.map((c) => c.resource)).toEqual(['workflows']);
  });
});

/** A Workflow as Argo's Go types have it: a container template, a script, a container set, init containers and sidecars, a steps template. */
const WORKFLOW = {
  apiVersion: 'argoproj.io/v1alpha1',
  kind: 'Workflow',
  metadata: { name: 'ci', namespace: 'ci' },
  spec: {
    entrypoint: 'main',
    templates: [
      { name: 'main', steps: [[{ name: 'build', template: 'build' }]] },
      {
        name: 'build',
        container: { image: 'registry.example.com/builder:1', command: ['make'] },
        initContainers: [{ name: 'fetch', image: 'registry.example.com/git:2' }],
        sidecars: [{ name: 'dind', image: 'docker:24-dind' }, { image: 'registry.example.com/cache:3' }],
      },
      { name: 'report', script: { image: 'python:3.12', source: 'print(1)' } },
      { name: 'set', containerSet: { containers: [{ name: 'a', image: 'alpine:3' }, { name: 'b', image: 'alpine:3' }] } },
      { name: 'defaults-only', container: { args: ['x'] } },
    ],
  },
};

describe('evaluation', () => {
  test('containers are named by their name, or by the path with its indices; images in order of the paths', () => {
    const known = knownImageKind('argoproj.io/v1alpha1', 'Workflow')!;
    expect(imagesAt(WORKFLOW, known.imagePaths)).toEqual([
      { name: 'spec.templates[1].container', image: 'registry.example.com/builder:1', init: false },
      { name: 'spec.templates[2].script', image: 'python:3.12', init: false },
      { name: 'a', image: 'alpine:3', init: false },
      { name: 'b', image: 'alpine:3', init: false },
      { name: 'fetch', image: 'registry.example.com/git:2', init: true },
      { name: 'dind', image: 'docker:24-dind', init: false },
      { name: 'spec.templates[1].sidecars[1]', image: 'registry.example.com/cache:3', init: false },
    ]);
  });

  test('a path ending at a string is an image named by the path; an empty one is kept (a bad reference later)', () => {
    const vm = { spec: { template: { spec: { domain: { firmware: { kernelBoot: { container: { image: 'quay.io/k/kernel:1' } } } } } } } };
    expect(imagesAt(vm, paths('spec.template.spec.domain.firmware.kernelBoot.container.image'))).toEqual([
      { name: 'spec.template.spec.domain.firmware.kernelBoot.container.image', image: 'quay.io/k/kernel:1', init: false },
    ]);
    expect(imagesAt({ a: ['', 'x:1'] }, paths('a[*]'))).toEqual([
      { name: 'a[0]', image: '', init: false },
      { name: 'a[1]', image: 'x:1', init: false },
    ]);
  });

  test('odd shapes are passed over: missing fields, wrong types, objects without an image, inherited keys', () => {
    const p = paths('spec.templates[*].container', 'spec.x[*][*]', 'spec.image');
    for (const object of [null, 3, 'spec', [], {}, { spec: null }, { spec: { templates: {} } }, { spec: { templates: [null, 1, 'x', [], { container: [] }, { container: { image: 7 } }] } },
      { spec: { x: [[{ name: 'n' }], 'y', null], image: { image: 'not: a string path' } } }, JSON.parse('{"spec":{"__proto__":{"image":"p:1"}}}')]) {
      const found = imagesAt(object, p);
      expect(found.every((f) => typeof f.image === 'string' && typeof f.name === 'string')).toBe(true);
      expect(found.filter((f) => f.image !== 'not: a string path')).toEqual([]);
    }
    expect(imagesAt({ spec: {} }, paths('spec.constructor', 'spec.toString', 'spec.__proto__'))).toEqual([]);
  });

  test('never throws, on any JSON value and any paths', () => {
    const field = fc.constantFrom('spec', 'templates', 'container', 'image', 'name', '__proto__', 'constructor', 'a');
    const pathText = fc.array(fc.tuple(field, fc.nat({ max: 2 })), { minLength: 1, maxLength: 6 }).map((parts) => parts.map(([f, n]) => f + '[*]'.repeat(n)).join('.'));
    const value = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: 'small' }, fc.jsonValue(), fc.array(tie('node'), { maxLength: 4 }), fc.dictionary(field, tie('node'), { maxKeys: 4 })),
    })).node;
    fc.assert(
      fc.property(value, fc.array(pathText, { minLength: 1, maxLength: 4 }), (object, texts) => {
        const found = imagesAt(object, paths(...texts));
        for (const f of found) expect([typeof f.name, typeof f.image, typeof f.init]).toEqual(['string', 'string', 'boolean']);
      }),
      { numRuns: 3000 },
    );
  });
});

/** `object` behind proxies that count every property read (get, has, own-key and descriptor lookups), however deep. */
function counted(object: unknown): { value: unknown; reads: () => number } {
  let reads = 0;
  const wrapped = new WeakMap<object, object>();
  const wrap = (value: unknown): unknown => {
    if (value === null || typeof value !== 'object') return value;
    let proxy = wrapped.get(value);
    if (!proxy) {
      proxy = new Proxy(value, {
        get: (target, key) => (reads++, wrap(Reflect.get(target, key))),
        has: (target, key) => (reads++, Reflect.has(target, key)),
        getOwnPropertyDescriptor: (target, key) => (reads++, Reflect.getOwnPropertyDescriptor(target, key)),
        ownKeys: (target) => (reads++, Reflect.ownKeys(target)),
      });
      wrapped.set(value, proxy);
    }
    return proxy;
  };
  return { value: wrap(object), reads: () => reads };
}

/** Values in a JSON value (objects, arrays and leaves). */
function size(value: unknown): number {
  if (value === null || typeof value !== 'object') return 1;
  return 1 + Object.values(value).reduce((sum: number, child) => sum + size(child), 0);
}

describe('linear in the object', () => {
  const workflowOf = (templates: number) => ({
    ...WORKFLOW,
    spec: { templates: Array.from({ length: templates }, (_, i) => WORKFLOW.spec.templates[i % WORKFLOW.spec.templates.length]) },
  });
  const known = knownImageKind('argoproj.io/v1alpha1', 'Workflow')!;

  test('4 times the templates cost 4 times the reads (counted, not timed)', () => {
    const readsOf = (templates: number) => {
      const { value, reads } = counted(workflowOf(templates));
      imagesAt(value, known.imagePaths);
      return reads();
    };
    const small = readsOf(2_000);
    const large = readsOf(8_000);
    expect(small).toBeGreaterThan(2_000);
    expect(large / small).toBeGreaterThan(3.9);
    expect(large / small).toBeLessThan(4.1);
  });

  test('nested [*] and many paths: reads stay within a constant times (values in the object × paths)', () => {
    const value = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: 'small' }, fc.string(), fc.array(tie('node'), { maxLength: 40 }), fc.dictionary(fc.constantFrom('a', 'b', 'image', 'name'), tie('node'), { maxKeys: 4 })),
    })).node;
    const pathText = fc.array(fc.tuple(fc.constantFrom('a', 'b', 'image'), fc.nat({ max: 3 })), { minLength: 1, maxLength: 8 }).map((parts) => parts.map(([f, n]) => f + '[*]'.repeat(n)).join('.'));
    fc.assert(
      fc.property(value, fc.array(pathText, { minLength: 1, maxLength: MAX_IMAGE_PATHS }), (object, texts) => {
        const { value: proxied, reads } = counted(object);
        imagesAt(proxied, paths(...texts));
        expect(reads()).toBeLessThanOrEqual(4 * size(object) * texts.length + 4 * texts.length);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('the paths shipped for known kinds', () => {
  const podTemplate = (prefix: string) => ({
    metadata: { labels: { app: prefix } },
    spec: { initContainers: [{ name: 'init', image: `${prefix}-init:1` }], containers: [{ name: 'main', image: `${prefix}:1` }] },
  });
  const workflowSpec = { templates: [{ name: 't', container: { image: 'wf:1' }, sidecars: [{ name: 's', image: 'side:1' }] }] };
  const OBJECTS: Record<string, { apiVersion: string; object: object; images: string[] }> = {
    Workflow: { apiVersion: 'argoproj.io/v1alpha1', object: { spec: workflowSpec }, images: ['wf:1', 'side:1'] },
    WorkflowTemplate: { apiVersion: 'argoproj.io/v1alpha1', object: { spec: workflowSpec }, images: ['wf:1', 'side:1'] },
    ClusterWorkflowTemplate: { apiVersion: 'argoproj.io/v1alpha1', object: { spec: workflowSpec }, images: ['wf:1', 'side:1'] },
    CronWorkflow: { apiVersion: 'argoproj.io/v1alpha1', object: { spec: { schedules: ['0 * * * *'], workflowSpec } }, images: ['wf:1', 'side:1'] },
    // Argo Rollouts: ExperimentSpec.templates[].template is a PodTemplateSpec.
    Experiment: { apiVersion: 'argoproj.io/v1alpha1', object: { spec: { templates: [{ name: 'baseline', replicas: 1, template: podTemplate('base') }, { name: 'canary', template: podTemplate('canary') }] } }, images: ['base:1', 'canary:1', 'base-init:1', 'canary-init:1'] },
    // AnalysisTemplateSpec.metrics[].provider.job is a JobMetric: metadata and a batch/v1 JobSpec.
    AnalysisTemplate: { apiVersion: 'argoproj.io/v1alpha1', object: { spec: { metrics: [{ name: 'smoke', provider: { job: { spec: { backoffLimit: 1, template: podTemplate('smoke') } } } }, { name: 'prom', provider: { prometheus: { query: 'up' } } }] } }, images: ['smoke:1', 'smoke-init:1'] },
    ClusterAnalysisTemplate: { apiVersion: 'argoproj.io/v1alpha1', object: { spec: { metrics: [{ name: 'smoke', provider: { job: { spec: { template: podTemplate('smoke') } } } }] } }, images: ['smoke:1', 'smoke-init:1'] },
    // KubeVirt: DomainSpec.firmware.kernelBoot.container (a KernelBootContainer) and containerDisk volumes.
    VirtualMachine: { apiVersion: 'kubevirt.io/v1', object: { spec: { runStrategy: 'Always', template: { spec: { domain: { firmware: { kernelBoot: { kernelArgs: 'console=ttyS0', container: { image: 'kernel:1', kernelPath: '/boot/vmlinuz' } } } }, volumes: [{ name: 'root', containerDisk: { image: 'disk:1' } }, { name: 'data', persistentVolumeClaim: { claimName: 'd' } }] } } } }, images: ['kernel:1', 'disk:1'] },
    VirtualMachineInstance: { apiVersion: 'kubevirt.io/v1', object: { spec: { domain: { firmware: { kernelBoot: { container: { image: 'kernel:1' } } } }, volumes: [{ name: 'root', containerDisk: { image: 'disk:1' } }] } }, images: ['kernel:1', 'disk:1'] },
  };

  test('every known kind reads its images from an object shaped as upstream has it', () => {
    expect(KNOWN_IMAGE_KINDS.map((k) => k.kind).sort()).toEqual(Object.keys(OBJECTS).sort());
    for (const [kind, { apiVersion, object, images }] of Object.entries(OBJECTS)) {
      const known = knownImageKind(apiVersion, kind)!;
      expect(known.kind).toBe(kind);
      expect(imagesAt(object, known.imagePaths).map((f) => f.image)).toEqual(images);
      expect(holdsImages(known, object)).toBe(true);
      expect(holdsImages(known, { spec: {} })).toBe(false);
      // What check suggests is a flag value that parses to these paths.
      const suggestion = workloadResourceFor(known, apiVersion.split('/')[1]!);
      expect(parseWorkloadResource(suggestion).imagePaths).toEqual(known.imagePaths);
      expect(parseFlags([`--workload-resource=${suggestion}`]).action).toBe('run');
    }
    expect(knownImageKind('apps/v1', 'Deployment')).toBeUndefined();
    expect(knownImageKind('v1', 'Workflow')).toBeUndefined();
  });

  test('the suggestions, as README writes them', () => {
    const suggest = (kind: string) => workloadResourceFor(KNOWN_IMAGE_KINDS.find((k) => k.kind === kind)!, kind.startsWith('Virtual') ? 'v1' : 'v1alpha1');
    expect(suggest('Workflow')).toBe(
      'argoproj.io/v1alpha1/workflows:images=spec.templates[*].container,spec.templates[*].script,spec.templates[*].containerSet.containers[*],spec.templates[*].initContainers[*],spec.templates[*].sidecars[*]',
    );
    expect(suggest('CronWorkflow')).toContain('cronworkflows:images=spec.workflowSpec.templates[*].container,');
    expect(suggest('Experiment')).toBe('argoproj.io/v1alpha1/experiments:images=spec.templates[*].template.spec.containers[*],spec.templates[*].template.spec.initContainers[*]');
    expect(suggest('AnalysisTemplate')).toBe(
      'argoproj.io/v1alpha1/analysistemplates:images=spec.metrics[*].provider.job.spec.template.spec.containers[*],spec.metrics[*].provider.job.spec.template.spec.initContainers[*]',
    );
    expect(suggest('VirtualMachine')).toBe('kubevirt.io/v1/virtualmachines:images=spec.template.spec.domain.firmware.kernelBoot.container,spec.template.spec.volumes[*].containerDisk');
  });

  test('the examples in README and deploy/ are valid flags, and say what check suggests', () => {
    const examples = (file: string) => [...readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8').matchAll(/--workload-resource=([^\s'"`]+)/g)].map((m) => m[1]!);
    const suggestions = new Set(KNOWN_IMAGE_KINDS.map((k) => workloadResourceFor(k, k.group === 'kubevirt.io' ? 'v1' : 'v1alpha1')));
    for (const file of ['README.md', 'deploy/03-deployment.yaml']) {
      // The kinds' full examples (a single path or an elided one illustrates the syntax elsewhere).
      const values = examples(file).filter((value) => value.includes(':images=') && value.includes(',') && !value.includes('…'));
      expect(values.length, file).toBeGreaterThanOrEqual(3);
      for (const value of values) {
        expect(() => parseWorkloadResource(value), value).not.toThrow();
        expect(suggestions.has(value), value).toBe(true);
      }
    }
  });
});
