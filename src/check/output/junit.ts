/**
 * `--output junit`: JUnit XML as GitLab (`artifacts:reports:junit`) and Jenkins (`junit`) read it.
 * One test suite; one test case per container (classname: the file it was read from, or `Kind/namespace`
 * for a cluster's workloads; name: workload, container and image), and one per kind that could not be
 * listed. Absent images and invalid references are `<failure>`s; images that could not be checked are
 * `<error>`s when they fail the run (--fail-on unknown) and `<skipped>` when they do not (--fail-on
 * absent), so that the test report agrees with the exit code.
 */
import { inPieces, type Render } from './output.js';
import { placeOf } from './place.js';
import { containerWords, gravityOf, messageWords, unlistedGravity, unlistedWords, workloadWords, type Gravity } from './words.js';

const ELEMENT: Record<Gravity, 'failure' | 'error' | 'skipped'> = { error: 'failure', warning: 'error', note: 'skipped' };

export const junit: Render = function* ({ containers, summary, exitCode, warnings, failOn }, { cwd }) {
  const counts = { failure: 0, error: 0, skipped: 0 };
  for (const c of containers) {
    const gravity = gravityOf(c.status, failOn);
    if (gravity) counts[ELEMENT[gravity]]++;
  }
  counts[ELEMENT[unlistedGravity(failOn)]] += summary.unlisted.length;
  const tests = containers.length + summary.unlisted.length;
  const totals = `tests="${tests}" failures="${counts.failure}" errors="${counts.error}" skipped="${counts.skipped}"`;
  const name = attribute('k8s-image-existence-exporter check');
  yield `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name=${name} ${totals}>\n  <testsuite name=${name} ${totals}>\n` +
    `    <properties>\n      <property name="exitCode" value="${exitCode}"/>\n      <property name="failOn" value=${attribute(failOn)}/>\n    </properties>\n`;

  yield* inPieces(containers, (c) => {
    const place = placeOf(c.location, cwd);
    const classname = place.file ?? (c.location === null ? `${c.kind}/${c.namespace || '-'}` : 'standard input');
    const attributes = `classname=${attribute(classname)} name=${attribute(`${workloadWords(c)}, ${containerWords(c)}: ${c.image || 'no image'}`)}${place.file === undefined ? '' : ` file=${attribute(place.file)}`}`;
    const gravity = gravityOf(c.status, failOn);
    if (gravity === undefined) return `    <testcase ${attributes}/>\n`;
    const message = messageWords(c, place.note);
    const where = place.file === undefined ? place.note : `${place.file}${place.line === undefined ? '' : `:${place.line}`}${place.note === undefined ? '' : ` (read at ${place.note})`}`;
    const body = [message, `status: ${c.status}`, ...(c.reason === null ? [] : [`reason: ${c.reason}`]), ...(where === undefined ? [] : [`at: ${where}`])].join('\n');
    const element = ELEMENT[gravity];
    return `    <testcase ${attributes}>\n      <${element} message=${attribute(message)} type=${attribute(c.status)}>${text(body)}</${element}>\n    </testcase>\n`;
  });

  for (const kind of summary.unlisted) {
    const element = ELEMENT[unlistedGravity(failOn)];
    const message = unlistedWords(kind);
    yield `    <testcase classname="cluster" name=${attribute(`list ${kind}`)}>\n      <${element} message=${attribute(message)} type="not_listed">${text(message)}</${element}>\n    </testcase>\n`;
  }
  if (warnings.length > 0) yield `    <system-err>${text(warnings.join('\n'))}</system-err>\n`;
  yield '  </testsuite>\n</testsuites>\n';
};

/**
 * Characters XML 1.0 cannot hold, even as references: C0 controls but tab, newline and carriage
 * return; lone surrogates; U+FFFE and U+FFFF. Written as `\uXXXX` text instead, visibly.
 */
const NOT_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function xmlChars(value: string): string {
  return value.replace(NOT_XML, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Element text. `>` too, so that `]]>` never appears; `\r` as a reference, which parsers would
 * otherwise turn into `\n`; C1 controls as references, to be seen rather than obeyed.
 */
function text(value: string): string {
  return xmlChars(value).replace(/[&<>\r\u007f-\u009f]/g, reference);
}

/** An attribute value, quoted: tabs and line ends as references, which parsers would otherwise turn into spaces. */
function attribute(value: string): string {
  return `"${xmlChars(value).replace(/[&<>"'\t\n\r\u007f-\u009f]/g, reference)}"`;
}

const NAMED: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

function reference(char: string): string {
  return NAMED[char] ?? `&#x${char.charCodeAt(0).toString(16).toUpperCase()};`;
}

