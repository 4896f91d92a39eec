import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { ManifestError, readManifests, type ManifestContents } from '../../src/check/manifests.js';
import { NO_PLACEMENT } from '../../src/platform/placement.js';
import { manifestFailure, readText } from '../support/manifest-reading.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

const read = readText;
const failure = manifestFailure;

/** The images of each workload read, as `kind/name: image, image`. */
function images(contents: ManifestContents): string[] {
  return contents.workloads.map((w) => `${w.kind}/${w.name}: ${w.containers.map((c) => c.image).join(', ')}`);
}

const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  template:
    spec:
      containers:
        - name: app
          image: registry.example.com/web:1.2
`;

describe('readManifests: documents', () => {
  test('a stream of Service, Deployment and ConfigMap gives the one workload, with where it starts', () => {
    const text = `apiVersion: v1
kind: Service
metadata: {name: web}
spec: {ports: [{port: 80}]}
---
${DEPLOYMENT}---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {a: b}
`;
    const contents = read(text);
    expect(contents.workloads).toEqual([
      {
        kind: 'Deployment',
        namespace: 'shop',
        name: 'web',
        containers: [{ name: 'app', image: 'registry.example.com/web:1.2', init: false }],
        imagePullSecrets: [],
        serviceAccountName: 'default',
        placement: NO_PLACEMENT,
        placementKey: '',
        active: true,
        source: 'file.yaml',
        line: 6,
      },
    ]);
    expect(contents.warnings).toEqual([]);
    expect(contents.secrets).toEqual([]);
    expect(contents.serviceAccounts).toEqual([]);
  });

  test('each document is at the line of its first key, comments and markers before it not counted', () => {
    const text = [
      'apiVersion: apps/v1', // 1
      'kind: StatefulSet',
      'metadata: {name: one}',
      'spec: {template: {spec: {containers: [{name: a, image: "one:1"}]}}}',
      '---', // 5
      '# a comment',
      '',
      'apiVersion: apps/v1', // 8
      'kind: DaemonSet',
      'metadata: {name: two}',
      'spec: {template: {spec: {containers: [{name: a, image: "two:1"}]}}}',
      '--- # third', // 12
      'apiVersion: apps/v1', // 13
      'kind: Deployment',
      'metadata: {name: three}',
      'spec: {template: {spec: {containers: [{name: a, image: "three:1"}]}}}',
    ].join('\n');
    expect(read(text).workloads.map((w) => [w.name, w.line])).toEqual([
      ['one', 1],
      ['two', 8],
      ['three', 13],
    ]);
  });

  test('a Helm stream: `# Source:` comments, empty documents and non-objects are skipped, the rest read', () => {
    const text = [
      '---', // 1
      '# Source: chart/templates/notes.yaml', // 2
      '---', // 3
      '# Source: chart/templates/deployment.yaml',
      'apiVersion: apps/v1', // 5
      'kind: Deployment',
      'metadata: {name: web}',
      'spec: {template: {spec: {containers: [{name: app, image: "web:1"}]}}}',
      '---', // 9
      'foo: bar', // 10
      '---',
      'just a string', // 12
      '---',
      '- a list', // 14
      '---',
      '~', // 16
      '---',
      'apiVersion: batch/v1', // 18
      'kind: Job',
      'metadata: {name: migrate}',
      'spec: {template: {spec: {containers: [{name: m, image: "migrate:1"}]}}}',
      '---',
      '',
    ].join('\n');
    const contents = read(text, 'helm.yaml');
    expect(images(contents)).toEqual(['Deployment/web: web:1', 'Job/migrate: migrate:1']);
    expect(contents.workloads.map((w) => w.line)).toEqual([5, 18]);
    expect(contents.warnings).toEqual([
      'helm.yaml:10: not a Kubernetes object (no apiVersion/kind), skipped',
      'helm.yaml:12: not a Kubernetes object (no apiVersion/kind), skipped',
      'helm.yaml:14: not a Kubernetes object (no apiVersion/kind), skipped',
    ]);
  });

  test('an object with an empty or non-string kind or apiVersion is not a Kubernetes object', () => {
    const text = ['kind: Deployment', '---', 'apiVersion: v1', 'kind: ""', '---', 'apiVersion: 1', 'kind: Pod', 'spec: {containers: [{image: x}]}'].join('\n');
    const contents = read(text);
    expect(contents.workloads).toEqual([]);
    expect(contents.warnings).toEqual([
      'file.yaml:1: not a Kubernetes object (no apiVersion/kind), skipped',
      'file.yaml:3: not a Kubernetes object (no apiVersion/kind), skipped',
      'file.yaml:6: not a Kubernetes object (no apiVersion/kind), skipped',
    ]);
  });

  test('an empty text and a comment-only text read as nothing, without warnings', () => {
    expect(readManifests([{ name: 'a', text: '' }, { name: 'b', text: '# nothing\n---\n---\n' }])).toEqual({
      workloads: [],
      secrets: [],
      serviceAccounts: [],
      warnings: [],
      objects: new Map([
        ['a', 0],
        ['b', 0],
      ]),
    });
  });

  test('workloads come in the order of the sources, each with its own name', () => {
    const job = 'apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec: {template: {spec: {containers: [{image: "job:1"}]}}}\n';
    const contents = readManifests([
      { name: 'b.yaml', text: job },
      { name: '-', text: DEPLOYMENT },
    ]);
    expect(contents.workloads.map((w) => [w.source, w.line, w.name])).toEqual([
      ['b.yaml', 1, 'j'],
      ['-', 1, 'web'],
    ]);
  });

  test('an object named only by metadata.generateName (kubectl create) shows its prefix, not a blank name', () => {
    const text = 'apiVersion: batch/v1\nkind: Job\nmetadata: {generateName: build-, namespace: ci}\nspec: {template: {spec: {containers: [{name: c, image: "b:1"}]}}}\n';
    expect(read(text).workloads[0]).toMatchObject({ kind: 'Job', namespace: 'ci', name: 'build-' });
    // A name, when there is one, is the name.
    expect(read(text.replace('generateName: build-', 'name: build-1, generateName: build-')).workloads[0]?.name).toBe('build-1');
  });

  test('a namespace that the manifest does not give stays empty', () => {
    const text = 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: "p:1"}]}\n';
    expect(read(text).workloads[0]).toMatchObject({ namespace: '', name: 'p' });
  });
});

