/**
 * Preloaded into a `check` process (node --import) by test/integration/check-crash.test.ts: makes it
 * crash while it writes its table, at the row of a workload named `crash-here`, in the way named by
 * $CHECK_CRASH: `throw` (an exception inside the command), `uncaught` (an exception outside any
 * promise) or `rejection` (a promise rejected with no handler). Test code only.
 */
const mode = process.env.CHECK_CRASH;
const padEnd = String.prototype.padEnd;
String.prototype.padEnd = function (...args) {
  if (String(this) === 'crash-here') {
    const error = new RangeError('forced crash, password=hunter2');
    if (mode === 'throw') throw error;
    if (mode === 'uncaught') setImmediate(() => { throw error; });
    if (mode === 'rejection') void Promise.reject(error);
  }
  return padEnd.apply(this, args);
};
