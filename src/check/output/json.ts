/**
 * `--output json`: one document for programs — exitCode, summary, warnings, and the containers as
 * the report has them, each with `source` (`file:line`) for where it was read.
 */
import type { Render } from './output.js';

export const json: Render = function* ({ containers, summary, exitCode, warnings }) {
  // `source` says where in JSON (as it always has); the structured location is for the other outputs.
  const listed = containers.map(({ location: _location, ...container }) => container);
  yield `${JSON.stringify({ exitCode, summary, warnings, containers: listed }, null, 2)}\n`;
};
