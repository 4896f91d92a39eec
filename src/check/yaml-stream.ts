/**
 * The values of a YAML stream, one document at a time, each with the line it starts on and the
 * template a `helm template` stream says it came from. Pure: the text is given.
 *
 * Three readers, the first that reads a document wins: js-yaml (fast), the yaml package (careful:
 * bounded aliases, kubectl's merge keys, the place of each List item and of an error), and, for a
 * document the careful one refuses, js-yaml again with the careful one's bounds (yaml-lenient.ts):
 * kubectl's go-yaml accepts some indentation the yaml package does not. Only a document that
 * neither accepts is an error, named by the careful reader's line and words.
 */
import { Composer, CST, LineCounter, Parser, isMap, isNode, isSeq, type Document, type ErrorCode, type YAMLError } from 'yaml';
import { CORE_SCHEMA, load as loadYaml } from 'js-yaml';
import { isRecord } from '../utils/untrusted.js';
import { ManifestError } from './manifest-error.js';
import { firstContentLine, helmTemplate, yamlDocuments, type YamlDocumentText } from './yaml-documents.js';
import { LenientDepthError, lenientValue } from './yaml-lenient.js';
import { yamlValue, YamlValueError } from './yaml-values.js';

/**
 * Nodes that the aliases of one document may stand for, copied out: a few lines of anchors could
 * otherwise expand to gigabytes for whoever walks the value.
 */
const MAX_ALIAS_COPIES = 10_000;
/**
 * Nesting allowed: the YAML composer recurses per level, and a stack overflow deep inside it can
 * abort the process instead of throwing. Real objects (CRD schemas included) stay far below this.
 */
export const MAX_DEPTH = 200;

const COMPOSE_OPTIONS = {
  // Duplicate keys: the last one wins, as with kubectl (the API server only warns about them).
  uniqueKeys: false,
  // `<<: *defaults` works in kubectl's YAML 1.1; yaml-values.ts applies it.
  merge: true,
} as const;

/**
 * What a YAML error code means. The parser's own messages may quote the text (a block scalar
 * header, an escape sequence), which may be part of a secret: only these are shown.
 */
const SYNTAX_PROBLEMS: Record<ErrorCode, string> = {
  ALIAS_PROPS: 'an alias cannot have an anchor or a tag',
  BAD_ALIAS: 'an alias names no anchor before it',
  BAD_COLLECTION_TYPE: 'a tag does not fit its collection',
  BAD_DIRECTIVE: 'an invalid directive',
  BAD_DQ_ESCAPE: 'an invalid escape sequence in a double-quoted string',
  BAD_INDENT: 'bad indentation',
  BAD_PROP_ORDER: 'anchors and tags must come after the indicator',
  BAD_SCALAR_START: 'a plain value cannot start with this character',
  BLOCK_AS_IMPLICIT_KEY: 'a nested mapping or sequence where a plain key or value was expected',
  BLOCK_IN_FLOW: 'a block collection inside a flow collection',
  DUPLICATE_KEY: 'a duplicate key',
  IMPOSSIBLE: 'a malformed construct',
  KEY_OVER_1024_CHARS: 'an implicit key longer than 1024 characters',
  MISSING_CHAR: 'a missing character (a closing quote or bracket, a comma, a colon, a space or a "-")',
  MULTILINE_IMPLICIT_KEY: 'a key spanning lines (a missing colon?)',
  MULTIPLE_ANCHORS: 'a node with more than one anchor',
  MULTIPLE_DOCS: 'more than one document',
  MULTIPLE_TAGS: 'a node with more than one tag',
  NON_STRING_KEY: 'a key that is not a string',
  RESOURCE_EXHAUSTION: 'nesting too deep to read',
  TAB_AS_INDENT: 'a tab used as indentation',
  TAG_RESOLVE_FAILED: 'an unknown tag',
  UNEXPECTED_TOKEN: 'unexpected text',
};

