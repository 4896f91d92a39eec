/** The outputs of `check --output`, by name: each a pure function of the same report (output.ts). */
import type { OutputFormat } from '../../flags/config.js';
import { github } from './github.js';
import { json } from './json.js';
import { junit } from './junit.js';
import type { Render } from './output.js';
import { sarif } from './sarif.js';
import { table } from './table.js';

export const OUTPUTS: Readonly<Record<OutputFormat, Render>> = { table, json, sarif, junit, github };

export type { CheckReport, OutputContext, Render, ToolInfo } from './output.js';
