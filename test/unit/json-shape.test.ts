import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { jsonShapeExceeds } from '../../src/utils/json-shape.js';

/** The depth and the number of objects and arrays of a parsed value, counted on the value itself. */
function shapeOf(value: unknown): { depth: number; collections: number } {
  if (typeof value !== 'object' || value === null) return { depth: 0, collections: 0 };
  const children = (Array.isArray(value) ? value : Object.values(value)).map(shapeOf);
  return { depth: 1 + Math.max(0, ...children.map((c) => c.depth)), collections: 1 + children.reduce((n, c) => n + c.collections, 0) };
}

describe('jsonShapeExceeds', () => {
  test('counts nesting and objects, not brackets and quotes inside strings', () => {
    const text = JSON.stringify({ a: ['[[{{', '"}"', '\\', { b: '\\"[' }], c: {} });
    expect(jsonShapeExceeds(text, { maxDepth: 3, maxCollections: 4 })).toBeUndefined();
    expect(jsonShapeExceeds(text, { maxDepth: 2, maxCollections: 4 })).toBe('depth');
    expect(jsonShapeExceeds(text, { maxDepth: 3, maxCollections: 3 })).toBe('collections');
  });

  test('agrees with the parsed value, at the bound and one under it', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = JSON.stringify(value);
        const { depth, collections } = shapeOf(JSON.parse(text));
        expect(jsonShapeExceeds(text, { maxDepth: depth, maxCollections: collections })).toBeUndefined();
        if (depth > 0) expect(jsonShapeExceeds(text, { maxDepth: depth - 1, maxCollections: collections })).toBe('depth');
        if (collections > 0) expect(jsonShapeExceeds(text, { maxDepth: depth, maxCollections: collections - 1 })).toBe('collections');
      }),
    );
  });

  test('8 MiB of nesting is answered without building it', () => {
    const half = 4 * 1024 * 1024;
    expect(jsonShapeExceeds(`${'['.repeat(half)}${']'.repeat(half)}`, { maxDepth: 1000, maxCollections: 500_000 })).toBe('depth');
  });
});
