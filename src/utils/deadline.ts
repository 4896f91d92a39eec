/** The one deadline race: wait for a promise, but not past a point in time. */
export const TIMED_OUT = Symbol('timed out');

/**
 * Resolves with the promise's value, or TIMED_OUT once `deadline` (ms since epoch, by `now`) has
 * passed. The timer is cleared either way; a rejection of the promise rejects the race.
 */
export async function beforeDeadline<T>(promise: Promise<T>, deadline: number, now: () => number = Date.now): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), Math.max(0, deadline - now()));
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The promise's value, or a rejection with `timedOut()` once `ms` have passed (its own outcome is then ignored). */
export async function within<T>(promise: Promise<T>, ms: number, timedOut: () => Error): Promise<T> {
  const result = await beforeDeadline(promise, Date.now() + ms);
  if (result === TIMED_OUT) throw timedOut();
  return result;
}
