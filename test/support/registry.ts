/**
 * Runs a real CNCF distribution registry (`docker-registry serve`, Debian package) on loopback.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants as fsConstants } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer, type AddressInfo } from 'node:net';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { Pki } from './pki.js';
import type { TokenIssuer } from './token-issuer.js';
import { makeTempDir } from './tmp.js';

const run = promisify(execFile);

export type RegistryAuthOptions =
  | { kind: 'htpasswd'; users: Record<string, string> }
  | { kind: 'token'; issuer: TokenIssuer; service: string; pki: Pki };

export interface StartRegistryOptions {
  auth?: RegistryAuthOptions;
  tls?: Pki;
  /** storage.delete.enabled; default true. */
  deleteEnabled?: boolean;
  /** Run as a pull-through cache of this upstream (distribution's proxy mode); pushes are refused. */
  pullThroughOf?: { remoteurl: string; username?: string; password?: string };
}

/** How push.ts authenticates its writes. */
export type PushAuth =
  | { kind: 'anonymous' }
  | { kind: 'basic'; username: string; password: string }
  | { kind: 'token'; issuer: TokenIssuer };

export interface RunningRegistry {
  /** '127.0.0.1:PORT' */
  host: string;
  /** 'http(s)://127.0.0.1:PORT' */
  url: string;
  scheme: 'http' | 'https';
  /** CA certificate (PEM) to trust when scheme is https. */
  ca: string | undefined;
  /** Credentials push.ts uses: none, the first htpasswd user, or tokens minted by the issuer. */
  pushAuth: PushAuth;
  /** Temp dir holding config.yml, htpasswd and the storage root. */
  dir: string;
  /** Recent stdout/stderr of the registry process, for diagnostics. */
  output(): string;
  /** Kills the process and waits for it to exit. Idempotent. */
  stop(): Promise<void>;
  /** Starts it again on the same port and storage (after stop()). */
  start(): Promise<void>;
}

const READY_TIMEOUT_MS = 20_000;
const INSTANCE_HEADER = 'x-test-registry-instance';
const OUTPUT_LIMIT = 64 * 1024;

// Registries still running in this process; killed on exit in case a test forgot to stop one.
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function trackChild(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }
  live.add(child);
  child.once('exit', () => live.delete(child));
}

function findOnPath(cmd: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    const candidate = join(dir, cmd);
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}
// Vitest ends fork workers with SIGTERM, on which 'exit' never fires: PR_SET_PDEATHSIG makes the
// kernel kill the registry when the spawning process dies, however it dies.
const setpriv = findOnPath('setpriv');

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Tiny YAML emitter: nested maps; scalars and lists as JSON, which YAML reads as-is (flow style). */
type YamlValue = string | number | boolean | string[] | { [key: string]: YamlValue };
function toYaml(value: { [key: string]: YamlValue }, indent = ''): string {
  let out = '';
  for (const [key, v] of Object.entries(value)) {
    if (typeof v === 'object' && !Array.isArray(v)) out += `${indent}${key}:\n${toYaml(v, `${indent}  `)}`;
    else out += `${indent}${key}: ${JSON.stringify(v)}\n`;
  }
  return out;
}

async function htpasswdLines(users: Record<string, string>): Promise<string> {
  const lines = await Promise.all(
    Object.entries(users).map(async ([user, password]) => {
      // Cost 4 (bcrypt's minimum): the registry runs bcrypt on every Basic-authenticated request.
      const { stdout } = await run('htpasswd', ['-Bbn', '-C', '4', user, password]);
      return stdout.trim();
    }),
  );
  return `${lines.join('\n')}\n`;
}

class AddressInUseError extends Error {}

/**
 * Resolves once GET /v2/ answers 200 or 401 carrying this instance's id header: when two
 * registries race for a port, the loser must not mistake the winner for itself.
 */
async function waitReady(
  child: ChildProcess,
  url: string,
  ca: string | undefined,
  instanceId: string,
  output: () => string,
): Promise<void> {
  let exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
    exited = { code, signal };
  };
  child.once('exit', onExit);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  try {
    for (;;) {
      if (exited !== null || child.exitCode !== null || child.signalCode !== null) {
        // Give the pipes a moment to deliver the last words before reporting them.
        await sleep(50);
        const text = output();
        if (/address already in use/i.test(text)) throw new AddressInUseError(text);
        throw new Error(`docker-registry exited (${JSON.stringify(exited)}) before it was ready:\n${text}`);
      }
      const answer = await probe(`${url}/v2/`, ca);
      if (answer && (answer.status === 200 || answer.status === 401) && answer.instance === instanceId) return;
      if (Date.now() > deadline) {
        throw new Error(`docker-registry at ${url} not ready after ${READY_TIMEOUT_MS} ms:\n${output()}`);
      }
      await sleep(50);
    }
  } finally {
    child.off('exit', onExit);
  }
}

function probe(url: string, ca: string | undefined): Promise<{ status: number; instance: unknown } | null> {
  return new Promise((resolve) => {
    const options = { method: 'GET', timeout: 1000, agent: false as const };
    const req = url.startsWith('https:') ? httpsRequest(url, { ...options, ca }) : httpRequest(url, options);
    req.once('response', (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, instance: res.headers[INSTANCE_HEADER] });
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(null));
    req.end();
  });
}

