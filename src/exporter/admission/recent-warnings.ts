/**
 * The last reviews that warned or refused, for the status page: a ring of at most MAX_RECENT
 * entries whose every string is bounded (warnings by warnings.ts, names by review.ts), so the list
 * costs at most a few hundred KiB however many reviews arrive.
 */
import { escapeHtml } from '../status/status-html.js';

export const MAX_RECENT = 50;

export interface RecentReview {
  readonly at: number;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly operation: string;
  readonly denied: boolean;
  readonly warnings: readonly string[];
}

export class RecentWarnings {
  private readonly entries: RecentReview[] = [];

  add(entry: RecentReview): void {
    this.entries.push(entry);
    if (this.entries.length > MAX_RECENT) this.entries.shift();
  }

  /** Newest first. */
  list(): readonly RecentReview[] {
    return [...this.entries].reverse();
  }

  /** The status JSON's `admissionWarnings` field, with its trailing comma. */
  jsonField(): string {
    const items = this.list().map((e) => ({ ...e, at: new Date(e.at).toISOString() }));
    return `"admissionWarnings":${JSON.stringify(items)},`;
  }

  /** The status page's section. */
  html(): string {
    const items = this.list().map(
      (e) =>
        `<li><time>${new Date(e.at).toISOString()}</time> ${escapeHtml(e.operation)} ${escapeHtml(e.kind)} ${escapeHtml(e.namespace)}/${escapeHtml(e.name)}` +
        `${e.denied ? ' <strong>refused</strong>' : ''}<ul>${e.warnings.map((w) => `<li>${escapeHtml(w)}</li>`).join('')}</ul></li>`,
    );
    const body = items.length === 0 ? '<p>No review has warned since the exporter started.</p>' : `<ul>${items.join('')}</ul>`;
    return `<section id="admission" aria-labelledby="h-admission"><h2 id="h-admission">Recent admission warnings (last ${MAX_RECENT})</h2>${body}</section>\n`;
  }
}
