/**
 * Readers of check's CI outputs for the tests, each a real reader or the runner's own rules: SARIF
 * validated against the official 2.1.0 schema (ajv, draft-04), JUnit parsed as XML 1.0
 * (fast-xml-parser) with its counts recounted, GitHub workflow commands parsed and unescaped as the
 * Actions runner does it.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import AjvDraft04 from 'ajv-draft-04';
import ajvFormats from 'ajv-formats';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { expect } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

// Both are CommonJS modules whose default export is `exports.default`. unicodeRegExp: one of the
// schema's patterns is not valid with the `u` flag.
const ajv = new AjvDraft04.default({ strict: false, allErrors: true, unicodeRegExp: false });
ajvFormats.default(ajv);
const validateSarif = ajv.compile(JSON.parse(readFileSync(`${ROOT}/node_modules/@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json`, 'utf8')));

/** The SARIF document of a text, which the test fails unless it is valid SARIF 2.1.0. */
export function validSarif(text: string): any {
  const document = JSON.parse(text);
  expect(validateSarif(document), ajv.errorsText(validateSarif.errors)).toBe(true);
  return document;
}

const xml = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseAttributeValue: false,
  parseTagValue: false,
  trimValues: false,
  htmlEntities: true,
  isArray: (name) => name === 'testcase' || name === 'property',
});

/** What each test case came to: its failure element, or passed. */
export const verdictOf = (testcase: Record<string, unknown>) => ['failure', 'error', 'skipped'].find((e) => e in testcase) ?? 'passed';

/**
 * A JUnit text read as XML 1.0 must be (well-formed, no character XML cannot hold, no raw tab or
 * line end in an attribute, which a reader would turn into a space), with the counts of its
 * <testsuites> and <testsuite> checked against its test cases.
 */
export function parsedJunit(text: string): { suite: any; cases: Array<Record<string, any>> } {
  expect(XMLValidator.validate(text)).toBe(true);
  expect(text).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/);
  // Tags are found by their < and >, which are escaped everywhere else.
  for (const [tag] of text.matchAll(/<[^>]*>/g)) expect(tag).not.toMatch(/[\t\n\r]/);
  const document = xml.parse(text);
  const suite = document.testsuites.testsuite;
  const cases = (suite.testcase ?? []) as Array<Record<string, any>>;
  const count = (element: string) => cases.filter((c) => element in c).length;
  for (const element of [document.testsuites, suite]) {
    expect(Number(element.tests)).toBe(cases.length);
    expect(Number(element.failures)).toBe(count('failure'));
    expect(Number(element.errors)).toBe(count('error'));
    expect(Number(element.skipped)).toBe(count('skipped'));
  }
  return { suite, cases };
}

export interface Annotation {
  readonly command: string;
  readonly properties: Record<string, string>;
  readonly message: string;
}

/** The runner's reading of a workflow command line: properties, then the message, each unescaped. */
export function annotation(line: string): Annotation | undefined {
  // `s`: a message may hold U+2028/U+2029, which end no line for the runner (it splits on \n) but stop a plain `.`.
  const match = /^::(\w+)(?: ([^:]*))?::(.*)$/s.exec(line);
  if (!match) return undefined;
  const unescape = (text: string, property: boolean) => {
    let value = text.replace(/%0D/g, '\r').replace(/%0A/g, '\n');
    if (property) value = value.replace(/%3A/g, ':').replace(/%2C/g, ',');
    return value.replace(/%25/g, '%');
  };
  const properties: Record<string, string> = {};
  for (const pair of (match[2] ?? '').split(',').filter(Boolean)) {
    const at = pair.indexOf('=');
    properties[pair.slice(0, at)] = unescape(pair.slice(at + 1), true);
  }
  return { command: match[1] as string, properties, message: unescape(match[3] as string, false) };
}

/** The annotations of a `--output github` text (every line but the last is one) and its summary line. */
export function githubAnnotations(text: string): { annotations: Annotation[]; summary: string } {
  expect(text.endsWith('\n')).toBe(true);
  const lines = text.slice(0, -1).split('\n');
  const annotations = lines.slice(0, -1).map((line) => annotation(line));
  for (const [i, a] of annotations.entries()) expect(a, lines[i]).toBeDefined();
  return { annotations: annotations as Annotation[], summary: lines.at(-1) as string };
}
