/** The status page's model and HTML, from hand-made snapshots; and its routes, which never collect. */
import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { beforeAll, describe, expect, test } from 'vitest';
import type { ContainerRow, Snapshot } from '../../src/engine/collector.js';
import type { Workload } from '../../src/kubernetes/workloads.js';
import { createLogger } from '../../src/utils/log.js';
import type { ExporterMetrics } from '../../src/exporter/metrics.js';
import { NO_PLACEMENT } from '../../src/platform/placement.js';
import type { CheckStatus } from '../../src/registry/status.js';
import { createApp } from '../../src/exporter/server.js';
import { escapeHtml, renderStatusHtml, STATUS_PAGE_CSP, type RenderOptions } from '../../src/exporter/status/status-html.js';
import { statusJsonBody, statusJsonHead } from '../../src/exporter/status/status-json.js';
import { GROUP_ADVICE, GROUP_IDS, indexStatus, type CollectedSnapshot, type StatusModel } from '../../src/exporter/status/status-model.js';

const NOW = Date.parse('2026-03-04T05:06:07.000Z');

function workload(namespace: string, name: string, kind = 'Deployment'): Workload {
  return {
    kind,
    namespace,
    name,
    containers: [],
    imagePullSecrets: [],
    serviceAccountName: 'default',
    placement: NO_PLACEMENT,
    placementKey: '',
    active: true,
  };
}

interface RowInput {
  readonly namespace?: string;
  readonly name?: string;
  readonly kind?: string;
  readonly container?: string;
  readonly init?: boolean;
  readonly volume?: boolean;
  readonly image: string;
  readonly status: CheckStatus | undefined;
  readonly detail?: string;
  readonly checkedAt?: number;
  readonly exists?: 0 | 1;
  readonly missingPlatforms?: readonly string[];
  readonly skipped?: ContainerRow['skipped'];
}

function row(input: RowInput): ContainerRow {
  return {
    workload: workload(input.namespace ?? 'prod', input.name ?? 'web', input.kind),
    container: { name: input.container ?? 'app', image: input.image, init: input.init ?? false, ...(input.volume ? { volume: true as const } : {}) },
    status: input.status,
    detail: input.status === undefined ? undefined : (input.detail ?? `detail of ${input.status}`),
    checkedAt: input.status === undefined ? undefined : (input.checkedAt ?? NOW - 30_000),
    exists: input.exists ?? (input.status === 'present' ? 1 : input.status === 'absent' ? 0 : undefined),
    missingPlatforms: input.missingPlatforms ?? (input.status === 'present' ? [] : undefined),
    ...(input.skipped ? { skipped: input.skipped } : {}),
  };
}

function snapshot(rows: ContainerRow[], lists: Snapshot['lists'] = [{ kind: 'Deployment', up: true, ageSeconds: 1 }]): Snapshot {
  return { rows, lists, pending: 2, collectionSeconds: 0.25 };
}

/** The JSON answer about `last` as of `now`, parsed. */
async function modelOf(last: CollectedSnapshot | undefined, now = NOW): Promise<StatusModel> {
  const index = await indexStatus(last);
  return JSON.parse(statusJsonHead(index, now) + Buffer.concat(await statusJsonBody(index)).toString('utf8')) as StatusModel;
}

async function htmlOf(last: CollectedSnapshot | undefined, options: RenderOptions = {}): Promise<string> {
  return renderStatusHtml(await indexStatus(last), NOW, options);
}

/** A group's containers with their image's fields, in the order the answer lists them. */
function entries(model: StatusModel, id: string) {
  return group(model, id).images.flatMap(({ containers, ...image }) => containers.map((container) => ({ ...image, ...container })));
}

function group(model: StatusModel, id: string) {
  const found = model.groups.find((g) => g.id === id);
  if (!found) throw new Error(`no group ${id}`);
  return found;
}

