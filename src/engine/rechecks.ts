/**
 * Counts completed recheck rounds for `completed_rechecks_total`.
 *
 * Rule: a round starts at start-up and again each time one completes. A round completes at the end
 * of the first scrape in which every image referenced by that scrape has a check that finished after
 * the round started. With Prometheus scraping steadily this is about once per `--check-interval`
 * (the first round completes when every image has been checked once).
 *
 * "After" is decided by a completion sequence number, not a clock: concurrent scrapes ending in the
 * same millisecond as a check must not count the same round twice.
 */
export class RecheckRounds {
  private roundStart: number;
  private completed = 0;

  /** `latestSeq()` is the sequence number of the most recently finished check (0: none yet). */
  constructor(private readonly latestSeq: () => number) {
    this.roundStart = latestSeq();
  }

  /** `finishedSeq(key)` is the sequence number of the latest finished check of that image. */
  observe(keys: Iterable<string>, finishedSeq: (key: string) => number | undefined): boolean {
    let any = false;
    for (const key of keys) {
      any = true;
      const seq = finishedSeq(key);
      if (seq === undefined || seq <= this.roundStart) return false;
    }
    if (!any) return false;
    this.completed++;
    this.roundStart = this.latestSeq();
    return true;
  }

  get count(): number {
    return this.completed;
  }
}