const ALIAS_PROBLEMS: Record<YamlValueError['problem'], string> = {
  'bad-alias': `invalid YAML: ${SYNTAX_PROBLEMS.BAD_ALIAS}`,
  'too-many-aliases': `YAML aliases expand to more than ${MAX_ALIAS_COPIES} copies of values, not read`,
  'bad-merge': 'invalid YAML: a merge key (<<) whose value is not a mapping',
};

/** A value read from a document, the line it starts on, and (for a List) where each of its items does. */
export interface Located {
  readonly value: unknown;
  readonly line: number;
  readonly item?: (index: number, value: unknown) => Located;
  /** The template of a `helm template` stream the document came from (its `# Source:` comment). */
  readonly template?: string;
}

/**
 * The values of a YAML stream, one document at a time: each is cut out (yaml-documents.ts), read,
 * and given to the caller before the next is read, so memory does not grow with the number of
 * documents. A document is read by js-yaml (about ten times faster than the yaml package) unless it
 * needs what only the careful reader gives: bounded aliases (any `&` in the text), merge keys as
 * kubectl reads them (any `<<`), the place of each List item, the place and the words of an error
 * (never js-yaml's, which may quote the text), or the nesting bound. Empty documents give nothing.
 */
export function* yamlValues(text: string, source: string): Generator<Located> {
  for (const document of yamlDocuments(text)) {
    const first = firstContentLine(document.text);
    if (first === undefined) continue; // `---` alone, or only comments
    const template = helmTemplate(document.text, first);
    const value = fastValue(document.text);
    const values = value === undefined ? composedValues(document, first, source) : value === null ? [] : [{ value, line: document.line + first }];
    for (const located of values) yield template === undefined ? located : { ...located, template };
  }
}

/** Plain dates stay strings, as in the yaml package's core schema. */
const FAST_SCHEMA = CORE_SCHEMA;

/**
 * A document's value as js-yaml reads it; null for an empty one; undefined when the careful reader
 * must read it (see yamlValues).
 */
function fastValue(text: string): unknown {
  // Merge keys (`<<`) go to the careful reader too: js-yaml merges as the YAML spec says, kubectl's
  // go-yaml v2 otherwise (yaml-values.ts).
  if (text.includes('&') || text.includes('<<')) return undefined;
  let value: unknown;
  try {
    // json: a duplicate key's last value wins, as with kubectl (the API server only warns).
    value = loadYaml(text, { schema: FAST_SCHEMA, json: true });
  } catch {
    return undefined;
  }
  if (value === undefined || value === null) return null;
  if (tooDeepValue(value)) return undefined;
  if (isRecord(value) && typeof value['kind'] === 'string' && value['kind'].endsWith('List') && Array.isArray(value['items'])) return undefined;
  return value;
}

/**
 * The values of a document (or a few) as the yaml package reads them, lines counted from the
 * document's; a document it refuses is read by the lenient reader instead (that one only).
 */
function* composedValues(document: YamlDocumentText, first: number, source: string): Generator<Located> {
  const lineCounter = new LineCounter();
  const offset = document.line - 1;
  const lineOf = (at: number) => lineCounter.linePos(at).line + offset;
  const composer = new Composer(COMPOSE_OPTIONS);
  const composed: Document.Parsed[] = [];
  for (const token of new Parser(lineCounter.addNewLine).parse(document.text)) {
    const tooDeep = tooDeepToken(token);
    if (tooDeep !== undefined) throw new ManifestError(source, lineOf(tooDeep.offset), `nested more than ${MAX_DEPTH} levels deep`);
    for (const parsed of composer.next(token)) composed.push(parsed);
  }
  for (const parsed of composer.end()) composed.push(parsed);
  const error = composed.find((parsed) => parsed.errors.length > 0)?.errors[0];
  if (error) {
    const lenient = lenientLocated(document.text, document.line, document.line + first, source, () => syntaxError(error, lineCounter, offset, source));
    if (lenient) yield lenient;
    return;
  }
  for (const { contents } of composed) {
    if (contents === null) continue; // `---` alone, or only comments
    const line = lineOf(contents.range[0]);
    const value = plainValue(contents, source, line);
    if (value === null || value === undefined) continue;
    yield locatedNode(value, contents, line, lineOf);
  }
}