describe('status model', () => {
  const rows = [
    row({ container: 'ok', image: 'ghcr.io/team/app:1', status: 'present' }),
    row({ container: 'ok2', image: 'nginx:1.27', status: 'present' }),
    row({ container: 'arm', image: 'quay.io/team/x86:1', status: 'present', missingPlatforms: ['linux/arm64', 'linux/arm/v7'] }),
    row({ container: 'gone', image: 'nginx:does-not-exist', status: 'absent', detail: 'registry says MANIFEST_UNKNOWN', checkedAt: NOW - 125_000 }),
    row({ namespace: 'a-first', container: 'gone', image: '127.0.0.1:5000/app:2', status: 'absent' }),
    row({ container: 'bad', image: 'Bad Image', status: 'bad_reference', detail: 'invalid image reference "Bad Image": contains whitespace' }),
    row({ container: 'auth', image: 'registry.example.com:8443/private/app:1', status: 'auth_failure' }),
    row({ container: 'blocked', image: 'untrusted.example.com/app:1', status: 'blocked', detail: 'untrusted.example.com is blocked in /etc/containers/registries.conf' }),
    row({ container: 'denied', image: 'ghcr.io/other/app:1', status: 'access_denied' }),
    row({ container: 'limited', image: 'busybox', status: 'rate_limited' }),
    row({ container: 'down', image: '127.0.0.1:1/x:1', status: 'registry_unavailable', detail: 'ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:1', exists: 1 }),
    row({ container: 'odd', image: 'example.com/app@sha256:' + 'a'.repeat(64), status: 'unknown_error' }),
    row({ container: 'new', kind: 'CronJob', name: 'backup', image: 'example.com/new:1', status: undefined, init: true }),
    row({ container: 'opted-out', name: 'legacy', image: 'example.com/legacy:1', status: undefined, skipped: 'annotation' }),
    row({ container: 'ignored', name: 'legacy', image: 'example.com/vendor/x:1', status: undefined, skipped: 'ignored-images' }),
  ];
  let model: StatusModel;
  beforeAll(async () => {
    model = await modelOf({ snapshot: snapshot(rows, [
      { kind: 'Deployment', up: true, ageSeconds: 3 },
      { kind: 'CronJob', namespace: 'ops', up: false, ageSeconds: 90 },
      { kind: 'DaemonSet', up: false, ageSeconds: undefined },
    ]), at: NOW - 5_000 });
  });

  test('groups every status but present, in the fixed order, each with its advice', () => {
    expect(model.groups.map((g) => g.id)).toEqual([
      'absent', 'bad_reference', 'blocked', 'auth_failure', 'access_denied', 'rate_limited', 'registry_unavailable', 'unknown_error', 'never_checked', 'platform_missing', 'skipped',
    ]);
    expect(model.groups.map((g) => g.count)).toEqual([2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2]);
    for (const g of model.groups) {
      expect(g.advice).toBe(GROUP_ADVICE[g.id]);
      expect(g.images.reduce((sum, image) => sum + image.count, 0)).toBe(g.count);
      for (const image of g.images) expect(image.containers).toHaveLength(image.count);
      expect(g.title.length).toBeGreaterThan(0);
    }
    expect(group(model, 'absent').advice).toMatch(/push it again/i);
    expect(group(model, 'absent').advice).toContain('--ignored-images');
    expect(group(model, 'bad_reference').advice).toMatch(/fix the image string/i);
    expect(group(model, 'auth_failure').advice).toContain('--docker-config');
    expect(group(model, 'auth_failure').advice).toContain('imagePullSecrets');
    expect(group(model, 'access_denied').advice).toMatch(/pull permission/);
    for (const flag of ['--max-concurrent-per-registry', '--check-interval', 'Docker Hub']) expect(group(model, 'rate_limited').advice).toContain(flag);
    for (const word of ['DNS', 'TLS', '--registry-ca-file', '--allow-plain-http']) expect(group(model, 'registry_unavailable').advice).toContain(word);
    expect(group(model, 'unknown_error').advice).toMatch(/exporter log/);
    for (const words of ['--ignored-images', 'k8s-image-existence-exporter/ignore']) expect(group(model, 'skipped').advice).toContain(words);
  });

  test('containers skipped on purpose are listed apart, with the reason naming the flag or the annotation, never as never checked', () => {
    expect(entries(model, 'skipped').map((e) => [e.container, e.reason, e.checkedAt])).toEqual([
      ['opted-out', 'skipped: opted out by the annotation k8s-image-existence-exporter/ignore', null],
      ['ignored', 'skipped: the image matches --ignored-images', null],
    ]);
    expect(entries(model, 'never_checked').map((e) => e.container)).toEqual(['new']);
  });

  test('totals, last collection and the lists that are down', () => {
    expect(model.generatedAt).toBe('2026-03-04T05:06:07.000Z');
    expect(model.totals).toEqual({ containers: 15, present: 3, notPresent: 10, platformMissing: 1, skipped: 2 });
    expect(model.lastCollection).toEqual({
      finishedAt: '2026-03-04T05:06:02.000Z',
      ageSeconds: 5,
      collectionSeconds: 0.25,
      pendingChecks: 2,
      listsDown: [
        { kind: 'CronJob', namespace: 'ops', ageSeconds: 90 },
        { kind: 'DaemonSet', namespace: null, ageSeconds: null },
      ],
    });
  });

  test('images: registry host, reason, check time (age as of the collection); then their containers', () => {
    const absent = group(model, 'absent').images;
    expect(absent.map((e) => e.image)).toEqual(['127.0.0.1:5000/app:2', 'nginx:does-not-exist']);
    expect(absent[1]).toEqual({
      image: 'nginx:does-not-exist',
      registry: 'docker.io',
      reason: 'registry says MANIFEST_UNKNOWN',
      checkedAt: '2026-03-04T05:04:02.000Z',
      ageSeconds: 120,
      lastProven: 'absent',
      missingPlatforms: null,
      count: 1,
      containers: [{ namespace: 'prod', kind: 'Deployment', name: 'web', container: 'gone', init: false, volume: false }],
    });
    expect(absent[0]?.registry).toBe('127.0.0.1:5000');
    expect(absent[0]?.containers).toEqual([{ namespace: 'a-first', kind: 'Deployment', name: 'web', container: 'gone', init: false, volume: false }]);
    expect(entries(model, 'bad_reference')[0]).toMatchObject({ registry: '-', reason: expect.stringContaining('contains whitespace') });
    expect(entries(model, 'auth_failure')[0]?.registry).toBe('registry.example.com:8443');
    expect(entries(model, 'rate_limited')[0]?.registry).toBe('docker.io');
    expect(entries(model, 'registry_unavailable')[0]).toMatchObject({ registry: '127.0.0.1:1', lastProven: 'present' });
  });

  test('containers sharing an image and its check are listed once under it, sorted by namespace, kind, name, container', async () => {
    const shared = (namespace: string, name: string, container: string, kind = 'Deployment') =>
      row({ namespace, name, container, kind, image: 'nginx:gone', status: 'absent', detail: 'MANIFEST_UNKNOWN', checkedAt: NOW - 10_000 });
    const other = row({ namespace: 'b', name: 'x', container: 'c', image: 'nginx:gone', status: 'absent', detail: 'MANIFEST_UNKNOWN', checkedAt: NOW - 20_000 });
    const rows = [shared('b', 'web', 'z'), shared('b', 'web', 'a'), shared('a', 'web', 'c'), shared('b', 'job', 'c', 'CronJob'), other];
    const absent = group(await modelOf({ snapshot: snapshot(rows), at: NOW }), 'absent');
    expect(absent.count).toBe(5);
    // A check at another time is its own entry: what each container's check found stays exact.
    expect(absent.images.map((i) => [i.image, i.count, i.ageSeconds])).toEqual([
      ['nginx:gone', 1, 20],
      ['nginx:gone', 4, 10],
    ]);
    expect(absent.images[1]?.containers.map((c) => `${c.namespace}/${c.kind}/${c.name}/${c.container}`)).toEqual([
      'a/Deployment/web/c',
      'b/CronJob/job/c',
      'b/Deployment/web/a',
      'b/Deployment/web/z',
    ]);
  });

  test('never-checked rows have no check time and say so in words', () => {
    const [entry] = entries(model, 'never_checked');
    expect(entry).toMatchObject({ kind: 'CronJob', name: 'backup', init: true, checkedAt: null, ageSeconds: null, lastProven: null, registry: 'example.com' });
    expect(entry?.reason).toMatch(/not checked yet/);
  });

  test('a present image missing platforms is its own group, listing them; present ones are only counted', () => {
    const [entry] = entries(model, 'platform_missing');
    expect(entry).toMatchObject({ container: 'arm', image: 'quay.io/team/x86:1', registry: 'quay.io', missingPlatforms: ['linux/arm64', 'linux/arm/v7'] });
    expect(entry?.reason).toContain('linux/arm64, linux/arm/v7');
    const all = model.groups.flatMap((g) => entries(model, g.id).map((e) => e.container));
    expect(all).not.toContain('ok');
    expect(all).not.toContain('ok2');
  });

  test('before any collection: no lastCollection, every group empty', async () => {
    const empty = await modelOf(undefined);
    expect(empty.lastCollection).toBeNull();
    expect(empty.totals).toEqual({ containers: 0, present: 0, notPresent: 0, platformMissing: 0, skipped: 0 });
    expect(empty.groups.map((g) => g.id)).toEqual([...GROUP_IDS]);
    // The order the JSON's header promises, problems first as in `check`'s report.
    expect(GROUP_IDS).toEqual(['absent', 'bad_reference', 'blocked', 'auth_failure', 'access_denied', 'rate_limited', 'registry_unavailable', 'unknown_error', 'never_checked', 'platform_missing', 'skipped']);
    expect(empty.groups.every((g) => g.count === 0 && g.images.length === 0)).toBe(true);
    const html = await htmlOf(undefined);
    expect(html).toContain('No collection has run yet');
    expect(html).toMatch(/first scrape starts one/);
    expect(html).not.toContain('<table');
  });

  test('the JSON round-trips: the model is plain data', () => {
    expect(JSON.parse(JSON.stringify(model))).toEqual(model);
  });

  test('the request-time head and the shared body make one JSON document, with or without a collection', async () => {
    for (const last of [undefined, { snapshot: snapshot([row({ image: 'x:1', status: 'absent' })]), at: NOW - 61_000 }]) {
      const index = await indexStatus(last);
      const body = Buffer.concat(await statusJsonBody(index)).toString('utf8');
      const early = JSON.parse(statusJsonHead(index, NOW) + body) as StatusModel;
      const later = JSON.parse(statusJsonHead(index, NOW + 3_600_000) + body) as StatusModel;
      expect(later.generatedAt).toBe('2026-03-04T06:06:07.000Z');
      if (last) expect([early.lastCollection?.ageSeconds, later.lastCollection?.ageSeconds]).toEqual([61, 3661]);
      expect(later.groups).toEqual(early.groups);
    }
  });
});

