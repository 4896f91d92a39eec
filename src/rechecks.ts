/**
 * Counts completed recheck rounds for `completed_rechecks_total`.
 *
 * Rule: a round starts at start-up and again each time one completes. A round completes at the end
 * of the first scrape in which every image referenced by that scrape has a check that finished after
 * the round started. With Prometheus scraping steadily this is about once per `--check-interval`
 * (the first round completes when every image has been checked once).
 */
export class RecheckRounds {
  private roundStart: number;
  private completed = 0;

  constructor(private readonly now: () => number) {
    this.roundStart = now();
  }

  /** `finishedAt(key)` is when the latest check of that image finished (undefined: never). */
  observe(keys: Iterable<string>, finishedAt: (key: string) => number | undefined): boolean {
    let any = false;
    for (const key of keys) {
      any = true;
      const at = finishedAt(key);
      if (at === undefined || at < this.roundStart) return false;
    }
    if (!any) return false;
    this.completed++;
    this.roundStart = this.now();
    return true;
  }

  get count(): number {
    return this.completed;
  }
}
