/** The flag table is the one place a flag is declared: each command's help and parser follow it. */
import { describe, expect, test } from 'vitest';
import { checkHelpText, FLAGS, helpText, parseCheckFlags, parseFlags } from '../../src/flags/config.js';

const listed = (help: string): string[] => [...help.matchAll(/^ {2}--([a-z-]+)/gm)].map((match) => match[1] as string);
const flagsFor = (command: string): string[] =>
  Object.entries(FLAGS)
    .filter(([, flag]) => (flag.for as readonly string[]).includes(command))
    .map(([name]) => name);

describe('flag table', () => {
  test("the exporter's help lists the table's exporter flags, in the table's order", () => {
    expect(listed(helpText())).toEqual(flagsFor('exporter'));
  });

  test("check's help lists the table's check flags, each once", () => {
    const names = listed(checkHelpText());
    expect(new Set(names).size).toBe(names.length);
    expect([...names].sort()).toEqual(flagsFor('check').sort());
  });

  test.each(Object.keys(FLAGS))('--%s is unknown to a command the table does not give it to', (name) => {
    if (!flagsFor('exporter').includes(name)) expect(() => parseFlags([`--${name}=x`])).toThrow(`--${name}: unknown flag`);
    if (!flagsFor('check').includes(name)) expect(() => parseCheckFlags([`--${name}=x`, 'x.yaml'])).toThrow(`--${name}: unknown flag`);
  });

  test('names of Object.prototype are not flags', () => {
    for (const name of ['constructor', 'toString', 'hasOwnProperty']) {
      expect(() => parseFlags([`--${name}=x`])).toThrow(`--${name}: unknown flag`);
      expect(() => parseCheckFlags([`--${name}=x`, 'x.yaml'])).toThrow(`--${name}: unknown flag`);
    }
  });
});
