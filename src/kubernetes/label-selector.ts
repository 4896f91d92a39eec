/**
 * Kubernetes label selectors (the `kubectl -l` / `labelSelector=` syntax), parsed and matched as
 * k8s.io/apimachinery/pkg/labels.Parse and Selector.Matches do, so a selector given to the exporter
 * selects what it would select in kubectl and is accepted by the API server as written in `text`.
 *
 * The lexer and parser mirror apimachinery's token by token, including its quirks (an empty value
 * is allowed after `=`, `in ()` means `in ("")`, `in (a,,)` is an error while `in (a,,,)` is not),
 * because "accepts the same strings" is the contract. Both run in one left-to-right pass with one
 * token of lookahead and no recursion, and every regular expression below is either linear or only
 * applied to strings already capped at 253 characters, so hostile input costs linear time.
 *
 * Pure: no I/O.
 */
import { quoted } from '../utils/untrusted.js';

/** A selector that apimachinery would reject; `message` says what was found where (0-based). */
export class SelectorError extends Error {
  override readonly name = 'SelectorError';
}

export interface LabelSelector {
  /** The selector in canonical form, as the API server's labelSelector parameter accepts it. */
  readonly text: string;
  matches(labels: Readonly<Record<string, string>>): boolean;
}

type TokenKind = 'end' | 'id' | 'in' | 'notin' | '(' | ')' | ',' | '!' | '=' | '==' | '!=' | '>' | '<';

interface Token {
  readonly kind: TokenKind;
  readonly text: string;
  /** Offset of the token's first character in the input (the input's length for 'end'). */
  readonly pos: number;
}

type Requirement =
  | { readonly op: 'exists' | '!'; readonly key: string }
  | { readonly op: '=' | '==' | '!='; readonly key: string; readonly value: string }
  | { readonly op: 'in' | 'notin'; readonly key: string; readonly values: readonly string[] }
  | { readonly op: '>' | '<'; readonly key: string; readonly value: string; readonly bound: bigint };

const MAX_PREFIX_LENGTH = 253;
const MAX_NAME_LENGTH = 63;
const MAX_VALUE_LENGTH = 63;
/** Error messages quote at most this many characters of any one piece of the input. */
const MAX_QUOTED = 64;

