/** The status page's model and HTML, from hand-made snapshots; and its routes, which never collect. */
import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { describe, expect, test } from 'vitest';
import type { ContainerRow, Snapshot } from '../../src/collector.js';
import type { Workload } from '../../src/kubernetes/workloads.js';
import { createLogger } from '../../src/log.js';
import type { ExporterMetrics } from '../../src/metrics.js';
import { NO_PLACEMENT } from '../../src/platform/placement.js';
import type { CheckStatus } from '../../src/registry/status.js';
import { createApp } from '../../src/server.js';
import { escapeHtml, renderStatusHtml, STATUS_PAGE_CSP } from '../../src/status/status-html.js';
import { buildStatusModel, GROUP_ADVICE, GROUP_IDS, type StatusModel } from '../../src/status/status-model.js';

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
  readonly image: string;
  readonly status: CheckStatus | undefined;
  readonly detail?: string;
  readonly checkedAt?: number;
  readonly exists?: 0 | 1;
  readonly missingPlatforms?: readonly string[];
}

function row(input: RowInput): ContainerRow {
  return {
    workload: workload(input.namespace ?? 'prod', input.name ?? 'web', input.kind),
    container: { name: input.container ?? 'app', image: input.image, init: input.init ?? false },
    status: input.status,
    detail: input.status === undefined ? undefined : (input.detail ?? `detail of ${input.status}`),
    checkedAt: input.status === undefined ? undefined : (input.checkedAt ?? NOW - 30_000),
    exists: input.exists ?? (input.status === 'present' ? 1 : input.status === 'absent' ? 0 : undefined),
    missingPlatforms: input.missingPlatforms ?? (input.status === 'present' ? [] : undefined),
  };
}

