/**
 * A composed YAML node as a plain value, in time linear in the document. The yaml package's own
 * toJS resolves each alias by scanning the document's anchors and aliases up to it (quadratic: 32,000
 * pairs took a minute); here anchors are kept in a map as they are met, in document order, so an alias
 * costs one lookup. An alias shares its anchor's value (no copy), and how much the aliases would
 * expand to, copied out, is counted: past the bound the document is refused, so a few lines of
 * anchors cannot make a reader of the value walk gigabytes.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, Scalar, type Node } from 'yaml';
import { isRecord } from '../utils/untrusted.js';

/** A reason a document cannot be read; the caller adds the place. */
export class YamlValueError extends Error {
  override readonly name = 'YamlValueError';

  constructor(readonly problem: 'bad-alias' | 'too-many-aliases' | 'bad-merge') {
    super(problem);
  }
}

interface Anchored {
  readonly value: unknown;
  /** Nodes in the value when every alias in it is copied out. */
  readonly size: number;
}

interface Conversion {
  readonly anchors: Map<string, Anchored>;
  /** Nodes the aliases met so far stand for. */
  copied: number;
  readonly maxCopied: number;
}

const MERGE_KEY = '<<';

/**
 * The plain value of `node` (a document's contents). Aliases may stand for at most `maxCopied`
 * nodes in all; past that, or for an alias naming no anchor before it, a YamlValueError.
 */
export function yamlValue(node: unknown, maxCopied: number): unknown {
  return convert(node, { anchors: new Map(), copied: 0, maxCopied }).value;
}

function convert(node: unknown, conversion: Conversion): Anchored {
  if (isAlias(node)) {
    const anchored = conversion.anchors.get(node.source);
    if (anchored === undefined) throw new YamlValueError('bad-alias');
    conversion.copied += anchored.size;
    if (conversion.copied > conversion.maxCopied) throw new YamlValueError('too-many-aliases');
    return anchored;
  }
  const converted = isMap(node) ? mapping(node.items, conversion) : isSeq(node) ? sequence(node.items, conversion) : { value: scalar(node), size: 1 };
  // Registered once its value is complete: an alias inside its own anchor names nothing yet.
  const anchor = (node as Node | null)?.anchor;
  if (anchor) conversion.anchors.set(anchor, converted);
  return converted;
}

function scalar(node: unknown): unknown {
  if (!isScalar(node)) return null;
  // `!!binary`: go-yaml v2 (kubectl) reads the bytes as a string; the yaml package gives bytes,
  // which no field takes (an image read as none).
  return node.value instanceof Uint8Array ? Buffer.from(node.value).toString('utf8') : node.value;
}

function sequence(items: readonly unknown[], conversion: Conversion): Anchored {
  const value: unknown[] = [];
  let size = 1;
  for (const item of items) {
    const converted = convert(item, conversion);
    value.push(converted.value);
    size += converted.size;
  }
  return { value, size };
}

function mapping(pairs: readonly unknown[], conversion: Conversion): Anchored {
  const value: Record<string, unknown> = {};
  let size = 1;
  for (const pair of pairs) {
    if (!isPair(pair)) continue;
    const converted = pair.value === null || pair.value === undefined ? { value: null, size: 1 } : convert(pair.value, conversion);
    size += converted.size;
    if (isMergeKey(pair.key)) {
      // As kubectl's go-yaml (v2) merges: the merged maps' keys are written here, over keys written
      // before `<<` (keys written after it override them); of several maps the first wins, so they
      // are written last to first. (The YAML spec, js-yaml and the yaml package let the mapping's
      // own keys win wherever they are: a Pod would run another image than the one checked.)
      const sources = isSeq(pair.value) ? (converted.value as unknown[]) : [converted.value];
      for (const source of sources) {
        if (!isRecord(source)) throw new YamlValueError('bad-merge');
      }
      for (const source of [...sources].reverse()) for (const [k, v] of Object.entries(source as object)) define(value, k, v);
      continue;
    }
    const key = convert(pair.key, conversion);
    size += key.size;
    define(value, keyString(key.value), converted.value);
  }
  return { value, size };
}

function isMergeKey(key: unknown): boolean {
  // With the `merge` option the composer reads a plain `<<` key as a symbol.
  const value = isScalar(key) ? key.value : undefined;
  const merge = value === MERGE_KEY || (typeof value === 'symbol' && value.description === MERGE_KEY);
  return merge && isScalar(key) && (key.type === undefined || key.type === Scalar.PLAIN);
}

/** A key as the yaml package writes it into a plain object. */
function keyString(key: unknown): string {
  if (key === null || key === undefined) return '';
  return typeof key === 'object' ? JSON.stringify(key) : String(key);
}

/** Sets an own property, `__proto__` included (an assignment would set the prototype). */
function define(object: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(object, key, { value, writable: true, enumerable: true, configurable: true });
  else object[key] = value;
}
