/**
 * Go `time.ParseDuration` syntax ("5m", "90s", "1h30m", "500ms", "1.5h"), because the original
 * exporter took its flags in that format and operators' manifests already carry such values.
 */
const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3,
  'μs': 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/** Parses a Go duration into milliseconds; throws a message suitable for a flag error. */
export function parseGoDuration(text: string): number {
  const input = text.trim();
  if (input === '') throw new Error('empty duration');
  let sign = 1;
  let rest = input;
  if (rest[0] === '+' || rest[0] === '-') {
    if (rest[0] === '-') sign = -1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') throw new Error(`invalid duration "${text}"`);
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < rest.length) {
    const start = PART.lastIndex;
    const match = PART.exec(rest);
    if (!match || match.index !== start) {
      throw new Error(`invalid duration "${text}" (use Go syntax such as 90s, 5m, 1h30m)`);
    }
    const [, amount, unit] = match as unknown as [string, string, string];
    total += Number(amount) * (UNIT_MS[unit] as number);
  }
  if (!Number.isFinite(total) || total > Number.MAX_SAFE_INTEGER) {
    throw new Error(`duration "${text}" is out of range`);
  }
  return sign * total;
}

/** Renders milliseconds the way Go prints a duration, for logs and help text. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  let seconds = ms / 1000;
  const hours = Math.floor(seconds / 3600);
  seconds -= hours * 3600;
  const minutes = Math.floor(seconds / 60);
  seconds -= minutes * 60;
  let out = '';
  if (hours) out += `${hours}h`;
  if (minutes || hours) out += `${minutes}m`;
  out += `${Number(seconds.toFixed(3))}s`;
  return out;
}
