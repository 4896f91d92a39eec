/**
 * Renders the status index as one HTML5 page: no JavaScript, no external assets, inline CSS only
 * (allowed by STATUS_PAGE_CSP through its hash). Pure. Every string from the cluster or a registry
 * goes through escapeHtml(), which is safe in text and in quoted attribute values alike. In three
 * parts: a head and a foot that say how old things are as of the request, and the groups between
 * them, written once per snapshot (in chunks, yielding to the event loop) and shared.
 */
import { createHash } from 'node:crypto';
import type { ContainerRow } from '../../engine/collector.js';
import { yieldToEventLoop } from '../../utils/yield.js';
import { ChunkedText } from '../../utils/chunked-text.js';
import type { IndexedGroup, IndexedImage, StatusIndex } from './status-model.js';
import { seconds } from './status-model.js';

/** Containers listed per group on the page (the JSON lists them all). */
export const DEFAULT_MAX_ENTRIES_PER_GROUP = 1000;

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const SPECIAL = /[&<>"']/g;
const HAS_SPECIAL = /[&<>"']/;

/** Escapes text for HTML text content and for (quoted) attribute values: & < > " '. */
export function escapeHtml(value: string): string {
  return HAS_SPECIAL.test(value) ? value.replace(SPECIAL, (ch) => ESCAPES[ch] as string) : value;
}

const STYLE = `
:root { color-scheme: light dark; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; line-height: 1.4; }
body { margin: 1.5rem; max-width: 110rem; }
h1 { font-size: 1.4rem; margin: 0 0 .5rem; }
h2 { font-size: 1.15rem; margin: 2rem 0 .3rem; }
nav a { margin-right: 1rem; }
.summary { font-size: 1.05rem; }
.warning { border-left: .3rem solid #c60; padding: .3rem .8rem; }
.advice { margin: .2rem 0 .6rem; max-width: 60rem; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { text-align: left; vertical-align: top; padding: .25rem .5rem; border-bottom: 1px solid #8884; unicode-bidi: isolate; }
thead th { border-bottom: 2px solid #8888; }
code { white-space: pre-wrap; overflow-wrap: anywhere; }
td { overflow-wrap: break-word; }
.note { opacity: .75; font-size: .85em; }
section.absent h2, section.platform_missing h2 { color: #c00; }
footer { margin-top: 2rem; opacity: .75; font-size: .85rem; }
`;

/**
 * The page's Content-Security-Policy: nothing may load or run; only its own inline style applies.
 * A page that ever got a script element by mistake would still not run it.
 */
export const STATUS_PAGE_CSP = [
  "default-src 'none'",
  `style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`,
  "img-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export interface RenderOptions {
  /** At most this many containers per group; then "and N more" (default DEFAULT_MAX_ENTRIES_PER_GROUP). */
  readonly maxEntriesPerGroup?: number;
}

function formatAge(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h`;
  return `${Math.floor(seconds / 86_400)} d`;
}

/** `<time datetime="ISO">2026-01-02 03:04:05 UTC</time>`. */
function time(ms: number): string {
  const iso = new Date(ms).toISOString();
  const text = iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z').replace(/Z$/, ' UTC');
  return `<time datetime="${escapeHtml(iso)}">${escapeHtml(text)}</time>`;
}

function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

const COLUMNS = ['Namespace', 'Kind', 'Workload', 'Container', 'Image', 'Registry', 'Reason', 'Last checked'];
const HEADER = `<thead><tr>${COLUMNS.map((c) => `<th scope="col">${c}</th>`).join('')}</tr></thead>`;

/** The cells an image's containers share, escaped once per image. */
function imageCells(image: IndexedImage, at: number): string {
  const checked =
    image.checkedAt === undefined
      ? 'never'
      : `${time(image.checkedAt)} <span class="note">(${formatAge(seconds(at - image.checkedAt))} before the collection)</span>`;
  const proven = image.lastProven ? ` <span class="note">(last proven ${image.lastProven})</span>` : '';
  return (
    `<td><code>${escapeHtml(image.image)}</code></td>` +
    `<td>${escapeHtml(image.registry)}</td>` +
    `<td>${escapeHtml(image.reason)}${proven}</td>` +
    `<td>${checked}</td>`
  );
}

function row({ workload, container }: ContainerRow, cells: string): string {
  return (
    '<tr>' +
    `<td>${escapeHtml(workload.namespace)}</td>` +
    `<td>${escapeHtml(workload.kind)}</td>` +
    `<td>${escapeHtml(workload.name)}</td>` +
    `<td>${container.volume ? 'volume ' : ''}${escapeHtml(container.name)}${container.init ? ' <span class="note">(init)</span>' : ''}</td>` +
    cells +
    '</tr>'
  );
}

async function renderGroup(out: ChunkedText, group: IndexedGroup, max: number, at: number): Promise<void> {
  const id = escapeHtml(group.id);
  out.write(
    `<section id="${id}" class="${id}" aria-labelledby="h-${id}">` +
      `<h2 id="h-${id}">${escapeHtml(group.title)} (${group.count})</h2>` +
      `<p class="advice"><strong>What to do:</strong> ${escapeHtml(group.advice)}</p>` +
      `<table>${HEADER}<tbody>`,
  );
  let shown = 0;
  for (const image of group.images) {
    if (shown >= max) break;
    const cells = imageCells(image, at);
    for (const container of image.rows) {
      if (shown >= max) break;
      out.write(row(container, cells));
      shown++;
      if (out.item()) await yieldToEventLoop();
    }
  }
  out.write('</tbody></table>');
  const more = group.count - shown;
  if (more > 0) out.write(`<p class="more">… and ${more} more: <a href="/status?format=json">the JSON</a> lists them all.</p>`);
  out.write('</section>');
}

function summary(index: StatusIndex, now: number): string {
  if (index.at === undefined) return '<p class="summary">No collection has run yet.</p>';
  const { totals } = index;
  const statuses = index.groups
    .filter((g) => g.count > 0 && g.id !== 'platform_missing' && g.id !== 'skipped')
    .map((g) => `<a href="#${escapeHtml(g.id)}">${g.count} ${escapeHtml(g.title.toLowerCase())}</a>`);
  const missing =
    (totals.platformMissing > 0 ? `, <a href="#platform_missing">${plural(totals.platformMissing, 'container')} missing a platform</a>` : '') +
    (totals.skipped > 0 ? `, <a href="#skipped">${totals.skipped} skipped</a>` : '');
  return (
    `<p class="summary">${plural(totals.containers, 'container')}: ${totals.present} present, ${totals.notPresent} not present` +
    `${statuses.length > 0 ? ` (${statuses.join(', ')})` : ''}${missing}.</p>` +
    `<p>Last collection finished ${time(index.at)} (${formatAge(seconds(now - index.at))} ago), took ${index.collectionSeconds.toFixed(2)} s; ` +
    `${plural(index.pendingChecks, 'check')} still running then.</p>`
  );
}

function listsDown(index: StatusIndex): string {
  const down = index.listsDown;
  if (down.length === 0) return '';
  const items = down.map(
    (l) =>
      `<li>${escapeHtml(l.kind)}${l.namespace === null ? '' : ` in namespace ${escapeHtml(l.namespace)}`}: ` +
      `${l.ageSeconds === null ? 'never listed' : `using a listing from ${l.ageSeconds} s before`}</li>`,
  );
  return (
    '<div class="warning"><p><strong>Some workload lists failed</strong> in the last collection; ' +
    'the workloads of these may be missing or out of date (see the exporter log):</p>' +
    `<ul>${items.join('')}</ul></div>`
  );
}

/** The page up to its groups, as of `now` (ms since epoch). */
export function statusHtmlHead(index: StatusIndex, now: number): string {
  return (
    '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n' +
    '<title>Image status · k8s-image-existence-exporter</title>\n' +
    `<style>${STYLE}</style>\n</head>\n<body>\n<header>\n` +
    '<h1>k8s-image-existence-exporter: images that are not present</h1>\n' +
    '<p>Checks that every image the cluster’s workloads use exists in its registry. Listed here: every container whose image was not found present, by status, and those skipped on purpose.</p>\n' +
    '<nav><a href="/status?format=json">JSON</a> <a href="/metrics">Metrics</a> <a href="/healthz">Health</a></nav>\n' +
    summary(index, now) +
    '\n</header>\n<main>\n'
  );
}

/** The groups: the same for every request about this index. */
export async function statusHtmlBody(index: StatusIndex, options: RenderOptions = {}): Promise<Buffer[]> {
  const max = Math.max(0, options.maxEntriesPerGroup ?? DEFAULT_MAX_ENTRIES_PER_GROUP);
  const out = new ChunkedText();
  if (index.at === undefined) {
    out.write(
      '<p>This page shows what the last collection found. The exporter collects when Prometheus scrapes ' +
        '<a href="/metrics">/metrics</a>: the first scrape starts one. This page never starts one itself ' +
        '(it asks no registry and no Kubernetes API server).</p>\n',
    );
  } else {
    out.write(listsDown(index));
    const groups = index.groups.filter((g) => g.count > 0);
    if (groups.length === 0) out.write('<p>Every image the last collection saw is present, on every platform it was checked for.</p>\n');
    for (const group of groups) await renderGroup(out, group, max, index.at);
  }
  return out.end();
}

/** The page after its groups, as of `now`. */
export function statusHtmlFoot(now: number): string {
  return (
    `\n</main>\n<footer><p>Generated ${time(now)} from the last scrape’s collection; loading this page asks no registry and no Kubernetes API server. ` +
    'Checks that finished since then show after the next scrape.</p></footer>\n</body>\n</html>\n'
  );
}

/** The whole page as one string (for tests and tools; the server sends the parts). */
export async function renderStatusHtml(index: StatusIndex, now: number, options: RenderOptions = {}): Promise<string> {
  const body = await statusHtmlBody(index, options);
  return statusHtmlHead(index, now) + Buffer.concat(body).toString('utf8') + statusHtmlFoot(now);
}