function registryEnv(): NodeJS.ProcessEnv {
  // REGISTRY_* variables override config.yml in distribution: keep the config authoritative.
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('REGISTRY_')));
}

export async function startRegistry(opts: StartRegistryOptions = {}): Promise<RunningRegistry> {
  const dir = await makeTempDir('registry');
  const storage = join(dir, 'storage');
  await mkdir(storage);
  const configFile = join(dir, 'config.yml');
  const scheme = opts.tls ? 'https' : 'http';
  const ca = opts.tls?.caCertPem;
  // A fixed secret keeps upload state valid across restarts and silences the "no secret" warning.
  const secret = randomBytes(16).toString('hex');
  const instanceId = randomBytes(8).toString('hex');

  let auth: { [key: string]: YamlValue } | undefined;
  let pushAuth: PushAuth = { kind: 'anonymous' };
  if (opts.auth?.kind === 'htpasswd') {
    const [first] = Object.entries(opts.auth.users);
    if (!first) throw new Error('htpasswd auth needs at least one user');
    const htpasswdFile = join(dir, 'htpasswd');
    await writeFile(htpasswdFile, await htpasswdLines(opts.auth.users));
    auth = { htpasswd: { realm: 'test-registry', path: htpasswdFile } };
    pushAuth = { kind: 'basic', username: first[0], password: first[1] };
  } else if (opts.auth?.kind === 'token') {
    auth = {
      token: {
        realm: opts.auth.issuer.realm,
        service: opts.auth.service,
        issuer: opts.auth.issuer.issuer,
        rootcertbundle: opts.auth.pki.caCertFile,
      },
    };
    pushAuth = { kind: 'token', issuer: opts.auth.issuer };
  }

  const writeConfig = async (port: number): Promise<void> => {
    const http: { [key: string]: YamlValue } = {
      addr: `127.0.0.1:${port}`,
      secret,
      // Added to every response (replacing the default X-Content-Type-Options): lets waitReady recognise us.
      headers: { [INSTANCE_HEADER]: [instanceId] },
    };
    if (opts.tls) http['tls'] = { certificate: opts.tls.serverCertFile, key: opts.tls.serverKeyFile };
    const config: { [key: string]: YamlValue } = {
      version: '0.1',
      log: { level: 'warn', formatter: 'text', accesslog: { disabled: true } },
      storage: {
        filesystem: { rootdirectory: storage },
        delete: { enabled: opts.deleteEnabled ?? true },
        maintenance: { uploadpurging: { enabled: false } },
      },
      http,
    };
    if (auth) config['auth'] = auth;
    if (opts.pullThroughOf) config['proxy'] = { ...opts.pullThroughOf };
    await writeFile(configFile, toYaml(config));
  };

  let output = '';
  const append = (chunk: Buffer): void => {
    output += chunk.toString('utf8');
    if (output.length > OUTPUT_LIMIT) output = output.slice(-OUTPUT_LIMIT);
  };
  let child: ChildProcess | null = null;
  let port = 0;

  const launch = async (): Promise<void> => {
    output = '';
    const [cmd, args] = setpriv
      ? [setpriv, ['--pdeathsig', 'KILL', 'docker-registry', 'serve', configFile]]
      : ['docker-registry', ['serve', configFile]];
    const proc = spawn(cmd, args, { cwd: dir, env: registryEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout?.on('data', append);
    proc.stderr?.on('data', append);
    // `on`, not `once`: a later 'error' (e.g. a failed kill) must not become an uncaught exception.
    const spawnError = new Promise<never>((_, reject) => proc.on('error', reject));
    trackChild(proc);
    child = proc;
    try {
      await Promise.race([waitReady(proc, `${scheme}://127.0.0.1:${port}`, ca, instanceId, () => output), spawnError]);
    } catch (err) {
      await killAndWait(proc);
      child = null;
      throw err;
    }
  };

  // Another worker (or an outgoing socket) may take the port between probing and binding it.
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    await writeConfig(port);
    try {
      await launch();
      break;
    } catch (err) {
      if (!(err instanceof AddressInUseError) || attempt >= 10) throw err;
    }
  }

  const stop = async (): Promise<void> => {
    const proc = child;
    child = null;
    if (proc) await killAndWait(proc);
  };

  const start = async (): Promise<void> => {
    if (child) return;
    // Same port is required here, so wait for it rather than pick another.
    for (let attempt = 1; ; attempt++) {
      try {
        await launch();
        return;
      } catch (err) {
        if (!(err instanceof AddressInUseError) || attempt >= 20) throw err;
        await sleep(250);
      }
    }
  };

  return {
    host: `127.0.0.1:${port}`,
    url: `${scheme}://127.0.0.1:${port}`,
    scheme,
    ca,
    pushAuth,
    dir,
    output: () => output,
    stop,
    start,
  };
}

async function killAndWait(proc: ChildProcess): Promise<void> {
  // No pid: spawn itself failed, there is nothing to kill and 'exit' may never come.
  if (proc.pid === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}
