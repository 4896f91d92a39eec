import { describe, expect, test } from 'vitest';
import { FlagError, parseCheckFlags, parseFlags, parseWorkloadResource, type Config } from '../../src/flags/config.js';

const config = (argv: string[]): Config => {
  const outcome = parseFlags(argv);
  if (outcome.action !== 'run') throw new Error('not a run');
  return outcome.config;
};

describe('which workloads: flags', () => {
  test('defaults: all namespaces, every built-in kind, inactive workloads included', () => {
    expect(config([])).toMatchObject({
      namespaceScope: { all: true },
      workloadKinds: ['Deployment', 'StatefulSet', 'DaemonSet', 'CronJob', 'Job', 'Pod'],
      customResources: [],
      skipInactiveWorkloads: false,
    });
  });

  test('--namespace: repeatable and comma-separated, de-duplicated and sorted', () => {
    expect(config(['--namespace=team-b,team-a', '--namespace', 'team-a']).namespaceScope).toEqual({ names: ['team-a', 'team-b'] });
  });

  test('--namespace-selector: parsed into a label selector', () => {
    const scope = config(['--namespace-selector=team in (b,a),image-checks!=off']).namespaceScope;
    expect('selector' in scope && scope.selector.text).toBe('image-checks!=off,team in (a,b)');
    expect('selector' in scope && scope.selector.matches({ team: 'a' })).toBe(true);
    expect('selector' in scope && scope.selector.matches({ team: 'a', 'image-checks': 'off' })).toBe(false);
  });

  test('--workload-resource: group/version/resource and an optional template path', () => {
    expect(parseWorkloadResource('argoproj.io/v1alpha1/rollouts')).toEqual({ group: 'argoproj.io', version: 'v1alpha1', resource: 'rollouts', templatePath: ['spec', 'template'], imagePaths: [] });
    expect(parseWorkloadResource('example.com/v1/workers:spec.workload.template')).toMatchObject({ templatePath: ['spec', 'workload', 'template'] });
    expect(config(['--workload-resource=a.io/v1/x', '--workload-resource=b.io/v2/y']).customResources).toHaveLength(2);
  });

  test('--workload-kinds: any case, only built-in kinds', () => {
    expect(config(['--workload-kinds=deployment,CRONJOB']).workloadKinds).toEqual(['Deployment', 'CronJob']);
  });

  test.each([
    [['--namespace=Team_A'], 'namespace'],
    [['--namespace=,'], 'namespace'],
    [['--namespace=a', '--namespace-selector=x=y'], 'namespace-selector'],
    [['--namespace-selector=team in (a'], 'namespace-selector'],
    [['--namespace-selector=a b'], 'namespace-selector'],
    [['--workload-resource=rollouts'], 'workload-resource'],
    [['--workload-resource=Argoproj.io/v1/rollouts'], 'workload-resource'],
    [['--workload-resource=a.io/v1/x:spec..template'], 'workload-resource'],
    [['--workload-kinds=Deployment,ReplicaSet'], 'workload-kinds'],
    [['--skip-inactive-workloads=sometimes'], 'skip-inactive-workloads'],
  ])('%j is a FlagError naming --%s', (argv, flag) => {
    expect(() => parseFlags(argv)).toThrow(FlagError);
    expect(() => parseFlags(argv)).toThrow(`--${flag}`);
  });

  test('check: the flags that choose a cluster\'s workloads apply only with --cluster', () => {
    expect(() => parseCheckFlags(['--namespace=a', 'x.yaml'])).toThrow('--namespace: applies only with --cluster');
    expect(parseCheckFlags(['--cluster', '--namespace=a', '--skip-inactive-workloads'])).toMatchObject({ config: { namespaceScope: { names: ['a'] }, skipInactiveWorkloads: true } });
  });
});

describe("the nodes' own pull configuration", () => {
  test('one file, named by its flag, in both commands', () => {
    expect(config(['--containerd-hosts-dir=/etc/containerd/certs.d']).nodePullConfig).toEqual({ flag: 'containerd-hosts-dir', path: '/etc/containerd/certs.d' });
    const check = parseCheckFlags(['--registries-conf', '/etc/containers/registries.conf', 'x.yaml']);
    expect(check.action === 'check' && check.config.nodePullConfig).toEqual({ flag: 'registries-conf', path: '/etc/containers/registries.conf' });
    expect(config([]).nodePullConfig).toBeUndefined();
  });

  test('two descriptions of where nodes pull from are refused, naming the flag', () => {
    expect(() => parseFlags(['--containerd-hosts-dir=/d', '--registries-conf=/f'])).toThrow(FlagError);
    expect(() => parseFlags(['--containerd-hosts-dir=/d', '--registries-conf=/f'])).toThrow(/--registries-conf.*--containerd-hosts-dir/);
    expect(() => parseFlags(['--registries-conf=/f', '--image-mirror=docker.io=mirror.example.com'])).toThrow(/--image-mirror.*--registries-conf/);
    expect(() => parseCheckFlags(['--containerd-hosts-dir=/d', '--image-mirror-only=docker.io=m.example.com', 'x.yaml'])).toThrow(/--image-mirror-only/);
    // --default-registry is about names without a registry, which the files do not describe: kept.
    expect(config(['--containerd-hosts-dir=/d', '--default-registry=r.example.com']).nodePullConfig?.flag).toBe('containerd-hosts-dir');
  });
});