describe('status HTML', () => {
  test('escapeHtml escapes the five characters, for text and attributes', () => {
    expect(escapeHtml(`<a href="x" title='y'>&amp;</a>`)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;');
    expect(escapeHtml('plain ünïcödé ‮ text')).toBe('plain ünïcödé ‮ text');
  });

  const HOSTILE = [
    'registry.example.com/"><script>alert(1)</script>:1',
    `it's <b>bold</b> & "quoted"`,
    '</td></tr></table><img src=x onerror=alert(2)>',
    'line1\nline2\r\n<!-- comment -->',
    'ünïcödé 漢字 🚀',
    'rtl\u202Egpj.exe',
    '<style>body{display:none}</style>',
    "' onmouseover='alert(3)",
  ];

  test('every hostile string renders escaped, never raw', async () => {
    const rows = HOSTILE.map((s, i) =>
      row({ namespace: s, name: s, kind: s, container: s, image: s, status: i % 2 ? 'bad_reference' : 'unknown_error', detail: s }),
    );
    const html = await htmlOf({ snapshot: snapshot(rows, [{ kind: `<i>${HOSTILE[0]}`, namespace: HOSTILE[1], up: false, ageSeconds: 1 }]), at: NOW });
    expect(html).not.toContain('<script');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<b>');
    expect(html).not.toContain('<i>');
    expect(html).not.toContain('<!--');
    expect(html).not.toMatch(/<style>body/);
    expect(html).not.toContain("' onmouseover");
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('it&#39;s &lt;b&gt;bold&lt;/b&gt; &amp; &quot;quoted&quot;');
    expect(html).toContain('&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;&lt;img src=x onerror=alert(2)&gt;');
    expect(html).toContain('&lt;i&gt;');
    for (const s of HOSTILE) expect(html).toContain(escapeHtml(s));
    // Only the page's own tags: every '<' starts one of them.
    const tags = new Set([...html.matchAll(/<\/?([a-z0-9!]+)/gi)].map((m) => (m[1] as string).toLowerCase()));
    expect([...tags].sort()).toEqual(
      ['!doctype', 'a', 'body', 'code', 'div', 'footer', 'h1', 'h2', 'head', 'header', 'html', 'li', 'main', 'meta', 'nav', 'p', 'section', 'span', 'strong', 'style', 'table', 'tbody', 'td', 'th', 'thead', 'time', 'title', 'tr', 'ul'].sort(),
    );
  });

  test('structure: doctype, lang, charset, title, a table per group with scoped headers, times, links', async () => {
    const rows = [
      row({ container: 'gone', image: 'nginx:nope', status: 'absent' }),
      row({ container: 'bad', image: 'Bad Image', status: 'bad_reference' }),
      row({ container: 'new', image: 'nginx:new', status: undefined }),
      row({ container: 'opted-out', image: 'nginx:old', status: undefined, skipped: 'annotation' }),
    ];
    const html = await htmlOf({ snapshot: snapshot(rows), at: NOW });
    expect(html.startsWith('<!doctype html>\n<html lang="en">')).toBe(true);
    expect(html).toContain('<meta charset="utf-8">');
    expect(html).toMatch(/<title>[^<]+<\/title>/);
    expect(html.match(/<table>/g)).toHaveLength(4);
    expect(html).toContain('4 containers: 0 present, 3 not present (');
    expect(html).toContain('<a href="#skipped">1 skipped</a>');
    expect(html).toContain('<h2 id="h-skipped">Skipped (1)</h2>');
    expect(html).toContain('skipped: opted out by the annotation k8s-image-existence-exporter/ignore');
    expect(html).toContain('<th scope="col">Registry</th>');
    expect(html).toContain('<h2 id="h-absent">Absent (1)</h2>');
    expect(html).toContain('<h2 id="h-never_checked">Never checked (1)</h2>');
    expect(html).toContain('<time datetime="2026-03-04T05:05:37.000Z">2026-03-04 05:05:37 UTC</time>');
    expect(html).toContain('href="/status?format=json"');
    expect(html).toContain('href="/metrics"');
    expect(html).toContain('href="/healthz"');
    expect(html).not.toMatch(/<script|javascript:|\son\w+=/i);
  });

  test('lists at most N containers per group, then "and N more"', async () => {
    const rows = Array.from({ length: 25 }, (_, i) => row({ name: `w${String(i).padStart(2, '0')}`, image: `nginx:${String(i).padStart(2, '0')}`, status: 'absent' }));
    rows.push(row({ image: 'Bad Image', status: 'bad_reference' }));
    const last = { snapshot: snapshot(rows), at: NOW };
    expect(group(await modelOf(last), 'absent').count).toBe(25);
    const html = await htmlOf(last, { maxEntriesPerGroup: 10 });
    expect(html).toContain('and 15 more');
    expect(html).toContain('>w09<');
    expect(html).not.toContain('>w10<');
    expect(html.match(/and \d+ more/g)).toHaveLength(1); // bad_reference has one: all shown
  });

  test('30,000 rows: the page is capped at 1000 per group, the JSON lists them all, each image once', async () => {
    // The scale of 100,000 containers is tried on the exporter as deployed (status-page-load.test.ts);
    // here enough rows to pass the cap many times over, quick on a busy machine too.
    const rows: ContainerRow[] = [];
    for (let i = 0; i < 30_000; i++) {
      rows.push(row({ namespace: `ns${i % 100}`, name: `w${i}`, image: `registry${i % 50}.example.com/app:${i}`, status: i % 3 === 0 ? 'present' : i % 3 === 1 ? 'absent' : 'registry_unavailable' }));
    }
    const last = { snapshot: snapshot(rows), at: NOW };
    const model = await modelOf(last);
    const html = await htmlOf(last);
    expect(model.totals).toMatchObject({ containers: 30_000, present: 10_000, notPresent: 20_000 });
    expect(group(model, 'absent').images).toHaveLength(10_000);
    expect(entries(model, 'registry_unavailable')).toHaveLength(10_000);
    expect(html.match(/<tr>/g)).toHaveLength(2 + 2000); // two header rows, 1000 rows per group
    expect(html).toContain('and 9000 more');
  });
});

describe('routes', () => {
  test('/ and /status answer from the last collection and never start one', async () => {
    let collections = 0;
    const rows = [row({ container: 'gone', image: 'nginx:nope', status: 'absent' }), row({ container: 'ok', image: 'nginx:1', status: 'present' })];
    const metrics = { contentType: 'text/plain; version=0.0.4', render: async () => [Buffer.from('# nothing\n')] } as unknown as ExporterMetrics;
    const app = createApp({
      metrics,
      collect: async () => {
        collections++;
        return snapshot(rows);
      },
      defaultScrapeTimeoutMs: 5000,
      logger: createLogger('error', () => undefined),
    });
    const server = createServer(app.callback()).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      for (const path of ['/', '/status', '/status?format=json', '/?format=json']) {
        const response = await fetch(`${base}${path}`);
        expect(response.status).toBe(200);
        expect(response.headers.get('cache-control')).toBe('no-store');
      }
      const before = (await (await fetch(`${base}/status?format=json`)).json()) as StatusModel;
      expect(before.lastCollection).toBeNull();
      expect(collections).toBe(0);
      expect((await fetch(`${base}/status?format=xml`)).status).toBe(400);

      await (await fetch(`${base}/metrics`)).text();
      expect(collections).toBe(1);
      const json = await fetch(`${base}/status?format=json`);
      expect(json.headers.get('content-type')).toMatch(/^application\/json/);
      const model = (await json.json()) as StatusModel;
      expect(model.totals).toMatchObject({ containers: 2, present: 1, notPresent: 1 });
      expect(entries(model, 'absent').map((e) => e.container)).toEqual(['gone']);
      const html = await fetch(`${base}/`);
      expect(html.headers.get('content-type')).toMatch(/^text\/html/);
      expect(html.headers.get('content-security-policy')).toBe(STATUS_PAGE_CSP);
      expect(await html.text()).toContain('<h2 id="h-absent">Absent (1)</h2>');
      expect(collections).toBe(1);
    } finally {
      server.close();
      server.closeAllConnections();
    }
  });
});

describe('image volumes (spec.volumes[].image)', () => {
  test('are listed with the containers, a row saying "volume <name>" where a container row says the container', async () => {
    const rows = [
      row({ container: 'models', volume: true, image: 'registry.example.com/ml/models:3', status: 'absent' }),
      row({ container: 'app', image: 'registry.example.com/ml/app:3', status: 'absent' }),
    ];
    const last = { snapshot: snapshot(rows), at: NOW };
    const absent = entries(await modelOf(last), 'absent');
    expect(absent.map((e) => [e.image, e.container, e.volume])).toEqual([
      ['registry.example.com/ml/app:3', 'app', false],
      ['registry.example.com/ml/models:3', 'models', true],
    ]);
    const html = await htmlOf(last);
    expect(html).toContain('<td>volume models</td>');
    expect(html).toContain('<td>app</td>');
    expect(html).not.toContain('volume app');
  });
});
