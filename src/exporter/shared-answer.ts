/**
 * Concurrent scrapes share one collection and one rendered answer, so memory and work do not grow
 * with the number of scrapers:
 * - a scrape arriving while an answer is being made joins it when that answer is due no later than
 *   its own deadline; one with a shorter deadline joins too, but gets the previous answer if the
 *   shared one is not ready by its deadline (a true, slightly older answer rather than none);
 * - a scrape arriving soon after an answer was completed gets that answer: within REUSE_MS, or
 *   within as long as the answer took to make, if longer. Scrapes sent while it was made join it,
 *   but handing fifty answers of 40 MB (50,000 workloads) to their sockets takes a while too, and
 *   scrapes read meanwhile would otherwise make fifty answers in a row. Such an answer is no older
 *   than a new one would take to make.
 */
import { beforeDeadline, TIMED_OUT } from '../utils/deadline.js';

/** An answer's bytes, in the chunks they were made in (written one after another, never copied). */
export type AnswerBody = readonly Buffer[];

/** How long a finished answer is handed to new scrapes, at least. */
export const REUSE_MS = 100;

interface InFlight {
  readonly deadline: number;
  readonly answer: Promise<AnswerBody>;
}

interface Finished {
  readonly body: AnswerBody;
  /** Handed to new scrapes until then. */
  readonly reusableUntil: number;
}

export class SharedAnswer {
  private current: InFlight | undefined;
  private previous: Finished | undefined;

  constructor(
    /** Makes one answer, due by `deadline` (ms since epoch), and says how long it kept the loop busy. */
    private readonly make: (deadline: number) => Promise<{ readonly body: AnswerBody; readonly busyMs: number }>,
    private readonly now: () => number = Date.now,
  ) {}

  async get(deadline: number): Promise<AnswerBody> {
    const { previous } = this;
    if (!this.current && previous && this.now() < previous.reusableUntil) return previous.body;
    const current = this.current ?? this.start(deadline);
    if (current.deadline <= deadline || !previous) return current.answer;
    const answer = await beforeDeadline(current.answer, deadline, this.now);
    return answer === TIMED_OUT ? previous.body : answer;
  }

  private start(deadline: number): InFlight {
    // Begin on the next turn of the event loop: scrapes read in the same poll phase join this answer.
    const begun = new Promise<void>((resolve) => setImmediate(resolve));
    const answer = begun
      .then(() => this.make(deadline))
      .then(({ body, busyMs }) => {
        this.previous = { body, reusableUntil: this.now() + Math.max(REUSE_MS, busyMs) };
        return body;
      });
    const current: InFlight = { deadline, answer };
    this.current = current;
    const clear = () => {
      if (this.current === current) this.current = undefined;
    };
    answer.then(clear, clear);
    return current;
  }
}

/**
 * One answer per key, made on first demand and shared by every request for that key until a
 * request for another key replaces it: the status page's answers are made at most once per
 * snapshot, however many people load it at once. A make that fails is not kept.
 */
export class AnswerPerKey<K, T> {
  private latest: { readonly key: K; readonly answer: Promise<T> } | undefined;

  constructor(private readonly make: (key: K) => Promise<T>) {}

  get(key: K): Promise<T> {
    if (this.latest && this.latest.key === key) return this.latest.answer;
    // Begin on the next turn of the event loop, after requests read in the same poll phase asked too.
    const answer = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.make(key));
    const latest = { key, answer };
    this.latest = latest;
    answer.catch(() => {
      if (this.latest === latest) this.latest = undefined;
    });
    return answer;
  }

  /** Lets go of the answer kept (requests already waiting for it still get it). */
  clear(): void {
    this.latest = undefined;
  }
}
