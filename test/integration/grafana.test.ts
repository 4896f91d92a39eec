/**
 * deploy/grafana/: the dashboard has the structure Grafana needs, the ConfigMap carries exactly
 * dashboard.json, and every query of every panel and variable, with Grafana's variables filled in,
 * runs on a real Prometheus (Debian's package) scraping the real exporter, which checks a real
 * registry for a known cluster, and returns the series that cluster should show.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { startKubeApi, type KubeApi } from '../support/kube-api.js';
import { cronJob, daemonSet, deployment, statefulSet } from '../support/objects.js';
import { startExporter, type RunningExporter } from '../support/exporter.js';
import { startPrometheus, type RunningPrometheus } from '../support/prometheus.js';
import { pushImage } from '../support/push.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';

const DASHBOARD = fileURLToPath(new URL('../../deploy/grafana/dashboard.json', import.meta.url));
const CONFIGMAP = fileURLToPath(new URL('../../deploy/grafana/configmap.yaml', import.meta.url));
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };
/** What prometheus-operator names the job of the shipped PodMonitor (namespace/name). */
const JOB = 'kube-system/image-existence-exporter';
/** The scrape timeout of the test's Prometheus: what scrape_timeout_seconds must read. */
const SCRAPE_TIMEOUT_SECONDS = 1;

interface GridPos {
  x: number;
  y: number;
  w: number;
  h: number;
}
interface Target {
  refId?: string;
  expr?: string;
  datasource?: unknown;
  legendFormat?: string;
  instant?: boolean;
  range?: boolean;
  format?: string;
}
interface Panel {
  id?: number;
  type?: string;
  title?: string;
  description?: string;
  datasource?: unknown;
  gridPos?: GridPos;
  targets?: Target[];
  panels?: Panel[];
  transformations?: Array<{ id: string; options: Record<string, any> }>;
}
interface Variable {
  name: string;
  type: string;
  query: unknown;
  datasource?: unknown;
  multi?: boolean;
  includeAll?: boolean;
  allValue?: string;
}
interface Dashboard {
  uid?: string;
  title?: string;
  schemaVersion?: unknown;
  editable?: boolean;
  refresh?: string;
  time?: { from: string; to: string };
  tags?: string[];
  panels: Panel[];
  templating: { list: Variable[] };
}

const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as Dashboard;
/** Every panel, those inside collapsed rows included. */
const panels: Panel[] = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
const queryPanels = panels.filter((p) => p.type !== 'row');
const variables = new Map(dashboard.templating.list.map((v) => [v.name, v]));

