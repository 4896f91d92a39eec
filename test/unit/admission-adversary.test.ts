/**
 * The admission webhook's warnings against what the API server does with them
 * (k8s.io/apiserver endpoints/filters/warning.go, apimachinery util/net NewWarningHeader): each is a
 * `299 - "…"` header, Go-quoted; one holding a control character is dropped; past 4,096 bytes of
 * headers in one answer they are cut to 256 runes, then dropped. Bytes, not characters.
 */
import { describe, expect, test } from 'vitest';
import type { ContainerRow } from '../../src/engine/collector.js';
import { denialMessage, findingOf, MAX_WARNINGS, warningLines } from '../../src/exporter/admission/warnings.js';
import { toWorkload, type ContainerImage } from '../../src/kubernetes/workloads.js';
import type { CheckStatus } from '../../src/registry/status.js';

/** Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols, and the ASCII space. */
const GO_PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]*$/u;

/** The bytes of the Warning header the API server writes for a line (strconv.Quote escapes `"` and `\`). */
function headerBytes(line: string): number {
  return '299 - '.length + 2 + Buffer.byteLength(line) + (line.match(/["\\]/g)?.length ?? 0);
}

const row = (status: CheckStatus | undefined, over: Partial<ContainerImage>, detail?: string): ContainerRow => ({
  workload: toWorkload('Deployment', { metadata: { namespace: 'team', name: 'web' } }, undefined),
  container: { name: 'app', image: 'registry.example.com/team/app:2', init: false, ...over },
  status,
  detail,
  checkedAt: 0,
  exists: undefined,
  missingPlatforms: undefined,
});

describe('warnings as the API server passes them on', () => {
  // A custom resource's container name is not validated; an image string hardly is (bad_reference).
  const wide = '界'.repeat(400); // three bytes each in UTF-8
  const hostile = [
    findingOf(row('bad_reference', { name: wide, image: wide }, wide))!,
    findingOf(row('absent', { name: `a\u202e${wide}`, image: `r.example/${wide}` }, `"\\${wide}`))!,
  ];

  test('lines of three-byte characters: all kept whole (under 4,096 bytes of headers), then the count of the rest and of the images left out', () => {
    const findings = Array.from({ length: 30 }, (_, i) => hostile[i % 2]!);
    const lines = warningLines(findings, 5);
    expect(lines.length).toBeLessThanOrEqual(MAX_WARNINGS);
    const shown = lines.length - 2;
    expect(lines.slice(-2)).toEqual([
      `… and ${findings.length - shown} more; see the exporter's status page`,
      '5 more images not checked: too many at once (the exporter checks them when a scrape sees them)',
    ]);
    expect(lines.reduce((sum, line) => sum + headerBytes(line), 0)).toBeLessThanOrEqual(4096);
  });

  test('only characters Go prints: no bidi override, zero-width or no-break space reaches kubectl', () => {
    const text = findingOf(row('absent', { name: 'a\u202eb\u200bc\u00a0d\ufeff', image: 'r.example/x\u2066y\u00adz:1' }, 'e\u061cf'))!.text;
    expect(text).toMatch(GO_PRINTABLE);
    expect(denialMessage([findingOf(row('absent', { image: 'r.example/\u202ex:1' }))!])).toMatch(GO_PRINTABLE);
    for (const finding of hostile) expect(finding.text).toMatch(GO_PRINTABLE);
  });
});
