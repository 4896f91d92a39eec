/**
 * `--output json`: one document for programs — exitCode, summary, warnings, and the containers as
 * the report has them, each with `source` (`file:line`) for where it was read and, for a helm
 * stream, `template` (its `# Source:`).
 */
import type { Render } from './output.js';

export const json: Render = function* ({ containers, summary, exitCode, warnings }) {
  // `source` says where in JSON (as it always has), and `template` which template of a helm stream,
  // only when known; the structured location is for the other outputs.
  const listed = containers.map(({ location, ...container }) => (location?.template === undefined ? container : { ...container, template: location.template }));
  yield `${JSON.stringify({ exitCode, summary, warnings, containers: listed }, null, 2)}\n`;
};
