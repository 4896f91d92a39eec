/**
 * Running a credential-provider plugin once, as the kubelet does: the request on its stdin, the
 * response read from its stdout, within a timeout; in its own process group, killed with all it
 * started when it exits or times out. Bounded: stdout past MAX_RESPONSE_BYTES fails the run, stderr
 * is kept up to what is logged. What it printed is never put in a failure's reason.
 */
import { spawn } from 'node:child_process';
import { boundedText, MAX_REASON_CHARS } from '../../utils/untrusted.js';

/** More stdout than this is not a response: the run fails (and is killed). */
export const MAX_RESPONSE_BYTES = 1024 * 1024;
/**
 * After the plugin exits, how long what it wrote may take to be read when a process outside its
 * group (one that left it with setsid) still holds its pipes.
 */
export const EXIT_GRACE_MS = 500;
/** How much of a failed run's stderr is read to be logged (the log line holds MAX_REASON_CHARS of it). */
export const MAX_LOGGED_STDERR_BYTES = 2048;

/** One run of a plugin: its executable, args and env (added to this process's), and the request. */
export interface PluginRun {
  readonly executable: string;
  readonly args: readonly string[];
  readonly env: readonly { readonly name: string; readonly value: string }[];
  readonly request: string;
  readonly timeoutMs: number;
}

/** A run failed: `reason` goes into the error, `stderr` (already bounded) into the log only. */
export class RunFailure extends Error {
  constructor(
    readonly reason: string,
    readonly stderr: string,
  ) {
    super(reason);
  }
}

/** Runs a plugin once with `request` on its stdin: its stdout, or RunFailure. */
export function runPlugin({ executable, args, env: extraEnv, request, timeoutMs }: PluginRun): Promise<Buffer> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const { name, value } of extraEnv) env[name] = value;

  return new Promise<Buffer>((resolve, reject) => {
    let settled = false;
    let grace: NodeJS.Timeout | undefined;
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    const stderr: Buffer[] = [];
    let stderrBytes = 0;
    const stderrText = () => boundedText(Buffer.concat(stderr).toString('utf8'), MAX_REASON_CHARS);

    let child: ReturnType<typeof spawn>;
    try {
      // Its own process group, so that a timeout kills whatever it started too.
      child = spawn(executable, [...args], { env, stdio: ['pipe', 'pipe', 'pipe'], detached: true, windowsHide: true });
    } catch (error) {
      reject(new RunFailure(`could not be started (${codeOf(error)})`, ''));
      return;
    }
    const killGroup = () => {
      const pid = child.pid;
      if (pid === undefined) return;
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        try {
          child.kill('SIGKILL');
        } catch {
          // Already gone.
        }
      }
    };
    const finish = (outcome: { stdout: Buffer } | { failure: RunFailure }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(grace);
      // Our ends of its pipes are let go whatever still holds theirs: open, they would keep this
      // process (a `check` run) alive.
      child.stdin?.destroy();
      child.stdout?.destroy();
      child.stderr?.destroy();
      if ('failure' in outcome) reject(outcome.failure);
      else resolve(outcome.stdout);
    };
    const timer = setTimeout(() => {
      killGroup();
      finish({ failure: new RunFailure(`timed out after ${formatSeconds(timeoutMs)} s`, stderrText()) });
    }, timeoutMs);
    timer.unref?.();

    child.on('error', (error) => {
      killGroup();
      finish({ failure: new RunFailure(`could not be run (${codeOf(error)})`, stderrText()) });
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      if (settled) return;
      stdoutBytes += chunk.length;
      if (stdoutBytes > MAX_RESPONSE_BYTES) {
        killGroup();
        finish({ failure: new RunFailure(`printed more than ${MAX_RESPONSE_BYTES} bytes on stdout`, stderrText()) });
        return;
      }
      stdout.push(chunk);
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      // Kept up to the logged size (copied: a slice would keep the whole chunk); the rest is read
      // and dropped so the plugin never blocks.
      if (stderrBytes < MAX_LOGGED_STDERR_BYTES) stderr.push(Buffer.from(chunk.subarray(0, MAX_LOGGED_STDERR_BYTES - stderrBytes)));
      stderrBytes += chunk.length;
    });
    child.stdout?.on('error', () => {});
    child.stderr?.on('error', () => {});
    // A plugin that exits without reading its stdin makes this write fail (EPIPE): that is its
    // business; its exit status says whether it answered.
    child.stdin?.on('error', () => {});
    child.stdin?.end(request);

    // The answer is complete when the plugin exits, as for the kubelet (which waits for the
    // process, not for its pipes): a child it left behind may hold stdout open for ever. So at
    // exit what it started is killed (its process group), and what it wrote is read once both
    // pipes are drained, or after a short grace when something outside the group still holds them.
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let openPipes = (child.stdout ? 1 : 0) + (child.stderr ? 1 : 0);
    const answer = () => {
      if (!exit || settled) return;
      const { code, signal } = exit;
      if (code === 0) finish({ stdout: Buffer.concat(stdout) });
      else if (signal) finish({ failure: new RunFailure(`was killed by ${signal}`, stderrText()) });
      else finish({ failure: new RunFailure(`exited with status ${code ?? 'unknown'}`, stderrText()) });
    };
    const pipeClosed = () => {
      if (--openPipes === 0) answer();
    };
    child.stdout?.on('close', pipeClosed);
    child.stderr?.on('close', pipeClosed);
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      if (settled) return;
      killGroup();
      if (openPipes === 0) answer();
      else grace = setTimeout(answer, EXIT_GRACE_MS);
    });
  });
}

export function codeOf(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : 'error';
}

function formatSeconds(ms: number): string {
  return String(Number((ms / 1000).toFixed(3)));
}
