/**
 * The status page of a real exporter, against a real registry (behind a recording proxy) and the
 * loopback Kubernetes API: it asks neither of them anything itself; its JSON says field by field
 * what the last scrape found; its HTML parses (parse5) into the expected structure with no script
 * element; and real headless Chromium renders it without errors, without loading anything from
 * anywhere else, hostile strings as plain text.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, type DefaultTreeAdapterTypes, type ParserError } from 'parse5';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { StatusContainer, StatusImage, StatusModel } from '../../src/exporter/status/status-model.js';

/** A container with its image's fields, as listed in a group. */
type StatusEntry = Omit<StatusImage, 'containers'> & StatusContainer;

function entriesOf(model: StatusModel, id: string): StatusEntry[] {
  const group = model.groups.find((g) => g.id === id);
  return (group?.images ?? []).flatMap(({ containers, ...image }) => containers.map((container) => ({ ...image, ...container })));
}
import { startExporter, type RunningExporter } from '../support/exporter.js';
import { startKubeApi, type KubeApi } from '../support/kube-api.js';
import { deployment } from '../support/objects.js';
import { startRecordingProxy, type RecordingProxy } from '../support/proxy.js';
import { pushImage } from '../support/push.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { makeTempDir } from '../support/tmp.js';

type Node = DefaultTreeAdapterTypes.Node;
type Element = DefaultTreeAdapterTypes.Element;

const CHROMIUM = '/usr/bin/chromium';
const HOSTILE_IMAGE = 'registry.example.com/"><script>alert(1)</script>:1';
const HOSTILE_CONTAINER = `<b>bold</b>'&"`;
const HOSTILE_WORKLOAD = `evil"><img src=x onerror=alert(2)>&amp;`;
const UNREACHABLE = '127.0.0.1:1/x:1';

let registry: RunningRegistry;
let proxy: RecordingProxy;
let kube: KubeApi;
let exporter: RunningExporter;
let host: string;

beforeAll(async () => {
  registry = await startRegistry();
  await pushImage(registry, 'team/app', '1', 'docker');
  proxy = await startRecordingProxy(registry.url);
  host = proxy.host;
  kube = await startKubeApi();
  kube.set('Deployment', [
    deployment('prod', 'web', {
      containers: [
        { name: 'app', image: `${host}/team/app:1` },
        { name: 'gone', image: `${host}/team/app:2` },
        { name: 'typo', image: 'Bad Image' },
        { name: 'far', image: UNREACHABLE },
      ],
    }),
    deployment('evil', HOSTILE_WORKLOAD, { containers: [{ name: HOSTILE_CONTAINER, image: HOSTILE_IMAGE }] }),
  ]);
  // Listings kept for an hour: after a scrape the exporter asks nothing of anybody until the next one,
  // so any request seen while the page loads would be the page's doing.
  exporter = await startExporter(kube.kubeconfigPath, [`--allow-plain-http=${host}`, '--list-max-age=1h']);
});

/** Waits until neither the API server nor the registry has seen a request for `ms`. */
async function quiet(ms = 500): Promise<void> {
  for (let i = 0; i < 40; i++) {
    const counts = [kube.requests.length, proxy.requests.length];
    await new Promise((resolve) => setTimeout(resolve, ms));
    if (kube.requests.length === counts[0] && proxy.requests.length === counts[1]) return;
  }
  throw new Error('the exporter kept asking the API server or the registry');
}

afterAll(async () => {
  await exporter?.stop();
  await kube?.stop();
  await proxy?.stop();
  await registry?.stop();
});

// ---- parse5 helpers ----------------------------------------------------------------------------

function isElement(node: Node): node is Element {
  return 'tagName' in node;
}

function children(node: Node): Node[] {
  const kids = 'childNodes' in node ? (node.childNodes as Node[]) : [];
  return isElement(node) && node.tagName === 'template' ? [...kids, ...children((node as DefaultTreeAdapterTypes.Template).content)] : kids;
}

/** Every element under `node` (itself included) with this tag, in document order. */
function all(node: Node, tag?: string): Element[] {
  const found: Element[] = [];
  const walk = (n: Node) => {
    if (isElement(n) && (tag === undefined || n.tagName === tag)) found.push(n);
    for (const child of children(n)) walk(child);
  };
  walk(node);
  return found;
}