/** Metrics only the exporter's own scrape produces: every selector of them must filter on $job. */
const JOB_SCOPED = /\b(k8s_image_existence_exporter_\w+|up|scrape_\w+|process_\w+|nodejs_\w+)\{([^}]*)\}|\b(k8s_image_existence_exporter_\w+|up|scrape_\w+|process_\w+|nodejs_\w+)\b(?!\{|\s*\()/g;

describe('dashboard.json has the structure Grafana needs', () => {
  test('identity, time, refresh and the three variables', () => {
    expect(dashboard.uid).toBe('k8s-image-existence');
    expect(dashboard.title).toBe('Image existence');
    expect(typeof dashboard.schemaVersion).toBe('number');
    expect(dashboard.editable).toBe(true);
    expect(dashboard.refresh).toBe('1m');
    expect(dashboard.time).toEqual({ from: 'now-6h', to: 'now' });
    expect(dashboard.tags?.length).toBeGreaterThan(0);

    expect([...variables.keys()].sort()).toEqual(['datasource', 'job', 'namespace']);
    expect(variables.get('datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    for (const name of ['job', 'namespace']) {
      const variable = variables.get(name)!;
      expect(variable.type, name).toBe('query');
      expect(variable.datasource, name).toEqual(DATASOURCE);
      expect(variable.query, name).toMatch(/^label_values\(.+, \w+\)$/);
    }
    expect(variables.get('namespace')).toMatchObject({ multi: true, includeAll: true, allValue: '.*' });
  });

  test('panels: unique ids, a type, a title, a description, a place on the grid that no other panel takes', () => {
    const ids = panels.map((p) => p.id);
    for (const id of ids) expect(typeof id).toBe('number');
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(panels.map((p) => p.title)).size).toBe(panels.length);
    for (const panel of panels) {
      expect(panel.type, JSON.stringify(panel.title)).toMatch(/^[a-z-]+$/);
      expect(panel.title, String(panel.id)).toMatch(/\S/);
      expect(panel.description, panel.title).toMatch(/\S/);
      const g = panel.gridPos!;
      expect(g, panel.title).toBeDefined();
      for (const n of [g.x, g.y, g.w, g.h]) expect(Number.isInteger(n) && n >= 0, panel.title).toBe(true);
      expect(g.w > 0 && g.h > 0 && g.x + g.w <= 24, panel.title).toBe(true);
    }
    const top = dashboard.panels;
    for (let i = 0; i < top.length; i++) {
      for (let j = i + 1; j < top.length; j++) {
        const a = top[i]!.gridPos!;
        const b = top[j]!.gridPos!;
        const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
        expect(overlap, `${top[i]!.title} overlaps ${top[j]!.title}`).toBe(false);
      }
    }
  });

  test('targets: a refId unique within the panel, an expr, the ${datasource} data source, $job and $namespace filters', () => {
    for (const panel of queryPanels) {
      const targets = panel.targets ?? [];
      expect(targets.length, panel.title).toBeGreaterThan(0);
      expect(panel.datasource, panel.title).toEqual(DATASOURCE);
      const refIds = targets.map((t) => t.refId);
      expect(new Set(refIds).size, panel.title).toBe(refIds.length);
      for (const target of targets) {
        const where = `${panel.title} ${target.refId}`;
        expect(target.refId, where).toMatch(/^[A-Z]$/);
        expect(target.expr, where).toMatch(/\S/);
        expect(target.datasource, where).toEqual(DATASOURCE);
        for (const m of target.expr!.matchAll(JOB_SCOPED)) {
          expect(m[2] ?? '', `${where}: ${m[0]} must filter on job=~"$job"`).toContain('job=~"$job"');
          if ((m[1] ?? m[3]) === 'k8s_image_existence_exporter_image_check_status') {
            expect(m[2] ?? '', `${where}: ${m[0]} must filter on namespace=~"$namespace"`).toContain('namespace=~"$namespace"');
          }
        }
      }
    }
  });

  test('the absent-images table shows the labels of its query as columns and hides Time and Value', () => {
    const table = panels.find((p) => p.title === 'Absent images')!;
    expect(table.type).toBe('table');
    expect(table.targets![0]).toMatchObject({ instant: true, format: 'table' });
    const by = /max by \(([^)]*)\)/.exec(table.targets![0]!.expr!)![1]!.split(',').map((s) => s.trim());
    const organize = table.transformations!.find((t) => t.id === 'organize')!;
    expect(organize.options.excludeByName).toEqual({ Time: true, Value: true });
    expect(Object.keys(organize.options.renameByName).sort()).toEqual([...by].sort());
    expect(Object.values(organize.options.renameByName)).toEqual(['Kind', 'Namespace', 'Owner', 'Container', 'Image']);
    expect(Object.keys(organize.options.indexByName).sort()).toEqual([...by].sort());
  });
});

test('configmap.yaml is a ConfigMap for the Grafana sidecar carrying exactly dashboard.json', async () => {
  const text = await readFile(CONFIGMAP, 'utf8');
  const doc = parseYaml(text) as { apiVersion: string; kind: string; metadata: any; data: Record<string, string> };
  expect(doc).toMatchObject({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { namespace: 'monitoring', labels: { grafana_dashboard: '1' } } });
  expect(Object.keys(doc.data)).toEqual(['image-existence.json']);
  expect(JSON.parse(doc.data['image-existence.json']!), 'run: node deploy/grafana/render-configmap.mjs').toEqual(dashboard);
  // Byte for byte: render-configmap.mjs wrote it.
  expect(doc.data['image-existence.json'], 'run: node deploy/grafana/render-configmap.mjs').toBe(await readFile(DASHBOARD, 'utf8'));
  expect(text).toMatch(/^# .*kubectl apply -f deploy\//m);
});

// ---------------------------------------------------------------------------------------------
// The queries, on real data.

type Series = { metric: Record<string, string>; value: [number, string] };
type Vector = Series[];
interface Vars {
  namespace: string;
  job: string;
}
/** Results of one panel: by refId, for each value of $namespace the test selects. */
type PanelResults = Record<string, Record<'all' | 'shop' | 'other', Vector>>;
interface Cluster {
  registry: string;
  /** Runs a query with the variables filled in (for expectations that try other values). */
  run(expr: string, vars: Partial<Vars>): Promise<Vector>;
}

const NAMESPACES = { all: '.*', shop: 'shop', other: 'other' } as const;
const num = (s: Series) => Number(s.value[1]);
/** `{label value: sample value}` of a one-label result. */
const byLabel = (v: Vector, label: string) => Object.fromEntries(v.map((s) => [s.metric[label], num(s)]));
const jobOnly = (v: Vector) => {
  expect(v).toHaveLength(1);
  expect(v[0]!.metric).toMatchObject({ job: JOB });
  return num(v[0]!);
};

/**
 * What each panel must show for the cluster of beforeAll. Keyed by panel title: a panel added
 * to the dashboard without an entry here fails the test.
 */
const expectations: Record<string, (r: PanelResults, c: Cluster) => void | Promise<void>> = {
  'Workload lists': (r) => {
    for (const ns of ['all', 'shop', 'other'] as const) {
      expect(byLabel(r.A![ns], 'kind')).toEqual({ Deployment: 1, StatefulSet: 1, DaemonSet: 1, CronJob: 1, Job: 1, Pod: 1 });
      for (const s of r.A![ns]) expect(Object.keys(s.metric)).toEqual(['kind']);
    }
  },
  'Exporter up': (r) => {
    expect(jobOnly(r.A!.all)).toBe(1);
  },
  'Absent images': (r, c) => {
    const row = { namespace: 'shop', owner_kind: 'StatefulSet', owner_name: 'db', container: 'db', image: `${c.registry}/shop/db:gone` };
    for (const ns of ['all', 'shop'] as const) {
      expect(r.A![ns].map((s) => s.metric)).toEqual([row]);
      expect(num(r.A![ns][0]!)).toBe(1);
    }
    expect(r.A!.other).toEqual([]);
  },
  'Checks by status over time': (r) => {
    expect(byLabel(r.A!.all, 'status')).toEqual({ present: 2, absent: 1, registry_unavailable: 1, bad_reference: 1 });
    expect(byLabel(r.A!.shop, 'status')).toEqual({ present: 1, absent: 1, registry_unavailable: 1 });
    expect(byLabel(r.A!.other, 'status')).toEqual({ present: 1, bad_reference: 1 });
  },
  'Failing checks by registry': async (r, c) => {
    const rows = (v: Vector) =>
      v.map((s): Record<string, string | number> => ({ ...s.metric, value: num(s) })).sort((a, b) => String(a.registry).localeCompare(String(b.registry)));
    const unreachable = { registry: '127.0.0.1:1', status: 'registry_unavailable', value: 1 };
    const hub = { registry: 'docker.io', status: 'bad_reference', value: 1 };
    expect(rows(r.A!.all)).toEqual([unreachable, hub]);
    expect(rows(r.A!.shop)).toEqual([unreachable]);
    expect(rows(r.A!.other)).toEqual([hub]);

    // The panel's registry rule, run by Prometheus on images the cluster does not have: the
    // first path component when it looks like a host (the kubelet's rule), else Docker Hub.
    const expr = panels.find((p) => p.title === 'Failing checks by registry')!.targets![0]!.expr!;
    const selector = /k8s_image_existence_exporter_image_check_status\{[^}]*\}/;
    expect(expr).toMatch(selector);
    const digest = `sha256:${'a'.repeat(64)}`;
    const registryOf: Record<string, string> = {
      nginx: 'docker.io',
      'nginx:1.27': 'docker.io',
      [`nginx@${digest}`]: 'docker.io',
      'library/nginx:1.27': 'docker.io',
      [`bitnami/redis:7@${digest}`]: 'docker.io',
      'docker.io/library/nginx:1.27': 'docker.io',
      'ghcr.io/org/team/app:1': 'ghcr.io',
      'registry.example.com:5000/team/app:1': 'registry.example.com:5000',
      'myhost:5000/app': 'myhost:5000',
      '127.0.0.1:1/x:1': '127.0.0.1:1',
      'localhost/app:1': 'localhost',
      'localhost:5000/app': 'localhost:5000',
      '[::1]:5000/app:1': '[::1]:5000',
      'MyRegistry/app:1': 'MyRegistry',
    };
    for (const [image, registry] of Object.entries(registryOf)) {
      const synthetic = `label_replace(label_replace(vector(1), "image", "${image}", "", ""), "status", "registry_unavailable", "", "")`;
      const result = await c.run(expr.replace(selector, synthetic), {});
      expect(result.map((s) => s.metric), image).toEqual([{ registry, status: 'registry_unavailable' }]);
    }
  },
  'Scrape and collection duration': async (r, c) => {
    const scrape = jobOnly(r.A!.all);
    expect(scrape).toBeGreaterThan(0);
    expect(scrape).toBeLessThanOrEqual(SCRAPE_TIMEOUT_SECONDS);
    const collection = jobOnly(r.B!.all);
    expect(collection).toBeGreaterThanOrEqual(0);
    expect(collection).toBeLessThanOrEqual(SCRAPE_TIMEOUT_SECONDS);
    // This Prometheus runs with --enable-feature=extra-scrape-metrics: the real timeout, no assumed line.
    expect(jobOnly(r.C!.all)).toBe(SCRAPE_TIMEOUT_SECONDS);
    expect(r.D!.all).toEqual([]);
    // Without scrape_timeout_seconds for the job, the assumed 10s of the PodMonitor instead.
    const target = (refId: string) => panels.find((p) => p.title === 'Scrape and collection duration')!.targets!.find((t) => t.refId === refId)!.expr!;
    expect(await c.run(target('C'), { job: 'no-such-job' })).toEqual([]);
    const assumed = await c.run(target('D'), { job: 'no-such-job' });
    expect(assumed.map((s) => [s.metric, num(s)])).toEqual([[{}, 10]]);
  },
  'Pending checks': (r) => {
    expect(jobOnly(r.A!.all)).toBeGreaterThanOrEqual(0);
  },
  'Completed rechecks': (r) => {
    // --check-interval=2s: rounds complete every few seconds.
    expect(jobOnly(r.A!.all)).toBeGreaterThan(0);
  },
  'Process CPU and memory': (r) => {
    expect(jobOnly(r.A!.all)).toBeGreaterThan(0);
    expect(jobOnly(r.B!.all)).toBeGreaterThan(10 * 2 ** 20);
    expect(jobOnly(r.C!.all)).toBeGreaterThan(2 ** 20);
  },
};

/**
 * Fills in the dashboard's variables as Grafana would for one selected value each. A variable the
 * dashboard does not define fails (a typo in a variable name would otherwise reach Prometheus as
 * text); `$1` and the like are label_replace's, left alone.
 */
function interpolate(expr: string, vars: Vars): string {
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (whole, braced: string | undefined, bare: string | undefined) => {
    const name = (braced ?? bare)!;
    if (/^\d+$/.test(name)) return whole;
    if (name === 'namespace' || name === 'job') return vars[name];
    if (name === '__rate_interval' || name === '__interval' || name === '__range') return '1m';
    throw new Error(`${expr}: unknown variable ${whole}`);
  });
}

