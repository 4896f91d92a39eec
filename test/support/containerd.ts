/**
 * A containerd daemon of the test's own (Debian's `containerd` 1.6, with `ctr`): root, state, socket
 * and the `opt` plugin's directory under a temp dir, the CRI plugin off, the `native` snapshotter
 * (no kernel features). The reference implementation of hosts.toml: `ctr images pull --hosts-dir`.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeTempDir } from './tmp.js';

export interface Containerd {
  readonly socket: string;
  /** Pulls `ref` (fully qualified) with `--hosts-dir dir` in namespace `ns`: whether it succeeded, and ctr's words. */
  pull(ref: string, hostsDir: string, ns: string): Promise<{ pulled: boolean; output: string }>;
  output(): string;
  stop(): Promise<void>;
}

function onPath(cmd: string): boolean {
  return (process.env['PATH'] ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, cmd), fsConstants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Why containerd cannot run here, or undefined. */
export function containerdMissing(): string | undefined {
  const missing = ['containerd', 'ctr'].filter((cmd) => !onPath(cmd));
  return missing.length > 0 ? `${missing.join(' and ')} not installed (Debian package containerd; test/install-deps.sh installs it)` : undefined;
}

function ctr(socket: string, args: readonly string[], timeoutMs: number): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile('ctr', ['-a', socket, ...args], { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

export async function startContainerd(): Promise<Containerd> {
  const dir = await makeTempDir('containerd');
  const socket = join(dir, 'containerd.sock');
  const config = [
    'version = 2',
    `root = ${JSON.stringify(join(dir, 'root'))}`,
    `state = ${JSON.stringify(join(dir, 'state'))}`,
    'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
    '[grpc]',
    `  address = ${JSON.stringify(socket)}`,
    '[ttrpc]',
    `  address = ${JSON.stringify(`${socket}.ttrpc`)}`,
    '[plugins."io.containerd.internal.v1.opt"]',
    `  path = ${JSON.stringify(join(dir, 'opt'))}`,
    '',
  ].join('\n');
  await writeFile(join(dir, 'config.toml'), config);
  let log = '';
  const child: ChildProcess = spawn('containerd', ['--config', join(dir, 'config.toml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-64 * 1024);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);

  const stop = async () => {
    process.off('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await Promise.race([exited, sleep(10_000).then(() => child.kill('SIGKILL'))]);
  };
  for (let attempt = 0; ; attempt++) {
    if (child.exitCode !== null) throw new Error(`containerd exited at start:\n${log}`);
    if ((await ctr(socket, ['version'], 10_000)).code === 0) break;
    if (attempt > 100) {
      await stop();
      throw new Error(`containerd did not answer on ${socket}:\n${log}`);
    }
    await sleep(200);
  }
  return {
    socket,
    async pull(ref, hostsDir, ns) {
      const { code, output } = await ctr(socket, ['-n', ns, 'images', 'pull', '--snapshotter', 'native', '--platform', 'linux/amd64', '--hosts-dir', hostsDir, ref], 60_000);
      return { pulled: code === 0, output };
    },
    output: () => log,
    stop,
  };
}