describe('readManifests: kinds and their pod templates', () => {
  const containers = '{containers: [{name: main, image: "IMAGE"}]}';
  test.each([
    ['Pod', 'v1', `spec: ${containers}`],
    ['CronJob', 'batch/v1', `spec: {schedule: "* * * * *", jobTemplate: {spec: {template: {spec: ${containers}}}}}`],
    ['PodTemplate', 'v1', `template: {spec: ${containers}}`],
    ['Job', 'batch/v1', `spec: {template: {spec: ${containers}}}`],
    ['ReplicaSet', 'apps/v1', `spec: {template: {spec: ${containers}}}`],
    ['ReplicationController', 'v1', `spec: {template: {spec: ${containers}}}`],
    ['Rollout', 'argoproj.io/v1alpha1', `spec: {strategy: {canary: {}}, template: {spec: ${containers}}}`],
    ['CloneSet', 'apps.kruise.io/v1alpha1', `spec: {template: {spec: ${containers}}}`],
  ])('%s (%s)', (kind, apiVersion, body) => {
    const image = `registry.example.com/${kind.toLowerCase()}:1`;
    const text = `apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata: {name: w, namespace: ns}\n${body.replace('IMAGE', image)}\n`;
    const [workload, ...others] = read(text).workloads;
    expect(others).toEqual([]);
    expect(workload).toMatchObject({ kind, namespace: 'ns', name: 'w', containers: [{ name: 'main', image, init: false }] });
  });

  test('init containers are read first, marked init; pull secrets, service account and placement too', () => {
    const text = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      serviceAccountName: builder
      imagePullSecrets: [{name: regcred}, {name: ""}, {}, 5]
      nodeSelector: {kubernetes.io/arch: arm64}
      initContainers:
        - {name: setup, image: "setup:1"}
      containers:
        - {name: app, image: "app:1"}
        - {name: sidecar, image: "proxy:2"}
`;
    const [workload] = read(text).workloads;
    expect(workload?.containers).toEqual([
      { name: 'setup', image: 'setup:1', init: true },
      { name: 'app', image: 'app:1', init: false },
      { name: 'sidecar', image: 'proxy:2', init: false },
    ]);
    expect(workload?.imagePullSecrets).toEqual(['regcred']);
    expect(workload?.serviceAccountName).toBe('builder');
    expect(workload?.placement.nodeSelector).toEqual({ 'kubernetes.io/arch': 'arm64' });
    expect(workload?.placementKey).not.toBe('');
  });

  test('the deprecated serviceAccount field names the account when serviceAccountName does not', () => {
    const text = 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {serviceAccount: old, containers: [{image: "p:1"}]}\n';
    expect(read(text).workloads[0]?.serviceAccountName).toBe('old');
  });

  test('kinds without a pod template are ignored silently: Service, CRD, Kustomization, a template without containers', () => {
    const text = [
      'apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {template: {spec: {}}}',
      'apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: c}\nspec: {group: x}',
      'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nimages: [{name: x, newTag: "1"}]',
      'apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {template: {spec: {volumes: []}}}',
    ].join('\n---\n');
    const contents = read(text);
    expect(contents.workloads).toEqual([]);
    expect(contents.warnings).toEqual([]);
  });
});

describe('readManifests: lists', () => {
  test('a List: each item is an object, at its own line; nested lists too', () => {
    const text = [
      'apiVersion: v1', // 1
      'kind: List',
      'items:',
      '  - apiVersion: apps/v1', // 4
      '    kind: Deployment',
      '    metadata: {name: a}',
      '    spec: {template: {spec: {containers: [{image: "a:1"}]}}}',
      '  - apiVersion: v1', // 8
      '    kind: Service',
      '    metadata: {name: s}',
      '  - {kind: Deployment}', // 11: no apiVersion, and a List does not give one
      '  - apiVersion: v1', // 12
      '    kind: List',
      '    items:',
      '      - apiVersion: batch/v1', // 15
      '        kind: Job',
      '        metadata: {name: b}',
      '        spec: {template: {spec: {containers: [{image: "b:1"}]}}}',
    ].join('\n');
    const contents = read(text);
    expect(images(contents)).toEqual(['Deployment/a: a:1', 'Job/b: b:1']);
    expect(contents.workloads.map((w) => w.line)).toEqual([4, 15]);
    expect(contents.warnings).toEqual(['file.yaml:11: not a Kubernetes object (no apiVersion/kind), skipped']);
  });

  test('the items of a typed list (as the API returns them) take their kind and apiVersion from it', () => {
    const text = [
      'apiVersion: apps/v1', // 1
      'kind: DeploymentList',
      'metadata: {resourceVersion: "1"}',
      'items:',
      '- metadata: {name: a, namespace: x}', // 5
      '  spec: {template: {spec: {containers: [{image: "a:1"}]}}}',
      '- metadata: {name: b, namespace: y}', // 7
      '  spec: {template: {spec: {containers: [{image: "b:1"}]}}}',
    ].join('\n');
    const contents = read(text);
    expect(contents.workloads.map((w) => [w.kind, w.namespace, w.name, w.line])).toEqual([
      ['Deployment', 'x', 'a', 5],
      ['Deployment', 'y', 'b', 7],
    ]);
    expect(contents.warnings).toEqual([]);
  });

  test('a typed list of secrets gives the secrets (their apiVersion from the list)', () => {
    const text = JSON.stringify({
      apiVersion: 'v1',
      kind: 'SecretList',
      items: [{ metadata: { name: 'regcred' }, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': b64('{}') } }],
    });
    expect(read(text, 'secrets.json').secrets.map((s) => s.name)).toEqual(['regcred']);
  });

  test('a List whose items are not an array is ignored', () => {
    const contents = read('apiVersion: v1\nkind: List\nitems: "x"\n');
    expect(contents).toEqual({ workloads: [], secrets: [], serviceAccounts: [], warnings: [], objects: new Map([['file.yaml', 1]]) });
  });
});

describe('readManifests: JSON', () => {
  test('a single JSON object', () => {
    const object = {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'db', namespace: 'data' },
      spec: { template: { spec: { containers: [{ name: 'pg', image: 'postgres:16' }] } } },
    };
    const contents = read(JSON.stringify(object, null, 2), 'db.json');
    expect(contents.workloads).toMatchObject([{ kind: 'StatefulSet', namespace: 'data', name: 'db', source: 'db.json', line: 1 }]);
    expect(images(contents)).toEqual(['StatefulSet/db: postgres:16']);
  });

  test('a JSON List, its items at their lines', () => {
    const deployment = (name: string) => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name },
      spec: { template: { spec: { containers: [{ image: `${name}:1` }] } } },
    });
    const text = JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [deployment('a'), deployment('b')] }, null, 2);
    const lines = text.split('\n');
    const starts = lines.flatMap((line, i) => (line === '    {' ? [i + 1] : []));
    const contents = read(text, 'list.json');
    expect(images(contents)).toEqual(['Deployment/a: a:1', 'Deployment/b: b:1']);
    expect(starts).toHaveLength(2);
    expect(contents.workloads.map((w) => w.line)).toEqual(starts);
  });
});

describe('readManifests: YAML features', () => {
  test('a duplicate key: the last one wins, as with kubectl', () => {
    const text = 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{image: "old:1"}]\n  containers: [{image: "new:1"}]\n';
    expect(images(read(text))).toEqual(['Pod/p: new:1']);
  });

  test('anchors, aliases and merge keys are expanded', () => {
    const text = `apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
    - &base {name: a, image: "shared:1"}
    - <<: *base
      name: b
`;
    expect(read(text).workloads[0]?.containers).toEqual([
      { name: 'a', image: 'shared:1', init: false },
      { name: 'b', image: 'shared:1', init: false },
    ]);
  });
});

describe('readManifests: pull secrets and service accounts', () => {
  const config = JSON.stringify({ auths: { 'registry.example.com': { auth: b64('alice:pw') } } });

  test('a dockerconfigjson secret with data', () => {
    const text = `apiVersion: v1
kind: Secret
metadata: {name: regcred, namespace: shop}
type: kubernetes.io/dockerconfigjson
data:
  .dockerconfigjson: ${b64(config)}
`;
    expect(read(text).secrets).toEqual([
      { namespace: 'shop', name: 'regcred', type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': b64(config) } },
    ]);
  });

  test('stringData is base64-encoded and wins over data per key; non-string values are dropped', () => {
    const text = `apiVersion: v1
kind: Secret
metadata: {name: legacy}
type: kubernetes.io/dockercfg
data:
  .dockercfg: ${b64('{"old": {}}')}
  other: ${b64('kept')}
  number: 5
stringData:
  .dockercfg: '{"new.example.com": {"auth": "${b64('u:p')}"}}'
  list: [1]
`;
    const [secret] = read(text).secrets;
    expect(secret).toEqual({
      namespace: '',
      name: 'legacy',
      type: 'kubernetes.io/dockercfg',
      data: { '.dockercfg': b64(`{"new.example.com": {"auth": "${b64('u:p')}"}}`), other: b64('kept') },
    });
  });

  test('secrets of other types, or not core v1, are ignored', () => {
    const text = [
      'apiVersion: v1\nkind: Secret\nmetadata: {name: tls}\ntype: kubernetes.io/tls\ndata: {tls.crt: eA==}',
      'apiVersion: v1\nkind: Secret\nmetadata: {name: opaque}\nstringData: {password: x}',
      'apiVersion: example.com/v1\nkind: Secret\nmetadata: {name: other}\ntype: kubernetes.io/dockerconfigjson\nstringData: {.dockerconfigjson: "{}"}',
    ].join('\n---\n');
    const contents = read(text);
    expect(contents.secrets).toEqual([]);
    expect(contents.warnings).toEqual([]);
  });

  test('service accounts give their non-empty pull secret names', () => {
    const text = `apiVersion: v1
kind: ServiceAccount
metadata: {name: builder, namespace: ci}
imagePullSecrets: [{name: regcred}, {name: ""}, {name: 5}, null, {name: mirror}]
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: plain}
`;
    expect(read(text).serviceAccounts).toEqual([
      { namespace: 'ci', name: 'builder', imagePullSecrets: ['regcred', 'mirror'] },
      { namespace: '', name: 'plain', imagePullSecrets: [] },
    ]);
  });

  test('no secret value appears in a warning or an error', () => {
    const password = 'hunter2-s3cr3t';
    const secret = `apiVersion: v1
kind: Secret
metadata: {name: regcred}
type: kubernetes.io/dockerconfigjson
stringData:
  .dockerconfigjson: '{"auths": {"r.example.com": {"username": "u", "password": "${password}"}}}'
`;
    const texts = [
      `${secret}---\npassword: ${password}\n`, // a non-object: warned about
      `${secret}---\nkey: [unclosed ${password}\n`, // a syntax error after the secret
      `${secret}  broken: |${password}\n    x\n`, // a syntax error whose parser message would quote the text
      `${secret}  bad: "\\q${password}"\n`, // an invalid escape, quoted by the parser too
    ];
    for (const text of texts) {
      let said: string[];
      try {
        said = read(text).warnings.slice();
      } catch (error) {
        expect(error).toBeInstanceOf(ManifestError);
        said = [(error as ManifestError).message];
      }
      expect(said.length).toBeGreaterThan(0);
      for (const message of said) expect(message).not.toContain(password);
    }
  });
});

describe('readManifests: errors', () => {
  test('a syntax error names the source and the line of the error', () => {
    const text = `${DEPLOYMENT}---\napiVersion: v1\nkind: ConfigMap\ndata:\n  a: b\n c: d\n  e: f\n`;
    const error = failure(text);
    const line = text.split('\n').indexOf(' c: d') + 1;
    expect(line).toBe(17);
    expect(error.source).toBe('file.yaml');
    expect(error.line).toBe(line);
    expect(error.message).toContain(`file.yaml:${line}: invalid YAML`);
  });

  test('bad indentation in the first document', () => {
    const error = failure('apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - image: a\n   name: b\n', 'pod.yaml');
    expect(error.message).toMatch(/^pod\.yaml:6: invalid YAML: /);
  });

  test('an alias bomb fails fast instead of expanding', () => {
    const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 10; i++) {
      const previous = String.fromCharCode(96 + i);
      levels.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${previous}`).join(',')}]`);
    }
    // Refused as it is counted, before anything is expanded (no clock: 9^9 copies would never end).
    const error = failure(`apiVersion: v1\nkind: ConfigMap\n${levels.join('\n')}\n`, 'bomb.yaml');
    expect(error.message).toMatch(/^bomb\.yaml:1: YAML aliases expand to more than \d+ copies/);
  });

  test('an alias naming no anchor before it', () => {
    expect(failure('apiVersion: v1\nkind: ConfigMap\ndata: {a: *later, b: &later x}\n').message).toBe(
      'file.yaml:1: invalid YAML: an alias names no anchor before it',
    );
  });

  test('nesting too deep to read is an error, not a crash', () => {
    const depth = 100_000;
    const error = failure(`apiVersion: v1\nkind: ConfigMap\ndata: ${'['.repeat(depth)}${']'.repeat(depth)}\n`);
    expect(error.message).toMatch(/^file\.yaml:3: nested more than \d+ levels deep$/);
    // Ordinary nesting, far deeper than any manifest, still reads.
    expect(() => read(`a: ${'['.repeat(150)}${']'.repeat(150)}`)).not.toThrow();
  });

  test('ManifestError without a line', () => {
    expect(new ManifestError('x.yaml', undefined, 'problem').message).toBe('x.yaml: problem');
    expect(new ManifestError('x.yaml', 3, 'problem').message).toBe('x.yaml:3: problem');
  });
});

describe('readManifests: hostile values', () => {
  test.each([
    ['spec: 5', 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: 5'],
    ['template: []', 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {template: []}'],
    ['containers: null', 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {template: {spec: {containers: null}}}'],
    ['Pod spec: null', 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: null'],
    ['CronJob jobTemplate: "x"', 'apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec: {jobTemplate: "x"}'],
    ['items: "x"', 'apiVersion: v1\nkind: List\nitems: "x"'],
    ['items: null', 'apiVersion: v1\nkind: DeploymentList\nitems: null'],
    ['data: []', 'apiVersion: v1\nkind: Secret\ntype: kubernetes.io/dockerconfigjson\ndata: []\nstringData: 5'],
    ['imagePullSecrets: 5', 'apiVersion: v1\nkind: ServiceAccount\nmetadata: 7\nimagePullSecrets: 5'],
  ])('%s: no workload, no exception', (_what, text) => {
    expect(read(text).workloads).toEqual([]);
  });

  test('wrongly typed fields of a pod spec are dropped, the rest read', () => {
    const text = `apiVersion: v1
kind: Pod
metadata: {name: [x], namespace: 5}
spec:
  serviceAccountName: 7
  imagePullSecrets: {name: x}
  nodeSelector: [a]
  affinity: 5
  tolerations: "x"
  initContainers: {name: x}
  containers: [null, 5, "x", {name: 1, image: 2}, {name: ok, image: "ok:1"}]
`;
    const [workload] = read(text).workloads;
    expect(workload).toMatchObject({
      namespace: '',
      name: '',
      containers: [
        { name: '', image: '', init: false },
        { name: 'ok', image: 'ok:1', init: false },
      ],
      imagePullSecrets: [],
      serviceAccountName: 'default',
      placementKey: '',
    });
  });

  test('keys named like Object.prototype properties are data, not prototypes', () => {
    const text = `apiVersion: v1
kind: Secret
metadata: {name: s}
type: kubernetes.io/dockerconfigjson
stringData: {__proto__: x, constructor: y}
---
apiVersion: v1
kind: Pod
metadata: {name: p}
__proto__: {spec: {containers: [{image: "evil:1"}]}}
`;
    const contents = read(text);
    expect(contents.secrets[0]?.data).toEqual(Object.fromEntries([['__proto__', b64('x')], ['constructor', b64('y')]]));
    expect(Object.getPrototypeOf(contents.secrets[0]?.data)).toBe(Object.prototype);
    expect(contents.workloads).toEqual([]);
  });

  test('any text either reads or fails with a ManifestError', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (text) => {
        try {
          read(text);
        } catch (error) {
          expect(error).toBeInstanceOf(ManifestError);
        }
      }),
      { numRuns: 500 },
    );
  });

  test('any JSON value in a workload, list or secret reads without an exception', () => {
    const shapes = (value: unknown) => [
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: value },
      { apiVersion: 'v1', kind: 'Pod', spec: { containers: value, initContainers: [value], imagePullSecrets: value } },
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: value, spec: { template: { spec: { containers: [value] } } } },
      { apiVersion: 'batch/v1', kind: 'CronJob', spec: { jobTemplate: { spec: { template: value } } } },
      { apiVersion: 'v1', kind: 'List', items: [value, { kind: 'Pod', apiVersion: 'v1', spec: value }] },
      { apiVersion: 'apps/v1', kind: 'DeploymentList', items: [value] },
      { apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/dockerconfigjson', data: value, stringData: value },
      { apiVersion: 'v1', kind: 'ServiceAccount', imagePullSecrets: [value] },
    ];
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => {
        for (const object of shapes(value)) {
          const contents = read(JSON.stringify(object));
          for (const workload of contents.workloads) {
            for (const container of workload.containers) expect(typeof container.image).toBe('string');
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
