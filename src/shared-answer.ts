/**
 * Concurrent scrapes share one collection and one rendered answer, so memory and work do not grow
 * with the number of scrapers:
 * - a scrape arriving while an answer is being made joins it when that answer is due no later than
 *   its own deadline; one with a shorter deadline joins too, but gets the previous answer if the
 *   shared one is not ready by its deadline (a true, slightly older answer rather than none);
 * - a scrape arriving within REUSE_MS of an answer's completion gets that answer. Making an answer
 *   is mostly synchronous work that blocks the event loop, so scrapes sent at the same moment are
 *   often read only right after it finished; without this, fifty of them would make fifty answers
 *   in a row. The window only has to cover reading that backlog, not the making of the answer.
 */
import { beforeDeadline, TIMED_OUT } from './deadline.js';

/** How long a finished answer is handed to new scrapes. */
export const REUSE_MS = 100;

interface InFlight {
  readonly deadline: number;
  readonly answer: Promise<Buffer>;
}

interface Finished {
  readonly body: Buffer;
  readonly at: number;
}

export class SharedAnswer {
  private current: InFlight | undefined;
  private previous: Finished | undefined;

  constructor(
    /** Makes one answer, due by `deadline` (ms since epoch). */
    private readonly make: (deadline: number) => Promise<Buffer>,
    private readonly now: () => number = Date.now,
  ) {}

  async get(deadline: number): Promise<Buffer> {
    const { previous } = this;
    if (!this.current && previous && this.now() - previous.at < REUSE_MS) return previous.body;
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
      .then((body) => {
        this.previous = { body, at: this.now() };
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
