/**
 * How long an answer takes to finish once its collection stops waiting: building its rows,
 * rendering them and the turns of the event loop other work takes meanwhile. On a loaded machine
 * this is several times what it is on an idle one, so a fixed margin before the scrape deadline is
 * not enough; the margin follows what recent answers took instead.
 *
 * Recorded per answer; the estimate is the longest recent one, fading by FADE per answer, so that
 * one answer made anew (a rollout) still counts after many cheap ones that reused the text.
 */

/** The margin is this many times the finishing time: load comes and goes between two scrapes. */
export const FINISHING_SAFETY = 2;
/** Per answer, an old finishing time counts for this much less. */
const FADE = 0.9;

export class FinishingTime {
  private estimate = 0;

  record(ms: number): void {
    this.estimate = Math.max(ms, this.estimate * FADE);
  }

  /** The longest recent finishing time, faded. */
  get ms(): number {
    return this.estimate;
  }
}
