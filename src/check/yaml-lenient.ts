/**
 * A second reading of one YAML document that the yaml package refused, as kubectl would read it.
 * go-yaml (v2 in `kubectl apply`, v3 in kustomize), PyYAML and js-yaml accept a multi-line quoted
 * string or flow collection whose continuation lines, or closing `"]`, sit no deeper than its key —
 * Argo Workflows' own examples write `args: ["` … `"]` so — where the yaml package stops with an
 * error. js-yaml reads it here; its value is then rebuilt as yaml nodes (an object met again is an
 * alias of the first, a plain `<<` key a merge key) and converted by yamlValue, so that the bound on
 * aliases and kubectl's order of merged keys hold as on the strict path. Pure.
 */
import { randomUUID } from 'node:crypto';
import * as jsYaml from 'js-yaml';
import { CORE_SCHEMA, load, Type, YAMLException, type LoadOptions } from 'js-yaml';
import { Alias, Pair, Scalar, YAMLMap, YAMLSeq } from 'yaml';
import { yamlValue } from './yaml-values.js';

/** A document nested deeper than allowed; `line` (0-based in the text) when js-yaml said where. */
export class LenientDepthError extends Error {
  override readonly name = 'LenientDepthError';

  constructor(readonly line?: number) {
    super('nested too deep');
  }
}

/**
 * js-yaml writes a merge key's maps into the mapping itself, as the YAML spec says; kubectl's
 * go-yaml v2 does otherwise (yaml-values.ts). So a plain `<<` is read as a key of its own, marked:
 * each one a different string (a mapping may hold several), which no text can spell (a random part).
 */
const MERGE_MARK = `\u0000<<${randomUUID()}#`;

/** js-yaml's own `!!binary` (exported, but not in its types). */
const BINARY = (jsYaml as unknown as { readonly types: { readonly binary: Type } }).types.binary;

/** Plain dates stay strings (the core schema), `!!binary` is read, as on the other paths. */
function schemaMarking(next: () => number) {
  const mergeKey = new Type('tag:k8s-image-existence-exporter,2024:merge-key', {
    kind: 'scalar',
    // Implicit types are tried on plain scalars only: a quoted "<<" stays a key like any other.
    resolve: (data: unknown) => data === '<<',
    construct: () => `${MERGE_MARK}${next()}`,
  });
  return CORE_SCHEMA.extend({ implicit: [mergeKey], explicit: [BINARY] });
}

/**
 * The plain value of a YAML document (one document's text) as js-yaml reads it, or undefined when
 * js-yaml refuses it too. Throws YamlValueError (aliases past `maxCopied`, an alias inside its own
 * anchor, a bad merge) and LenientDepthError (nesting past `maxDepth`, aliases counted in).
 */
export function lenientValue(text: string, maxCopied: number, maxDepth: number): { readonly value: unknown } | undefined {
  let marks = 0;
  // json: a duplicate key's last value wins, as with kubectl. maxDepth (js-yaml 4.3, not in its
  // types) counts a collection's scalars as a level of their own.
  const options: LoadOptions & { maxDepth: number } = { schema: schemaMarking(() => marks++), json: true, maxDepth: maxDepth + 1 };
  let parsed: unknown;
  try {
    parsed = load(text, options);
  } catch (error) {
    // Too deep is not a matter of syntax: said as such (js-yaml's reason is its own words, no text).
    if (error instanceof YAMLException && error.reason.startsWith('nesting exceeded maxDepth')) throw new LenientDepthError(error.mark?.line);
    return undefined;
  }
  if (parsed === undefined || parsed === null) return { value: null };
  return { value: yamlValue(nodeOf(parsed, { built: new Map(), anchors: 0, maxDepth }, 0), maxCopied) };
}

interface Building {
  /** Each object met so far, with its node. */
  readonly built: Map<object, YAMLMap | YAMLSeq>;
  /** Anchors named so far. */
  anchors: number;
  readonly maxDepth: number;
}

/**
 * The yaml node of a js-yaml value. js-yaml resolves an alias to the very object of its anchor, so
 * an object met a second time is an alias: it becomes an Alias node of the first one's (named)
 * anchor, which yamlValue counts. An object met again while it is being built (js-yaml lets an alias
 * name its own enclosing anchor) becomes an alias that names nothing yet, as yamlValue refuses it.
 * An alias of a scalar is the scalar's value (js-yaml does not tell them apart): not counted, where
 * the careful reader counts it, but it cannot stand for more than its own text either. Keys keep
 * their order, but for integer-like ones, which a JavaScript object lists first: a merge (`<<`)
 * among such keys may order them otherwise than kubectl.
 */
function nodeOf(value: unknown, building: Building, depth: number): unknown {
  if (value === null || typeof value !== 'object') {
    return new Scalar(typeof value === 'string' && value.startsWith(MERGE_MARK) ? '<<' : value);
  }
  if (value instanceof Uint8Array) return new Scalar(value);
  const { built } = building;
  const met = built.get(value);
  if (met) {
    met.anchor ??= `a${building.anchors++}`;
    return new Alias(met.anchor);
  }
  // An object first met through an alias (its anchor's place overwritten by a duplicate key) lies
  // deeper than js-yaml counted: nesting is counted again here, which also bounds the recursion.
  if (depth >= building.maxDepth) throw new LenientDepthError();
  if (Array.isArray(value)) {
    const seq = new YAMLSeq();
    built.set(value, seq);
    for (const item of value) seq.items.push(nodeOf(item, building, depth + 1));
    return seq;
  }
  const map = new YAMLMap();
  built.set(value, map);
  for (const key of Object.keys(value)) {
    const keyNode = key.startsWith(MERGE_MARK) ? new Scalar('<<') : quoted(key);
    map.items.push(new Pair(keyNode, nodeOf((value as Record<string, unknown>)[key], building, depth + 1)));
  }
  return map;
}

/** A key that is not a merge key, whatever it says. */
function quoted(key: string): Scalar {
  const node = new Scalar(key);
  node.type = Scalar.QUOTE_DOUBLE;
  return node;
}
