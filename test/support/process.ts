/**
 * The exporter as its own process, the way operators run it (`node src/main.ts` through tsx), with
 * Node flags and environment such as deploy/'s (test/support/deployed.ts). Resolves once it logs that
 * it is listening.
 */
import { spawn, type ChildProcess, type ChildProcessByStdio, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ExporterProcess {
  readonly child: ChildProcess;
  readonly port: number;
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Resolves with the exit code and when (Date.now()) the process exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  /** SIGKILL unless it already exited. */
  kill(): void;
}

export interface ProcessOptions {
  readonly nodeArgs?: readonly string[];
  /** Added to this process' environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** The checkout to run (a benchmark's "before"); default this one. */
  readonly cwd?: string;
  /** Keep only the last this many characters of stderr (a long run that logs at info). */
  readonly stderrChars?: number;
}

export async function startExporterProcess(flags: readonly string[], options: ProcessOptions = {}): Promise<ExporterProcess> {
  const child = spawn(
    process.execPath,
    [...(options.nodeArgs ?? []), '--import', 'tsx', 'src/main.ts', '--bind-address=127.0.0.1:0', ...flags],
    { cwd: options.cwd ?? ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...options.env } },
  );
  const exited = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
    at: Date.now(),
  }));
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    stderr += chunk;
    if (options.stderrChars !== undefined) stderr = stderr.slice(-options.stderrChars);
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`exporter did not start: ${stderr}`)), 90_000);
    const look = () => {
      const found = /"msg":"listening".*"port":(\d+)/.exec(stderr)?.[1];
      if (found) {
        clearTimeout(timer);
        child.stderr!.off('data', look);
        resolve(Number(found));
      }
    };
    child.stderr!.on('data', look);
    void exited.then(() => reject(new Error(`exporter exited before listening: ${stderr}`)));
  });
  return {
    child,
    port,
    url: `http://127.0.0.1:${port}`,
    stderr: () => stderr,
    exited,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/** What a child process printed, and how it ended. */
export interface Ended {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Collects a child's output until it exits ('exit', not 'close': a child it left behind may hold the
 * pipes open, which is what some tests are about). `killAfterMs` kills it first (SIGKILL); only the
 * last `stderrChars` of stderr are kept when given (a run that logs much).
 */
export async function ended(child: ChildProcessWithoutNullStreams | ChildProcessByStdio<null | Writable, Readable, Readable>, options: { killAfterMs?: number; stderrChars?: number } = {}): Promise<Ended> {
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    if (options.stderrChars !== undefined) stderr = stderr.slice(-options.stderrChars);
  });
  const timer = options.killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), options.killAfterMs);
  try {
    const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
    return { code, signal, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}