function snapshot(rows: ContainerRow[], lists: Snapshot['lists'] = [{ kind: 'Deployment', up: true, ageSeconds: 1 }]): Snapshot {
  return { rows, lists, pending: 2, collectionSeconds: 0.25 };
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
    row({ container: 'denied', image: 'ghcr.io/other/app:1', status: 'access_denied' }),
    row({ container: 'limited', image: 'busybox', status: 'rate_limited' }),
    row({ container: 'down', image: '127.0.0.1:1/x:1', status: 'registry_unavailable', detail: 'ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:1', exists: 1 }),
    row({ container: 'odd', image: 'example.com/app@sha256:' + 'a'.repeat(64), status: 'unknown_error' }),
    row({ container: 'new', kind: 'CronJob', name: 'backup', image: 'example.com/new:1', status: undefined, init: true }),
  ];
  const model = buildStatusModel({ snapshot: snapshot(rows, [
    { kind: 'Deployment', up: true, ageSeconds: 3 },
    { kind: 'CronJob', namespace: 'ops', up: false, ageSeconds: 90 },
    { kind: 'DaemonSet', up: false, ageSeconds: undefined },
  ]), at: NOW - 5_000 }, NOW);

  test('groups every status but present, in the fixed order, each with its advice', () => {
    expect(model.groups.map((g) => g.id)).toEqual([
      'absent', 'bad_reference', 'auth_failure', 'access_denied', 'rate_limited', 'registry_unavailable', 'unknown_error', 'never_checked', 'platform_missing',
    ]);
    expect(model.groups.map((g) => g.count)).toEqual([2, 1, 1, 1, 1, 1, 1, 1, 1]);
    for (const g of model.groups) {
      expect(g.advice).toBe(GROUP_ADVICE[g.id]);
      expect(g.entries).toHaveLength(g.count);
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
  });

  test('totals, last collection and the lists that are down', () => {
    expect(model.generatedAt).toBe('2026-03-04T05:06:07.000Z');
    expect(model.totals).toEqual({ containers: 12, present: 3, notPresent: 9, platformMissing: 1 });
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

  test('entries: workload, registry host, reason, check time; sorted by namespace, kind, name, container', () => {
    const absent = group(model, 'absent').entries;
    expect(absent.map((e) => e.namespace)).toEqual(['a-first', 'prod']);
    expect(absent[1]).toEqual({
      kind: 'Deployment',
      namespace: 'prod',
      name: 'web',
      container: 'gone',
      init: false,
      image: 'nginx:does-not-exist',
      registry: 'docker.io',
      reason: 'registry says MANIFEST_UNKNOWN',
      checkedAt: '2026-03-04T05:04:02.000Z',
      ageSeconds: 125,
      lastProven: 'absent',
      missingPlatforms: null,
    });
    expect(absent[0]?.registry).toBe('127.0.0.1:5000');
    expect(group(model, 'bad_reference').entries[0]).toMatchObject({ registry: '-', reason: expect.stringContaining('contains whitespace') });
    expect(group(model, 'auth_failure').entries[0]?.registry).toBe('registry.example.com:8443');
    expect(group(model, 'rate_limited').entries[0]?.registry).toBe('docker.io');
    expect(group(model, 'registry_unavailable').entries[0]).toMatchObject({ registry: '127.0.0.1:1', lastProven: 'present' });
  });

  test('never-checked rows have no check time and say so in words', () => {
    const [entry] = group(model, 'never_checked').entries;
    expect(entry).toMatchObject({ kind: 'CronJob', name: 'backup', init: true, checkedAt: null, ageSeconds: null, lastProven: null, registry: 'example.com' });
    expect(entry?.reason).toMatch(/not checked yet/);
  });

  test('a present image missing platforms is its own group, listing them; present ones are only counted', () => {
    const [entry] = group(model, 'platform_missing').entries;
    expect(entry).toMatchObject({ container: 'arm', image: 'quay.io/team/x86:1', registry: 'quay.io', missingPlatforms: ['linux/arm64', 'linux/arm/v7'] });
    expect(entry?.reason).toContain('linux/arm64, linux/arm/v7');
    const all = model.groups.flatMap((g) => g.entries.map((e) => e.container));
    expect(all).not.toContain('ok');
    expect(all).not.toContain('ok2');
  });

  test('before any collection: no lastCollection, every group empty', () => {
    const empty = buildStatusModel(undefined, NOW);
    expect(empty.lastCollection).toBeNull();
    expect(empty.totals).toEqual({ containers: 0, present: 0, notPresent: 0, platformMissing: 0 });
    expect(empty.groups.map((g) => g.id)).toEqual([...GROUP_IDS]);
    expect(empty.groups.every((g) => g.count === 0 && g.entries.length === 0)).toBe(true);
    const html = renderStatusHtml(empty);
    expect(html).toContain('No collection has run yet');
    expect(html).toMatch(/first scrape starts one/);
    expect(html).not.toContain('<table');
  });

  test('the JSON round-trips: the model is plain data', () => {
    expect(JSON.parse(JSON.stringify(model))).toEqual(model);
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

  test('every hostile string renders escaped, never raw', () => {
    const rows = HOSTILE.map((s, i) =>
      row({ namespace: s, name: s, kind: s, container: s, image: s, status: i % 2 ? 'bad_reference' : 'unknown_error', detail: s }),
    );
    const html = renderStatusHtml(buildStatusModel({ snapshot: snapshot(rows, [{ kind: `<i>${HOSTILE[0]}`, namespace: HOSTILE[1], up: false, ageSeconds: 1 }]), at: NOW }, NOW));
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

  test('structure: doctype, lang, charset, title, a table per group with scoped headers, times, links', () => {
    const rows = [
      row({ container: 'gone', image: 'nginx:nope', status: 'absent' }),
      row({ container: 'bad', image: 'Bad Image', status: 'bad_reference' }),
      row({ container: 'new', image: 'nginx:new', status: undefined }),
    ];
    const html = renderStatusHtml(buildStatusModel({ snapshot: snapshot(rows), at: NOW }, NOW));
    expect(html.startsWith('<!doctype html>\n<html lang="en">')).toBe(true);
    expect(html).toContain('<meta charset="utf-8">');
    expect(html).toMatch(/<title>[^<]+<\/title>/);
    expect(html.match(/<table>/g)).toHaveLength(3);
    expect(html).toContain('<th scope="col">Registry</th>');
    expect(html).toContain('<h2 id="h-absent">Absent (1)</h2>');
    expect(html).toContain('<h2 id="h-never_checked">Never checked (1)</h2>');
    expect(html).toContain('<time datetime="2026-03-04T05:05:37.000Z">2026-03-04 05:05:37 UTC</time>');
    expect(html).toContain('href="/status?format=json"');
    expect(html).toContain('href="/metrics"');
    expect(html).toContain('href="/healthz"');
    expect(html).not.toMatch(/<script|javascript:|\son\w+=/i);
  });

  test('lists at most N entries per group, then "and N more"', () => {
    const rows = Array.from({ length: 25 }, (_, i) => row({ name: `w${String(i).padStart(2, '0')}`, image: `nginx:${i}`, status: 'absent' }));
    rows.push(row({ image: 'Bad Image', status: 'bad_reference' }));
    const model = buildStatusModel({ snapshot: snapshot(rows), at: NOW }, NOW);
    expect(group(model, 'absent').entries).toHaveLength(25);
    const html = renderStatusHtml(model, { maxEntriesPerGroup: 10 });
    expect(html).toContain('and 15 more');
    expect(html).toContain('>w09<');
    expect(html).not.toContain('>w10<');
    expect(html.match(/and \d+ more/g)).toHaveLength(1); // bad_reference has one: all shown
  });

  test('100,000 rows render in linear time, capped at 1000 per group', () => {
    const rows: ContainerRow[] = [];
    for (let i = 0; i < 100_000; i++) {
      rows.push(row({ namespace: `ns${i % 100}`, name: `w${i}`, image: `registry${i % 50}.example.com/app:${i}`, status: i % 3 === 0 ? 'present' : i % 3 === 1 ? 'absent' : 'registry_unavailable' }));
    }
    const started = performance.now();
    const model = buildStatusModel({ snapshot: snapshot(rows), at: NOW }, NOW);
    const html = renderStatusHtml(model);
    const ms = performance.now() - started;
    expect(model.totals).toMatchObject({ containers: 100_000, present: 33_334, notPresent: 66_666 });
    expect(html.match(/<tr>/g)).toHaveLength(2 + 2000); // two header rows, 1000 rows per group
    expect(html).toContain('and 32333 more');
    expect(ms).toBeLessThan(5000);
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
      expect(group(model, 'absent').entries.map((e) => e.container)).toEqual(['gone']);
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