describe('every query of the dashboard on a real Prometheus scraping the exporter', () => {
  let registry: RunningRegistry;
  let kube: KubeApi;
  let exporter: RunningExporter;
  let prometheus: RunningPrometheus;

  const get = <T>(path: string): Promise<T> => prometheus.get<T>(path);
  async function query(expr: string): Promise<Vector> {
    const data = await get<{ resultType: string; result: Vector }>(`/api/v1/query?query=${encodeURIComponent(expr)}`);
    if (data.resultType !== 'vector') throw new Error(`${expr}: a ${data.resultType}, not an instant vector`);
    return data.result;
  }
  const until = <T>(what: string, probe: () => Promise<T | undefined>): Promise<T> => prometheus.until(what, probe);

  const cluster = (): Cluster => ({
    registry: registry.host,
    run: (expr, vars) => query(interpolate(expr, { namespace: '.*', job: JOB, ...vars })),
  });

  beforeAll(async () => {
    registry = await startRegistry();
    await pushImage(registry, 'shop/web', '1.0', 'docker');
    await pushImage(registry, 'shop/db', '1.0', 'docker'); // the repository exists; its tag `gone` does not
    await pushImage(registry, 'other/api', '2', 'docker');
    kube = await startKubeApi();
    kube.set('Deployment', [
      deployment('shop', 'web', { containers: [{ name: 'web', image: `${registry.host}/shop/web:1.0` }] }),
      deployment('other', 'api', { containers: [{ name: 'api', image: `${registry.host}/other/api:2` }] }),
    ]);
    kube.set('StatefulSet', [statefulSet('shop', 'db', { containers: [{ name: 'db', image: `${registry.host}/shop/db:gone` }] })]);
    kube.set('CronJob', [cronJob('shop', 'nightly', { containers: [{ name: 'job', image: '127.0.0.1:1/x:1' }] })]);
    // A Docker Hub image (no registry host) whose reference is malformed: a failing check without the network.
    kube.set('DaemonSet', [daemonSet('other', 'agent', { containers: [{ name: 'agent', image: 'agent:-broken' }] })]);
    exporter = await startExporter(kube.kubeconfigPath, [
      `--allow-plain-http=${registry.host},127.0.0.1:1`,
      '--check-interval=2s',
      '--registry-timeout=2s',
    ]);

    prometheus = await startPrometheus(
      [
        'global:',
        '  scrape_interval: 1s',
        'scrape_configs:',
        `  - job_name: ${JOB}`,
        '    honor_labels: true',
        `    scrape_timeout: ${SCRAPE_TIMEOUT_SECONDS}s`,
        '    static_configs:',
        `      - targets: ['${new URL(exporter.url).host}']`,
        '',
      ].join('\n'),
      // scrape_timeout_seconds, for the duration panel's timeout line.
      { args: ['--enable-feature=extra-scrape-metrics'] },
    );

    // The cluster's checks all settled, a recheck round completed, and enough scrapes for rate().
    const settled = `sum by (status) (k8s_image_existence_exporter_image_check_status{job="${JOB}"})`;
    const expected = JSON.stringify({ absent: 1, bad_reference: 1, present: 2, registry_unavailable: 1 });
    await until('every check to settle in Prometheus', async () => {
      const statuses = JSON.stringify(Object.fromEntries(Object.entries(byLabel(await query(settled), 'status')).sort()));
      if (statuses !== expected) throw new Error(`statuses so far: ${statuses}`);
      return statuses;
    });
    await until('a completed recheck round', async () => {
      const v = await query(`increase(k8s_image_existence_exporter_completed_rechecks_total{job="${JOB}"}[1h]) > 0`);
      return v.length > 0 ? v : undefined;
    });
    await until('three scrapes', async () => {
      const v = await query(`count_over_time(up{job="${JOB}"}[1m]) >= 3`);
      return v.length > 0 ? v : undefined;
    });
  }, 60_000);

  afterAll(async () => {
    await prometheus?.stop();
    await exporter?.stop();
    await kube?.stop();
    await registry?.stop();
  });

  test('every panel has an expectation, and every expectation a panel', () => {
    expect(Object.keys(expectations).sort()).toEqual(queryPanels.map((p) => p.title!).sort());
  });

  test('the variables list the job and the namespaces of the cluster', async () => {
    const values = async (name: string) => {
      const [, selector, label] = /^label_values\((.+), (\w+)\)$/.exec(variables.get(name)!.query as string)!;
      const match = interpolate(selector!, { namespace: '.*', job: JOB });
      return get<string[]>(`/api/v1/label/${label}/values?match[]=${encodeURIComponent(match)}`);
    };
    expect(await values('job')).toEqual([JOB]);
    expect(await values('namespace')).toEqual(['other', 'shop']);
  });

  test.each(queryPanels.map((p) => [p.title!, p] as const))('%s', async (title, panel) => {
    const results: PanelResults = {};
    for (const target of panel.targets!) {
      const byNamespace = {} as PanelResults[string];
      for (const [key, namespace] of Object.entries(NAMESPACES) as Array<[keyof typeof NAMESPACES, string]>) {
        const vector = await query(interpolate(target.expr!, { namespace, job: JOB }));
        // The legend names labels the series have.
        for (const [, label] of (target.legendFormat ?? '').matchAll(/\{\{\s*(\w+)\s*\}\}/g)) {
          for (const s of vector) expect(s.metric, `${title} ${target.refId}: legend {{${label}}}`).toHaveProperty(label!);
        }
        byNamespace[key] = vector;
      }
      results[target.refId!] = byNamespace;
    }
    const expectation = expectations[title];
    expect(expectation, `an expectation for panel "${title}"`).toBeDefined();
    await expectation!(results, cluster());
  });
});
