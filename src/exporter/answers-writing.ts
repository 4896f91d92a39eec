/**
 * The memory held by answers still being written. A response holds every Buffer of its answer until
 * it is written whole, and each scrape after the reuse window makes a new answer (tens of MB at
 * 50,000 workloads): clients that read slowly or not at all, sent a second apart, each held another
 * one. So the Buffers held by responses being written are counted once each (a shared answer counts
 * once however many write it), and past maxBytes the oldest responses are cut until it fits again;
 * the newest response always stays, whatever its size.
 */
import type { ServerResponse } from 'node:http';

/** Bytes of answers held by responses being written, at most (the deployed limit is 320Mi). */
export const ANSWERS_WRITING_MAX_BYTES = 96 * 1024 * 1024;

export class AnswersWriting {
  /** Responses being written, oldest first, with the Buffers each holds. */
  private readonly writing = new Map<ServerResponse, readonly Buffer[]>();
  /** How many responses being written hold each Buffer. */
  private readonly holders = new Map<Buffer, number>();
  private bytes = 0;

  constructor(private readonly maxBytes = ANSWERS_WRITING_MAX_BYTES) {}

  /** Bytes held now (tests). */
  get heldBytes(): number {
    return this.bytes;
  }

  /** `res` is writing `chunks` until it closes; older responses are cut if they now hold too much. */
  add(res: ServerResponse, chunks: readonly Buffer[]): void {
    this.writing.set(res, chunks);
    for (const chunk of chunks) {
      const held = this.holders.get(chunk) ?? 0;
      if (held === 0) this.bytes += chunk.length;
      this.holders.set(chunk, held + 1);
    }
    res.once('close', () => this.remove(res));
    for (const [oldest] of this.writing) {
      if (this.bytes <= this.maxBytes || oldest === res) break;
      this.remove(oldest);
      oldest.destroy();
    }
  }

  private remove(res: ServerResponse): void {
    const chunks = this.writing.get(res);
    if (!chunks) return;
    this.writing.delete(res);
    for (const chunk of chunks) {
      const held = (this.holders.get(chunk) ?? 1) - 1;
      if (held > 0) {
        this.holders.set(chunk, held);
      } else {
        this.holders.delete(chunk);
        this.bytes -= chunk.length;
      }
    }
  }
}
