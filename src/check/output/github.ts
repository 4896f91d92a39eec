/**
 * `--output github`: GitHub Actions workflow commands, one annotation per container with a problem
 * (`::error` for absent images and invalid references; `::warning` for images that could not be
 * checked when they fail the run, `::notice` when --fail-on absent lets it pass), on the manifest
 * line (or the helm template) that names the image, then the summary line. A cluster's workloads
 * have no file: their annotations name none.
 *
 * Escaped as GitHub's toolkit does it (`%`, `\r`, `\n`; in properties also `:` and `,`): no manifest
 * text can end an annotation early or start a command of its own.
 */
import { summaryLine } from '../report.js';
import { inPieces, type Render } from './output.js';
import { placeOf } from './place.js';
import { gravityOf, messageWords, STATUS_WORDS, unlistedGravity, unlistedWords, type Gravity, type ProblemStatus } from './words.js';

const COMMAND: Record<Gravity, string> = { error: 'error', warning: 'warning', note: 'notice' };

export const github: Render = function* ({ containers, summary, failOn }, { cwd }) {
  const problems = containers.filter((c) => c.status !== 'present');
  yield* inPieces(problems, (c) => {
    const place = placeOf(c.location, cwd);
    const properties: Array<[string, string]> = [];
    if (place.file !== undefined) properties.push(['file', place.file]);
    if (place.line !== undefined) properties.push(['line', String(place.line)]);
    properties.push(['title', STATUS_WORDS[c.status as ProblemStatus].title]);
    return command(COMMAND[gravityOf(c.status, failOn)!], properties, messageWords(c, place.note));
  });
  for (const kind of summary.unlisted) {
    yield command(COMMAND[unlistedGravity(failOn)], [['title', 'Not listed']], unlistedWords(kind));
  }
  yield `${summaryLine(summary)}\n`;
};

function command(name: string, properties: ReadonlyArray<readonly [string, string]>, message: string): string {
  const list = properties.map(([key, value]) => `${key}=${escapeProperty(value)}`).join(',');
  return `::${name}${list === '' ? '' : ` ${list}`}::${escapeData(message)}\n`;
}

/**
 * Control characters but line ends would reach the log as they are (a terminal escape, a NUL):
 * written as `\uXXXX` text instead.
 */
function visible(text: string): string {
  return text.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function escapeData(text: string): string {
  return visible(text).replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

function escapeProperty(text: string): string {
  return escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}