/**
 * A document the yaml package refused, read as kubectl reads it (yaml-lenient.ts), placed at `line`
 * (its first content's; `textLine` is its text's first line's); undefined when empty. What neither
 * reader accepts is the yaml package's error, `refused`: its line and words, never js-yaml's
 * message, which may quote the text. A List's items are all placed at the List's line: js-yaml does
 * not say where they are.
 */
function lenientLocated(text: string, textLine: number, line: number, source: string, refused: () => ManifestError): Located | undefined {
  let read: { readonly value: unknown } | undefined;
  try {
    read = lenientValue(text, MAX_ALIAS_COPIES, MAX_DEPTH);
  } catch (error) {
    if (error instanceof YamlValueError) throw new ManifestError(source, line, ALIAS_PROBLEMS[error.problem]);
    if (error instanceof LenientDepthError) throw new ManifestError(source, error.line === undefined ? line : textLine + error.line, `nested more than ${MAX_DEPTH} levels deep`);
    throw error;
  }
  if (read === undefined) throw refused();
  return read.value === null || read.value === undefined ? undefined : { value: read.value, line };
}

/** A YAML value with its node: a List's items are placed at their own nodes' lines. */
function locatedNode(value: unknown, node: unknown, line: number, lineOf: (offset: number) => number): Located {
  return {
    value,
    line,
    item: (index, itemValue) => {
      const itemsNode = isMap(node) ? node.get('items', true) : undefined;
      const items = isRecord(value) ? value['items'] : undefined;
      // Anchors or merge keys may hide the items' nodes: they are then placed at the list's line.
      const itemNode = isSeq(itemsNode) && Array.isArray(items) && itemsNode.items.length === items.length ? itemsNode.items[index] : undefined;
      const start = isNode(itemNode) ? itemNode.range?.[0] : undefined;
      return locatedNode(itemValue, itemNode, start === undefined ? line : lineOf(start), lineOf);
    },
  };
}

/** The first collection in a token nested deeper than MAX_DEPTH, found without recursion. */
function tooDeepToken(root: CST.Token): CST.Token | undefined {
  const pending: [CST.Token, number][] = [[root, 0]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [token, depth] = next;
    if (token.type === 'document' && token.value) pending.push([token.value, depth]);
    if (!CST.isCollection(token)) continue;
    if (depth >= MAX_DEPTH) return token;
    for (const item of token.items) {
      if (item.key) pending.push([item.key, depth + 1]);
      if (item.value) pending.push([item.value, depth + 1]);
    }
  }
  return undefined;
}

function syntaxError(error: YAMLError, lineCounter: LineCounter, offset: number, source: string): ManifestError {
  const { line, col } = lineCounter.linePos(error.pos[0]);
  return new ManifestError(source, line + offset, `invalid YAML: ${SYNTAX_PROBLEMS[error.code] ?? 'a syntax error'} (column ${col})`);
}

/** A document's plain value; the errors of its aliases (too many, or naming no anchor) become ManifestErrors. */
function plainValue(contents: unknown, source: string, line: number): unknown {
  try {
    return yamlValue(contents, MAX_ALIAS_COPIES);
  } catch (error) {
    if (!(error instanceof YamlValueError)) throw error;
    throw new ManifestError(source, line, ALIAS_PROBLEMS[error.problem]);
  }
}

/** Whether a parsed JSON value nests deeper than MAX_DEPTH, found without recursion. */
export function tooDeepValue(value: unknown): boolean {
  const pending: [unknown, number][] = [[value, 0]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [item, depth] = next;
    if (item === null || typeof item !== 'object') continue;
    if (depth >= MAX_DEPTH) return true;
    for (const child of Object.values(item)) if (child !== null && typeof child === 'object') pending.push([child, depth + 1]);
  }
  return false;
}