function one(node: Node, tag: string): Element {
  const found = all(node, tag);
  expect(found, `exactly one <${tag}>`).toHaveLength(1);
  return found[0] as Element;
}

function attr(element: Element, name: string): string | undefined {
  return element.attrs.find((a) => a.name === name)?.value;
}

function text(node: Node): string {
  if (node.nodeName === '#text') return (node as DefaultTreeAdapterTypes.TextNode).value;
  return children(node).map(text).join('');
}

// ------------------------------------------------------------------------------------------------

describe('status page', () => {
  test('before any scrape it says no collection has run, and asks nobody anything', async () => {
    // Let whatever the exporter does on its own at start-up happen first.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const kubeBefore = kube.requests.length;
    expect(proxy.requests).toHaveLength(0);

    const page = await fetch(`${exporter.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html; charset=utf-8/);
    expect(page.headers.get('cache-control')).toBe('no-store');
    const html = await page.text();
    expect(html).toContain('No collection has run yet');
    expect(html).toMatch(/first scrape starts one/);
    expect(html).toContain('href="/metrics"');
    expect(html).toContain('href="/healthz"');
    expect(html).toContain('href="/status?format=json"');

    const statusPage = await fetch(`${exporter.url}/status`);
    expect(statusPage.status).toBe(200);
    expect(await statusPage.text()).toContain('No collection has run yet');

    const json = await fetch(`${exporter.url}/status?format=json`);
    expect(json.status).toBe(200);
    expect(json.headers.get('content-type')).toMatch(/^application\/json/);
    expect(json.headers.get('cache-control')).toBe('no-store');
    const model = (await json.json()) as StatusModel;
    expect(model.lastCollection).toBeNull();
    expect(model.totals).toEqual({ containers: 0, present: 0, notPresent: 0, platformMissing: 0, skipped: 0 });
    expect(model.groups.every((g) => g.count === 0)).toBe(true);

    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(kube.requests.slice(kubeBefore).map((r) => r.path)).toEqual([]);
    expect(proxy.requests).toHaveLength(0);
  });

  let model: StatusModel;
  let html: string;

  test('after a scrape, /status?format=json says what it found, field by field', async () => {
    const scrape = await exporter.scrapeFresh();
    expect(scrape.status).toBe(200);
    await quiet();
    const kubeBefore = kube.requests.length;
    const proxyBefore = proxy.requests.length;

    const response = await fetch(`${exporter.url}/status?format=json`);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    model = (await response.json()) as StatusModel;
    html = await (await fetch(`${exporter.url}/`)).text();
    // The page reads the last collection: loading it asked nobody anything.
    expect(kube.requests.length).toBe(kubeBefore);
    expect(proxy.requests.length).toBe(proxyBefore);

    const started = Date.parse(model.generatedAt);
    expect(Math.abs(started - Date.now())).toBeLessThan(10_000);
    expect(model.lastCollection).not.toBeNull();
    const last = model.lastCollection!;
    expect(Date.parse(last.finishedAt)).toBeLessThanOrEqual(started);
    expect(last.ageSeconds).toBeGreaterThanOrEqual(0);
    expect(last.collectionSeconds).toBeGreaterThanOrEqual(0);
    expect(last.pendingChecks).toBe(0);
    expect(last.listsDown).toEqual([]);
    expect(model.totals).toEqual({ containers: 5, present: 1, notPresent: 4, platformMissing: 0, skipped: 0 });

    expect(model.groups.map((g) => [g.id, g.count])).toEqual([
      ['absent', 1],
      ['bad_reference', 2],
      ['blocked', 0],
      ['auth_failure', 0],
      ['access_denied', 0],
      ['rate_limited', 0],
      ['registry_unavailable', 1],
      ['unknown_error', 0],
      ['never_checked', 0],
      ['platform_missing', 0],
      ['skipped', 0],
    ]);
    for (const g of model.groups) {
      expect(g.title.length).toBeGreaterThan(0);
      expect(g.advice.length).toBeGreaterThan(20);
      expect(entriesOf(model, g.id)).toHaveLength(g.count);
    }
    const entries = (id: string): StatusEntry[] => entriesOf(model, id);
    const checked = (entry: StatusEntry | undefined) => {
      expect(entry?.checkedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(Date.parse(entry!.checkedAt!)).toBeLessThanOrEqual(started);
      expect(entry?.ageSeconds).toBeGreaterThanOrEqual(0);
      expect(entry?.ageSeconds).toBeLessThan(120);
    };

    const [absent] = entries('absent');
    expect(absent).toMatchObject({
      kind: 'Deployment',
      namespace: 'prod',
      name: 'web',
      container: 'gone',
      init: false,
      image: `${host}/team/app:2`,
      registry: host,
      lastProven: 'absent',
      missingPlatforms: null,
    });
    expect(absent?.reason).toContain('MANIFEST_UNKNOWN');
    checked(absent);

    const bad = entries('bad_reference');
    expect(bad.map((e) => [e.namespace, e.name, e.container, e.image, e.registry, e.lastProven])).toEqual([
      ['prod', 'web', 'typo', 'Bad Image', '-', null],
      ['evil', HOSTILE_WORKLOAD, HOSTILE_CONTAINER, HOSTILE_IMAGE, '-', null],
    ]);
    expect(bad[0]?.reason).toContain('invalid image reference');
    for (const entry of bad) checked(entry);

    const [unreachable] = entries('registry_unavailable');
    expect(unreachable).toMatchObject({ namespace: 'prod', name: 'web', container: 'far', image: UNREACHABLE, registry: '127.0.0.1:1', lastProven: null });
    expect(unreachable?.reason).toContain('ECONNREFUSED');
    checked(unreachable);

    // Nothing present is listed.
    expect(model.groups.flatMap((g) => entriesOf(model, g.id)).some((e) => e.container === 'app')).toBe(false);
  });

  test('the HTML parses into a table per group, a row per container that is not present, and no script', () => {
    const errors: ParserError[] = [];
    const document = parse(html, { onParseError: (error) => errors.push(error) });
    expect(errors.map((e) => e.code)).toEqual([]);
    expect(document.childNodes[0]?.nodeName).toBe('#documentType');
    const root = one(document, 'html');
    expect(attr(root, 'lang')).toBe('en');
    expect(all(document, 'meta').map((m) => attr(m, 'charset')).filter(Boolean)).toEqual(['utf-8']);
    expect(text(one(document, 'title'))).toContain('k8s-image-existence-exporter');
    expect(all(document, 'h1')).toHaveLength(1);
    expect(all(document, 'script')).toEqual([]);
    // Nothing from the cluster became markup.
    for (const tag of ['b', 'img', 'iframe', 'object', 'embed', 'link', 'base', 'form']) expect(all(document, tag), tag).toEqual([]);
    for (const element of all(document)) {
      for (const a of element.attrs) expect(a.name.startsWith('on'), `${element.tagName} ${a.name}`).toBe(false);
    }

    const hrefs = all(document, 'a').map((a) => attr(a, 'href'));
    expect(hrefs).toContain('/metrics');
    expect(hrefs).toContain('/healthz');
    expect(hrefs).toContain('/status?format=json');

    const sections = all(document, 'section');
    expect(sections.map((s) => attr(s, 'id'))).toEqual(['absent', 'bad_reference', 'registry_unavailable']);
    expect(sections.map((s) => text(one(s, 'h2')))).toEqual(['Absent (1)', 'Bad reference (2)', 'Registry unavailable (1)']);
    let rows = 0;
    for (const section of sections) {
      const id = attr(section, 'id') as string;
      const group = model.groups.find((g) => g.id === id)!;
      expect(text(section)).toContain(group.advice);
      const table = one(section, 'table');
      const headers = all(one(table, 'thead'), 'th');
      expect(headers.map(text)).toEqual(['Namespace', 'Kind', 'Workload', 'Container', 'Image', 'Registry', 'Reason', 'Last checked']);
      for (const th of headers) expect(attr(th, 'scope')).toBe('col');
      const trs = all(one(table, 'tbody'), 'tr');
      expect(trs).toHaveLength(group.count);
      trs.forEach((tr, i) => {
        const entry = entriesOf(model, id)[i] as StatusEntry;
        const cells = all(tr, 'td');
        expect(cells).toHaveLength(8);
        expect(text(cells[0]!)).toBe(entry.namespace);
        expect(text(cells[1]!)).toBe(entry.kind);
        expect(text(cells[2]!)).toBe(entry.name);
        expect(text(cells[3]!)).toBe(entry.container);
        expect(text(cells[4]!)).toBe(entry.image);
        expect(text(cells[5]!)).toBe(entry.registry);
        expect(text(cells[6]!)).toContain(entry.reason);
        const time = one(cells[7]!, 'time');
        expect(attr(time, 'datetime')).toBe(entry.checkedAt);
      });
      rows += trs.length;
    }
    expect(rows).toBe(model.totals.notPresent);
    // Every <time> carries a machine-readable datetime.
    for (const time of all(document, 'time')) expect(Number.isNaN(Date.parse(attr(time, 'datetime') ?? ''))).toBe(false);
  });
});

describe('in headless Chromium', () => {
  let browser: Browser | undefined;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`Chromium is not installed at ${CHROMIUM}: install Debian's chromium package (CI does) to run the status page's browser test`);
    }
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  afterAll(async () => {
    await browser?.close();
  });

  test('renders without errors, loads nothing from elsewhere, shows hostile strings as text, runs no script', async () => {
    expect(browser, 'Chromium was launched').toBeDefined();
    // The scrape of the previous describe is what the page shows.
    const context = await browser!.newContext();
    const page = await context.newPage();
    const consoleErrors: string[] = [];
    const pageErrors: string[] = [];
    const requested: string[] = [];
    const dialogs: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') consoleErrors.push(`${message.type()}: ${message.text()}`);
    });
    page.on('pageerror', (error) => pageErrors.push(String(error)));
    page.on('request', (request) => requested.push(request.url()));
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    await quiet();
    const kubeBefore = kube.requests.length;
    const proxyBefore = proxy.requests.length;
    try {
      const response = await page.goto(`${exporter.url}/`, { waitUntil: 'load' });
      expect(response?.status()).toBe(200);

      const headings = await page.locator('h2').allInnerTexts();
      expect(headings).toEqual(['Absent (1)', 'Bad reference (2)', 'Registry unavailable (1)']);
      expect(await page.locator('h1').innerText()).toContain('images that are not present');

      const body = (await page.textContent('body')) ?? '';
      const visible = await page.locator('body').innerText();
      for (const hostile of [HOSTILE_IMAGE, HOSTILE_CONTAINER, HOSTILE_WORKLOAD]) {
        expect(body).toContain(hostile);
        expect(visible).toContain(hostile);
      }
      expect(await page.locator('td', { hasText: HOSTILE_IMAGE }).count()).toBe(1);
      expect(await page.evaluate('document.querySelectorAll("script").length')).toBe(0);
      expect(await page.evaluate('document.querySelectorAll("b, img, iframe").length')).toBe(0);
      expect(await page.locator('table').count()).toBe(3);
      expect(await page.locator('tbody tr').count()).toBe(4);
      expect(await page.locator('time[datetime]').count()).toBeGreaterThanOrEqual(4);

      const screenshot = join(await makeTempDir('status-page'), 'status.png');
      await page.screenshot({ path: screenshot, fullPage: true });
      const png = await readFile(screenshot);
      expect(png.length).toBeGreaterThan(1000);
      expect(png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);

      // The JSON link's target is the same model.
      const json = await page.goto(`${exporter.url}/status?format=json`);
      expect(json?.headers()['content-type']).toMatch(/^application\/json/);

      expect(consoleErrors).toEqual([]);
      expect(pageErrors).toEqual([]);
      expect(dialogs).toEqual([]);
      const origin = new URL(exporter.url).origin;
      expect(requested.length).toBeGreaterThan(0);
      for (const url of requested) expect(new URL(url).origin, url).toBe(origin);
      // Rendering the page (and its JSON) asked neither the API server nor the registry anything.
      expect(kube.requests.length).toBe(kubeBefore);
      expect(proxy.requests.length).toBe(proxyBefore);
    } finally {
      await context.close();
    }
  });
});
