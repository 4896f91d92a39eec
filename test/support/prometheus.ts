/**
 * Debian's Prometheus as the tests run it: a config written to a temporary directory, a free
 * loopback port, ready before use, its HTTP API read as it answers, stopped when done.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeTempDir } from './tmp.js';

export interface RunningPrometheus {
  /** http://127.0.0.1:PORT */
  readonly api: string;
  /** Everything Prometheus wrote so far. */
  output(): string;
  /** The `data` of a successful API answer at `path`; throws with the answer otherwise. */
  get<T>(path: string): Promise<T>;
  /**
   * Polls `probe` until it yields a value (a rejection counts as "not yet"); the timeout's error
   * names what was awaited, the last rejection and what Prometheus said.
   */
  until<T>(what: string, probe: () => Promise<T | undefined>, ms?: number): Promise<T>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts Prometheus with `config` (prometheus.yml's text; rule files relative to `dir`) and waits until it is ready. */
export async function startPrometheus(config: string, options: { dir?: string; args?: readonly string[] } = {}): Promise<RunningPrometheus> {
  const dir = options.dir ?? (await makeTempDir('prometheus'));
  await writeFile(join(dir, 'prometheus.yml'), config);
  const port = await freePort();
  const api = `http://127.0.0.1:${port}`;
  const child = spawn(
    'prometheus',
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, ...(options.args ?? [])],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));

  const running: RunningPrometheus = {
    api,
    output: () => output,
    async get<T>(path: string): Promise<T> {
      const response = await fetch(`${api}${path}`);
      const body = (await response.json()) as { status: string; data: T };
      if (body.status !== 'success') throw new Error(`${decodeURIComponent(path)}: ${JSON.stringify(body)}`);
      return body.data;
    },
    async until<T>(what: string, probe: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
      const end = Date.now() + ms;
      let last: unknown;
      for (;;) {
        const value = await probe().catch((error: unknown) => {
          last = error;
          return undefined;
        });
        if (value !== undefined) return value;
        if (Date.now() > end) throw new Error(`timed out waiting for ${what} (${String(last ?? 'no error')}); prometheus said:\n${output.slice(-2000)}`);
        await sleep(250);
      }
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
  try {
    await running.until('Prometheus to be ready', async () => ((await fetch(`${api}/-/ready`)).ok ? true : undefined));
  } catch (error) {
    await running.stop();
    throw error;
  }
  return running;
}
