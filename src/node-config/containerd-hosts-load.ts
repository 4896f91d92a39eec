/**
 * Reads a containerd hosts directory (`--containerd-hosts-dir`): each registry's directory, its
 * hosts.toml and the CA and client PEM files it names, bounded, into pull places
 * (containerd-hosts.ts holds the rules). Every problem is a NodeConfigError naming the file.
 */
import { createPrivateKey } from 'node:crypto';
import { opendir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { PullPlaces } from '../image/pull-plan.js';
import { pemCertificates } from '../utils/pem-certificates.js';
import { MAX_TOTAL_BYTES, ReadBudget, readConfigFile } from './config-files.js';
import { certFileHosts, containerdHostsPlaces, parseHostsToml, type HostConfig, type LoadedHost } from './containerd-hosts.js';
import { NodeConfigError } from './node-config-error.js';

export { MAX_TOTAL_BYTES } from './config-files.js';
/** Registry directories under the root, entries in one of them, and PEM files named in all. */
export const MAX_ENTRIES = 1000;

function message(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  if (code === 'ENOENT') return 'does not exist';
  if (code === 'EACCES') return 'cannot be read (permission denied)';
  if (code === 'ENOTDIR') return 'is not a directory';
  if (code === 'EISDIR') return 'is a directory';
  return error instanceof Error ? error.message : String(error);
}

/** The names in a directory, with whether each is a directory (symbolic links followed, as os.Stat does). */
async function listDir(path: string, what: string): Promise<{ name: string; isDir: boolean }[]> {
  const entries: { name: string; isDir: boolean }[] = [];
  try {
    for await (const entry of await opendir(path)) {
      if (entries.length === MAX_ENTRIES) throw new NodeConfigError(`${what} holds more than ${MAX_ENTRIES} entries`);
      let isDir = entry.isDirectory();
      if (entry.isSymbolicLink()) isDir = await stat(join(path, entry.name)).then((s) => s.isDirectory(), () => false);
      entries.push({ name: entry.name, isDir });
    }
  } catch (error) {
    throw error instanceof NodeConfigError ? error : new NodeConfigError(`${what} ${message(error)}`);
  }
  return entries;
}

const PRIVATE_KEY = /-----BEGIN ([A-Z ]*)PRIVATE KEY-----[\s\S]+?-----END \1PRIVATE KEY-----/;

/** Reads each PEM file once, and no more than MAX_ENTRIES of them over the whole directory. */
class PemFiles {
  private readonly texts = new Map<string, Promise<string>>();
  /**
   * A CA file's certificates, parsed once however many hosts name it: parsing a 1 MiB bundle takes
   * ~90 ms, and 16 hosts in each of 1,000 directories may name the same one.
   */
  private readonly cas = new Map<string, Promise<string>>();
  /**
   * The same CA list and the same client pair give the same objects, so hosts configured alike share
   * one TLS context in the transport (building one with a large bundle takes ~100 ms).
   */
  private readonly caLists = new Map<string, Promise<readonly string[]>>();
  private readonly clients = new Map<string, Promise<{ certPem: string; keyPem: string }>>();
  constructor(
    private readonly files: string[],
    private readonly budget: ReadBudget,
  ) {}

  read(path: string, source: string): Promise<string> {
    let text = this.texts.get(path);
    if (!text) {
      if (this.texts.size === MAX_ENTRIES) throw new NodeConfigError(`${source}: more than ${MAX_ENTRIES} certificate and key files`);
      this.files.push(path);
      text = readConfigFile(path, source).then((t) => this.budget.take(t, path));
      this.texts.set(path, text);
    }
    return text;
  }

  ca(path: string, source: string): Promise<string> {
    let pem = this.cas.get(path);
    if (!pem) {
      pem = this.parseCa(path, source);
      this.cas.set(path, pem);
    }
    return pem;
  }

  private async parseCa(path: string, source: string): Promise<string> {
    const text = await this.read(path, source);
    const blocks = pemCertificates(text, (problem) => {
      throw new NodeConfigError(`${source}: CA file ${path} ${problem === 'none' ? 'holds no PEM certificate' : 'holds a certificate that cannot be parsed'}`);
    });
    return blocks.map((b) => b.pem).join('\n');
  }

  caList(paths: readonly string[], source: string): Promise<readonly string[]> {
    const key = paths.join('\0');
    let list = this.caLists.get(key);
    if (!list) {
      list = Promise.all(paths.map((path) => this.ca(path, source)));
      this.caLists.set(key, list);
    }
    return list;
  }

  client(certPath: string, keyPath: string | undefined, source: string): Promise<{ certPem: string; keyPem: string }> {
    const key = `${certPath}\0${keyPath ?? ''}`;
    let pair = this.clients.get(key);
    if (!pair) {
      pair = this.parseClient(certPath, keyPath, source);
      this.clients.set(key, pair);
    }
    return pair;
  }

  private async parseClient(certPath: string, keyPath: string | undefined, source: string): Promise<{ certPem: string; keyPem: string }> {
    const certText = await this.read(certPath, source);
    const keyText = keyPath === undefined ? certText : await this.read(keyPath, source);
    const certs = pemCertificates(certText, (problem) => {
      throw new NodeConfigError(`${source}: client certificate ${certPath} ${problem === 'none' ? 'holds no PEM certificate' : 'holds a certificate that cannot be parsed'}`);
    });
    const keyFile = keyPath ?? certPath;
    const keyPem = PRIVATE_KEY.exec(keyText)?.[0];
    if (!keyPem) throw new NodeConfigError(`${source}: client key ${keyFile} holds no PEM private key`);
    let key;
    try {
      key = createPrivateKey(keyPem);
    } catch {
      throw new NodeConfigError(`${source}: client key ${keyFile} holds a private key that cannot be parsed`);
    }
    // Go's tls.X509KeyPair refuses a key that is not the certificate's; so do we, before any request.
    if (!certs[0]?.certificate.checkPrivateKey(key)) throw new NodeConfigError(`${source}: client key ${keyFile} does not belong to the certificate ${certPath}`);
    return { certPem: certs.map((c) => c.pem).join('\n'), keyPem };
  }
}

async function loadHost(config: HostConfig, pems: PemFiles, source: string): Promise<LoadedHost> {
  const caPems = await pems.caList(config.caFiles, source);
  // Go presents the first pair that suits the server; one pair is what a registry asks for.
  const first = config.clientPairs[0];
  const client = first ? await pems.client(first[0], first[1], source) : undefined;
  for (const [cert, key] of config.clientPairs.slice(1)) await pems.client(cert, key, source);
  return { ...config, caPems, client };
}

/** Reads the hosts directory `dir` (containerd's `config_path`); throws NodeConfigError. */
export async function loadContainerdHosts(dir: string): Promise<{ places: PullPlaces; files: readonly string[] }> {
  const files: string[] = [dir];
  const budget = new ReadBudget((at) => `--containerd-hosts-dir ${dir}: its files hold more than ${MAX_TOTAL_BYTES} bytes together (at ${at})`);
  const pems = new PemFiles(files, budget);
  const dirs = new Map<string, readonly LoadedHost[]>();
  for (const entry of await listDir(dir, `--containerd-hosts-dir ${dir}`)) {
    if (!entry.isDir) continue;
    const hostDir = join(dir, entry.name);
    files.push(hostDir);
    const names = await listDir(hostDir, hostDir);
    const hostsToml = join(hostDir, 'hosts.toml');
    let configs: HostConfig[] | undefined;
    if (names.some((n) => n.name === 'hosts.toml' && !n.isDir)) {
      files.push(hostsToml);
      const text = budget.take(await readConfigFile(hostsToml), hostsToml);
      if (text.length > 0) configs = parseHostsToml(text, hostDir, hostsToml);
    }
    // Files a hosts.toml names are its to answer for; the Docker-style certificates the directory's.
    const source = configs ? hostsToml : hostDir;
    configs ??= certFileHosts(
      hostDir,
      names.filter((n) => !n.isDir).map((n) => n.name),
    );
    dirs.set(entry.name, await Promise.all(configs.map((c) => loadHost(c, pems, source))));
  }
  return { places: containerdHostsPlaces(dirs), files };
}
