/** The outputs of `check --output`, by name: each a pure function of the same report (output.ts). */
import type { OutputFormat } from '../../flags/config.js';
import { json } from './json.js';
import type { Render } from './output.js';
import { table } from './table.js';

export const OUTPUTS: Readonly<Record<OutputFormat, Render>> = { table, json };

export type { CheckReport, OutputContext, Render, ToolInfo } from './output.js';
