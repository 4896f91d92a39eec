/**
 * The exporter as its own process, the way operators run it (`node src/main.ts` through tsx), with
 * Node flags and environment such as deploy/'s (test/support/deployed.ts). Resolves once it logs that
 * it is listening.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
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
}

export async function startExporterProcess(flags: readonly string[], options: ProcessOptions = {}): Promise<ExporterProcess> {
  const child = spawn(
    process.execPath,
    [...(options.nodeArgs ?? []), '--import', 'tsx', 'src/main.ts', '--bind-address=127.0.0.1:0', ...flags],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...options.env } },
  );
  const exited = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
    at: Date.now(),
  }));
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => (stderr += chunk));
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
