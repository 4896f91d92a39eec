/**
 * Concurrent scrapes share one collection and one rendered answer, so memory and work do not grow
 * with the number of scrapers. A scrape arriving while an answer is being made joins it when that
 * answer is due no later than its own deadline; one with a shorter deadline joins too, but gets the
 * previous answer if the shared one is not ready by its deadline (a true, slightly older answer
 * rather than none).
 */
import { beforeDeadline, TIMED_OUT } from './deadline.js';

interface InFlight {
  readonly deadline: number;
  readonly answer: Promise<Buffer>;
}

export class SharedAnswer {
  private current: InFlight | undefined;
  private previous: Buffer | undefined;

  constructor(
    /** Makes one answer, due by `deadline` (ms since epoch). */
    private readonly make: (deadline: number) => Promise<Buffer>,
    private readonly now: () => number = Date.now,
  ) {}

  async get(deadline: number): Promise<Buffer> {
    const current = this.current ?? this.start(deadline);
    if (current.deadline <= deadline || !this.previous) return current.answer;
    const answer = await beforeDeadline(current.answer, deadline, this.now);
    return answer === TIMED_OUT ? this.previous : answer;
  }

  private start(deadline: number): InFlight {
    const answer = this.make(deadline).then((body) => {
      this.previous = body;
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
