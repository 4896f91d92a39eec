/**
 * `--output sarif`: SARIF 2.1.0 as GitHub code scanning (and other SARIF readers) take it. One rule
 * per status that is a problem; one result per container with a problem, pointing at the manifest
 * (or the helm template) that names the image. Present images are not results.
 *
 * Levels follow the exit code: absent and invalid references are `error`; images that could not be
 * checked are `warning` when they fail the run (--fail-on unknown) and `note` when they do not
 * (--fail-on absent) — said, not hidden, but not a failure.
 */
import { createHash } from 'node:crypto';
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { outcomeOf, type CheckedContainer } from '../report.js';
import { inPieces, type CheckReport, type OutputContext, type Render } from './output.js';
import { placeOf } from './place.js';
import { gravityOf, messageWords, PROBLEM_STATUSES, STATUS_WORDS, unlistedGravity, unlistedWords, type ProblemStatus } from './words.js';

const SCHEMA = 'https://json.schemastore.org/sarif-2.1.0.json';
/** Relative URIs are relative to where `check` ran: in CI, the checkout. */
const SRCROOT = '%SRCROOT%';

export const sarif: Render = function* (report, context) {
  const results = report.containers.filter((c) => c.status !== 'present');
  // The document around its results, as JSON.stringify writes it; the results are written in between
  // in pieces. The mark cannot occur in a string value: JSON escapes the quotes there.
  const [before, after] = JSON.stringify(frame(report, context), null, 2).split(RESULTS_MARK) as [string, string];
  yield `${before}"results": [`;
  let first = true;
  yield* inPieces(results, (c) => {
    const text = `${first ? '' : ','}\n${indented(JSON.stringify(result(c, report, context), null, 2), '        ')}`;
    first = false;
    return text;
  });
  yield `${results.length > 0 ? '\n      ' : ''}]${after}\n`;
};

const RESULTS = 'results written here';
const RESULTS_MARK = `"results": "${RESULTS}"`;

function frame(report: CheckReport, { cwd, tool }: OutputContext): object {
  const notifications = [
    ...report.warnings.map((text) => ({ level: 'warning', message: { text } })),
    ...report.summary.unlisted.map((kind) => ({
      level: unlistedGravity(report.failOn),
      message: { text: unlistedWords(kind) },
    })),
  ];
  return {
    $schema: SCHEMA,
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: tool.name,
            ...(tool.informationUri === undefined ? {} : { informationUri: tool.informationUri }),
            version: tool.version,
            rules: PROBLEM_STATUSES.map(rule),
          },
        },
        originalUriBaseIds: { [SRCROOT]: { uri: directoryUri(cwd) } },
        invocations: [{ executionSuccessful: true, exitCode: report.exitCode, ...(notifications.length > 0 ? { toolExecutionNotifications: notifications } : {}) }],
        results: RESULTS,
        properties: { summary: report.summary },
      },
    ],
  };
}

function rule(status: ProblemStatus) {
  const { title, name, help } = STATUS_WORDS[status];
  return {
    id: status,
    name,
    shortDescription: { text: title },
    fullDescription: { text: help },
    help: { text: help },
    defaultConfiguration: { level: outcomeOf(status) === 'failed' ? 'error' : 'warning' },
    properties: { tags: ['kubernetes', 'container-image'] },
  };
}

function result(c: CheckedContainer, report: CheckReport, { cwd }: OutputContext): object {
  const status = c.status as ProblemStatus;
  const place = placeOf(c.location, cwd);
  const physical =
    place.file === undefined ? undefined : { artifactLocation: artifactLocation(place.file), region: { startLine: place.line ?? 1 } };
  const logical = [{ name: c.container, fullyQualifiedName: [c.kind, c.namespace, c.name, c.container].filter((part) => part !== '').join('/') }];
  return {
    ruleId: status,
    ruleIndex: PROBLEM_STATUSES.indexOf(status),
    level: gravityOf(c.status, report.failOn),
    message: { text: messageWords(c, place.note) },
    locations: [{ ...(physical ? { physicalLocation: physical } : {}), logicalLocations: logical }],
    partialFingerprints: { primaryLocationLineHash: fingerprint(c) },
    properties: { kind: c.kind, namespace: c.namespace, name: c.name, container: c.container, init: c.init, volume: c.volume, image: c.image, status: c.status, reason: c.reason, source: c.source },
  };
}

/**
 * The container, not its line: code scanning matches alerts across runs by rule, file and this;
 * the lines it would hash itself are the same for every container of a helm template (all point at
 * its first line), and would merge their alerts into one.
 */
function fingerprint(c: CheckedContainer): string {
  // A volume may share a container's name: told apart where `init` is (containers' fingerprints unchanged).
  const identity = [c.kind, c.namespace, c.name, c.volume ? 'volume' : c.init ? 'init' : '', c.container].join('\u0000');
  return `${createHash('sha256').update(identity).digest('hex').slice(0, 32)}:1`;
}

function artifactLocation(file: string): object {
  if (isAbsolute(file)) return { uri: pathToFileURL(file).href };
  return { uri: file.split('/').map(encodeURIComponent).join('/'), uriBaseId: SRCROOT };
}

function directoryUri(directory: string): string {
  const href = pathToFileURL(directory).href;
  return href.endsWith('/') ? href : `${href}/`;
}

/** JSON text of a nested value, its lines indented to where it is nested (its strings hold no newline). */
function indented(text: string, by: string): string {
  return `${by}${text.replace(/\n/g, `\n${by}`)}`;
}
