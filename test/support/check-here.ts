/**
 * `check` in this process: runCheck with real streams, what the CLI does but its start-up (seconds
 * per run on a busy machine). Tests about the process itself (exit codes from main.ts) spawn it.
 */
import { Readable, Writable } from 'node:stream';
import { runCheck } from '../../src/check/run.js';

export interface CheckRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A stream that keeps what is written to it; one that says it is a terminal with `isTTY`. */
export function sink(isTTY = false): { stream: Writable; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk);
      done();
    },
  });
  return { stream: isTTY ? Object.assign(stream, { isTTY }) : stream, text: () => text };
}

export async function checkHere(
  args: readonly string[],
  options: { readonly env: Record<string, string>; readonly stdin?: string | Buffer; readonly tty?: boolean },
): Promise<CheckRun> {
  const stdout = sink(options.tty);
  const stderr = sink(options.tty);
  const stdin = Readable.from([Buffer.from(options.stdin ?? '')]);
  const code = await runCheck(args, { stdin, stdout: stdout.stream, stderr: stderr.stream, env: options.env });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}
