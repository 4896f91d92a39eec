import { describe, expect, test } from 'vitest';
import { keepUnchanged, type Workload } from '../../src/kubernetes/workloads.js';
import { NO_PLACEMENT, placementKey, placementOf } from '../../src/platform/placement.js';

function workload(name: string, image: string, extra: Partial<Workload> = {}): Workload {
  return {
    kind: 'Deployment',
    namespace: 'a',
    name,
    containers: [{ name: 'c', image, init: false }],
    imagePullSecrets: [],
    serviceAccountName: 'default',
    placement: NO_PLACEMENT,
    placementKey: '',
    active: true,
    ...extra,
  };
}

describe('keepUnchanged: identity across listings means "unchanged"', () => {
  test('an unchanged workload is the previous object; new and changed ones are the new objects', () => {
    const same = workload('same', 'app:1');
    const changed = workload('changed', 'app:1');
    const previous = [same, changed, workload('deleted', 'app:1')];
    const next = [workload('same', 'app:1'), workload('changed', 'app:2'), workload('added', 'app:1')];
    const kept = keepUnchanged(previous, [...next]);
    expect(kept[0]).toBe(same);
    expect(kept[1]).toBe(next[1]);
    expect(kept[2]).toBe(next[2]);
    expect(kept.map((w) => w.name)).toEqual(['same', 'changed', 'added']);
  });

  test.each<[string, Partial<Workload>]>([
    ['a container name', { containers: [{ name: 'd', image: 'app:1', init: false }] }],
    ['an init flag', { containers: [{ name: 'c', image: 'app:1', init: true }] }],
    ['one more container', { containers: [{ name: 'c', image: 'app:1', init: false }, { name: 'e', image: 'app:1', init: false }] }],
    ['a pull secret', { imagePullSecrets: ['regcred'] }],
    ['the service account', { serviceAccountName: 'builder' }],
    ['the kind', { kind: 'StatefulSet' }],
    ['the placement', { placement: placementOf({ nodeSelector: { 'kubernetes.io/arch': 'arm64' } }), placementKey: placementKey(placementOf({ nodeSelector: { 'kubernetes.io/arch': 'arm64' } })) }],
    ['whether it runs pods', { active: false }],
  ])('a change of %s makes a new object', (_what, change) => {
    const before = workload('web', 'app:1');
    const after = workload('web', 'app:1', change);
    expect(keepUnchanged([before], [after])[0]).toBe(after);
  });

  test('the same name in another namespace is another workload', () => {
    const before = workload('web', 'app:1');
    const after = workload('web', 'app:1', { namespace: 'b' });
    expect(keepUnchanged([before], [after])[0]).toBe(after);
  });
});
