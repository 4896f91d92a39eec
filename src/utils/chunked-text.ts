/**
 * Text written piece by piece and kept as Buffers of about CHUNK_CHARS characters: an answer of
 * 100,000 rows is never one giant string (nor a string and its copy as bytes at once), and whoever
 * writes it gives the event loop a turn every ITEMS_PER_SLICE items (yield.ts). Used by /metrics
 * and the status pages alike.
 */
import { ITEMS_PER_SLICE } from './yield.js';

const CHUNK_CHARS = 64 * 1024;

export class ChunkedText {
  private parts: string[] = [];
  private pending = 0;
  private items = 0;
  private readonly chunks: Buffer[] = [];

  write(text: string): void {
    this.parts.push(text);
    this.pending += text.length;
    if (this.pending >= CHUNK_CHARS) this.flush();
  }

  /** Counts one item written: true every ITEMS_PER_SLICE items, when the writer should give the event loop a turn. */
  item(): boolean {
    return ++this.items % ITEMS_PER_SLICE === 0;
  }

  /** The bytes written. */
  end(): Buffer[] {
    this.flush();
    return this.chunks;
  }

  private flush(): void {
    if (this.parts.length === 0) return;
    this.chunks.push(Buffer.from(this.parts.join('')));
    this.parts = [];
    this.pending = 0;
  }
}
