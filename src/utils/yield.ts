/**
 * Long loops of a scrape (building its rows, writing its text) run in slices with a turn of the
 * event loop between them, so that no stretch of synchronous work is long: the deadline timers of
 * other scrapes, /healthz and new connections are served while a big answer is made. On a loaded
 * machine a stretch of CPU work takes several times its idle length; short stretches keep that
 * from becoming a late answer or a failed liveness probe.
 *
 * Slices are counted in items, not timed, so the work is split the same way on every machine (and
 * tests can count the turns): ITEMS_PER_SLICE rows cost a few ms of CPU on an idle core.
 */

/** Items handled between two turns of the event loop. */
export const ITEMS_PER_SLICE = 1000;

/** Resolves after the event loop has had a turn: pending I/O (connections, requests) and timers run first. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Calls `work(from, to)` on consecutive index ranges of `items` (at most `perSlice` long), with a
 * turn of the event loop before every range but the first.
 */
export async function forEachSlice(items: { readonly length: number }, work: (from: number, to: number) => void, perSlice = ITEMS_PER_SLICE): Promise<void> {
  for (let from = 0; from < items.length; from += perSlice) {
    if (from > 0) await yieldToEventLoop();
    work(from, Math.min(items.length, from + perSlice));
  }
}

/** `items.map(fn)`, with a turn of the event loop every `perSlice` items. */
export async function mapSliced<T, R>(items: readonly T[], fn: (item: T) => R, perSlice = ITEMS_PER_SLICE): Promise<R[]> {
  const mapped = new Array<R>(items.length);
  await forEachSlice(
    items,
    (from, to) => {
      for (let i = from; i < to; i++) mapped[i] = fn(items[i] as T);
    },
    perSlice,
  );
  return mapped;
}

/**
 * Answers being finished come first. Once a scrape stops waiting for checks, the rest of its work
 * (rows, text) is foreground work; background work that only later scrapes need (a listing being
 * refreshed) gives way to it between its chunks. On a loaded machine the two would otherwise take
 * turns, and the answer would finish late by the listing's share of the CPU.
 *
 * Giving way is bounded: scrapes arriving back to back (many scrapers) keep the foreground busy
 * almost all the time, and a listing that waited for every answer read one chunk per collection
 * (a page of 500 Deployments, hundreds of chunks, outlived its request timeout, so the listing
 * failed for as long as the scrapes went on). A chunk waits at most BACKGROUND_WAIT_MAX_MS; then
 * background work has BACKGROUND_TURN_MS without waiting: it gets at least about a tenth of the
 * time, and delays an answer by at most that share.
 */
export const BACKGROUND_WAIT_MAX_MS = 200;
export const BACKGROUND_TURN_MS = 20;

let foreground = 0;
const waitingForForeground = new Set<() => void>();
/** Until then (performance.now()) background work goes on without waiting: its turn after a long wait. */
let backgroundTurnUntil = 0;

export async function asForeground<T>(work: () => Promise<T>): Promise<T> {
  foreground++;
  try {
    return await work();
  } finally {
    if (--foreground === 0) for (const resume of [...waitingForForeground]) resume();
  }
}

/**
 * For background work between its chunks: undefined when no answer is being finished (go on at
 * once) or it is background work's turn, else a promise that resolves when none is, or after
 * BACKGROUND_WAIT_MAX_MS.
 */
export function foregroundFinished(): Promise<void> | undefined {
  if (foreground === 0 || performance.now() < backgroundTurnUntil) return undefined;
  return new Promise((resolve) => {
    const resume = (waitedTooLong: boolean) => {
      clearTimeout(timer);
      waitingForForeground.delete(done);
      if (waitedTooLong) backgroundTurnUntil = performance.now() + BACKGROUND_TURN_MS;
      resolve();
    };
    const done = () => resume(false);
    const timer = setTimeout(() => resume(true), BACKGROUND_WAIT_MAX_MS);
    waitingForForeground.add(done);
  });
}
