/**
 * Go's flag syntax (`--flag=value`, `--flag value`, `-flag`, `--` ends the flags), the value types
 * the flag table is written in, and the help's flag lines. Pure: knows no flag by name.
 */
import { formatDuration, parseGoDuration } from '../utils/duration.js';

/** The command line is wrong: exit code 2, and this one-line message. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export class FlagError extends UsageError {
  constructor(
    readonly flag: string,
    problem: string,
  ) {
    super(`invalid flag --${flag}: ${problem}`);
    this.name = 'FlagError';
  }
}

/** How a flag's values are read. */
export interface ValueType<T> {
  /** The values given, in order (else the default; else none) → the typed value; throws a FlagError naming `flag`. */
  readonly parse: (values: readonly string[], flag: string) => T;
  /** Go's boolean flags: `--flag` alone means `--flag=true`. */
  readonly takesNoValue?: true;
}

/** What the tokenizer needs to know of a flag. */
export interface Syntax {
  readonly value: Pick<ValueType<unknown>, 'takesNoValue'>;
  /** May be given more than once (values accumulate). */
  readonly repeatable?: boolean;
}

/**
 * Splits argv into the values given for each flag and, where the command takes them, positional
 * arguments: anything not starting with '-', '-' itself, and everything after '--'.
 */
export function tokenize(
  argv: readonly string[],
  flagNamed: (name: string) => Syntax | undefined,
  takesPositionals: boolean,
): { values: Map<string, string[]>; positionals: string[] } {
  const values = new Map<string, string[]>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      if (takesPositionals) positionals.push(...argv.slice(i + 1));
      else if (i + 1 < argv.length) throw new FlagError(String(argv[i + 1]).replace(/^-+/, ''), 'unexpected positional argument');
      break;
    }
    if (takesPositionals && (arg === '-' || !arg.startsWith('-'))) {
      positionals.push(arg);
      continue;
    }
    const match = /^--?([A-Za-z0-9][A-Za-z0-9-]*)(?:=([\s\S]*))?$/.exec(arg);
    if (!match) {
      throw new FlagError(arg.replace(/^-+/, '') || arg, `unexpected argument ${JSON.stringify(arg)} (flags look like --name=value)`);
    }
    const name = match[1] as string;
    const spec = flagNamed(name);
    if (!spec) throw new FlagError(name, 'unknown flag (see --help)');
    let value = match[2];
    if (value === undefined) {
      if (spec.value.takesNoValue) value = 'true';
      else {
        const next = argv[i + 1];
        if (next === undefined) throw new FlagError(name, 'needs a value');
        value = next;
        i++;
      }
    }
    const seen = values.get(name);
    if (seen && !spec.repeatable) throw new FlagError(name, 'given more than once');
    values.set(name, [...(seen ?? []), value]);
  }
  return { values, positionals };
}

/** A grammar owned elsewhere throws its problem as an Error: here it becomes the flag's error. */
function asFlagError<T>(flag: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof FlagError || !(error instanceof Error)) throw error;
    throw new FlagError(flag, error.message);
  }
}

/** The value of a flag given at most once (or its default); '' when neither. */
const last = (values: readonly string[]): string => values[values.length - 1] ?? '';

/** Comma-separated, and the values of a repeated flag together: the non-empty items, trimmed. */
function parseList(values: readonly string[]): string[] {
  return values.flatMap((v) => v.split(',')).map((s) => s.trim()).filter((s) => s !== '');
}

/** false when not given. */
export const bool: ValueType<boolean> = {
  takesNoValue: true,
  parse: (values, flag) => {
    if (values.length === 0) return false;
    const value = last(values);
    if (/^(1|t|true)$/i.test(value)) return true;
    if (/^(0|f|false)$/i.test(value)) return false;
    throw new FlagError(flag, `must be true or false, got ${JSON.stringify(value)}`);
  },
};

/** A Go duration, in milliseconds: positive, and short enough for a Node timer. */
export const duration: ValueType<number> = {
  parse: (values, flag) => {
    const value = last(values);
    const ms = asFlagError(flag, () => parseGoDuration(value));
    if (ms <= 0) throw new FlagError(flag, `must be positive, got ${JSON.stringify(value)}`);
    if (ms > 2_147_483_647) throw new FlagError(flag, `must be at most ${formatDuration(2_147_483_647)}`);
    return ms;
  },
};

/** A whole number from 1 to 10000. */
export const count: ValueType<number> = {
  parse: (values, flag) => {
    const value = last(values).trim();
    if (!/^\d+$/.test(value)) throw new FlagError(flag, `must be a whole number, got ${JSON.stringify(last(values))}`);
    const n = Number(value);
    if (n < 1 || n > 10_000) throw new FlagError(flag, `must be between 1 and 10000, got ${value}`);
    return n;
  },
};

export function choice<const C extends string>(...choices: readonly C[]): ValueType<C> {
  return {
    parse: (values, flag) => {
      const value = last(values);
      if (!(choices as readonly string[]).includes(value)) {
        const listed = choices.length > 1 ? `${choices.slice(0, -1).join(', ')} or ${choices[choices.length - 1]}` : choices.join('');
        throw new FlagError(flag, `must be ${listed}, got ${JSON.stringify(value)}`);
      }
      return value as C;
    },
  };
}

function nonEmptyPath(flag: string, path: string): string {
  if (path.trim() === '') throw new FlagError(flag, 'must not be empty');
  return path;
}

/** A path, or undefined when not given. */
export const optionalPath: ValueType<string | undefined> = {
  parse: (values, flag) => (values.length === 0 ? undefined : nonEmptyPath(flag, last(values))),
};

/** The paths of a repeated flag. */
export const paths: ValueType<string[]> = { parse: (values, flag) => values.map((path) => nonEmptyPath(flag, path)) };

/** The comma-separated items of every value given, read by `parse`. */
export function listOf<T>(parse: (items: string[]) => T): ValueType<T> {
  return { parse: (values, flag) => asFlagError(flag, () => parse(parseList(values))) };
}

/** The comma-separated items of every value given. */
export const list: ValueType<string[]> = { parse: (values) => parseList(values) };

/** One value read by `parse`, or undefined when not given. */
export function optional<T>(parse: (value: string) => T): ValueType<T | undefined> {
  return { parse: (values, flag) => (values.length === 0 ? undefined : asFlagError(flag, () => parse(last(values)))) };
}

/** One value read by `parse`: given, or the default. */
export function one<T>(parse: (value: string) => T): ValueType<T> {
  return { parse: (values, flag) => asFlagError(flag, () => parse(last(values))) };
}

/** Each value of a repeated flag read by `parse`. */
export function each<T>(parse: (value: string) => T): ValueType<T[]> {
  return { parse: (values, flag) => values.map((value) => asFlagError(flag, () => parse(value))) };
}

/** The help's lines for these flags: name (with =VALUE unless boolean), then the help and default. */
export function flagLines(flags: ReadonlyArray<{ name: string; help: string; default: string | undefined; takesNoValue: boolean }>): string[] {
  return flags.flatMap(({ name, help, default: fallback, takesNoValue }) => [
    `  --${name}${takesNoValue ? '' : '=VALUE'}`,
    `      ${help}${fallback !== undefined ? ` (default ${fallback})` : ''}`,
  ]);
}
