/**
 * The status page's answers (HTML and JSON), shared: for each collection's snapshot its index and
 * the bytes of each format are made once, on the first request after that collection, and every
 * request until the next collection gets the same Buffers (written to each socket, never copied),
 * between a small head and foot that say how old things are as of that request. So the memory and
 * the work of the page do not grow with the number of people (or scripts) loading it at once.
 */
import type { Logger } from '../../utils/log.js';
import { AnswerPerKey, type AnswerBody } from '../shared-answer.js';
import { statusHtmlBody, statusHtmlFoot, statusHtmlHead } from './status-html.js';
import { statusJsonBody, statusJsonHead } from './status-json.js';
import { indexStatus, type CollectedSnapshot, type StatusIndex } from './status-model.js';

export type StatusFormat = 'html' | 'json';

/** What no collection yet is keyed by (a collection is keyed by its own CollectedSnapshot object). */
const NONE = Symbol('no collection yet');
type Key = CollectedSnapshot | typeof NONE;

export class StatusPages {
  private readonly index: AnswerPerKey<Key, StatusIndex>;
  /** Keyed by the index they are written from. */
  private readonly bodies: Record<StatusFormat, AnswerPerKey<StatusIndex, AnswerBody>>;

  constructor(private readonly options: { readonly logger: Logger; readonly now: () => number }) {
    this.index = new AnswerPerKey((key) => indexStatus(key === NONE ? undefined : key));
    const body = (format: StatusFormat, write: (index: StatusIndex) => Promise<Buffer[]>) =>
      new AnswerPerKey<StatusIndex, AnswerBody>(async (index) => {
        const started = performance.now();
        const chunks = await write(index);
        // Debug: one line per answer made (tests count them; at most one per format and collection).
        this.options.logger.debug('status page made', { format, bytes: byteLength(chunks), ms: Math.round(performance.now() - started) });
        return chunks;
      });
    this.bodies = { html: body('html', (index) => statusHtmlBody(index)), json: body('json', statusJsonBody) };
  }

  /**
   * A new collection finished: the answers about the previous one are let go of now, not when the
   * page is next loaded (which may be never), so they hold no memory between collections.
   */
  collected(): void {
    this.index.clear();
    this.bodies.html.clear();
    this.bodies.json.clear();
  }

  /**
   * The whole answer about `last` (undefined: no collection yet), as of now. `extra`: what is not
   * about the collection (the admission webhook's recent warnings), small and made per request: a
   * section before the groups, and a field first in the JSON object.
   */
  async answer(last: CollectedSnapshot | undefined, format: StatusFormat, extra?: { readonly html: () => string; readonly jsonField: () => string }): Promise<AnswerBody> {
    const index = await this.index.get(last ?? NONE);
    const body = await this.bodies[format].get(index);
    const now = this.options.now();
    if (format === 'json') {
      const head = statusJsonHead(index, now);
      return [Buffer.from(extra ? `{${extra.jsonField()}${head.slice(1)}` : head), ...body];
    }
    return [Buffer.from(statusHtmlHead(index, now) + (extra?.html() ?? '')), ...body, Buffer.from(statusHtmlFoot(now))];
  }
}

export function byteLength(chunks: AnswerBody): number {
  return chunks.reduce((sum, chunk) => sum + chunk.length, 0);
}