const DNS_SUBDOMAIN = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME = /^[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const GO_DECIMAL_INT = /^[+-]?[0-9]+$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Parses `text` as apimachinery's labels.Parse would; throws SelectorError where it would fail. */
export function parseLabelSelector(text: string): LabelSelector {
  // apimachinery's lexer reads a NUL byte as end of input and silently drops what follows it
  // (sometimes); refuse instead, since such a selector cannot mean what was written.
  const nul = text.indexOf('\0');
  if (nul >= 0) throw new SelectorError(`NUL character at position ${nul}`);
  const requirements = parseRequirements(new TokenStream(text));
  // Same order as apimachinery (sort.Sort by key); a stable sort keeps equal keys in input order,
  // which is also what Go's sort does for up to 12 requirements.
  requirements.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return new ParsedSelector(requirements);
}

class ParsedSelector implements LabelSelector {
  readonly text: string;
  readonly #requirements: readonly Requirement[];

  constructor(requirements: readonly Requirement[]) {
    this.#requirements = requirements;
    this.text = requirements.map(requirementText).join(',');
  }

  matches(labels: Readonly<Record<string, string>>): boolean {
    return this.#requirements.every((r) => requirementMatches(r, labels));
  }
}

// ---------------------------------------------------------------------------------------------
// Lexer

function isWhitespace(c: string | undefined): boolean {
  // Exactly apimachinery's set: other Unicode spaces are part of an identifier (and so invalid).
  return c === ' ' || c === '\t' || c === '\r' || c === '\n';
}

function isSpecial(c: string | undefined): boolean {
  return c === '=' || c === '!' || c === '(' || c === ')' || c === ',' || c === '>' || c === '<';
}

/** Tokens on demand, one of lookahead: a hostile input fails at its first bad token. */
class TokenStream {
  #pos = 0;
  #current: Token;

  constructor(private readonly input: string) {
    this.#current = this.#lex();
  }

  peek(): Token {
    return this.#current;
  }

  take(): Token {
    const token = this.#current;
    if (token.kind !== 'end') this.#current = this.#lex();
    return token;
  }

  #lex(): Token {
    const s = this.input;
    while (isWhitespace(s[this.#pos])) this.#pos++;
    const start = this.#pos;
    const c = s[start];
    if (c === undefined) return { kind: 'end', text: '', pos: start };
    if (isSpecial(c)) return this.#symbol(start);
    while (this.#pos < s.length && !isSpecial(s[this.#pos]) && !isWhitespace(s[this.#pos])) this.#pos++;
    const text = s.slice(start, this.#pos);
    // Keywords are only operators where an operator may stand; the parser treats them as words elsewhere.
    return { kind: text === 'in' || text === 'notin' ? text : 'id', text, pos: start };
  }

  /** Longest match among the symbols; `==` and `!=` are the only two-character ones. */
  #symbol(start: number): Token {
    const two = this.input.slice(start, start + 2);
    const text = two === '==' || two === '!=' ? two : this.input.charAt(start);
    this.#pos = start + text.length;
    return { kind: text as TokenKind, text, pos: start };
  }
}

// ---------------------------------------------------------------------------------------------
// Parser (mirrors apimachinery's Parser.parse and friends)

/** In key and value positions apimachinery reads the keywords `in`/`notin` as plain words. */
function isWord(t: Token): boolean {
  return t.kind === 'id' || t.kind === 'in' || t.kind === 'notin';
}

function parseRequirements(tokens: TokenStream): Requirement[] {
  const requirements: Requirement[] = [];
  if (tokens.peek().kind === 'end') return requirements;
  for (;;) {
    const first = tokens.peek();
    if (!isWord(first) && first.kind !== '!') {
      fail(first, requirements.length === 0 ? 'expected a key or "!"' : 'expected a key or "!" after ","');
    }
    requirements.push(parseRequirement(tokens));
    const separator = tokens.take();
    if (separator.kind === 'end') return requirements;
    if (separator.kind !== ',') fail(separator, 'expected "," or end of input');
  }
}

function parseRequirement(tokens: TokenStream): Requirement {
  let keyToken = tokens.take();
  const negated = keyToken.kind === '!';
  if (negated) {
    keyToken = tokens.take();
    if (!isWord(keyToken)) fail(keyToken, 'expected a key after "!"');
  }
  const key = checkKey(keyToken);
  // `!key` is complete by itself: whatever follows is the caller's to judge, as in apimachinery.
  if (negated) return { op: '!', key };
  const next = tokens.peek();
  if (next.kind === 'end' || next.kind === ',') return { op: 'exists', key };

  const operator = tokens.take();
  switch (operator.kind) {
    case 'in':
    case 'notin':
      return { op: operator.kind, key, values: parseValueSet(tokens, operator, key) };
    case '=':
    case '==':
    case '!=':
      return { op: operator.kind, key, value: parseExactValue(tokens, operator, key) };
    case '>':
    case '<': {
      const value = parseExactValue(tokens, operator, key);
      return { op: operator.kind, key, value, bound: checkBound(value, operator, key) };
    }
    default:
      return fail(operator, 'expected an operator (=, ==, !=, in, notin, >, <), "," or end of input after a key');
  }
}

/** `(v1,v2,…)`; returns the values sorted and de-duplicated, as apimachinery's sets.String.List(). */
function parseValueSet(tokens: TokenStream, operator: Token, key: string): string[] {
  const open = tokens.take();
  if (open.kind !== '(') fail(open, `expected "(" after "${operator.text}"`);
  const values = new Set<string>();
  const first = tokens.peek();
  if (first.kind === ')') {
    // apimachinery reads `()` as the set holding the empty value, not as an empty set.
    tokens.take();
    values.add('');
  } else if (isWord(first) || first.kind === ',') {
    parseValueList(tokens, key, values);
    const close = tokens.take();
    if (close.kind !== ')') fail(close, 'expected ")"');
  } else {
    fail(first, 'expected a value, "," or ")" after "("');
  }
  return [...values].sort();
}

/**
 * A port of apimachinery's parseIdentifiersList, whose handling of empty values between commas is
 * irregular (`(,a)`, `(a,)`, `(a,,b)` and `(a,,,)` hold "", but `(a,,)` and `(,,)` are errors):
 * it stops with `)` as the next token.
 */
function parseValueList(tokens: TokenStream, key: string, values: Set<string>): void {
  for (;;) {
    const token = tokens.take();
    if (isWord(token)) {
      values.add(checkValue(token, key));
      const after = tokens.peek();
      if (after.kind === ')') return;
      if (after.kind !== ',') fail(after, 'expected "," or ")"');
    } else if (token.kind === ',') {
      if (values.size === 0) values.add('');
      const after = tokens.peek();
      if (after.kind === ')') {
        values.add('');
        return;
      }
      if (after.kind === ',') {
        tokens.take();
        values.add('');
      }
    } else {
      fail(token, 'expected a value or ","');
    }
  }
}

/** The value after `=`, `==`, `!=`, `>` or `<`; nothing before `,` or the end means "". */
function parseExactValue(tokens: TokenStream, operator: Token, key: string): string {
  const next = tokens.peek();
  if (next.kind === 'end' || next.kind === ',') return '';
  const token = tokens.take();
  if (!isWord(token)) fail(token, `expected a value after "${operator.text}"`);
  return checkValue(token, key);
}

// ---------------------------------------------------------------------------------------------
// Validation (apimachinery's validation.IsQualifiedName and IsValidLabelValue)

function checkKey(token: Token): string {
  const problem = keyProblem(token.text);
  if (problem !== undefined) fail(token, problem, `invalid key ${quote(token.text)}`);
  return token.text;
}

function keyProblem(key: string): string | undefined {
  const slash = key.indexOf('/');
  if (slash >= 0 && key.indexOf('/', slash + 1) >= 0) return 'a key holds at most one "/"';
  const name = key.slice(slash + 1);
  if (slash >= 0) {
    const prefix = key.slice(0, slash);
    if (prefix === '') return 'the prefix before "/" must not be empty';
    if (prefix.length > MAX_PREFIX_LENGTH) return `the prefix must be at most ${MAX_PREFIX_LENGTH} characters`;
    if (!DNS_SUBDOMAIN.test(prefix)) {
      return (
        'the prefix must be a DNS subdomain: dot-separated parts of lowercase alphanumerics and "-",' +
        ' each starting and ending alphanumeric'
      );
    }
  }
  if (name === '') return 'the name must not be empty';
  if (name.length > MAX_NAME_LENGTH) return `the name must be at most ${MAX_NAME_LENGTH} characters`;
  if (!QUALIFIED_NAME.test(name)) {
    return 'the name must be alphanumerics, "-", "_" or ".", starting and ending alphanumeric';
  }
  return undefined;
}

function checkValue(token: Token, key: string): string {
  const value = token.text;
  const problem =
    value.length > MAX_VALUE_LENGTH
      ? `must be at most ${MAX_VALUE_LENGTH} characters`
      : !QUALIFIED_NAME.test(value)
        ? 'must be alphanumerics, "-", "_" or ".", starting and ending alphanumeric'
        : undefined;
  if (problem !== undefined) fail(token, problem, `invalid value ${quote(value)} for key ${quote(key)}`);
  return value;
}

/** `>`/`<` need a value Go's strconv.ParseInt(v, 10, 64) accepts (it must also be a valid label value). */
function checkBound(value: string, operator: Token, key: string): bigint {
  const bound = parseInt64(value);
  if (bound === undefined) {
    const subject = `invalid value ${quote(value)} for key ${quote(key)} after "${operator.text}"`;
    fail(operator, 'must be a 64-bit integer', subject);
  }
  return bound;
}

/**
 * Go's strconv.ParseInt(s, 10, 64): optional sign, decimal digits, within int64. Also node
 * affinity's Gt/Lt (placement.ts): apimachinery reads both with it.
 */
export function parseInt64(s: string): bigint | undefined {
  if (!GO_DECIMAL_INT.test(s)) return undefined;
  const negative = s.startsWith('-');
  const digits = s.replace(/^[+-]?0*/, '');
  // More than 19 significant digits is out of range; checking first keeps BigInt off huge strings.
  if (digits.length > 19) return undefined;
  const n = BigInt(negative ? `-${digits || '0'}` : digits || '0');
  return n < INT64_MIN || n > INT64_MAX ? undefined : n;
}

// ---------------------------------------------------------------------------------------------
// Matching and printing

function requirementMatches(r: Requirement, labels: Readonly<Record<string, string>>): boolean {
  // Own properties only: `constructor` or `__proto__` must not be found on a plain object.
  const value = Object.hasOwn(labels, r.key) ? labels[r.key] : undefined;
  switch (r.op) {
    case 'exists':
      return value !== undefined;
    case '!':
      return value === undefined;
    case '=':
    case '==':
      return value === r.value;
    case '!=':
      return value !== r.value;
    case 'in':
      return value !== undefined && r.values.includes(value);
    case 'notin':
      return value === undefined || !r.values.includes(value);
    case '>':
    case '<': {
      const n = value === undefined ? undefined : parseInt64(value);
      if (n === undefined) return false;
      return r.op === '>' ? n > r.bound : n < r.bound;
    }
  }
}

/** apimachinery's Requirement.String(). */
function requirementText(r: Requirement): string {
  switch (r.op) {
    case 'exists':
      return r.key;
    case '!':
      return `!${r.key}`;
    case 'in':
    case 'notin':
      return `${r.key} ${r.op} (${r.values.join(',')})`;
    default:
      return `${r.key}${r.op}${r.value}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Errors

function quote(s: string): string {
  return quoted(s, MAX_QUOTED);
}

function describe(token: Token): string {
  return token.kind === 'end' ? 'end of input' : quote(token.text);
}

/**
 * Throws for `token`: "found X, expected Y at position N", or, with `subject`, "subject at position
 * N: problem".
 */
function fail(token: Token, problem: string, subject?: string): never {
  throw new SelectorError(
    subject === undefined
      ? `found ${describe(token)}, ${problem} at position ${token.pos}`
      : `${subject} at position ${token.pos}: ${problem}`,
  );
}
